"""The `[serving]` settings of barstore_project.toml: how old a model's online window may be, and how often the
server looks for newer runs.

    [serving]
    max_staleness = {seq300_minute = "10m", ..., longterm_multitf = "4d"}   # or one duration for every model
    reload_interval = "5s"

Staleness: "now" is a prediction's `as_of` (default: the current time). A window whose end (its last bar's close)
is older than its model's `max_staleness`, or later than `as_of` (the online store holds only the latest window,
so a historical `as_of` before it cannot be answered), is refused. Historical workspaces (the demo, the tests)
pass the time they mean as `as_of`. `--max-staleness` and a request's `max_staleness` replace some models' limits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from barstore.settings_tables import Duration, PerModel, load

SECTION = "serving"
# A window is fresh while its end is within one bar of its timeframe plus the pipeline's lag: minute windows
# 10 minutes, hourly 2 hours, daily 4 days (a weekend plus a holiday after the last daily close, as the
# 1d views' ttl). Markets that close (RTH, Globex) are refused while closed: no fresh prediction exists then.
DEFAULT_MAX_STALENESS = {
    "seq300_minute": "10m",
    "seq500_minute": "10m",
    "seq800_minute": "10m",
    "seq500_hourly": "2h",
    "longterm_multitf": "4d",
}
DEFAULT_RELOAD_INTERVAL = "5s"  # how often the server looks for newer runs (0s: before every request)
RULES = {
    "max_staleness": PerModel(Duration(), DEFAULT_MAX_STALENESS),
    "reload_interval": Duration(),
}
_LIMITS = PerModel(Duration())  # an override: only the models it names or covers


def staleness_limits(value, what: str) -> dict[str, timedelta]:
    """Per-model limits from one duration (every model), {model: duration}, or ["MODEL=DURATION" | "DURATION"]
    items (the CLI's repeated --max-staleness); only the models named or covered are returned."""
    if isinstance(value, str | Mapping) or not isinstance(value, Iterable):
        return _LIMITS.read(value, what)
    out: dict[str, timedelta] = {}
    for item in value:
        name, sep, text = str(item).partition("=")
        out.update(_LIMITS.read({name.strip(): text.strip()} if sep else name.strip(), what))
    return out


@dataclass(frozen=True)
class ServingSettings:
    """The `[serving]` table over the defaults above."""

    max_staleness: Mapping[str, timedelta] = field(default_factory=lambda: dict(RULES["max_staleness"].defaults))
    reload_interval: timedelta = RULES["reload_interval"].read(DEFAULT_RELOAD_INTERVAL, "reload_interval")

    @classmethod
    def from_project(cls, project_dir: str | Path) -> ServingSettings:
        return load(cls, project_dir, SECTION, RULES)

    def with_staleness(self, override, what: str = "--max-staleness") -> ServingSettings:
        """These settings with some models' limits replaced (`staleness_limits` forms; None: unchanged)."""
        if override is None or (not isinstance(override, str | Mapping) and not list(override)):
            return self
        return replace(self, max_staleness={**self.max_staleness, **staleness_limits(override, what)})
