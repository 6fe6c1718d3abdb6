"""Where the shared real-market bars are; tests that need them skip with a reason when absent."""

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def need_data(*names: str) -> None:
    missing = [n for n in names if not (DATA / n).exists()]
    if missing:
        pytest.skip(f"real bars not available: {', '.join(missing)} not in {DATA}")


PROJECT_DIR = Path(__file__).resolve().parents[1]  # the repository: sql/, feature_repo/, expectations/
