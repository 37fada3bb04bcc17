"""A landing table's data records as columns of text, read in bulk for one insert.

Rows are parsed by the csv module or calamine and turned into columns at C speed; only the
few rows with a problem (wrong number of fields, an oversized cell) are handled one by one.
Blank records are skipped but still counted, so record numbers match what a person sees
below the header, the first being 1.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from connectors.files import (
    LandingTable, MAX_FIELD_BYTES, TextFormat, arrow_records, cell_text, csv_all_rows, detect_encoding, sheet_values,
)

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


def read_columns(table: LandingTable) -> pa.Table:
    """source_row, row_problem and one text column per header cell, for every non-blank record."""
    width = len(table.headers)
    if table.sheet is not None:
        return _judge_cell_sizes(table.headers, _sheet_records(table, width))
    if (fast := _fast_csv(table, width)) is not None:
        return fast
    numbers, columns, problems = _csv_columns(table, width)
    arrays = {SOURCE_ROW: pa.array(numbers, pa.int64()),
              ROW_PROBLEM: pa.array([problems.get(i) for i in range(len(numbers))], pa.string())}
    for position, values in enumerate(columns):
        arrays[column_name(position)] = pa.array(values, pa.string())
    return _judge_cell_sizes(table.headers, pa.table(arrays))


def _fast_csv(table: LandingTable, width: int) -> pa.Table | None:
    """The records read by Arrow (files.arrow_records), or None where the csv module must read
    them: Arrow cannot vouch for them, or a cell is oversized (its row is quarantined)."""
    names = [column_name(i) for i in range(width)]
    records = arrow_records(table.path, _text_format(table), table.header_index + 1, names)
    if records is None or records.num_rows == 0:
        return None
    longest = max(pc.max(pc.utf8_length(records[n])).as_py() or 0 for n in names)
    if longest > MAX_FIELD_BYTES:
        return None
    blank = _all([pc.equal(pc.utf8_trim_whitespace(records[n]), "") for n in names], pc.and_)
    numbers = pa.array(range(1, records.num_rows + 1), pa.int64())
    records = records.append_column(SOURCE_ROW, numbers).append_column(ROW_PROBLEM, pa.nulls(records.num_rows, pa.string()))
    if pc.any(blank).as_py():
        records = records.filter(pc.invert(blank))
    return records.select([SOURCE_ROW, ROW_PROBLEM, *names])


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
    body = sheet_values(table.path, table.sheet)[table.header_index + 1:]
    n = len(body)
    columns = [_text_array(c) for c in zip(*body)]
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
            numbers = pa.array([v if type(v) is float else None for v in values], pa.float64())
            size = pc.abs(numbers)
            whole = pc.equal(pc.floor(numbers), numbers)
            # Arrow writes 1e-05 as 0.00001 where Python keeps the exponent; whole numbers beyond
            # int64 have no exact Arrow cast: both are left to cell_text
            odd = pc.or_(pc.and_(pc.less(size, 1e-4), pc.not_equal(numbers, 0)), pc.and_(whole, pc.greater_equal(size, 9e18)))
            if not pc.any(odd).as_py():
                text = pc.if_else(whole, pc.cast(pc.cast(numbers, pa.int64(), safe=False), pa.string()),
                                  pc.cast(numbers, pa.string()))
                return pc.fill_null(text, "")
        if kind is dt.datetime:
            stamps = pa.array([v if type(v) is dt.datetime else None for v in values], pa.timestamp("us"))
            seconds = pc.cast(stamps, pa.timestamp("s"), safe=False)
            return pc.fill_null(pc.strftime(seconds, format="%Y-%m-%d %H:%M:%S"), "")
    return pa.array(list(map(cell_text, values)), pa.string())


def _judge_cell_sizes(headers: list[str], records: pa.Table) -> pa.Table:
    """An oversized cell is not data anyone typed: its row is quarantined and the cell clipped."""
    for position, header in enumerate(headers):
        name = column_name(position)
        if (pc.max(pc.utf8_length(records[name])).as_py() or 0) <= MAX_FIELD_BYTES:
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
