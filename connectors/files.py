"""Reading landing files: CSV and XLSX, one table per CSV or per sheet, every cell as text.

Files come as people make them: CSV in UTF-8 (with or without BOM), UTF-16 (Excel "Unicode
text", tab-delimited) or Windows-1252/Latin-1, delimited by comma, semicolon, tab or pipe;
workbooks with title lines above the header and several sheets. The header is the first of
the top rows whose cells match a mapping profile (or the profile a user forced for the file).
Record numbers count data records under the header, the first being 1.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import itertools
import json
import mmap
import os
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import python_calamine
# ElementTree never fetches external entities, and the expat it uses (>= 2.4) limits entity
# expansion, so a hostile workbook cannot blow up memory here.
from xml.etree import ElementTree

from connectors.profiles import Override, Profile, detect_profile, override_for

XLSX_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
XLSX_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SUPPORTED_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx"}
HEADER_SEARCH_ROWS = 20
DELIMITERS = (",", ";", "\t", "|")
SNIFF_ROWS = 50
# A cell larger than this is not data anyone typed; its row is quarantined, the file still loads.
MAX_FIELD_BYTES = 1 << 20

csv.field_size_limit(sys.maxsize)  # big cells are judged per row (MAX_FIELD_BYTES), not fatal to the file


class FileRefused(Exception):
    """A landing file (or sheet) that cannot be read at all; the message says why."""


@dataclass
class TextFormat:
    """How a CSV file's bytes become rows."""

    encoding: str
    delimiter: str
    rows: int = 0  # records under the header, counted while validating


@dataclass
class LandingTable:
    """One CSV file or one workbook sheet, with the profile its headers match (if any)."""

    path: Path
    sheet: str | None
    header_index: int  # 0-based index of the header among the file's rows
    headers: list[str]
    profile: Profile | None
    encoding: str | None = None
    delimiter: str | None = None
    skipped: str | None = None  # why a sheet is listed but not read (hidden)
    notes: list[str] = field(default_factory=list)

    @property
    def source_file(self) -> str:
        return f"{self.path.name}#{self.sheet}" if self.sheet else self.path.name


def list_landing_files(landing_dir: Path) -> list[Path]:
    """Supported files below the landing folder, in a stable order; hidden files are skipped, and
    so are links that lead outside the folder (reading is confined to the configured folder)."""
    root = landing_dir.resolve()
    return sorted(
        p
        for p in landing_dir.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith((".", "~$")) for part in p.relative_to(landing_dir).parts)
        and p.resolve().is_relative_to(root)
    )


def content_fingerprint(paths, *values) -> str:
    """sha256 over the bytes of `paths` (a missing file counts as empty) and `values`: what a
    kept result was derived from, so it is reused only while all of it is unchanged."""
    digest = hashlib.sha256()
    for path in paths:
        data = path.read_bytes() if path.exists() else b""
        digest.update(len(data).to_bytes(8, "big") + data)
    digest.update(json.dumps(values, default=str).encode())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        if os.fstat(fh.fileno()).st_size:
            # one update over the mapped file holds the GIL once, not once per block read: beside
            # the run's background imports, 1 MB reads made hashing 1M orders' files 2-4x slower
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                digest.update(mapped)
    return digest.hexdigest()


def cell_text(value) -> str:
    """A cell as text the way a person reads it; Excel dates become ISO text."""
    kind = type(value)
    if kind is str:  # most cells: checked first, the read is per cell
        return value.strip()
    if kind is float:
        return str(int(value)) if value.is_integer() else str(value)
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        # isoformat is several times faster than strftime and gives the same text without microseconds
        return value.strftime("%Y-%m-%d %H:%M:%S") if value.microsecond else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if isinstance(value, str) else str(value)


# --- CSV -------------------------------------------------------------------------------------

def detect_encoding(path: Path) -> str:
    """UTF-8 or UTF-16 by their byte-order marks (or UTF-16's NUL pattern), UTF-8 when every byte decodes
    as UTF-8, else Windows-1252 (Excel's "CSV" on Western Windows; a superset of Latin-1's
    printable range), else Latin-1. Refuses binary content (NUL bytes outside UTF-16)."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    with path.open("rb") as fh:
        sample = fh.read(512)
    # UTF-16 without a byte-order mark: ASCII text with a NUL after (LE) or before (BE) each letter
    if len(sample) >= 8 and sample[1::2].count(0) > 0.9 * len(sample[1::2]) and 0 not in sample[0::2]:
        return "utf-16-le"
    if len(sample) >= 8 and sample[0::2].count(0) > 0.9 * len(sample[0::2]) and 0 not in sample[1::2]:
        return "utf-16-be"
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    offset = lines = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            nul = block.find(b"\x00")
            if nul >= 0:
                line = lines + block.count(b"\n", 0, nul) + 1
                raise FileRefused(f"{path.name}: binary content (a NUL byte on line {line}, byte {offset + nul}); "
                                  "not a text export")
            lines += block.count(b"\n")
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
            offset += len(block)
    if utf8:
        try:
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass  # truncated inside a multi-byte character
    try:
        with path.open(encoding="cp1252") as fh:
            for _ in iter(lambda: fh.read(1 << 20), ""):
                pass
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the first lines into the same number of fields, most fields
    first; quoted fields are respected (csv module)."""
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delimiter) if any(c.strip() for c in r)]
        except csv.Error:
            continue
        if not counts:
            continue
        width, agreeing = Counter(counts).most_common(1)[0]
        score = (agreeing, width) if width > 1 else (0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def csv_format(path: Path, override: Override | None = None) -> TextFormat:
    encoding = (override.encoding if override and override.encoding else None) or detect_encoding(path)
    if override and override.delimiter:
        return TextFormat(encoding, override.delimiter)
    with path.open(newline="", encoding=encoding, errors="replace") as fh:
        lines = [line for _, line in zip(range(SNIFF_ROWS), fh)]
    if not lines:
        return TextFormat(encoding, ",")
    # title lines above the header have fewer fields; the sniff looks past them
    return TextFormat(encoding, sniff_delimiter(lines))


def csv_rows(path: Path, fmt: TextFormat) -> Iterator[list[str]]:
    """Rows of a CSV file; a quote left open (the rest of the file would become one cell) or
    text after a closing quote refuses the file, naming the line."""
    with path.open(newline="", encoding=fmt.encoding) as fh:
        reader = csv.reader(fh, delimiter=fmt.delimiter, strict=True)
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                hint = ("a quote opened there is never closed" if "unexpected end of data" in str(exc)
                        else "a quote inside a field that is not quoted as a whole?")
                raise FileRefused(f"{path.name}: cannot read the CSV record starting on line {start}: {exc} "
                                  f"({hint})") from exc
            except UnicodeDecodeError as exc:
                raise FileRefused(f"{path.name}: not {fmt.encoding} text near byte {exc.start}") from exc
            yield _without_bom(row)


def csv_all_rows(path: Path, fmt: TextFormat) -> list[list[str]]:
    """Every row of a CSV file, parsed in one pass by the csv module; on a parse error the
    record-by-record reader runs again to name the line (csv_rows)."""
    try:
        with path.open(newline="", encoding=fmt.encoding) as fh:
            rows = list(csv.reader(fh, delimiter=fmt.delimiter, strict=True))
    except (csv.Error, UnicodeDecodeError):
        return list(csv_rows(path, fmt))
    return [_without_bom(row) for row in rows]


def _without_bom(row: list[str]) -> list[str]:
    """A byte-order mark left in a first cell (files concatenated by hand) is not data."""
    if row and row[0].startswith("\ufeff"):
        row[0] = row[0].replace("\ufeff", "")
    return row


def loose_quotes(path: Path, delimiter: str) -> bool:
    """Whether a quote sits inside a field (`"a"b`, `a"b`) once doubled quotes are set aside:
    the csv module refuses the first, while Arrow's reader would quietly join the text. Asked by
    discovery and again by the raw load, so answered once per version of the file."""
    return _loose_quotes(*_file_version(path), delimiter)


@lru_cache(maxsize=256)
def _loose_quotes(path: str, size: int, mtime_ns: int, ctime_ns: int, delimiter: str) -> bool:
    if not size:
        return False
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        if mapped.find(b'"') < 0:
            return False
        codes = np.frombuffer(mapped, dtype=np.uint8)
        try:
            return _quote_inside_field(codes, np.frombuffer(delimiter.encode() + b"\r\n", dtype=np.uint8))
        finally:
            del codes  # the map cannot close while an array views it


def loose_quotes_in(text: bytes, delimiter: str) -> bool:
    """loose_quotes of some lines of a file (whole lines, each ending in a newline)."""
    return b'"' in text and _quote_inside_field(np.frombuffer(text, dtype=np.uint8),
                                                 np.frombuffer(delimiter.encode() + b"\r\n", dtype=np.uint8))


# Quotes are looked for a slice of the file at a time, into one buffer: memory a process touches
# for the first time is dear on a virtual machine (for a 96 MB export, arrays the size of the
# file took 0.94 s in a fresh process, slices 0.10 s)
QUOTE_SCAN_SLICE = 1 << 23
QUOTE = ord('"')


def _quote_inside_field(codes: np.ndarray, edges: np.ndarray) -> bool:
    is_quote = np.empty(min(QUOTE_SCAN_SLICE, len(codes)), dtype=bool)
    start = 0
    while start < len(codes):
        end = min(start + QUOTE_SCAN_SLICE, len(codes))
        while end < len(codes) and codes[end - 1] == QUOTE:  # a run of quotes stays in one slice
            end += 1
        if end - start > len(is_quote):
            is_quote = np.empty(end - start, dtype=bool)
        found = is_quote[:end - start]
        np.equal(codes[start:end], QUOTE, out=found)
        at = np.flatnonzero(found) + start
        start = end
        if not len(at):
            continue
        # runs of adjacent quotes: doubled quotes set aside, a run leaves one quote when its length
        # is odd, between the characters around the run
        starts = np.concatenate(([True], np.diff(at) != 1))
        lengths = np.diff(np.append(np.flatnonzero(starts), len(at)))
        odd = lengths % 2 == 1
        first = at[starts][odd]
        last = first + lengths[odd] - 1
        before = np.where(first > 0, codes[np.maximum(first - 1, 0)], ord("\n"))
        after = np.where(last < len(codes) - 1, codes[np.minimum(last + 1, len(codes) - 1)], ord("\n"))
        if (~np.isin(before, edges) & ~np.isin(after, edges)).any():
            return True
    return False


# Work begun for the raw load of the same run, held by file version until the load takes it:
# discovery's parse of a clean CSV (it parses the file whole to prove it loads), and a workbook
# sheet read ahead (connectors/records.py prefetch_columns). Each file is read once.
_held_for_load: dict[tuple, object] = {}


def version_stamp(stat: os.stat_result) -> tuple[int, int, int]:
    """What tells one version of a file from another without reading it: its size, modification
    and change times (ns). The change time is there because copying with `cp -p` or `rsync -t`
    keeps the modification time, and a corrected export can keep its size; no tool sets it."""
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _file_version(path: Path) -> tuple:
    return str(path), *version_stamp(path.stat())


def hold_for_load(path: Path, what: tuple, value) -> None:
    _held_for_load[(*_file_version(path), *what)] = value


def take_held(path: Path, what: tuple):
    """What was held for this version of the file and these arguments (once), else None."""
    return _held_for_load.pop((*_file_version(path), *what), None)


def forget_held(path: Path | None = None) -> None:
    """Drop what was held and not taken: for one file, or all."""
    for key in [k for k in _held_for_load if path is None or k[0] == str(path)]:
        del _held_for_load[key]


def arrow_records(path: Path, fmt: TextFormat, skip_rows: int, names: list[str],
                  keep_for_load: bool = False) -> pa.Table | None:
    """The records under the header parsed by Arrow's multi-threaded reader (every cell as text),
    or None where it cannot vouch for the csv module's result: not UTF-8, a quote inside a field,
    a record with another number of fields than the header, text it cannot parse. A blank line
    comes back as a record of empty cells, so record numbers are positions. With keep_for_load
    the records are kept for the next call with the same file version and arguments."""
    what = ("arrow", fmt.encoding, fmt.delimiter, skip_rows, tuple(names))
    if (held := take_held(path, what)) is not None:
        return held
    records = _arrow_parse(path, fmt, skip_rows, names)
    if keep_for_load and records is not None:
        hold_for_load(path, what, records)
    return records


# Arrow parses a block per thread: 4 MB blocks keep both cores busy to the end of a 100 MB export
# (0.14-0.19 s against 0.15-0.37 s with 16 MB blocks, for 1M orders' CSV files)
ARROW_BLOCK = 1 << 22


def _arrow_parse(path: Path, fmt: TextFormat, skip_rows: int, names: list[str]) -> pa.Table | None:
    if fmt.encoding not in ("utf-8", "utf-8-sig") or loose_quotes(path, fmt.delimiter):
        return None
    return arrow_cells(path, fmt.delimiter, names, skip_rows)


def arrow_cells(source, delimiter: str, names: list[str], skip_rows: int = 0) -> pa.Table | None:
    """The records of `source` (a path or a binary stream of clean UTF-8 CSV) as text columns
    `names`, or None where Arrow cannot vouch for them: a record with another number of fields,
    text it cannot parse."""
    try:
        return pcsv.read_csv(
            source,
            read_options=pcsv.ReadOptions(skip_rows=skip_rows, column_names=names, block_size=ARROW_BLOCK),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                            ignore_empty_lines=False, invalid_row_handler=lambda row: "error"),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None


# --- XLSX ------------------------------------------------------------------------------------

def open_workbook(path: Path) -> python_calamine.CalamineWorkbook:
    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises several types for damaged workbooks
        raise FileRefused(f"{path.name}: not a readable .xlsx workbook ({exc})") from exc


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - 64
    return index - 1


def _sheet_member(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The archive member holding a sheet's cells (xl/worksheets/sheetN.xml), found by its name."""
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels}
    for node in book.iter(f"{{{XLSX_NS}}}sheet"):
        if node.get("name") == sheet:
            target = targets.get(node.get(f"{{{XLSX_REL_NS}}}id"), "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None


def sheet_is_plain(path: Path, sheet: str) -> bool:
    """No formula and no merged range anywhere in the sheet: its cells are exactly the values
    stored. Streamed through the sheet's XML (a million-row sheet inflates to over 600 MB)."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = _sheet_member(archive, sheet)
            if member is None:
                return False
            tail = b""
            with archive.open(member) as stream:
                while chunk := stream.read(1 << 22):
                    window = tail + chunk
                    if b"<f" in window or b"<mergeCell" in window:
                        return False
                    tail = window[-16:]  # a tag split across two chunks
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, OSError):
        return False
    return True


def uncalculated_formulas(path: Path, sheet: str) -> dict[tuple[int, int], str]:
    """Formula cells saved without a computed value (workbooks written by scripts, not Excel),
    as {(row, column): '=formula'}; calamine reads them as empty."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = _sheet_member(archive, sheet)
            if member is None:
                return {}
            data = archive.read(member)
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        return {}
    if b"<f" not in data:
        return {}
    found = {}
    for cell in ElementTree.fromstring(data).iter(f"{{{XLSX_NS}}}c"):
        formula = cell.find(f"{{{XLSX_NS}}}f")
        value = cell.find(f"{{{XLSX_NS}}}v")
        if formula is not None and formula.text and (value is None or value.text is None):
            ref = cell.get("r", "")
            letters = "".join(ch for ch in ref if ch.isalpha())
            found[(int(ref[len(letters):]) - 1, _column_index(letters))] = "=" + formula.text
    return found


def sheet_values(path: Path, sheet: str, nrows: int | None = None) -> list[list]:
    """The sheet's cells from A1 as calamine reads them (text, numbers, dates); a merged range
    shows its value in every cell it covers, as a person reading the sheet sees it, and an
    uncalculated formula shows as its text, so typing rejects it with the formula named."""
    # the formula scan inflates the sheet's XML while calamine (which releases the GIL) parses it
    with ThreadPoolExecutor(1) as pool:
        formulas = pool.submit(uncalculated_formulas, path, sheet)
        try:
            data = open_workbook(path).get_sheet_by_name(sheet)
            rows = data.to_python(skip_empty_area=False, nrows=nrows)
            merged = data.merged_cell_ranges or []
        except FileRefused:
            raise
        except Exception as exc:
            raise FileRefused(f"{path.name}#{sheet}: cannot read the sheet ({exc})") from exc
        formulas = formulas.result()
    for (r, c), formula in formulas.items():
        if r < len(rows) and c < len(rows[r]):
            rows[r][c] = formula
    for (r0, c0), (r1, c1) in merged:
        if r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        value = rows[r0][c0]
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            row = rows[r]
            for c in range(c0, c1 + 1):
                if c < len(row):
                    row[c] = value
    return rows


def sheet_rows(path: Path, sheet: str, nrows: int | None = None) -> list[list[str]]:
    """The sheet's cells as text (cell_text), from A1; nrows limits it to the top rows."""
    return [[cell_text(v) for v in row] for row in sheet_values(path, sheet, nrows)]


def _cell_ref(ref: str) -> tuple[int, int]:
    letters = "".join(ch for ch in ref if ch.isalpha())
    return int(ref[len(letters):]) - 1, _column_index(letters)


def _shared_strings(archive: zipfile.ZipFile, needed: int) -> list[str]:
    """The first `needed` entries of the shared-string table, read as a stream."""
    strings: list[str] = []
    if needed <= 0 or "xl/sharedStrings.xml" not in archive.namelist():
        return strings
    with archive.open("xl/sharedStrings.xml") as stream:
        for _, node in ElementTree.iterparse(stream):
            if node.tag == f"{{{XLSX_NS}}}si":
                # plain text, or rich-text runs concatenated; phonetic guides (rPh) are not the value
                strings.append("".join(t.text or "" for part in node
                                       for t in (part.iter(f"{{{XLSX_NS}}}t") if part.tag == f"{{{XLSX_NS}}}r"
                                                 else [part] if part.tag == f"{{{XLSX_NS}}}t" else [])))
                node.clear()
                if len(strings) >= needed:
                    break
    return strings


def sheet_head(path: Path, sheet: str, nrows: int) -> list[list[str]]:
    """The top `nrows` rows of a sheet as text, streamed from the workbook: finding the header of a
    sheet of a million rows must not load all of it. Merged ranges are not spread here (they are
    in the sheet's tail); numbers show as cell_text shows them."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = _sheet_member(archive, sheet)
            if member is None:
                return sheet_rows(path, sheet, nrows)
            cells: dict[tuple[int, int], tuple[str | None, str | None]] = {}
            with archive.open(member) as stream:
                for _, node in ElementTree.iterparse(stream):
                    if node.tag == f"{{{XLSX_NS}}}row" and int(node.get("r") or 0) > nrows:
                        break
                    if node.tag != f"{{{XLSX_NS}}}c":
                        continue
                    kind = node.get("t")
                    if kind == "inlineStr":
                        value = "".join(t.text or "" for t in node.iter(f"{{{XLSX_NS}}}t"))
                    else:
                        v = node.find(f"{{{XLSX_NS}}}v")
                        value = v.text if v is not None else None
                    cells[_cell_ref(node.get("r", "A1"))] = (kind, value)
                    node.clear()
            shared = _shared_strings(archive, 1 + max((int(v) for (k, v) in cells.values() if k == "s" and v), default=-1))
    except (KeyError, ValueError, zipfile.BadZipFile, ElementTree.ParseError) as exc:
        raise FileRefused(f"{path.name}#{sheet}: cannot read the sheet ({exc})") from exc
    height = min(nrows, 1 + max((r for r, _ in cells), default=-1))
    rows: list[list[str]] = [[] for _ in range(height)]
    for (r, c), (kind, value) in sorted(cells.items()):
        if r >= height or value is None:
            continue
        if kind == "s":
            text = shared[int(value)] if int(value) < len(shared) else ""
        elif kind == "b":
            text = "TRUE" if value == "1" else "FALSE"
        elif kind in ("str", "inlineStr", "e", "d"):
            text = value
        else:
            text = cell_text(float(value))
        rows[r].extend([""] * (c + 1 - len(rows[r])))
        rows[r][c] = text.strip()
    return rows


def _locate_header(rows: list[list[str]], profiles: tuple[Profile, ...]) -> tuple[int, Profile | None]:
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        profile = detect_profile(row, profiles)
        if profile:
            return index, profile
    first_filled = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), 0)
    return first_filled, None


def discover_tables(path: Path, profiles: tuple[Profile, ...],
                    overrides: tuple = (), keep_for_load: bool = False, whole: bool = True) -> list[LandingTable]:
    """The tables in one landing file, each with its header row and detected profile.

    A CSV is read through once here, so a file that cannot be parsed to its end is refused
    before any of it loads; with keep_for_load, Arrow's parse is kept for the raw load. Without
    `whole`, only its head is read: the caller vouches for the rest (connectors/lines.py)."""
    override = override_for(path.name, overrides)
    candidates = (override.profile,) if override else profiles
    if path.suffix.lower() != ".xlsx":
        if path.stat().st_size == 0:
            raise FileRefused(f"{path.name}: the file is empty")
        fmt = csv_format(path, override)
        rows = csv_rows(path, fmt)
        head = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
        if not any(any(c.strip() for c in r) for r in head):
            raise FileRefused(f"{path.name}: the file has no header and no rows")
        index, profile = _locate_header(head, candidates)
        if not whole:
            table = LandingTable(path, None, index, _trimmed(head[index]), profile, fmt.encoding, fmt.delimiter)
            table.notes.append(f"read as {fmt.encoding}, delimiter {fmt.delimiter!r}")
            return [table]
        # the whole file must parse before any of it loads: Arrow vouches for clean files, the csv
        # module reads the rest and names the line it cannot parse
        width = len(_trimmed(head[index]))
        records = arrow_records(path, fmt, index + 1, [f"c{i}" for i in range(width)],
                                keep_for_load) if width else None
        total = index + 1 + records.num_rows if records is not None else len(head) + sum(1 for _ in rows)
        table = LandingTable(path, None, index, _trimmed(head[index]), profile, fmt.encoding, fmt.delimiter)
        table.notes.append(f"read as {fmt.encoding}, delimiter {fmt.delimiter!r}")
        if total - index - 1 <= 0:
            table.notes.append("header only: no data rows")
        return [table]
    workbook = open_workbook(path)
    visible = {m.name: m.visible for m in workbook.sheets_metadata}
    tables = []
    for sheet in workbook.sheet_names:
        if override and override.sheet and sheet != override.sheet:
            continue
        if str(visible.get(sheet, "Visible")).split(".")[-1].lower() != "visible":
            # hidden sheets hold lookups and scratch work, not the export
            tables.append(LandingTable(path, sheet, 0, [], None, skipped="hidden sheet, not read"))
            continue
        rows = sheet_head(path, sheet, HEADER_SEARCH_ROWS)
        if not rows:
            continue
        index, profile = _locate_header(rows, candidates)
        tables.append(LandingTable(path, sheet, index, _trimmed(rows[index]), profile))
    return tables


def _trimmed(header: list[str]) -> list[str]:
    """Drop empty trailing header cells (Excel's used range often runs wider than the data)."""
    cells = [h.replace("\ufeff", "").strip() for h in header]
    while cells and not cells[-1]:
        cells.pop()
    return cells
