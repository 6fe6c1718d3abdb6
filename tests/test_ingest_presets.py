"""Vendor layouts: --preset yahoo|tradestation|firstrate, --column mappings, headerless CSV, --prices."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from barstore.errors import IngestError
from barstore.ingest.mapping import parse_column_options
from barstore.ingest.presets import PRESETS

from .ingest_helpers import UTC, ingest

ES = "es_1min_rth_2020-01_2020-04.csv"
NQ = "nq_1min_2023-11-19_2023-12-04.csv"
NY = "America/New_York"


def bars(ws, symbol):
    return ws.execute(
        "SELECT ts, open, high, low, close, volume FROM raw.bars WHERE symbol = ? ORDER BY ts", [symbol]
    ).fetchall()


def es_rows(data_dir: Path, n: int) -> list[dict]:
    with open(data_dir / ES, newline="") as f:
        return [row for _, row in zip(range(n), csv.DictReader(f))]


def write_tradestation(path: Path, rows: list[dict], edit=None) -> Path:
    """ES rows in TradeStation's export layout: quoted header, MM/DD/YYYY, HH:MM, volume split into Up/Down."""
    lines = ['"Date","Time","Open","High","Low","Close","Up","Down"']
    for i, r in enumerate(rows):
        stamp = datetime.strptime(r["ts_et"], "%Y-%m-%d %H:%M:%S")
        volume = int(r["volume"])
        cells = {
            "Date": stamp.strftime("%m/%d/%Y"),
            "Time": stamp.strftime("%H:%M"),
            "Open": r["open"],
            "High": r["high"],
            "Low": r["low"],
            "Close": r["close"],
            "Up": str(volume // 3),
            "Down": str(volume - volume // 3),
        }
        if edit:
            edit(i, cells)
        lines.append(",".join(cells.values()))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_es_slice(path: Path, rows: list[dict]) -> Path:
    path.write_text("ts_et,open,high,low,close,volume\n" + "".join(",".join(r.values()) + "\n" for r in rows))
    return path


def ingest_es(ws, path, symbol, **opts):
    return ingest(ws, path, symbol=symbol, timeframe="1m", tz=NY, calendar="us_rth", **opts)


def test_tradestation_export_loads_the_same_bars_as_the_original(ws, data_dir, tmp_path):
    rows = es_rows(data_dir, 400)  # the first day (390 bars, 09:31..16:00 end labels) and the next day's start
    ingest_es(ws, write_es_slice(tmp_path / "es.csv", rows), "ES", label="end")
    report = ingest_es(ws, write_tradestation(tmp_path / "es_ts.csv", rows), "ES_TS", preset="tradestation")
    assert report.total("inserted") == 400
    original, tradestation = bars(ws, "ES"), bars(ws, "ES_TS")
    assert len(original) == 400 and tradestation == original
    # The preset reads the end label: the 09:31 bar starts 09:30 EST; its volume is Up + Down.
    assert tradestation[0] == (datetime(2020, 1, 2, 14, 30, tzinfo=UTC), 3235.25, 3237.0, 3234.75, 3237.0, 16808.0)


def test_tradestation_variants_with_total_volume_or_vol(ws, tmp_path):
    header = '"Date","Time","Open","High","Low","Close","Vol","OI"\n'
    path = tmp_path / "daily_vol.csv"
    path.write_text(header + "01/02/2020,09:31,10,11,9,10.5,1234,77\n")
    ingest(ws, path, symbol="V", timeframe="1m", tz=NY, preset="tradestation")
    assert bars(ws, "V") == [(datetime(2020, 1, 2, 14, 30, tzinfo=UTC), 10.0, 11.0, 9.0, 10.5, 1234.0)]
    total = tmp_path / "total.csv"
    total.write_text(
        '"Date","Time","Open","High","Low","Close","Up","Down","TotalVolume"\n01/02/2020,09:31,10,11,9,10,1,2,5\n'
    )
    ingest(ws, total, symbol="T", timeframe="1m", tz=NY, preset="tradestation")
    assert bars(ws, "T")[0][5] == 5.0  # TotalVolume, not Up + Down


def test_tradestation_needs_the_zone_of_its_chart(ws, data_dir, tmp_path):
    path = write_tradestation(tmp_path / "es_ts.csv", es_rows(data_dir, 3))
    with pytest.raises(
        IngestError, match=r"row 2: timestamp '01/02/2020 09:31' in column 'Date\+Time' has no time zone"
    ):
        ingest(ws, path, symbol="ES", timeframe="1m", calendar="us_rth", preset="tradestation")


def break_row(index, column, value):
    def edit(i, cells):
        if i == index:
            cells[column] = value

    return edit


def test_bad_combined_values_are_reported_with_file_and_row(ws, data_dir, tmp_path):
    rows = es_rows(data_dir, 10)
    path = write_tradestation(tmp_path / "bad_time.csv", rows, break_row(3, "Time", "09:6x"))
    with pytest.raises(IngestError) as info:
        ingest_es(ws, path, "ES", preset="tradestation")
    # Data row index 3 is spreadsheet row 5 (the header is row 1).
    assert f"{path}: 1 bad row(s) out of 10" in str(info.value)
    assert "row 5: timestamp '01/02/2020 09:6x' cannot be parsed" in str(info.value)
    assert bars(ws, "ES") == []

    bad_volume = write_tradestation(tmp_path / "bad_up.csv", rows, break_row(6, "Up", "12a"))
    with pytest.raises(IngestError, match=r"row 8: volume '12a\+\d+' is not a number"):
        ingest_es(ws, bad_volume, "ES", preset="tradestation")


def test_bad_combined_value_is_quarantined(ws, data_dir, tmp_path):
    path = write_tradestation(tmp_path / "bad_time.csv", es_rows(data_dir, 10), break_row(3, "Time", "09:6x"))
    report = ingest_es(ws, path, "ES", preset="tradestation", on_bad_rows="quarantine")
    assert (report.total("inserted"), report.total("rejected")) == (9, 1)
    (row, reason, record), *others = ws.execute(
        "SELECT row_number, reason, record FROM raw.rejected_bars WHERE source = ?", [str(path)]
    ).fetchall()
    assert not others
    assert (row, reason) == (5, "timestamp '01/02/2020 09:6x' cannot be parsed")
    assert json.loads(record)["Time"] == "09:6x"  # the row as the file has it, not the joined value
    assert datetime(2020, 1, 2, 14, 33, tzinfo=UTC) not in [b[0] for b in bars(ws, "ES")]


def headerless_nq(data_dir: Path, path: Path, n: int) -> tuple[Path, Path]:
    with open(data_dir / NQ) as f:
        header, *lines = [line for _, line in zip(range(n + 1), f)]
    assert header.strip() == "ts_et,open,high,low,close,volume"  # the sample carries a header; FirstRate's do not
    path.write_text("".join(lines))
    headed = path.with_name("nq_headed.csv")
    headed.write_text(header + "".join(lines))
    return path, headed


def test_firstrate_headerless_file_equals_the_headed_one(ws, data_dir, tmp_path):
    headerless, headed = headerless_nq(data_dir, tmp_path / "nq_firstrate.csv", 600)
    ingest(ws, headed, symbol="NQ", timeframe="1m", tz=NY, calendar="cme_globex")
    # No --tz, --label or header: the preset fixes US/Eastern, start labels and the column names.
    report = ingest(ws, headerless, symbol="NQ_FR", timeframe="1m", calendar="cme_globex", preset="firstrate")
    assert report.total("inserted") == 600  # the first line is a bar, not a header
    headed_bars = bars(ws, "NQ")
    assert bars(ws, "NQ_FR") == headed_bars
    assert headed_bars[0] == (datetime(2023, 11, 19, 23, 0, tzinfo=UTC), 15895.0, 15903.75, 15888.0, 15893.25, 571.0)


def test_headerless_rows_are_numbered_from_one(ws, tmp_path):
    path = tmp_path / "fr.csv"
    path.write_text(
        "2023-11-20 09:30:00,10,11,9,10,5\n2023-11-20 09:31:00,10,11,9,10,5\n2023-11-20 09:32:00,10,9,9,10,5\n"
    )
    with pytest.raises(IngestError) as info:
        ingest(ws, path, symbol="X", timeframe="1m", preset="firstrate")
    assert "rows numbered from 1 = the first record" in str(info.value)
    assert "row 3: high 9.0 is below max(open, close) = 10.0" in str(info.value)


def test_no_header_and_names_without_a_preset(ws, tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("1704205800,10,11,9,10.5,100\n1704205860,10.5,12,10,11,200\n")
    ingest(ws, path, symbol="X", timeframe="1m", header=False, names=("t", "o", "h", "l", "c", "v"))
    assert bars(ws, "X")[1] == (datetime(2024, 1, 2, 14, 31, tzinfo=UTC), 10.5, 12.0, 10.0, 11.0, 200.0)
    with pytest.raises(IngestError, match="--names gives 5 name.*but the file has 6 column"):
        ingest(ws, path, symbol="X", timeframe="1m", header=False, names=("t", "o", "h", "l", "c"))
    # Read with a header, the first bar becomes column names: the error says the file looks headerless.
    with pytest.raises(IngestError, match="the first row looks like data, not a header: pass --no-header"):
        ingest(ws, path, symbol="X", timeframe="1m")


YAHOO_CSV = """Date,Open,High,Low,Close,Adj Close,Volume
2020-03-02,70.57,75.36,69.43,74.70,73.43,341397200
2020-03-03,75.92,76.00,71.45,72.33,71.10,319475600
2020-03-04,null,null,null,null,null,null
"""


def test_yahoo_preset_daily_bars_raw_and_adjusted(ws, tmp_path):
    path = tmp_path / "AAPL.csv"
    path.write_text(YAHOO_CSV)
    with pytest.raises(IngestError, match="--prices raw: .*--prices adjusted: .*adj_close / close"):
        ingest(ws, path, symbol="AAPL", timeframe="1d", calendar="us_rth", preset="yahoo")
    with pytest.raises(IngestError, match=r"row 4: open 'null' is not a number"):
        ingest(ws, path, symbol="AAPL", timeframe="1d", calendar="us_rth", preset="yahoo", prices="raw")

    opts = dict(timeframe="1d", calendar="us_rth", preset="yahoo", on_bad_rows="quarantine")
    ingest(ws, path, symbol="AAPL", prices="raw", **opts)
    ingest(ws, path, symbol="AAPL_ADJ", prices="adjusted", **opts)
    raw = bars(ws, "AAPL")
    # A bare date needs no --tz for daily bars: it is stored at that day's 09:30 New York session open.
    assert raw == [
        (datetime(2020, 3, 2, 14, 30, tzinfo=UTC), 70.57, 75.36, 69.43, 74.70, 341397200.0),
        (datetime(2020, 3, 3, 14, 30, tzinfo=UTC), 75.92, 76.00, 71.45, 72.33, 319475600.0),
    ]
    adjusted = bars(ws, "AAPL_ADJ")
    assert [b[0] for b in adjusted] == [b[0] for b in raw]
    for (_, *prices_raw, vol_raw), (_, *prices_adj, vol_adj), adj_close in zip(raw, adjusted, (73.43, 71.10)):
        factor = adj_close / prices_raw[3]
        assert prices_adj == pytest.approx([p * factor for p in prices_raw], rel=1e-12)
        assert prices_adj[3] == pytest.approx(adj_close, rel=1e-12) and vol_adj == vol_raw


def test_prices_adjusted_needs_an_adj_close_column(ws, bar_file):
    path = bar_file("plain.csv", [{"ts": "2024-01-02T14:30:00Z", "o": 1, "h": 2, "l": 1, "c": 2, "v": 3}])
    with pytest.raises(IngestError, match="--prices adjusted needs an adj_close column"):
        ingest(ws, path, symbol="X", timeframe="1m", prices="adjusted")


def test_explicit_column_mapping(ws, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Stamp,px_o,px_h,px_l,px_c,qty_bid,qty_ask\n2024-01-02T14:30:00Z,10,11,9,10.5,40,60\n")
    columns = parse_column_options(
        ["ts=Stamp", "open=px_o", "HIGH=PX_H", "low=px_l", "close = px_c", "volume=qty_bid+qty_ask"]
    )
    ingest(ws, path, symbol="X", timeframe="1m", columns=columns)
    assert bars(ws, "X") == [(datetime(2024, 1, 2, 14, 30, tzinfo=UTC), 10.0, 11.0, 9.0, 10.5, 100.0)]
    with pytest.raises(IngestError, match=r"--column volume=qty: no column 'qty' in the file; it has 'Stamp', 'px_o'"):
        ingest(ws, path, symbol="Y", timeframe="1m", columns={**columns, "volume": "qty"})


def test_explicit_column_overrides_the_preset(ws, data_dir, tmp_path):
    rows = es_rows(data_dir, 2)
    path = write_tradestation(tmp_path / "es_ts.csv", rows)
    ingest_es(ws, path, "ES", preset="tradestation", columns={"volume": "Up"})
    assert [b[5] for b in bars(ws, "ES")] == [float(int(r["volume"]) // 3) for r in rows]
    # --label start overrides the preset's end label: the same bars one minute later.
    ingest_es(ws, path, "ES_START", preset="tradestation", label="start")
    assert bars(ws, "ES_START")[0][0] == datetime(2020, 1, 2, 14, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    "item, message",
    [
        ("open", "write ROLE=COLUMN"),
        ("bid=Bid", "unknown role 'bid'"),
        ("open=Open+Close", r"only ts \(date\+time\) and volume \(a sum\)"),
    ],
)
def test_malformed_column_options(item, message):
    with pytest.raises(IngestError, match=message):
        parse_column_options([item])


def test_unknown_preset(ws, bar_file):
    path = bar_file("x.csv", [{"ts": "2024-01-02T14:30:00Z", "o": 1, "h": 2, "l": 1, "c": 2, "v": 3}])
    with pytest.raises(IngestError, match="unknown preset 'metastock'; use one of yahoo, tradestation, firstrate"):
        ingest(ws, path, symbol="X", timeframe="1m", preset="metastock")


def test_cli_names_every_preset_and_maps_columns(tmp_path):
    from barstore.cli import PRESET_NAMES, app

    assert PRESET_NAMES == tuple(PRESETS)
    path = tmp_path / "ts.csv"
    path.write_text('"Date","Time","Open","High","Low","Close","Up","Down"\n01/02/2020,09:31,10,11,9,10,1,2\n')
    args = ["ingest", str(path), "--symbol", "X", "--timeframe", "1m", "--tz", NY, "--calendar", "us_rth"]
    home = ["--home", str(tmp_path / "home")]
    mapped = ["--column", "ts=Date+Time", "--column", "volume=Up+Down", "--ts-format", "%m/%d/%Y %H:%M"]
    result = CliRunner().invoke(app, [*args, *mapped, "--label", "end", *home])
    assert result.exit_code == 0, result.output
    refused = CliRunner().invoke(app, [*args, "--column", "open", *home])
    assert refused.exit_code != 0 and "write ROLE=COLUMN" in refused.output
