"""Data Docs of a validation run: GX's HTML site, one per model, in <home>/reports/validation/<model>/.

The context is ephemeral (suites, results and validation definitions in memory: nothing of GX's own project
layout is written), with this one site and no other (GX's default would be a temporary folder), analytics and
progress bars off. The site is rebuilt from scratch on each run, so its index.html is the latest run of that
model: a page per suite's result (each failed expectation with its unexpected rows) and per suite.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from barstore.home import Workspace

SITE = "barstore"


def site_dir(ws: Workspace, model: str) -> Path:
    return ws.reports_dir / "validation" / model


def ephemeral_context(site: Path):
    """A GX ephemeral context whose only Data Docs site is the folder `site`."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={
            SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(Path(site).resolve()),  # GX refuses a relative one
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def build(context, site: Path) -> Path:
    """Write the site for the results `context` holds (the previous run's pages removed); its index.html."""
    if site.exists():
        shutil.rmtree(site)
    context.build_data_docs(site_names=[SITE])
    return site / "index.html"
