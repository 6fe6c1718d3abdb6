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
from pathlib import Path
from typing import TYPE_CHECKING

from barstore.settings_tables import Integer, Numbers, PerModel, check_fields, read

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
# one model's settings; the [validation] table gives min_samples per model (RULES)
FIELD_RULES = {
    "min_samples": Integer(ge=1),
    "positive_share": Numbers(2, ge=0, le=1, increasing=True),
    "examples": Integer(ge=0),
}
RULES = {**FIELD_RULES, "min_samples": PerModel(FIELD_RULES["min_samples"], DEFAULT_MIN_SAMPLES)}


@dataclass
class ValidationSettings:
    min_samples: int
    positive_share: tuple[float, float] = DEFAULT_POSITIVE_SHARE
    examples: int = DEFAULT_EXAMPLES

    def __post_init__(self):
        check_fields(self, FIELD_RULES, f"[{SECTION}]")

    @classmethod
    def from_project(cls, project_dir: str | Path, model: str) -> ValidationSettings:
        """The model's settings: the project's `[validation]` table over the defaults."""
        values = read(project_dir, SECTION, RULES)
        per_model = values.pop("min_samples", DEFAULT_MIN_SAMPLES)
        return cls(min_samples=per_model[model], **values)

    @classmethod
    def for_model(cls, ws: Workspace, spec: ModelSpec) -> ValidationSettings:
        """`from_project` for the workspace's project and the spec's model."""
        return cls.from_project(ws.project_dir, spec.name)

    def parameters(self) -> dict:
        """The suites' `$PARAMETER` values (suites/training_set.json)."""
        return {
            "min_samples": self.min_samples,
            "positive_share_min": self.positive_share[0],
            "positive_share_max": self.positive_share[1],
        }
