"""Files as people make them: delimiters, decimal commas, encodings, Excel title rows, several
sheets, dates as serial numbers or text, numbers stored as text. Each loads to the same values."""

import datetime as dt
import decimal
from pathlib import Path

import openpyxl
import pytest

from connectors.files import csv_format, discover_tables
from connectors.records import read_columns
from connectors.profiles import Override, load_profiles
from tests.fixtures.loading import stage

UTC = dt.timezone.utc
PROFILES = {p.name: p for p in load_profiles()}

WOO_HEADER = ["order_id", "order_number", "order_date", "status", "order_total", "order_currency", "customer_email"]
WOO_ROWS = [
    ["4993", "1501", "3/30/2025 0:37:00", "completed", "1.234,50", "EUR", "ruth@example.co.uk"],
    ["4994", "1502", "3/31/2025 9:05:00", "cancelled", "14,90", "EUR", "sam@example.co.uk"],
]
SF_HEADER = ["Contact ID", "First Name", "Last Name", "Account Name", "Email", "Phone", "Mailing Street",
             "Mailing City", "Mailing State/Province", "Mailing Zip/Postal Code", "Mailing Country",
             "Lead Source", "Created Date"]
SF_ROW = ["0035g00000ABCDE9", "Zoë", "Müller", "Café Crème £ Ltd", "zoe@cafecreme.co.uk", "", "1 Rue Street",
          "Brighton", "", "BN1 1AA", "United Kingdom", "Web", "03/02/2025"]


def write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str, encoding: str) -> Path:
    lines = [delimiter.join(header)] + [delimiter.join(r) for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


@pytest.fixture(scope="module")
def quirks(tmp_path_factory):
    landing = tmp_path_factory.mktemp("quirks_landing")
    write_csv(landing / "woo_semicolon.csv", WOO_HEADER, WOO_ROWS, ";", "utf-8")
    write_csv(landing / "woo_tab.txt", WOO_HEADER, WOO_ROWS, "\t", "utf-8-sig")  # with BOM
    write_csv(landing / "sf_utf8.csv", SF_HEADER, [SF_ROW], ",", "utf-8")
    write_csv(landing / "sf_utf8_bom.csv", SF_HEADER, [SF_ROW], ",", "utf-8-sig")
    write_csv(landing / "sf_cp1252.csv", SF_HEADER, [SF_ROW], ";", "cp1252")
    write_csv(landing / "sf_latin1.csv", SF_HEADER, [[c.replace("£", "GBP") for c in SF_ROW]], ",", "latin-1")
    write_csv(landing / "sf_unicode_text.txt", SF_HEADER, [SF_ROW], "\t", "utf-16")  # Excel "Unicode text"
    _workbook(landing / "shipments.xlsx")
    return stage(tmp_path_factory.mktemp("quirks"), landing)


def _workbook(path: Path) -> None:
    """Title rows above the header; two sheets of shipments; dates as real date cells, as
    serial numbers and as text; numbers stored as text."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "April"
    ws.append(["ShipStation shipments report"])
    ws.merge_cells("A1:F1")
    ws.append(["Exported 05/04/2025"])
    ws.append([])
    ws.append(["Order #", "Recipient", "Postal Code", "Quantity", "Ship Date", "Carrier", "Shipping Cost"])
    ws.append(["1501", "Ruth Evans", "BN1 1AA", "1", dt.datetime(2025, 4, 1, 9, 30), "Royal Mail", "3.20"])
    ws.append([1502, "Sam Lee", "BN2 2BB", 2.0, 45748.5, "DPD", 6.75])  # serial day 45748.5 = 2025-04-01 12:00
    ws.append(["1503", "Alex Kim", "BN3 3CC", "2", "04/02/2025", "DPD", "£6.75"])
    more = wb.create_sheet("May")
    more.append(["Order #", "Recipient", "Postal Code", "Quantity", "Ship Date", "Carrier", "Shipping Cost"])
    more.append(["1601", "Ruth Evans", "BN1 1AA", "3", dt.date(2025, 5, 2), "Royal Mail", 4])
    wb.save(path)


def orders(quirks, source_file: str) -> list[tuple]:
    return [(r["order_ref"], r["ordered_at"], r["amount"], r["status"]) for r in quirks.records(
        "SELECT * FROM staging.crm_sales_orders_history WHERE source_file = ? ORDER BY source_row", [source_file])]


EXPECTED_WOO = [
    ("1501", dt.datetime(2025, 3, 30, 0, 37, tzinfo=UTC), decimal.Decimal("1234.50"), "open"),
    ("1502", dt.datetime(2025, 3, 31, 8, 5, tzinfo=UTC), decimal.Decimal("14.90"), "cancelled"),
]


def test_semicolon_delimiter_and_decimal_commas(quirks):
    assert quirks.landing("woo_semicolon.csv")["delimiter"] == ";"
    assert orders(quirks, "woo_semicolon.csv") == EXPECTED_WOO


def test_tab_delimited_with_bom(quirks):
    row = quirks.landing("woo_tab.txt")
    assert (row["delimiter"], row["encoding"], row["status"]) == ("\t", "utf-8-sig", "ready")
    assert orders(quirks, "woo_tab.txt") == EXPECTED_WOO


@pytest.mark.parametrize("source_file, encoding, company", [
    ("sf_utf8.csv", "utf-8", "Café Crème £ Ltd"),
    ("sf_utf8_bom.csv", "utf-8-sig", "Café Crème £ Ltd"),
    ("sf_cp1252.csv", "cp1252", "Café Crème £ Ltd"),
    ("sf_latin1.csv", "cp1252", "Café Crème GBP Ltd"),  # Latin-1's letters are the same bytes in cp1252
    ("sf_unicode_text.txt", "utf-16", "Café Crème £ Ltd"),
])
def test_encodings_read_to_the_same_text(quirks, source_file, encoding, company):
    assert quirks.landing(source_file)["encoding"] == encoding
    [row] = quirks.records("SELECT * FROM staging.crm_contacts_history WHERE source_file = ?", [source_file])
    assert (row["first_name"], row["last_name"], row["company"], row["email"]) == (
        "Zoë", "Müller", company, "zoe@cafecreme.co.uk")
    assert row["created_at"] == dt.datetime(2025, 2, 3, tzinfo=UTC)


def test_excel_title_rows_sheets_serial_dates_and_numbers_as_text(quirks):
    sheets = quirks.query("SELECT source_file, header_index, profile, status FROM raw.landing_files "
                          "WHERE relative_path = 'shipments.xlsx' ORDER BY source_file")
    assert sheets.values.tolist() == [
        ["shipments.xlsx#April", 3, "shipstation_shipments_csv", "ready"],
        ["shipments.xlsx#May", 0, "shipstation_shipments_csv", "ready"],
    ]
    got = quirks.records("SELECT source_file, source_row, order_ref, qty_shipped, shipped_at, shipping_cost "
                         "FROM staging.inventory_shipments_history ORDER BY source_file, source_row")
    assert [tuple(r.values()) for r in got] == [
        ("shipments.xlsx#April", 1, "1501", 1, dt.datetime(2025, 4, 1, 9, 30, tzinfo=UTC), decimal.Decimal("3.20")),
        ("shipments.xlsx#April", 2, "1502", 2, dt.datetime(2025, 4, 1, 12, 0, tzinfo=UTC), decimal.Decimal("6.75")),
        ("shipments.xlsx#April", 3, "1503", 2, dt.datetime(2025, 4, 2, tzinfo=UTC), decimal.Decimal("6.75")),
        ("shipments.xlsx#May", 1, "1601", 3, dt.datetime(2025, 5, 2, tzinfo=UTC), decimal.Decimal("4.00")),
    ]


def test_a_sheet_can_be_chosen_by_name(tmp_path):
    _workbook(tmp_path / "shipments.xlsx")
    profile = PROFILES["shipstation_shipments_csv"]
    tables = discover_tables(tmp_path / "shipments.xlsx", tuple(PROFILES.values()),
                             (Override("shipments*.xlsx", profile, sheet="May"),))
    assert [(t.sheet, t.profile.name) for t in tables] == [("May", "shipstation_shipments_csv")]
    assert read_columns(tables[0])["c0"].to_pylist() == ["1601"]


def test_a_forced_delimiter_and_encoding_win_over_sniffing(tmp_path):
    path = write_csv(tmp_path / "odd.csv", WOO_HEADER, WOO_ROWS, ";", "cp1252")
    fmt = csv_format(path, Override("odd.csv", PROFILES["woocommerce_orders"], delimiter="|", encoding="latin-1"))
    assert (fmt.delimiter, fmt.encoding) == ("|", "latin-1")


def test_utf16_without_byte_order_mark_is_recognised(tmp_path):
    path = write_csv(tmp_path / "no_bom.txt", WOO_HEADER, WOO_ROWS, "\t", "utf-16-le")
    [table] = discover_tables(path, tuple(PROFILES.values()))
    assert (table.encoding, table.delimiter, table.profile.name) == ("utf-16-le", "\t", "woocommerce_orders")
    assert read_columns(table)["c1"].to_pylist() == ["1501", "1502"]
