"""Reading landing files: CSV and XLSX, one table per CSV or per sheet, every cell as text.

The header may sit below title lines; it is the first of the top rows whose cells match a
mapping profile. Record numbers count data records under the header, the first being 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import python_calamine

from connectors.profiles import Profile, detect_profile

SUPPORTED_SUFFIXES = {".csv", ".xlsx"}
HEADER_SEARCH_ROWS = 20


class FileRefused(Exception):
    """A landing file (or sheet) that cannot be read at all; the message says why."""


@dataclass
class LandingTable:
    """One CSV file or one workbook sheet, with the profile its headers match (if any)."""

    path: Path
    sheet: str | None
    header_index: int  # 0-based index of the header among the file's rows
    headers: list[str]
    profile: Profile | None

    @property
    def source_file(self) -> str:
        return f"{self.path.name}#{self.sheet}" if self.sheet else self.path.name


def list_landing_files(landing_dir: Path) -> list[Path]:
    """Supported files below the landing folder, in a stable order; hidden files are skipped."""
    return sorted(
        p
        for p in landing_dir.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith((".", "~$")) for part in p.relative_to(landing_dir).parts)
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cell_text(value) -> str:
    """A cell as text the way a person reads it; Excel dates become ISO text."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if isinstance(value, str) else str(value)


def _csv_rows(path: Path) -> Iterator[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            yield from csv.reader(fh)
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{path.name}: not UTF-8 text near byte {exc.start}") from exc


def _sheet_rows(path: Path, sheet: str) -> list[list[str]]:
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    rows = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    return [[cell_text(v) for v in row] for row in rows]


def _locate_header(rows: list[list[str]], profiles: tuple[Profile, ...]) -> tuple[int, Profile | None]:
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        profile = detect_profile(row, profiles)
        if profile:
            return index, profile
    first_filled = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), 0)
    return first_filled, None


def discover_tables(path: Path, profiles: tuple[Profile, ...]) -> list[LandingTable]:
    """The tables in one landing file, each with its header row and detected profile."""
    if path.suffix.lower() == ".csv":
        head = []
        for row in _csv_rows(path):
            head.append(row)
            if len(head) >= HEADER_SEARCH_ROWS:
                break
        if not head:
            raise FileRefused(f"{path.name}: the file is empty")
        index, profile = _locate_header(head, profiles)
        return [LandingTable(path, None, index, _trimmed(head[index]), profile)]
    try:
        sheets = python_calamine.CalamineWorkbook.from_path(str(path)).sheet_names
    except Exception as exc:  # calamine raises several types for damaged workbooks
        raise FileRefused(f"{path.name}: not a readable .xlsx workbook ({exc})") from exc
    tables = []
    for sheet in sheets:
        rows = _sheet_rows(path, sheet)
        if not rows:
            continue
        index, profile = _locate_header(rows, profiles)
        tables.append(LandingTable(path, sheet, index, _trimmed(rows[index]), profile))
    return tables


def _trimmed(header: list[str]) -> list[str]:
    """Drop empty trailing header cells (Excel's used range often runs wider than the data)."""
    cells = [h.replace("\ufeff", "").strip() for h in header]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def read_records(table: LandingTable) -> Iterator[tuple[int, list[str]]]:
    """(record number, cells) for each data record under the header; blank records are skipped
    but still counted, so numbers match what a person sees below the header."""
    rows = _csv_rows(table.path) if table.sheet is None else iter(_sheet_rows(table.path, table.sheet))
    for _ in range(table.header_index + 1):
        next(rows, None)
    for number, row in enumerate(rows, start=1):
        if any(cell.strip() for cell in row):
            yield number, row
