"""The gate's thresholds: defaults here, overridden by the `[validation]` table of barstore_project.toml.

    [validation]
    min_samples = {seq300_minute = 1000, seq500_minute = 1000, seq800_minute = 1000, seq500_hourly = 1000,
                   longterm_multitf = 200}   # or one number for every model
    positive_share = [0.2, 0.8]              # bounds of the share of labels > 0
    examples = 5                             # unexpected rows shown per failed expectation

The long-term model gets a lower minimum: one sample a day per symbol, after a year of window history.
Unknown keys and bad values are refused with the file named, so a typo never silently keeps a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from barstore.errors import BarstoreError
from barstore.project import PROJECT_FILE, settings
from barstore.specs import MODELS

if TYPE_CHECKING:
    from barstore.home import Workspace
    from barstore.specs import ModelSpec

SECTION = "validation"
DEFAULT_MIN_SAMPLES = {
    "seq300_minute": 1000,
    "seq500_minute": 1000,
    "seq800_minute": 1000,
    "seq500_hourly": 1000,
    "longterm_multitf": 200,
}
DEFAULT_POSITIVE_SHARE = (0.2, 0.8)
DEFAULT_EXAMPLES = 5
KEYS = ("min_samples", "positive_share", "examples")


@dataclass
class ValidationSettings:
    min_samples: int
    positive_share: tuple[float, float] = DEFAULT_POSITIVE_SHARE
    examples: int = DEFAULT_EXAMPLES

    def __post_init__(self):
        low, high = self.positive_share
        if not 0 <= low < high <= 1:
            raise BarstoreError(
                f"positive_share must be [low, high] with 0 <= low < high <= 1 (got {self.positive_share})"
            )
        if self.min_samples < 1 or self.examples < 0:
            raise BarstoreError(f"min_samples must be >= 1 and examples >= 0 (got {self.min_samples}, {self.examples})")

    @classmethod
    def for_model(cls, ws: Workspace, spec: ModelSpec) -> ValidationSettings:
        """The model's settings: `[validation]` of the project's barstore_project.toml over the defaults."""
        table = settings(ws.project_dir, SECTION)
        where = f"{ws.project_dir / PROJECT_FILE} [{SECTION}]"
        unknown = sorted(set(table) - set(KEYS))
        if unknown:
            raise BarstoreError(f"{where}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(KEYS)}")
        minimum = table.get("min_samples", DEFAULT_MIN_SAMPLES)
        if isinstance(minimum, dict):
            strangers = sorted(set(minimum) - set(MODELS))
            if strangers:
                raise BarstoreError(f"{where}: min_samples names unknown model(s) {', '.join(strangers)}")
            minimum = {**DEFAULT_MIN_SAMPLES, **minimum}.get(spec.name)
        share = table.get("positive_share", DEFAULT_POSITIVE_SHARE)
        examples = table.get("examples", DEFAULT_EXAMPLES)
        if not _is_int(minimum) or not _is_int(examples):
            raise BarstoreError(f"{where}: min_samples (per model or one number) and examples must be integers")
        if not (isinstance(share, (list, tuple)) and len(share) == 2 and all(_is_number(v) for v in share)):
            raise BarstoreError(f"{where}: positive_share must be two numbers [low, high] (got {share!r})")
        try:
            return cls(int(minimum), (float(share[0]), float(share[1])), int(examples))
        except BarstoreError as err:
            raise BarstoreError(f"{where}: {err}") from None

    def parameters(self) -> dict:
        """The suites' `$PARAMETER` values (suites/training_set.json)."""
        return {
            "min_samples": self.min_samples,
            "positive_share_min": self.positive_share[0],
            "positive_share_max": self.positive_share[1],
        }


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
