"""Excel read speed: openpyxl (read-only mode) against python-calamine on one generated workbook.

    .venv/bin/python benchmarks/excel_read.py [ROWS]

Writes a shipments-like workbook (title lines, a header, ROWS data rows of text, numbers and
date cells) to a temporary folder, then reads every cell of it with each library, best of
three runs, and prints rows per second.
"""

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import openpyxl
import python_calamine

from connectors.files import LandingTable
from connectors.records import read_columns

HEADER = ["Order #", "Ship To Name", "Ship To Postal Code", "Qty Ordered", "Qty Shipped", "Ship Date",
          "Carrier", "Shipping Cost", "Return Reason"]


def write_workbook(path: Path, rows: int) -> None:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Shipments")
    ws.append(["Shipments report"])
    ws.append([])
    ws.append(HEADER)
    start = dt.datetime(2025, 1, 1, 8, 0)
    for i in range(rows):
        ws.append([f"{1000 + i}", f"Customer {i}", f"BN{i % 9 + 1} {i % 9}AA", 2, 2,
                   start + dt.timedelta(minutes=7 * i), "Royal Mail", 3.2 + (i % 7), "" if i % 11 else "Damaged"])
    wb.save(path)


def read_openpyxl(path: Path) -> int:
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    n = sum(1 for _ in wb["Shipments"].iter_rows(values_only=True))
    wb.close()
    return n


def read_calamine(path: Path) -> int:
    sheet = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Shipments")
    return len(sheet.to_python(skip_empty_area=False))


def read_crosswalk(path: Path) -> int:
    """The path landing files take: calamine, merged ranges and formula scan, cells as text in Arrow."""
    return read_columns(LandingTable(path, "Shipments", 2, HEADER, None)).num_rows


def best_of(fn, path: Path, runs: int = 3) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        n = fn(path)
        times.append(time.perf_counter() - started)
    return min(times), n


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shipments.xlsx"
        write_workbook(path, rows)
        print(f"workbook: {rows:,} data rows, {path.stat().st_size / 1e6:.1f} MB")
        for name, fn in (("openpyxl 3.1.5 (read_only)", read_openpyxl), ("python-calamine 0.9.1", read_calamine),
                         ("crosswalk read_columns", read_crosswalk)):
            seconds, n = best_of(fn, path)
            print(f"{name:<28} {seconds:6.2f} s  {n / seconds:>10,.0f} rows/s")


if __name__ == "__main__":
    main()
