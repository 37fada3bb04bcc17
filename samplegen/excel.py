"""Write an .xlsx whose bytes depend only on its content."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from openpyxl import Workbook

from .clock import AS_OF, iso_utc

# The workbook is stamped with the export time, so its bytes never depend on when it was written.
FIXED_STAMP = AS_OF
_ZIP_STAMP = AS_OF.timetuple()[:6]


def write_workbook(path: Path, sheets: list[tuple[str, list[list]]]) -> None:
    """sheets: (title, rows) in order; None cells stay empty."""
    wb = Workbook(write_only=True)
    wb.properties.creator = "samplegen"
    wb.properties.created = FIXED_STAMP
    wb.properties.modified = FIXED_STAMP
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(normalise_zip(buffer.getvalue()))


def normalise_zip(data: bytes) -> bytes:
    """openpyxl stamps the save time into docProps/core.xml and every zip entry: pin both."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                 rb"\g<1>" + iso_utc(AS_OF).encode() + rb"\g<2>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_STAMP)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, content)
    return out.getvalue()
