"""A landing table's data records as columns of text, read in bulk for one insert.

Rows are parsed by the csv module or calamine and turned into columns at C speed; only the
few rows with a problem (wrong number of fields, an oversized cell) are handled one by one.
Blank records are skipped but still counted, so record numbers match what a person sees
below the header, the first being 1.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from connectors.files import (
    LandingTable, MAX_FIELD_BYTES, TextFormat, arrow_records, cell_text, csv_all_rows, detect_encoding, sheet_values,
)

# Columns of the table read_columns returns, besides c0 .. c{width-1} (one per header cell).
SOURCE_ROW, ROW_PROBLEM = "source_row", "row_problem"


def column_name(position: int) -> str:
    return f"c{position}"


def read_columns(table: LandingTable) -> pa.Table:
    """source_row, row_problem and one text column per header cell, for every non-blank record."""
    width = len(table.headers)
    if table.sheet is None and (fast := _fast_csv(table, width)) is not None:
        return fast
    if table.sheet is None:
        numbers, columns, problems = _csv_columns(table, width)
    else:
        numbers, columns, problems = _sheet_columns(table, width)
    _judge_cell_sizes(table.headers, columns, problems)
    arrays = {SOURCE_ROW: pa.array(numbers, pa.int64()),
              ROW_PROBLEM: pa.array([problems.get(i) for i in range(len(numbers))] if problems else
                                    [None] * len(numbers), pa.string())}
    for position, values in enumerate(columns):
        arrays[column_name(position)] = pa.array(values, pa.string())
    return pa.table(arrays)


def _fast_csv(table: LandingTable, width: int) -> pa.Table | None:
    """The records read by Arrow (files.arrow_records), or None where the csv module must read
    them: Arrow cannot vouch for them, or a cell is oversized (its row is quarantined)."""
    names = [column_name(i) for i in range(width)]
    fmt = TextFormat(table.encoding or detect_encoding(table.path), table.delimiter or ",")
    records = arrow_records(table.path, fmt, table.header_index + 1, names)
    if records is None or records.num_rows == 0:
        return None
    longest = max(pc.max(pc.utf8_length(records[n])).as_py() or 0 for n in names)
    if longest > MAX_FIELD_BYTES:
        return None
    blank = None
    for n in names:
        empty = pc.equal(pc.utf8_trim_whitespace(records[n]), "")
        blank = empty if blank is None else pc.and_(blank, empty)
    numbers = pa.array(range(1, records.num_rows + 1), pa.int64())
    records = records.append_column(SOURCE_ROW, numbers).append_column(ROW_PROBLEM, pa.nulls(records.num_rows, pa.string()))
    if pc.any(blank).as_py():
        records = records.filter(pc.invert(blank))
    return records.select([SOURCE_ROW, ROW_PROBLEM, *names])


def _csv_columns(table: LandingTable, width: int) -> tuple[list[int], list[list], dict[int, str]]:
    fmt = TextFormat(table.encoding or detect_encoding(table.path), table.delimiter or ",")
    body = csv_all_rows(table.path, fmt)[table.header_index + 1:]
    kept = [i for i, row in enumerate(body) if "".join(row).strip()]
    rows = [body[i] for i in kept]
    problems = {}
    for j, row in enumerate(rows):
        if len(row) != width:
            problems[j] = f"the row has {len(row)} fields where the header has {width}"
            rows[j] = (row + [None] * width)[:width]  # missing fields are absent, not empty
    columns = [list(c) for c in zip(*rows)] if rows else [[] for _ in range(width)]
    return [i + 1 for i in kept], columns, problems


def _sheet_columns(table: LandingTable, width: int) -> tuple[list[int], list[list], dict[int, str]]:
    body = sheet_values(table.path, table.sheet)[table.header_index + 1:]
    columns = [_text_column(c) for c in zip(*body)]
    columns += [[""] * len(body) for _ in range(width - len(columns))]
    kept = [i for i, cells in enumerate(zip(*columns)) if any(cells)]
    # cells right of the header: a filled one means the row does not fit the header
    filled = {}
    for position in range(len(columns) - 1, width - 1, -1):
        for i, value in enumerate(columns[position]):
            if value and i not in filled:
                filled[i] = position + 1
    index = {i: j for j, i in enumerate(kept)}
    problems = {index[i]: f"the row has {n} fields where the header has {width}" for i, n in filled.items()}
    if len(kept) < len(body):
        columns = [[c[i] for i in kept] for c in columns[:width]]
    return [i + 1 for i in kept], columns[:width], problems


def _text_column(values: tuple) -> list[str]:
    """One sheet column as text; all-text columns (most of them) take the C-speed path."""
    if all(type(v) is str for v in values):
        return list(map(str.strip, values))
    return list(map(cell_text, values))


def _judge_cell_sizes(headers: list[str], columns: list[list], problems: dict[int, str]) -> None:
    """An oversized cell is not data anyone typed: its row is quarantined and the cell clipped."""
    for header, values in zip(headers, columns):
        try:
            longest = max(map(len, values), default=0)
        except TypeError:  # absent fields (None) in a short row
            longest = max((len(v) for v in values if v is not None), default=0)
        if longest <= MAX_FIELD_BYTES:
            continue
        for j, value in enumerate(values):
            if value is not None and len(value) > MAX_FIELD_BYTES:
                problems.setdefault(j, f"the value in column '{header}' is {len(value):,} characters long, "
                                       f"above the limit of {MAX_FIELD_BYTES:,}")
                values[j] = value[:200] + f"... ({len(value):,} characters)"
