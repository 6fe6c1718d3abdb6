"""barstore/settings_tables.py: a table of a real project folder's barstore_project.toml -> a dataclass, with one
message scheme for unknown keys, wrong types and values out of range."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

import pytest

from barstore.errors import BarstoreError
from barstore.settings_tables import (
    Boolean,
    Duration,
    Entries,
    Integer,
    Number,
    Numbers,
    OneOf,
    PerModel,
    check_fields,
    load,
    read,
)
from barstore.specs import MODELS
from barstore.splits import DEFAULT_SHARES, project_shares
from barstore.times import parse_duration
from barstore.warehouse_settings import warehouse_settings


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"


@dataclass(frozen=True)
class Leg:
    size: float
    fee: float = 1.0


LEG_RULES = {"size": Number(gt=0), "fee": Number(ge=0)}


@dataclass(frozen=True)
class Example:
    count: int = 3
    share: float = 0.5
    side: Side = Side.LONG
    strict: bool = False
    bounds: tuple[float, float] = (0.2, 0.8)
    wait: timedelta = timedelta(minutes=5)
    minimum: dict = field(default_factory=lambda: dict.fromkeys(MODELS, 10))
    legs: dict = field(default_factory=lambda: {"A": Leg(2.0)})

    def __post_init__(self):
        check_fields(self, RULES, "[example]")


RULES = {
    "count": Integer(ge=1),
    "share": Number(ge=0, le=1),
    "side": OneOf(Side),
    "strict": Boolean(),
    "bounds": Numbers(2, ge=0, le=1, increasing=True),
    "wait": Duration(),
    "minimum": PerModel(Integer(ge=1), dict.fromkeys(MODELS, 10)),
    "legs": Entries(Leg, LEG_RULES, {"A": Leg(2.0)}),
}


def project(tmp_path, text: str):
    (tmp_path / "barstore_project.toml").write_text(f'name = "t"\n{text}')
    return tmp_path


def example(tmp_path, text: str) -> Example:
    return load(Example, project(tmp_path, f"[example]\n{text}\n"), "example", RULES)


def test_defaults_fill_what_the_table_leaves_out(tmp_path):
    assert load(Example, project(tmp_path, ""), "example", RULES) == Example()
    got = example(tmp_path, 'count = 7\nside = "short"\nstrict = true\nwait = "1h30m"\nbounds = [0, 1]')
    assert got == Example(count=7, side=Side.SHORT, strict=True, wait=timedelta(minutes=90), bounds=(0.0, 1.0))
    assert got.side is Side.SHORT and got.share == 0.5
    assert isinstance(example(tmp_path, "share = 1").share, float)  # an integer is read as a number
    assert read(project(tmp_path, "[example]\ncount = 2\n"), "example", RULES) == {"count": 2}  # given keys only


def test_an_unknown_key_names_the_file_the_table_and_the_keys(tmp_path):
    path = tmp_path / "barstore_project.toml"
    with pytest.raises(BarstoreError) as err:
        example(tmp_path, "cuont = 2")
    assert str(err.value) == (
        f"{path} [example]: unknown key 'cuont'; the keys are count, share, side, strict, bounds, wait, minimum, legs"
    )
    with pytest.raises(BarstoreError, match=r"\[example\]: unknown keys 'a', 'b'; the keys are count"):
        example(tmp_path, "a = 1\nb = 2")


@pytest.mark.parametrize(
    "text, message",
    [
        ('count = "x"', "count: expected an integer >= 1, got 'x'"),
        ("count = 1.5", "count: expected an integer >= 1, got 1.5"),
        ("count = true", "count: expected an integer >= 1, got True"),
        ('share = "half"', r"share: expected a number in \[0, 1\], got 'half'"),
        ('side = "up"', "side: expected one of long, short, got 'up'"),
        ("strict = 1", "strict: expected true or false, got 1"),
        ("bounds = 0.5", r"bounds: expected two increasing numbers in \[0, 1\], got 0.5"),
        ('wait = "5 minutes"', "wait: expected a duration such as 10m, 2h or 4d, got '5 minutes'"),
        ("legs = 3", "legs: expected a table of tables, got 3"),
    ],
)
def test_a_wrong_type_names_the_key_and_what_it_takes(tmp_path, text, message):
    with pytest.raises(
        BarstoreError, match=rf"^{re.escape(str(tmp_path / 'barstore_project.toml'))} \[example\] {message}$"
    ):
        example(tmp_path, text)


@pytest.mark.parametrize(
    "text, message",
    [
        ("count = 0", "count: expected an integer >= 1, got 0"),
        ("share = 1.5", r"share: expected a number in \[0, 1\], got 1.5"),
        ("bounds = [0.8, 0.2]", r"bounds: expected two increasing numbers in \[0, 1\], got \[0.8, 0.2\]"),
        ("bounds = [0.2, 1.2]", r"bounds: expected two increasing numbers in \[0, 1\], got \[0.2, 1.2\]"),
        ("legs = {B = {size = 0}}", "legs B size: expected a number > 0, got 0"),
        ("minimum = 0", "minimum: expected an integer >= 1, got 0"),
    ],
)
def test_a_value_out_of_range_is_refused(tmp_path, text, message):
    with pytest.raises(BarstoreError, match=rf"\[example\] {message}$"):
        example(tmp_path, text)


def test_a_per_model_key_takes_one_value_or_a_table_over_the_defaults(tmp_path):
    assert example(tmp_path, "minimum = 5").minimum == dict.fromkeys(MODELS, 5)
    some = example(tmp_path, "minimum = {longterm_multitf = 2, seq300_minute = 4}").minimum
    assert some == {**dict.fromkeys(MODELS, 10), "longterm_multitf": 2, "seq300_minute": 4}
    with pytest.raises(BarstoreError, match=r"\[example\] minimum: unknown model 'seq1'; the models are seq300_minute"):
        example(tmp_path, "minimum = {seq1 = 5}")
    with pytest.raises(BarstoreError, match=r"\[example\] minimum seq500_hourly: expected an integer >= 1, got 'x'"):
        example(tmp_path, 'minimum = {seq500_hourly = "x"}')
    assert PerModel(Duration()).read({"seq500_hourly": "2h"}, "--x") == {"seq500_hourly": timedelta(hours=2)}


def test_entries_over_a_default_entry_change_only_the_keys_given(tmp_path):
    legs = example(tmp_path, "[example.legs.A]\nfee = 0\n[example.legs.B]\nsize = 3\n").legs
    assert legs == {"A": Leg(2.0, fee=0.0), "B": Leg(3.0)}
    with pytest.raises(BarstoreError, match=r"\[example\] legs C: needs size \(no default\)$"):
        example(tmp_path, "[example.legs.C]\nfee = 2\n")
    with pytest.raises(BarstoreError, match=r"\[example\] legs A: unknown key 'sise'; the keys are size, fee$"):
        example(tmp_path, "[example.legs.A]\nsise = 2\n")


def test_settings_built_in_code_are_checked_the_same_way():
    assert Example(side="short").side is Side.SHORT  # the text becomes the enum member
    with pytest.raises(BarstoreError, match=r"^\[example\] count: expected an integer >= 1, got 0$"):
        Example(count=0)


def test_the_project_settings_classes_read_their_tables(tmp_path):
    """The core's and the five stages' settings through the helper: one naming scheme, one message scheme."""
    from backtest.positions import PositionRules
    from expectations.settings import ValidationSettings
    from inference.ensemble import EnsembleSettings
    from inference.serving_settings import ServingSettings
    from training.config import TrainingConfig

    loaders = {
        "warehouse": lambda d: warehouse_settings(project_dir=d),
        "training": TrainingConfig.from_project,
        "validation": lambda d: ValidationSettings.from_project(d, "seq300_minute"),
        "ensemble": EnsembleSettings.from_project,
        "serving": ServingSettings.from_project,
        "backtest": PositionRules.from_project,
    }
    for section, loader in loaders.items():
        path = project(tmp_path, f"[{section}]\ntypo = 1\n")
        with pytest.raises(
            BarstoreError, match=rf"^{re.escape(str(path / 'barstore_project.toml'))} \[{section}\]: unknown key 'typo'"
        ):
            loader(path)
    path = project(tmp_path, '[training]\nbatch_size = "x"\n')
    with pytest.raises(BarstoreError, match=r"\[training\] batch_size: expected an integer >= 1, got 'x'$"):
        TrainingConfig.from_project(path)
    assert TrainingConfig.from_project(project(tmp_path, "[training]\nlearning_rate = 1\n")).learning_rate == 1.0


def test_warehouse_settings_read_sizes_durations_and_seconds(tmp_path):
    """[warehouse]: sizes as DuckDB reads them, durations or numbers of seconds, over the defaults; the temp
    directory under the home."""
    home = tmp_path / "home"
    default = warehouse_settings(home=home, project_dir=project(tmp_path, ""))
    assert (default.memory_limit, default.threads, default.writer_wait) == ("4GiB", 0, 60.0)
    assert default.compact_interval == 300.0 and default.max_temp_directory_size == "40GiB"
    assert default.temp_directory == home.resolve() / "tmp" and default.build_batch_symbols == 32
    table = 'memory_limit = "1.5 GB"\nthreads = 2\nwriter_wait = 5\nbusy_timeout = "1h30m"\ncompact_interval = "0s"'
    got = warehouse_settings(home=home, project_dir=project(tmp_path, f"[warehouse]\n{table}\n"))
    assert (got.memory_limit, got.threads, got.writer_wait, got.busy_timeout) == ("1.5 GB", 2, 5.0, 5400.0)
    assert got.compact_interval == 0.0 and got.duckdb_config()["threads"] == "2"


@pytest.mark.parametrize(
    "text, message",
    [
        ('threads = "x"', "threads: expected an integer >= 0, got 'x'"),
        ("threads = -1", "threads: expected an integer >= 0, got -1"),
        ("inline_rows = 1.5", "inline_rows: expected an integer >= 0, got 1.5"),
        ("memory_limit = 4", "memory_limit: expected a size such as 4GiB, 500MB or 1.5GB, got 4"),
        (
            'max_temp_directory_size = "40 GiBs"',
            "max_temp_directory_size: expected a size such as 4GiB, .*, got '40 GiBs'",
        ),
        (
            'writer_wait = "soon"',
            "writer_wait: expected a duration such as 10m, 2h or 4d, or a number of seconds >= 0, got 'soon'",
        ),
        ("snapshot_retention = -5", "snapshot_retention: expected a duration .*, got -5"),
        ("temp_directory = 3", r"temp_directory: expected a folder path \(text\), got 3"),
    ],
)
def test_a_wrong_warehouse_setting_names_the_file_the_table_and_the_key(tmp_path, text, message):
    path = re.escape(str(tmp_path / "barstore_project.toml"))
    with pytest.raises(BarstoreError, match=rf"^{path} \[warehouse\] {message}$"):
        warehouse_settings(home=tmp_path, project_dir=project(tmp_path, f"[warehouse]\n{text}\n"))


def test_split_shares_have_one_check_and_one_message(tmp_path):
    """`barstore validate` (project_shares) and training (TrainingConfig) refuse a bad [training] split_shares
    with the same words."""
    from training.config import TrainingConfig

    assert project_shares(project(tmp_path, "")) == DEFAULT_SHARES
    assert project_shares(project(tmp_path, "[training]\nsplit_shares = [0.6, 0.2, 0.2]\n")) == (0.6, 0.2, 0.2)
    for bad in ('"x"', "[0.5, 0.5]", '[0.6, "a", 0.2]'):
        path = project(tmp_path, f"[training]\nsplit_shares = {bad}\n")
        messages = set()
        for reader in (project_shares, TrainingConfig.from_project):
            with pytest.raises(BarstoreError) as err:
                reader(path)
            messages.add(str(err.value))
        assert len(messages) == 1
        assert messages.pop().startswith(
            f"{path / 'barstore_project.toml'} [training] split_shares: expected three numbers, got "
        )


def test_a_duration_option_is_refused_in_the_same_scheme():
    """The CLI's durations (--reload-interval) and the settings' Duration rule say the same."""
    with pytest.raises(BarstoreError) as option:
        parse_duration("5 minutes", "--reload-interval")
    with pytest.raises(BarstoreError) as setting:
        Duration().read("5 minutes", "--reload-interval")
    assert (
        str(option.value)
        == str(setting.value)
        == "--reload-interval: expected a duration such as 10m, 2h or 4d, got '5 minutes'"
    )
