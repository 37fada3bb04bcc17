"""A landing table's data records as columns of text, read in bulk for one insert.

Rows are parsed by the csv module or calamine and turned into columns at C speed; only the
few rows with a problem (wrong number of fields, an oversized cell) are handled one by one.
Blank records are skipped but still counted, so record numbers match what a person sees
below the header, the first being 1.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import fastexcel
import pyarrow as pa
import pyarrow.compute as pc

from connectors.files import (
    LandingTable, MAX_FIELD_BYTES, TextFormat, arrow_records, cell_text, csv_all_rows, detect_encoding,
    hold_for_load, sheet_head, sheet_is_plain, sheet_values, take_held,
)
from connectors.lines import LineChanges, parse_changed

# Columns of the table read_columns returns, besides c0 .. c{width-1} (one per header cell).
SOURCE_ROW, ROW_PROBLEM = "source_row", "row_problem"


def column_name(position: int) -> str:
    return f"c{position}"


def _text_format(table: LandingTable) -> TextFormat:
    return TextFormat(table.encoding or detect_encoding(table.path), table.delimiter or ",")


def _all(masks: list[pa.Array], combine) -> pa.Array:
    result = masks[0]
    for mask in masks[1:]:
        result = combine(result, mask)
    return result


def _read_what(table: LandingTable) -> tuple:
    return ("columns", table.sheet, table.header_index, tuple(table.headers), table.encoding, table.delimiter)


def prefetch_columns(table: LandingTable) -> None:
    """Begin read_columns(table) in a background thread; the next read_columns of the same table
    version takes its result (held in connectors/files.py beside discovery's kept parses). A
    workbook sheet reads for seconds on one core with the GIL released, so it overlaps with the
    reads and loads of other files."""
    future: Future = Future()

    def read() -> None:
        try:
            future.set_result(_read_columns(table))
        except BaseException as exc:  # handed to the caller of read_columns
            future.set_exception(exc)

    hold_for_load(table.path, _read_what(table), future)
    threading.Thread(target=read, daemon=True, name=f"prefetch {table.path.name}").start()


def read_columns(table: LandingTable) -> pa.Table:
    """source_row, row_problem and one text column per header cell, for every non-blank record."""
    future = take_held(table.path, _read_what(table))
    return future.result() if future is not None else _read_columns(table)


def _read_columns(table: LandingTable) -> pa.Table:
    width = len(table.headers)
    if table.sheet is not None:
        records = _sheet_records(table, width)
    else:
        fast = _fast_csv(table, width)
        records = fast if fast is not None else _csv_records(table, width)
    return _judge_cell_sizes(table.headers, records)


def lines_what(table: LandingTable) -> tuple:
    """The key discovery holds a file's comparison with its earlier version under (LineChanges)."""
    return ("lines", table.header_index, tuple(table.headers), table.encoding, table.delimiter)


def changed_records(table: LandingTable, changes: LineChanges) -> pa.Table | None:
    """The records of the lines that changed since the earlier version, as read_columns gives
    every record; None where Arrow cannot vouch for them."""
    names = [column_name(i) for i in range(len(table.headers))]
    parsed = parse_changed(changes, _text_format(table), names)
    if parsed is None:
        return None
    records = (parsed.append_column(SOURCE_ROW, changes.changed_rows)
               .append_column(ROW_PROBLEM, pa.nulls(parsed.num_rows, pa.string())))
    if records.num_rows:
        blank = _blank_rows(records, names)
        if pc.any(blank).as_py():
            records = records.filter(pc.invert(blank))
    return _judge_cell_sizes(table.headers, records.select([SOURCE_ROW, ROW_PROBLEM, *names]))


def _csv_records(table: LandingTable, width: int) -> pa.Table:
    numbers, columns, problems = _csv_columns(table, width)
    arrays = {SOURCE_ROW: pa.array(numbers, pa.int64()),
              ROW_PROBLEM: pa.array([problems.get(i) for i in range(len(numbers))], pa.string())}
    for position, values in enumerate(columns):
        arrays[column_name(position)] = pa.array(values, pa.string())
    return pa.table(arrays)


def _fast_csv(table: LandingTable, width: int) -> pa.Table | None:
    """The records read by Arrow (files.arrow_records), or None where Arrow cannot vouch for
    them and the csv module must read them."""
    names = [column_name(i) for i in range(width)]
    records = arrow_records(table.path, _text_format(table), table.header_index + 1, names)
    if records is None or records.num_rows == 0:
        return None
    blank = _blank_rows(records, names)
    numbers = pa.array(range(1, records.num_rows + 1), pa.int64())
    records = records.append_column(SOURCE_ROW, numbers).append_column(ROW_PROBLEM, pa.nulls(records.num_rows, pa.string()))
    if pc.any(blank).as_py():
        records = records.filter(pc.invert(blank))
    return records.select([SOURCE_ROW, ROW_PROBLEM, *names])


def _blank_rows(records: pa.Table, names: list[str]) -> pa.Array:
    """Rows whose every cell is empty or spaces; once no row is left blank, the other columns
    need no look (most exports fill their first column)."""
    blank = pc.equal(pc.utf8_trim_whitespace(records[names[0]]), "")
    for name in names[1:]:
        if not pc.any(blank).as_py():
            break
        blank = pc.and_(blank, pc.equal(pc.utf8_trim_whitespace(records[name]), ""))
    return blank


def _csv_columns(table: LandingTable, width: int) -> tuple[list[int], list[list], dict[int, str]]:
    body = csv_all_rows(table.path, _text_format(table))[table.header_index + 1:]
    kept = [i for i, row in enumerate(body) if "".join(row).strip()]
    rows = [body[i] for i in kept]
    problems = {}
    for j, row in enumerate(rows):
        if len(row) != width:
            problems[j] = f"the row has {len(row)} fields where the header has {width}"
            rows[j] = (row + [None] * width)[:width]  # missing fields are absent, not empty
    columns = [list(c) for c in zip(*rows)] if rows else [[] for _ in range(width)]
    return [i + 1 for i in kept], columns, problems


def _sheet_records(table: LandingTable, width: int) -> pa.Table:
    columns, n = _fastexcel_columns(table) or _calamine_columns(table)
    columns += [pa.array([""] * n, pa.string()) for _ in range(width - len(columns))]
    filled = [pc.not_equal(c, "") for c in columns]
    # cells right of the header: the rightmost filled one says how many fields the row has
    fields = pa.nulls(n, pa.int64())
    for position in range(width, len(columns)):
        fields = pc.if_else(filled[position], position + 1, fields)
    problem = pc.binary_join_element_wise("the row has ", pc.cast(fields, pa.string()),
                                          f" fields where the header has {width}", "")
    records = pa.table({SOURCE_ROW: pa.array(range(1, n + 1), pa.int64()), ROW_PROBLEM: problem,
                        **{column_name(i): columns[i] for i in range(width)}})
    return records.filter(_all(filled, pc.or_)) if filled else records


def _calamine_columns(table: LandingTable) -> tuple[list[pa.Array], int]:
    """Every column of the rows below the header as text, from calamine's cells (merged ranges
    spread, uncalculated formulas as their text)."""
    body = sheet_values(table.path, table.sheet)[table.header_index + 1:]
    return [_text_array(c) for c in zip(*body)], len(body)


def _fastexcel_columns(table: LandingTable) -> tuple[list[pa.Array], int] | None:
    """The same columns read by fastexcel straight into Arrow (three times faster than calamine's
    Python objects on a million rows), or None where it cannot vouch for them: a formula or a
    merged range in the sheet, a column holding more than one kind of cell, a kind it cannot
    write as cell_text does, or a used range not starting in column A (the header would not
    line up)."""
    head = sheet_head(table.path, table.sheet, table.header_index + 1)
    if len(head) <= table.header_index or not any(row and row[0] for row in head):
        return None
    first_row = next(i for i, row in enumerate(head) if any(row))
    with ThreadPoolExecutor(1) as pool:
        plain = pool.submit(sheet_is_plain, table.path, table.sheet)
        try:
            data = fastexcel.read_excel(str(table.path)).load_sheet(
                table.sheet, header_row=table.header_index - first_row, dtype_coercion="strict",
                schema_sample_rows=None).to_arrow()
        except Exception:  # fastexcel raises its own error types; the calamine path names the problem
            return None
        if not plain.result():
            return None
    header = head[table.header_index]
    for position, name in enumerate(data.column_names):
        expected = header[position] if position < len(header) else ""
        if name != expected and not (expected == "" and name.startswith("__UNNAMED__")):
            return None
    columns = [_arrow_text(c) for c in data.columns]
    return None if any(c is None for c in columns) else (columns, data.num_rows)


# what str.strip() removes (every character whose isspace() is true; tests/test_fast_paths.py
# checks the list), so Arrow trims cells exactly as cell_text does
PYTHON_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                     "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _arrow_text(column: pa.Array | pa.ChunkedArray) -> pa.Array | None:
    """A column fastexcel typed, as cell_text writes each cell; None for a kind left to calamine."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_null(kind):
        return pa.array([""] * len(column), pa.string())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pc.fill_null(pc.utf8_trim(column.cast(pa.string()), PYTHON_WHITESPACE), "")
    if pa.types.is_floating(kind):
        return _float_text(column)
    if pa.types.is_boolean(kind):
        return pc.fill_null(pc.if_else(column, "TRUE", "FALSE"), "")
    if pa.types.is_timestamp(kind) and kind.tz is None:
        # calamine gives a date, not a datetime, for a cell at midnight
        days = pc.cast(column, pa.date32())
        midnight = pc.equal(pc.cast(days, pa.timestamp(kind.unit)), column)
        return pc.fill_null(pc.if_else(midnight, _datetime_text(days), _datetime_text(column)), "")
    if pa.types.is_date(kind):
        return pc.fill_null(_datetime_text(column), "")
    return None


def _datetime_text(values: pa.Array) -> pa.Array:
    """Dates as 2025-01-02 and times to the second as 2025-01-02 06:03:00 (cell_text's forms),
    by Arrow's cast: twenty times faster than its strftime."""
    if pa.types.is_timestamp(values.type):
        values = pc.cast(values, pa.timestamp("s"), safe=False)
    return pc.cast(values, pa.string())


def _float_text(numbers: pa.Array) -> pa.Array | None:
    """Numbers as cell_text writes them (whole ones without '.0'), empty for NULL; None where
    Arrow's text would differ from Python's."""
    size = pc.abs(numbers)
    whole = pc.equal(pc.floor(numbers), numbers)
    # Arrow writes 1e-05 as 0.00001 where Python keeps the exponent; whole numbers beyond
    # int64 have no exact Arrow cast: both are left to cell_text
    odd = pc.or_(pc.and_(pc.less(size, 1e-4), pc.not_equal(numbers, 0)), pc.and_(whole, pc.greater_equal(size, 9e18)))
    if pc.any(odd).as_py():
        return None
    text = pc.if_else(whole, pc.cast(pc.cast(numbers, pa.int64(), safe=False), pa.string()),
                      pc.cast(numbers, pa.string()))
    return pc.fill_null(text, "")


def _text_array(values: tuple) -> pa.Array:
    """One sheet column as text, as cell_text writes each cell. Columns of one kind (text; numbers
    or dates with empty cells) are converted whole by Arrow; mixed ones cell by cell."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return pa.array(list(map(str.strip, values)), pa.string())
    others = kinds - {str}
    if len(others) == 1 and all(v == "" for v in values if type(v) is str):
        kind = others.pop()
        if kind is float:
            text = _float_text(pa.array([v if type(v) is float else None for v in values], pa.float64()))
            if text is not None:
                return text
        if kind is dt.datetime:
            stamps = pa.array([v if type(v) is dt.datetime else None for v in values], pa.timestamp("us"))
            return pc.fill_null(_datetime_text(stamps), "")
    return pa.array(list(map(cell_text, values)), pa.string())


def _judge_cell_sizes(headers: list[str], records: pa.Table) -> pa.Table:
    """An oversized cell is not data anyone typed: its row is quarantined and the cell clipped."""
    for position, header in enumerate(headers):
        name = column_name(position)
        # a value has at least as many bytes as characters, and bytes are counted without decoding
        if (pc.max(pc.binary_length(records[name])).as_py() or 0) <= MAX_FIELD_BYTES:
            continue
        values, problems = records[name].to_pylist(), records[ROW_PROBLEM].to_pylist()
        for j, value in enumerate(values):
            if value is not None and len(value) > MAX_FIELD_BYTES:
                problems[j] = problems[j] or (f"the value in column '{header}' is {len(value):,} characters long, "
                                              f"above the limit of {MAX_FIELD_BYTES:,}")
                values[j] = value[:200] + f"... ({len(value):,} characters)"
        records = records.set_column(position + 2, name, pa.array(values, pa.string()))
        records = records.set_column(1, ROW_PROBLEM, pa.array(problems, pa.string()))
    return records
