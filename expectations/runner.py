"""Running the suites on their frames in one ephemeral GX context, one run id, then Data Docs (docs.py).

Each suite runs on its own frame (the raw bars: on each chunk of whole symbols in turn) through its own
ValidationDefinition (a Checkpoint passes one set of batch parameters, i.e. one frame, to all of them). Results
come back in SUMMARY form with the frames' index columns (symbol, time, scope) of the first unexpected rows: the
report's examples.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from . import docs
from .frames import INDEX
from .suites import SUITES, load_suite


def run_suites(
    frames: dict[str, pd.DataFrame], folder: Path, parameters: dict, site: Path, run_name: str, examples: int
) -> tuple[list, Path]:
    """(each suite's ExpectationSuiteValidationResult in SUITES order, the Data Docs index page)."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    context = docs.ephemeral_context(site)
    source = context.data_sources.add_pandas("barstore")
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
    result_format = {
        "result_format": "SUMMARY",
        "unexpected_index_column_names": INDEX,
        "partial_unexpected_count": examples,
    }
    results = []
    for name in SUITES:
        suite = context.suites.add(gx.ExpectationSuite(**load_suite(folder, name)))
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        definition = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
        chunks = [frames[name]] if isinstance(frames[name], pd.DataFrame) else frames[name]
        for frame in chunks:  # a frame, or chunks read one at a time (frames.RawBarChunks)
            results.append(
                definition.run(
                    batch_parameters={"dataframe": frame},
                    expectation_parameters=parameters,
                    result_format=result_format,
                    run_id=run_id,
                )
            )
    return results, docs.build(context, site)
