"""The fast readers give the careful readers' answers: Arrow's CSV reader against the csv module,
the streamed workbook head against calamine, Arrow's text conversion against cell_text."""

import datetime as dt
import json
import os
import random
import re
import shutil
import sys
from pathlib import Path

import openpyxl
import pytest

import connectors.files as files_module
import connectors.records as records_module
from connectors.files import (
    FileRefused, LandingTable, TextFormat, arrow_records, cell_text, csv_format, discover_tables, list_landing_files,
    sheet_head, sheet_is_plain, sheet_rows,
)
from connectors.profiles import load_profiles
from connectors.records import _csv_columns, _text_array, read_columns
from pipelines.raw import _manifest_rows
from tests.conftest import SAMPLE_LANDING

PROFILES = load_profiles()
WOO_HEADER = "order_id,order_number,order_date,status,order_total,order_currency,customer_email"


def manifest(folder, **kwargs) -> list[dict]:
    """The landing step's manifest rows of every file in `folder`."""
    return _manifest_rows(folder, list_landing_files(folder), PROFILES, "load", **kwargs)


def _csv_module_read(table):
    """What the csv-module path makes of a table: (record numbers, columns)."""
    numbers, columns, _ = _csv_columns(table, len(table.headers))
    return numbers, columns


def _arrow_read(table):
    records = read_columns(table)
    columns = [records[f"c{i}"].to_pylist() for i in range(len(table.headers))]
    return records["source_row"].to_pylist(), columns


@pytest.mark.parametrize("path", sorted(SAMPLE_LANDING.rglob("*.csv")), ids=lambda p: p.name)
def test_arrow_reads_every_sample_export_as_the_csv_module_does(path):
    [table] = discover_tables(path, PROFILES)
    fmt = TextFormat(table.encoding, table.delimiter)
    assert arrow_records(path, fmt, table.header_index + 1, [f"c{i}" for i in range(len(table.headers))]) is not None
    assert _arrow_read(table) == _csv_module_read(table)


def test_arrow_keeps_quoted_newlines_doubled_quotes_and_record_numbers_past_blank_lines(tmp_path):
    path = tmp_path / "woo.csv"
    path.write_text(
        "\ufeff" + WOO_HEADER + "\r\n"
        '4993,1501,3/30/2025 0:37:00,completed,"1,234.50",GBP,"ruth@example.co.uk"\r\n'
        "\r\n"
        ",,,,,,\r\n"
        '4994,1502,3/31/2025 9:05:00,"said ""hi""\nthen left",14.90,GBP,sam@example.co.uk\r\n',
        encoding="utf-8")
    [table] = discover_tables(path, PROFILES)
    numbers, columns = _arrow_read(table)
    assert (numbers, columns) == _csv_module_read(table)
    assert numbers == [1, 4]  # the blank line and the row of empty cells are counted, not kept
    assert columns[3] == ["completed", 'said "hi"\nthen left']


def test_text_after_a_closing_quote_is_still_refused_with_its_line(tmp_path):
    path = tmp_path / "woo.csv"
    path.write_text(WOO_HEADER + "\n4993,1501,3/30/2025 0:37:00,\"completed\"x,1.50,GBP,a@b.co.uk\n",
                    encoding="utf-8")
    assert arrow_records(path, csv_format(path), 1, [f"c{i}" for i in range(7)]) is None
    with pytest.raises(FileRefused, match="starting on line 2"):
        discover_tables(path, PROFILES)


def _quote_inside_a_field(data: bytes, delimiter: bytes) -> bool:
    """The rule loose_quotes applies, one run of quotes at a time: doubled quotes cancel out, and a
    run that leaves a quote with no delimiter or line end on either side sits inside a field."""
    edges = delimiter + b"\r\n"
    for run in re.finditer(rb'"+', data):
        before = data[run.start() - 1:run.start()] or b"\n"
        after = data[run.end():run.end() + 1] or b"\n"
        if len(run.group()) % 2 and before not in edges and after not in edges:
            return True
    return False


@pytest.mark.parametrize("slice_bytes", [1, 2, 3, 7, files_module.QUOTE_SCAN_SLICE])
def test_a_quote_inside_a_field_is_found_wherever_the_file_is_sliced(tmp_path, monkeypatch, slice_bytes):
    monkeypatch.setattr(files_module, "QUOTE_SCAN_SLICE", slice_bytes)
    pick = random.Random(slice_bytes)
    path = tmp_path / "quotes.csv"
    found = 0
    for n in range(1500):
        data = "".join(pick.choice('ab,;"\n\r') for _ in range(pick.randint(0, 30))).encode()
        path.write_bytes(data)
        for delimiter in (",", ";"):
            expected = _quote_inside_a_field(data, delimiter.encode())
            assert files_module._loose_quotes.__wrapped__(path, len(data), n, n, delimiter) == expected, (data, delimiter)
            found += expected
    assert 0 < found < 3000  # both answers were asked for


def test_a_short_row_leaves_arrow_for_the_csv_module_and_is_quarantined(tmp_path):
    path = tmp_path / "woo.csv"
    path.write_text(WOO_HEADER + "\n4993,1501,3/30/2025 0:37:00,completed,1.50,GBP,a@b.co.uk\n4994,1502\n",
                    encoding="utf-8")
    [table] = discover_tables(path, PROFILES)
    assert arrow_records(path, csv_format(path), 1, [f"c{i}" for i in range(7)]) is None
    records = read_columns(table)
    assert records["row_problem"].to_pylist() == [None, "the row has 2 fields where the header has 7"]


def _workbook(path: Path) -> Path:
    """Title rows, shared and inline strings, numbers and dates above and in the data."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Shipments"
    ws.append(["Harbour & Hearth — Shipments"])
    ws.append([dt.datetime(2025, 5, 2, 9, 30), 42, 4.5, True])
    ws.append([])
    ws.append(["Order #", "Ship To Name", "Qty Ordered", "Ship Date", "Shipping Cost", "Note"])
    ws.append(["#1601", "  Ann Lee ", 3, dt.datetime(2025, 5, 2, 10, 15, 30), 4.0, None])
    ws.append(["#1602", "Bo Chen", 1, dt.datetime(2025, 5, 3), 3.75, "fragile"])
    ws.append([])
    ws.append(["#1603", "Cy Diaz", 2, None, 0.00001, 12345678901234.0])
    wb.save(path)
    return path


def test_the_streamed_head_finds_the_header_calamine_finds(tmp_path):
    path = _workbook(tmp_path / "shipments.xlsx")
    head, full = sheet_head(path, "Shipments", 20), sheet_rows(path, "Shipments", 20)
    assert head[3] == [c for c in full[3] if c]  # the header row, text for text
    assert head[0][0] == full[0][0] and head[4][:3] == full[4][:3]
    for sample in sorted(SAMPLE_LANDING.rglob("*.xlsx")):
        for sheet in ("Shipments",):
            top = sheet_rows(sample, sheet, 20)
            header = next(i for i, r in enumerate(top) if "Order #" in r)
            assert sheet_head(sample, sheet, 20)[header] == [c for c in top[header] if c]


def test_arrow_converts_sheet_columns_as_cell_text_does(tmp_path):
    path = _workbook(tmp_path / "shipments.xlsx")
    headers = ["Order #", "Ship To Name", "Qty Ordered", "Ship Date", "Shipping Cost", "Note"]
    records = read_columns(LandingTable(path, "Shipments", 3, headers, None))
    assert records["source_row"].to_pylist() == [1, 2, 4]
    assert records["c3"].to_pylist() == ["2025-05-02 10:15:30", "2025-05-03", ""]  # a date-formatted cell
    assert records["c4"].to_pylist() == ["4", "3.75", "1e-05"]
    columns = [
        (1.0, 2.5, "", 3.0, -0.25, 12345678901234.0, 1e16, 0.1 + 0.2, float("nan"), float("inf")),
        (1e19, 2.0),
        (dt.datetime(2025, 1, 2, 3, 4, 5), "", dt.datetime(2025, 1, 2, 3, 4, 5, 999999)),
        (" text ", "", "x"),
        (1.0, "N/A", dt.date(2025, 1, 2), True, None),
        (0.00001, 2.0),
    ]
    for values in columns:
        assert _text_array(values).to_pylist() == [cell_text(v) for v in values]


def _plain_workbook(path: Path) -> Path:
    """A sheet fastexcel can vouch for: a title, a header, and columns of one kind each, with
    blank rows and cells, padded text, whole numbers, midnight dates and booleans."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Shipments"
    ws.append(["Harbour & Hearth — Shipments"])
    ws.append([])
    ws.append(["Order #", "Ship To Name", "Qty", "Ship Date", "Cost", "Gift", "Due"])
    ws.append(["#1601", "  Ann Lee\u00a0", 3, dt.datetime(2025, 5, 2, 10, 15, 30), 4.0, True, dt.date(2025, 5, 9)])
    ws.append(["#1602", "Bo Chen", 1.5, dt.datetime(2025, 5, 3), 3.75, False, None])
    ws.append([])
    ws.append(["#1603", None, None, None, 12345678901234.0, None, dt.date(2025, 5, 11)])
    ws.append(["#1604", "Di Eze", 2, dt.datetime(2025, 5, 4, 0, 0, 1), 0.5, True, dt.date(2025, 5, 12)])
    wb.save(path)
    return path


def _both_sheet_reads(table, monkeypatch):
    fast = read_columns(table)
    monkeypatch.setattr(records_module, "_fastexcel_columns", lambda _: None)
    return fast, read_columns(table)


def test_fastexcel_reads_a_plain_sheet_as_calamine_does(tmp_path, monkeypatch):
    path = _plain_workbook(tmp_path / "shipments.xlsx")
    table = LandingTable(path, "Shipments", 2, ["Order #", "Ship To Name", "Qty", "Ship Date", "Cost", "Gift", "Due"], None)
    assert records_module._fastexcel_columns(table) is not None  # the fast path is taken
    fast, careful = _both_sheet_reads(table, monkeypatch)
    assert fast.equals(careful)
    assert fast["source_row"].to_pylist() == [1, 2, 4, 5]
    assert fast["c1"].to_pylist() == ["Ann Lee", "Bo Chen", "", "Di Eze"]
    assert fast["c3"].to_pylist() == ["2025-05-02 10:15:30", "2025-05-03", "", "2025-05-04 00:00:01"]
    assert fast["c4"].to_pylist() == ["4", "3.75", "12345678901234", "0.5"]
    assert fast["c5"].to_pylist() == ["TRUE", "FALSE", "", "TRUE"]


def test_fastexcel_agrees_on_the_sample_workbook(monkeypatch):
    for sample in sorted(SAMPLE_LANDING.rglob("*.xlsx")):
        top = sheet_rows(sample, "Shipments", 20)
        header = next(i for i, r in enumerate(top) if "Order #" in r)
        table = LandingTable(sample, "Shipments", header, top[header], None)
        with monkeypatch.context() as patch:
            fast, careful = _both_sheet_reads(table, patch)
        assert fast.equals(careful), sample


def test_sheets_fastexcel_cannot_vouch_for_take_the_calamine_path(tmp_path):
    headers = ["Order #", "Ship To Name", "Qty Ordered", "Ship Date", "Shipping Cost", "Note"]
    # mixed kinds in a column, and a number Arrow would write differently (1e-05)
    mixed = LandingTable(_workbook(tmp_path / "mixed.xlsx"), "Shipments", 3, headers, None)
    assert records_module._fastexcel_columns(mixed) is None
    for quirk in ("formula", "merged", "offset"):
        wb = openpyxl.load_workbook(_plain_workbook(tmp_path / f"{quirk}.xlsx"))
        ws = wb["Shipments"]
        if quirk == "formula":
            ws["C5"] = "=1+1"
        elif quirk == "merged":
            ws.merge_cells("B4:B5")
        else:  # nothing in column A: where the used range starts is not known from the head
            ws.insert_cols(1)
        wb.save(tmp_path / f"{quirk}.xlsx")
        table = LandingTable(tmp_path / f"{quirk}.xlsx", "Shipments", 2, headers, None)
        assert records_module._fastexcel_columns(table) is None, quirk
        # formulas and merged ranges are found by the scan, not by luck elsewhere
        assert sheet_is_plain(tmp_path / f"{quirk}.xlsx", "Shipments") == (quirk == "offset"), quirk


def test_discovery_hands_its_parse_to_the_raw_load_once_and_never_a_stale_one(tmp_path, monkeypatch):
    parses = []
    parse = files_module._arrow_parse
    monkeypatch.setattr(files_module, "_arrow_parse", lambda *args: parses.append(args[0]) or parse(*args))
    path = tmp_path / "woo.csv"
    path.write_text(WOO_HEADER + "\n4993,1501,3/30/2025 0:37:00,completed,1.50,GBP,a@b.co.uk\n", encoding="utf-8")
    [table] = discover_tables(path, PROFILES, keep_for_load=True)
    fmt, names = TextFormat(table.encoding, table.delimiter), [f"c{i}" for i in range(len(table.headers))]
    assert arrow_records(path, fmt, table.header_index + 1, names)["c0"].to_pylist() == ["4993"]
    assert len(parses) == 1  # the raw load took discovery's parse
    arrow_records(path, fmt, table.header_index + 1, names)
    assert len(parses) == 2  # taken once: a later read parses again
    discover_tables(path, PROFILES, keep_for_load=True)
    path.write_text(WOO_HEADER + "\n4994,1502,3/31/2025 9:05:00,completed,2.50,GBP,b@c.co.uk\n", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert arrow_records(path, fmt, table.header_index + 1, names)["c0"].to_pylist() == ["4994"]  # the new bytes
    assert len(parses) == 4


def test_a_parse_held_for_the_load_is_not_taken_for_a_copy_with_the_same_size_and_time(tmp_path):
    import time

    path = tmp_path / "woo.csv"
    path.write_text(WOO_HEADER + "\n4993,1501,3/30/2025 0:37:00,completed,1.50,GBP,a@b.co.uk\n", encoding="utf-8")
    before = path.stat()
    [table] = discover_tables(path, PROFILES, keep_for_load=True)
    fmt, names = TextFormat(table.encoding, table.delimiter), [f"c{i}" for i in range(len(table.headers))]
    try:
        time.sleep(0.05)  # past the file system's clock tick
        # copied in as `cp -p` would: as many bytes, the old modification time
        path.write_text(WOO_HEADER + "\n4994,1502,3/31/2025 9:05:00,completed,2.50,GBP,b@c.co.uk\n", encoding="utf-8")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
        assert arrow_records(path, fmt, table.header_index + 1, names)["c0"].to_pylist() == ["4994"]
    finally:
        files_module.forget_held(path)  # the first version's parse, never taken


def test_the_trimmed_characters_are_pythons_whitespace():
    assert set(records_module.PYTHON_WHITESPACE) == {c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()}


def test_discovery_reads_a_ready_sheet_ahead_once_for_the_raw_load(tmp_path, monkeypatch):
    reads = []
    read = records_module._read_columns
    monkeypatch.setattr(records_module, "_read_columns", lambda table: reads.append(table.sheet) or read(table))
    shutil.copy(SAMPLE_LANDING / "inventory" / "shipments.xlsx", tmp_path / "shipments.xlsx")
    ready = [r for r in manifest(tmp_path) if r["status"] == "ready"]
    tables = [LandingTable(tmp_path / r["relative_path"], r["source_sheet"], r["header_index"],
                           json.loads(r["headers"]), None) for r in ready]
    assert len(tables) == 2 and len(files_module._held_for_load) == 2  # begun by discovery
    for table in tables:
        assert read_columns(table).equals(read(table))
    # one read per sheet, taken by the loads
    assert sorted(reads) == sorted(r["source_sheet"] for r in ready) and not files_module._held_for_load
    read_columns(tables[0])
    assert len(reads) == 3  # taken once: a later read reads again


@pytest.mark.parametrize("content", [b"", b"order_id\n1\n", os.urandom(3 << 20)])
def test_the_mapped_file_hash_is_the_sha256_of_the_bytes(tmp_path, content):
    import hashlib

    path = tmp_path / "export.csv"
    path.write_bytes(content)
    assert files_module.file_sha256(path) == hashlib.sha256(content).hexdigest()


def test_a_file_is_hashed_again_only_when_its_size_or_modification_time_moved(tmp_path, monkeypatch):
    import hashlib

    import pipelines.raw as raw_module

    hashed = []
    monkeypatch.setattr(raw_module, "file_sha256", lambda path: hashed.append(path.name) or files_module.file_sha256(path))
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text(WOO_HEADER + "\n4993,1501,3/30/2025 0:37:00,completed,1.50,GBP,a@b.co.uk\n")
    first = manifest(tmp_path)
    known = {(r["relative_path"], r["size_bytes"], r["mtime_ns"], r["ctime_ns"]): r["file_hash"] for r in first}
    assert sorted(hashed) == ["a.csv", "b.csv"]
    hashed.clear()
    # b.csv rewritten with as many bytes: its time moved, so it is read again
    path = tmp_path / "b.csv"
    path.write_text(WOO_HEADER + "\n4994,1502,3/31/2025 9:05:00,completed,2.50,GBP,b@c.co.uk\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    second = {r["relative_path"]: r["file_hash"] for r in manifest(tmp_path, hashes=known)}
    assert hashed == ["b.csv"]
    assert second == {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in ("a.csv", "b.csv")}
    assert second["b.csv"] != next(h for k, h in known.items() if k[0] == "b.csv")


def test_a_file_rewritten_with_its_size_and_modification_time_kept_is_hashed_again(tmp_path, monkeypatch):
    # as `cp -p` or `rsync -t` leave a corrected export: same size, the old time; only the change
    # time (which no tool sets) says the bytes were written again
    import time

    import pipelines.raw as raw_module

    hashed = []
    monkeypatch.setattr(raw_module, "file_sha256", lambda path: hashed.append(path.name) or files_module.file_sha256(path))
    path = tmp_path / "a.csv"
    path.write_text(WOO_HEADER + "\n4993,1501,3/30/2025 0:37:00,completed,1.50,GBP,a@b.co.uk\n")
    before = path.stat()
    [first] = manifest(tmp_path)
    known = {(first["relative_path"], first["size_bytes"], first["mtime_ns"], first["ctime_ns"]): first["file_hash"]}
    time.sleep(0.05)  # past the file system's clock tick
    path.write_text(WOO_HEADER + "\n4993,1501,3/30/2025 0:37:00,completed,9.50,GBP,a@b.co.uk\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    hashed.clear()
    [second] = manifest(tmp_path, hashes=known)
    assert hashed == ["a.csv"]
    assert second["file_hash"] != first["file_hash"]
