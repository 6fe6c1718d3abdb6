"""Which file column(s) feed each role: `--column ROLE=SPEC` first, then the preset, then the name aliases.

A SPEC is a column name (any case) or, for ts and volume only, columns joined by `+`: `ts=Date+Time` joins
the texts with a space before parsing, `volume=Up+Down` sums the numbers. Combined columns stay SQL
expressions evaluated by DuckDB over the whole table, like any other column."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import IngestError
from ..warehouse import quote_ident
from .columns import ALIASES, REQUIRED, match_columns
from .presets import Preset
from .timestamps import number_sql, text_sql

JOINABLE = ("ts", "volume")  # roles whose spec may combine columns with '+'


@dataclass(frozen=True)
class Field:
    name: str  # as the user or preset wrote it: 'Date+Time', or the column's name
    sql: str  # the cell: a quoted column, or the combined text of several
    type: str  # DuckDB type of `sql`
    number: str | None = None  # for summed columns: SQL of the sum (else number_sql(sql, type))


def parse_column_options(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`ROLE=SPEC` strings (from repeated --column) -> {role: spec}; raises IngestError for a malformed one."""
    mapping: dict[str, str] = {}
    for item in items:
        role, sep, spec = item.partition("=")
        role, spec = role.strip().lower(), spec.strip()
        if not sep or not role or not spec:
            raise IngestError(f"--column {item!r}: write ROLE=COLUMN, e.g. --column ts=Date+Time or volume=Vol")
        if role not in ALIASES:
            raise IngestError(f"--column {item!r}: unknown role {role!r}; use one of {', '.join(ALIASES)}")
        if role in mapping:
            raise IngestError(f"--column {role}= is given twice ({mapping[role]!r} and {spec!r})")
        if "+" in spec and role not in JOINABLE:
            raise IngestError(f"--column {item!r}: only ts (date+time) and volume (a sum) can combine columns with '+'")
        mapping[role] = spec
    return mapping


def resolve_fields(
    types: dict[str, str], explicit: dict[str, str], preset: Preset | None, source: str
) -> dict[str, Field]:
    """Each role's Field for a file whose columns are `types` (name -> DuckDB type)."""
    by_lower = {name.strip().lower(): name for name in types}
    specs: dict[str, tuple[str, list[str]]] = {}
    for role, spec in explicit.items():
        cols = _spec_columns(spec, by_lower)
        if cols is None:
            raise IngestError(
                f"{source}: --column {role}={spec}: no column {_missing(spec, by_lower)} in the file; "
                f"it has {_listed(types)}"
            )
        specs[role] = (spec, cols)
    for role, alternatives in (preset.columns if preset else {}).items():
        if role in specs:
            continue
        found = next(((a, c) for a in alternatives if (c := _spec_columns(a, by_lower)) is not None), None)
        if found:
            specs[role] = found
        elif role in REQUIRED:
            raise IngestError(
                f"{source}: the {preset.name} preset expects {' or '.join(map(repr, alternatives))} for {role}; "
                f"the file has {_listed(types)} (map it with --column {role}=COLUMN)"
            )
    used = [c for _, cols in specs.values() for c in cols]
    twice = sorted({c for c in used if used.count(c) > 1})
    if twice:  # one column feeding two roles would load the same numbers twice unnoticed
        raise IngestError(f"{source}: column(s) {', '.join(map(repr, twice))} are mapped to more than one role")
    rest = match_columns([n for n in types if n not in used], source, assigned=tuple(specs))
    fields = {role: _field(role, spec, cols, types) for role, (spec, cols) in specs.items()}
    fields.update({role: _field(role, name, [name], types) for role, name in rest.items()})
    return fields


def _spec_columns(spec: str, by_lower: dict[str, str]) -> list[str] | None:
    """The file columns of `spec`, or None when one is missing; a name that itself holds '+' wins."""
    whole = by_lower.get(spec.strip().lower())
    if whole is not None:
        return [whole]
    parts = [by_lower.get(p.strip().lower()) for p in spec.split("+")]
    return None if len(parts) < 2 or None in parts else parts


def _missing(spec: str, by_lower: dict[str, str]) -> str:
    parts = [p.strip() for p in spec.split("+")]
    return ", ".join(repr(p) for p in parts if p.lower() not in by_lower) or repr(spec)


def _listed(types: dict[str, str]) -> str:
    return ", ".join(map(repr, types)) or "no columns"


def _field(role: str, spec: str, cols: list[str], types: dict[str, str]) -> Field:
    if len(cols) == 1:
        return Field(cols[0], quote_ident(cols[0]), types[cols[0]])
    # `||` yields NULL when any part is NULL, so a missing part reads as a missing value.
    texts = [f"trim({text_sql(quote_ident(c), types[c])})" for c in cols]
    if role == "ts":  # '01/02/2020' + '09:31' -> '01/02/2020 09:31', then parsed like any timestamp text
        return Field(spec, "(" + " || ' ' || ".join(texts) + ")", "VARCHAR")
    # volume: the sum of the numbers; the cells are shown as 'up+down' when one is not a number
    numbers = [number_sql(quote_ident(c), types[c]) for c in cols]
    return Field(spec, "(" + " || '+' || ".join(texts) + ")", "VARCHAR", "(" + " + ".join(numbers) + ")")
