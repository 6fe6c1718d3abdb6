"""Tables of barstore_project.toml -> settings dataclasses, checked one way for every stage.

A settings class names a `Rule` per key and reads its table with `load`:

    RULES = {"batch_size": Integer(ge=1), "learning_rate": Number(ge=0), "mode": OneOf(Mode)}

    @classmethod
    def from_project(cls, project_dir):
        return load(cls, project_dir, "training", RULES)

Keys missing from the table keep the dataclass's defaults. Every refusal names the file, the table and the key:

    /p/barstore_project.toml [training] batch_size: expected an integer >= 1, got 'x'
    /p/barstore_project.toml [training]: unknown key 'batch'; the keys are batch_size, learning_rate, mode
    /p/barstore_project.toml [validation] min_samples seq500_hourly: expected an integer >= 1, got 1.5

`PerModel` takes one value for every model or a table of some models' values over the defaults
(`min_samples = {longterm_multitf = 200}`); `Table` is a fixed set of keys over defaults (`[backtest.sizes]`);
`Entries` is a table of dataclass tables (`[backtest.futures.ES]`). `check_fields` runs the same rules in a
dataclass's `__post_init__`, so settings built in code are checked (and coerced: enum text to its member) too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields, replace
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from .errors import BarstoreError
from .project import PROJECT_FILE, settings
from .specs import MODELS
from .times import parse_duration

Check = Callable[[Mapping[str, Any]], str | None]  # a check across keys: the problem in words, or None


class Rule:
    """What one key accepts: `expected` says it in words, `read` returns the value as the settings hold it."""

    expected = "a value"

    def read(self, value, label: str):
        raise NotImplementedError

    def refuse(self, value, label: str) -> BarstoreError:
        return BarstoreError(_at(label, f"expected {self.expected}, got {value!r}"))


def _at(label: str, text: str) -> str:
    """A refusal under its label (none: a request's own value, e.g. `mode`)."""
    return f"{label}: {text}" if label else text


def _key(label: str, key: str) -> str:
    return f"{label} {key}" if label else key


def _bounds(ge=None, gt=None, le=None) -> str:
    if le is not None and (ge is not None or gt is not None):
        return f" in [{ge}, {le}]" if gt is None else f" in ({gt}, {le}]"
    if ge is not None:
        return f" >= {ge}"
    if gt is not None:
        return f" > {gt}"
    return f" <= {le}" if le is not None else ""


def _within(value, ge=None, gt=None, le=None) -> bool:
    return (ge is None or value >= ge) and (gt is None or value > gt) and (le is None or value <= le)


class Integer(Rule):
    def __init__(self, ge: int | None = None, le: int | None = None):
        self.ge, self.le = ge, le
        self.expected = "an integer" + _bounds(ge=ge, le=le)

    def read(self, value, label: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not _within(value, self.ge, None, self.le):
            raise self.refuse(value, label)
        return value


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Number(Rule):
    """A finite number (an integer is read as a float)."""

    def __init__(self, ge: float | None = None, gt: float | None = None, le: float | None = None):
        self.ge, self.gt, self.le = ge, gt, le
        self.expected = "a number" + _bounds(ge, gt, le)

    def read(self, value, label: str) -> float:
        if not _is_number(value) or not _within(value, self.ge, self.gt, self.le):
            raise self.refuse(value, label)
        return float(value)


class Numbers(Rule):
    """A list of `count` numbers (a tuple of floats), each in the bounds, ascending if `increasing`."""

    WORDS = {2: "two", 3: "three"}

    def __init__(self, count: int, ge: float | None = None, le: float | None = None, increasing: bool = False):
        self.count, self.each, self.increasing = count, Number(ge=ge, le=le), increasing
        order = " increasing" if increasing else ""
        self.expected = f"{self.WORDS.get(count, count)}{order} numbers" + _bounds(ge=ge, le=le)

    def read(self, value, label: str) -> tuple[float, ...]:
        if not isinstance(value, list | tuple) or len(value) != self.count or not all(map(_is_number, value)):
            raise self.refuse(value, label)
        out = tuple(float(v) for v in value)
        ordered = all(a < b for a, b in zip(out, out[1:], strict=False))
        if not all(_within(v, self.each.ge, None, self.each.le) for v in out) or (self.increasing and not ordered):
            raise self.refuse(value, label)
        return out


class Boolean(Rule):
    expected = "true or false"

    def read(self, value, label: str) -> bool:
        if not isinstance(value, bool):
            raise self.refuse(value, label)
        return value


class OneOf(Rule):
    """One of some words; with an Enum class, its values, read as the member."""

    def __init__(self, choices: type[Enum] | tuple[str, ...]):
        self.enum = choices if isinstance(choices, type) else None
        self.choices = tuple(e.value for e in choices) if self.enum else tuple(choices)
        self.expected = f"one of {', '.join(self.choices)}"

    def read(self, value, label: str):
        if not isinstance(value, str) or value not in self.choices:
            raise self.refuse(value, label)
        return self.enum(value) if self.enum else value


class Duration(Rule):
    expected = "a duration such as 10m, 2h or 4d"

    def read(self, value, label: str) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(value, label)
        except BarstoreError:
            raise self.refuse(value, label) from None


class Table(Rule):
    """A table of fixed keys, each with its rule; the keys it leaves out keep `defaults`."""

    def __init__(self, rules: Mapping[str, Rule], defaults: Mapping | None = None, noun: str = "key"):
        self.rules, self.noun = dict(rules), noun
        self.defaults = checked(defaults or {}, self.rules, "default", noun)

    def read(self, value, label: str) -> dict:
        return {**self.defaults, **checked(value, self.rules, label, self.noun)}


class PerModel(Table):
    """One value for every model, or a table of some models' values over `defaults` (None: only those named)."""

    def __init__(self, rule: Rule, defaults: Mapping | None = None):
        self.rule = rule
        super().__init__(dict.fromkeys(MODELS, rule), defaults, noun="model")

    def read(self, value, label: str) -> dict:
        if isinstance(value, Mapping):
            return super().read(value, label)
        return dict.fromkeys(self.rules, self.rule.read(value, label))


class Entries(Rule):
    """A table of tables, each one a `cls` (e.g. one per futures symbol): an entry over a default one replaces
    only the keys it gives; a new entry needs every key without a default."""

    def __init__(self, cls: type, rules: Mapping[str, Rule], defaults: Mapping | None = None):
        self.cls, self.rules, self.defaults = cls, rules, dict(defaults or {})
        self.expected = "a table of tables"

    def read(self, value, label: str) -> dict:
        if not isinstance(value, Mapping):
            raise self.refuse(value, label)
        given = {
            name: entry
            if isinstance(entry, self.cls)
            else fill(self.cls, entry, self.rules, _key(label, name), base=self.defaults.get(name))
            for name, entry in value.items()
        }
        return {**self.defaults, **given}


def checked(table, rules: Mapping[str, Rule], label: str, noun: str = "key") -> dict:
    """The table's values read by their rules; a BarstoreError for an unknown key or a refused value."""
    if not isinstance(table, Mapping):
        raise BarstoreError(_at(label, f"expected a table of {noun}s, got {table!r}"))
    unknown = [key for key in table if key not in rules]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        names = ", ".join(map(repr, unknown))
        raise BarstoreError(_at(label, f"unknown {noun}{plural} {names}; the {noun}s are {', '.join(rules)}"))
    return {key: rules[key].read(value, _key(label, key)) for key, value in table.items()}


def _defaults(cls: type) -> dict:
    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def fill(cls: type, table, rules: Mapping[str, Rule], label: str, base=None, check: Check | None = None):
    """A `cls` of `base`'s values (None: the dataclass's defaults) with the table's applied."""
    values = checked(table, rules, label)
    current = {f.name: getattr(base, f.name) for f in fields(cls)} if base is not None else _defaults(cls)
    missing = [f.name for f in fields(cls) if f.name not in current and f.name not in values]
    if missing:
        raise BarstoreError(_at(label, f"needs {' and '.join(missing)} (no default)"))
    _cross_check(check, {**current, **values}, label)
    return replace(base, **values) if base is not None else cls(**values)


def where(project_dir: str | Path, section: str) -> str:
    """How refusals name a table of the project file: `<project>/barstore_project.toml [section]`."""
    return f"{Path(project_dir) / PROJECT_FILE} [{section}]"


def read(project_dir: str | Path, section: str, rules: Mapping[str, Rule]) -> dict:
    """The project's `[section]` table read by `rules`: only the keys it gives."""
    return checked(settings(Path(project_dir), section), rules, where(project_dir, section))


def load(cls: type, project_dir: str | Path, section: str, rules: Mapping[str, Rule], check: Check | None = None):
    """A `cls` from the project's `[section]` table over the dataclass's defaults."""
    return fill(cls, settings(Path(project_dir), section), rules, where(project_dir, section), check=check)


def check_fields(instance, rules: Mapping[str, Rule], label: str, check: Check | None = None) -> None:
    """For a dataclass's `__post_init__`: each field read by its rule (values coerced in place, frozen or not)."""
    values = {}
    for name, rule in rules.items():
        value = getattr(instance, name)
        values[name] = rule.read(value, _key(label, name))
        if values[name] is not value:
            object.__setattr__(instance, name, values[name])
    _cross_check(check, values, label)


def _cross_check(check: Check | None, values: Mapping, label: str) -> None:
    problem = check(values) if check else None
    if problem:
        raise BarstoreError(_at(label, problem))
