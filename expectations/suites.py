"""The suites: JSON files in the project's expectations/suites/, one per frame of expectations/frames.py.

They are read from the project folder (ws.project_dir), not the installed package, so editing one needs no
reinstall, as with sql/ and feature_repo/. Each is a GX Core 1.x suite as `ExpectationSuite(**json)` takes it,
kept without what GX adds on every save (a fresh uuid per suite and expectation, its version in meta): a suite
edited through GX and saved with `suite.to_json_dict()` loads as it is and diffs only where it changed once
`strip_volatile` has been applied.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from barstore.errors import BarstoreError

if TYPE_CHECKING:
    from barstore.home import Workspace

SUITES = ("raw_bars", "training_set", "alignment", "step_spacing", "splits")  # the order they run and print


def suites_dir(ws: Workspace) -> Path:
    return ws.project_dir / "expectations" / "suites"


def load_suite(folder: Path, name: str) -> dict:
    path = Path(folder) / f"{name}.json"
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BarstoreError(f"the validation suite {path} is missing (the project's expectations/suites/)") from None
    except json.JSONDecodeError as err:
        raise BarstoreError(f"{path}: not valid JSON: {err}") from None
    if suite.get("name") != name:
        raise BarstoreError(f"{path}: the suite's name must be {name!r} (got {suite.get('name')!r})")
    return strip_volatile(suite)


def strip_volatile(suite: dict) -> dict:
    """The suite without GX's per-save ids and version stamp (and keys GX writes as null)."""
    meta = {k: v for k, v in suite.get("meta", {}).items() if k != "great_expectations_version"}
    expectations = [{k: v for k, v in e.items() if k != "id" and v is not None} for e in suite.get("expectations", [])]
    kept = {k: v for k, v in suite.items() if k not in ("id", "meta", "expectations") and v is not None}
    return {**kept, "meta": meta, "expectations": expectations}
