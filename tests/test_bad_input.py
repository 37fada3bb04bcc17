"""The bad-input corpus (tests/fixtures/bad_input, plus binary or huge files made here): each
bad file gets a message naming file, row and column, and is quarantined row by row or refused
as a whole; the other files in the same landing folder still load, and no good row is lost."""

import io
import json
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest

from connectors.files import MAX_FIELD_BYTES, TextFormat, csv_all_rows
from tests.conftest import SAMPLE_LANDING, nightly_run_in
from tests.fixtures.loading import stage

CORPUS = Path(__file__).parent / "fixtures" / "bad_input"
HEADER = "order_id,order_number,order_date,status,order_total,order_currency,customer_email"
BIG = 10 * 1024 * 1024


def _generated(landing: Path) -> None:
    (landing / "empty.csv").write_bytes(b"")
    rows = [HEADER, "4111,2111,3/30/2025 0:37:00,completed,10.00,GBP,l1@example.co.uk"]
    (landing / "bom.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode())
    (landing / "latin1.csv").write_bytes(
        "\n".join([HEADER + ",note", "4121,2121,3/30/2025 0:37:00,completed,10.00,GBP,m1@example.co.uk,Café"]).encode("latin-1"))
    (landing / "utf16.csv").write_bytes("\r\n".join(r.replace(",", "\t") for r in [
        HEADER, "4131,2131,3/30/2025 0:37:00,completed,10.00,GBP,n1@example.co.uk"]).encode("utf-16"))
    (landing / "wrong_delimiter.csv").write_text("\n".join(r.replace(",", ";") for r in [
        HEADER, "4141,2141,3/30/2025 0:37:00,completed,10.00,GBP,o1@example.co.uk"]))
    (landing / "big_field.csv").write_text("\n".join([
        HEADER + ",notes",
        "4151,2151,3/30/2025 0:37:00,completed,10.00,GBP,p1@example.co.uk,short",
        "4152,2152,3/30/2025 0:37:00,completed,11.00,GBP,p2@example.co.uk," + "x" * BIG,
        "4153,2153,3/30/2025 0:37:00,completed,12.00,GBP,p3@example.co.uk,short"]))
    (landing / "binary.csv").write_bytes(HEADER.encode() + b"\n4161,2161,\x00\x01\x02\xff\xfe,completed\n")
    _workbooks(landing)


def _workbooks(landing: Path) -> None:
    header = ["Order #", "Recipient", "Postal Code", "Quantity", "Ship Date", "Carrier", "Shipping Cost"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Shipments"
    ws.append(header)
    ws.append(["3001", "B One", "BN1 1AA", 1, "04/01/2025", "DPD", 3])
    ws.append(["3002", "B Two", "BN1 1AB", "=1+1", "04/01/2025", "DPD", "=D3*2"])  # never calculated
    wb.save(landing / "formulas.xlsx")

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Shipments"
    ws.append(["Weekly shipments"])
    ws.merge_cells("A1:G1")
    ws.append(header)
    ws.append(["3011", "C One", "BN1 1AA", 1, "04/01/2025", "DPD", 3])
    ws.append([None, "C One", "BN1 1AA", 1, "04/01/2025", "DPD", 3])  # second parcel of the same order
    ws.merge_cells("A3:A4")
    hidden = wb.create_sheet("Lookup")
    hidden.append(header)
    hidden.append(["9999", "Not A Shipment", "", 1, "04/01/2025", "DPD", 0])
    hidden.sheet_state = "hidden"
    wb.save(landing / "merged_and_hidden.xlsx")

    buffer = io.BytesIO()
    wb.save(buffer)
    (landing / "truncated.xlsx").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad_landing")
    for path in CORPUS.glob("*.csv"):
        shutil.copy(path, folder / path.name)
    _generated(folder)
    return folder


@pytest.fixture(scope="module")
def staged(landing, tmp_path_factory):
    return stage(tmp_path_factory.mktemp("bad"), landing)


def staged_refs(staged, source_file: str, table: str = "crm_sales_orders") -> list[str]:
    return staged.query(f"SELECT order_ref FROM staging.{table}_history WHERE source_file = ? ORDER BY source_row",
                        [source_file])["order_ref"].tolist()


REFUSED = {
    "empty.csv": "empty.csv: the file is empty",
    "binary.csv": "binary.csv: binary content (a NUL byte on line 2, byte 92); not a text export",
    "unbalanced_quotes.csv": "unbalanced_quotes.csv: cannot read the CSV record starting on line 3: unexpected end "
                             "of data (a quote opened there is never closed)",
    "missing_required_column.csv": "missing_required_column.csv: the required column 'order_date' (field ordered_at) "
                                   "of profile woocommerce_orders is missing; if it was renamed, add the new name to "
                                   "`header:` of ordered_at in schemas/profiles/crm/woocommerce_orders.yaml "
                                   "(e.g. header: [order_date, New Name])",
    "duplicate_mapped_header.csv": "duplicate_mapped_header.csv: the header 'order_total' (field amount) appears 2 "
                                   "times, in columns 5, 6; rename or remove the extra one",
}


@pytest.mark.parametrize("source_file", sorted(REFUSED))
def test_refused_files_say_why(staged, source_file):
    row = staged.landing(source_file)
    assert (row["status"], row["message"]) == ("refused", REFUSED[source_file])


def test_a_damaged_workbook_is_refused(staged):
    row = staged.landing("truncated.xlsx")
    assert row["status"] == "refused" and row["message"].startswith("truncated.xlsx: not a readable .xlsx workbook (")


QUARANTINED = {
    "mixed_date_formats.csv": [(3, "ordered_at", "cannot read '30.03.2025 02:37' as a date-time in the form "
                                                 "%m/%d/%Y %H:%M:%S (Europe/London)"),
                               (4, "ordered_at", "cannot read 'Mar 30 2025' as a date-time in the form "
                                                 "%m/%d/%Y %H:%M:%S (Europe/London)")],
    "non_numeric_money.csv": [(1, "amount", "cannot read 'n/a' as an amount of money"),
                              (2, "amount", "cannot read '£12.5O' as an amount of money"),
                              (3, "amount", "value (4.00) is below the minimum 0")],
    "truncated.csv": [(2, "*", "the row has 4 fields where the header has 7"),
                      (2, "status", "cannot read 'compl' as one of: pending, processing, on-hold, completed, "
                                    "cancelled, refunded, failed (profile woocommerce_orders)")],
    "big_field.csv": [(2, "*", "the value in column 'notes' is 10,485,760 characters long, above the limit of 1,048,576")],
    "negative_quantities.csv": [(1, "qty_shipped", "value -2 is below the minimum 0")],
    # one bad line quarantines its whole order, each line with its own raw record
    "shopify_bad_line_item.csv": [(1, "quantity", "cannot read 'two' as a whole number"),
                                  (2, "quantity", "cannot read 'two' as a whole number")],
    "formulas.xlsx#Shipments": [(2, "qty_shipped", "cannot read '=1+1' as a whole number"),
                                (2, "shipping_cost", "cannot read '=D3*2' as an amount of money")],
}


@pytest.mark.parametrize("source_file", sorted(QUARANTINED))
def test_bad_rows_are_quarantined_with_row_column_and_reason(staged, source_file):
    assert staged.rejected(source_file) == QUARANTINED[source_file]


def test_mixed_date_formats_iso_is_read_other_forms_rejected(staged):
    got = staged.records("SELECT order_ref, ordered_at FROM staging.crm_sales_orders_history "
                         "WHERE source_file = 'mixed_date_formats.csv' ORDER BY source_row")
    # the profile's form and ISO (unambiguous) are read; other forms are rejected above
    assert [(r["order_ref"], r["ordered_at"].isoformat()) for r in got] == [
        ("2031", "2025-03-30T00:37:00+00:00"), ("2032", "2025-03-29T01:37:00+00:00")]


def test_good_rows_of_every_file_are_kept(staged):
    expected = {
        "good.csv": ["2101", "2102"],
        "bom.csv": ["2111"],
        "latin1.csv": ["2121"],
        "utf16.csv": ["2131"],
        "wrong_delimiter.csv": ["2141"],
        "big_field.csv": ["2151", "2153"],
        "future_dates.csv": ["2041", "2042"],
        "non_numeric_money.csv": ["2054"],
        "truncated.csv": ["2061"],
        "extra_and_duplicate_headers.csv": ["2021"],
        "sql_header.csv": ["2071"],
        "Bestellübersicht März 2025 (Kopie).csv": ["2081"],
        "header_only.csv": [],
        "shopify_bad_line_item.csv": ["#2202"],
    }
    for source_file, refs in expected.items():
        assert staged_refs(staged, source_file) == refs, source_file
    assert staged_refs(staged, "negative_quantities.csv", "inventory_shipments") == ["2002"]
    assert staged_refs(staged, "merged_and_hidden.xlsx#Shipments", "inventory_shipments") == ["3011", "3011"]
    assert staged_refs(staged, "formulas.xlsx#Shipments", "inventory_shipments") == ["3001"]


def test_collapsed_records_are_quarantined_line_by_line(staged):
    got = staged.records("SELECT source_row, raw_record FROM quality.rejected_rows "
                         "WHERE source_file = 'shopify_bad_line_item.csv' ORDER BY source_row")
    assert [(r["source_row"], json.loads(r["raw_record"])["Lineitem name"]) for r in got] == [
        (1, "Kenya AA 250g"), (2, "Brew Guide")]


def test_quarantined_csv_rows_are_kept_as_delivered(staged, landing):
    """raw_record is rebuilt from the raw columns (a mapped cell under its field, the others in
    unmapped_cells): it gives back each quarantined CSV record exactly, keys in header order, an
    oversized cell clipped."""
    rejected = staged.query(
        "SELECT DISTINCT q.source_file, q.source_row, q.raw_record, f.header_index, f.headers, f.encoding, f.delimiter "
        "FROM quality.rejected_rows q JOIN raw.landing_files f USING (source_file) WHERE f.source_sheet IS NULL")
    assert {"big_field.csv", "shopify_bad_line_item.csv"} <= set(rejected["source_file"])
    for row in rejected.itertuples():
        records = csv_all_rows(landing / row.source_file, TextFormat(row.encoding, row.delimiter))
        cells = [c if len(c) <= MAX_FIELD_BYTES else f"{c[:200]}... ({len(c):,} characters)"
                 for c in records[row.header_index + row.source_row]]
        keys, seen = [], {}
        for header in json.loads(row.headers):
            seen[header] = seen.get(header, 0) + 1
            keys.append(header if seen[header] == 1 else f"{header} ({seen[header]})")
        expected = list(zip(keys, cells + [None] * (len(keys) - len(cells))))
        assert list(json.loads(row.raw_record).items()) == expected, (row.source_file, row.source_row)


def test_future_dates_are_kept_and_reported(staged):
    issues = staged.query("SELECT source_row, column_name, issue FROM quality.value_issues "
                          "WHERE source_file = 'future_dates.csv'").values.tolist()
    assert issues == [[2, "ordered_at", "the date '3/30/2099 0:37:00' is in the future; kept"]]


def test_header_only_and_hidden_sheets_are_reported(staged):
    assert "header only: no data rows" in staged.landing("header_only.csv")["message"]
    hidden = staged.landing("merged_and_hidden.xlsx#Lookup")
    assert (hidden["status"], hidden["message"]) == ("skipped", "merged_and_hidden.xlsx#Lookup: hidden sheet, not read")


def test_headers_never_reach_sql(staged):
    row = staged.landing("sql_header.csv")
    assert json.loads(row["unmapped_headers"]) == ["order_id", 'x"; DROP TABLE raw.orders; --']
    [raw] = staged.delivered("sql_header.csv")
    assert raw['x"; DROP TABLE raw.orders; --'] == "1"
    tables = set(staged.query("SELECT table_schema || '.' || table_name AS t FROM information_schema.tables")["t"])
    assert {"raw.crm_sales_orders", "raw.landing_files", "staging.crm_sales_orders"} <= tables


def test_duplicate_unmapped_headers_are_kept_apart(staged):
    [record] = staged.delivered("extra_and_duplicate_headers.csv")
    assert (record["note"], record["note (2)"]) == ("gift", "wrap")


def test_encodings_are_detected(staged):
    got = {f: staged.landing(f)["encoding"] for f in ("bom.csv", "latin1.csv", "utf16.csv", "good.csv")}
    assert got == {"bom.csv": "utf-8-sig", "latin1.csv": "cp1252", "utf16.csv": "utf-16", "good.csv": "utf-8"}


def test_bad_files_beside_the_sample_do_not_stop_publishing(landing, tmp_path):
    mixed = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, mixed)
    for name in ("empty.csv", "binary.csv", "unbalanced_quotes.csv", "truncated.xlsx", "missing_required_column.csv"):
        shutil.copy(landing / name, mixed / name)
    run = nightly_run_in(tmp_path, mixed)
    assert run.result.success and run.published.exists()
    statuses = run.query("SELECT source_file, status FROM raw.landing_files ORDER BY source_file")
    assert dict(statuses.values.tolist()) == {
        **{name: "refused" for name in ("binary.csv", "empty.csv", "missing_required_column.csv",
                                         "truncated.xlsx", "unbalanced_quotes.csv")},
        "hubspot_contacts.csv": "ready", "mailchimp_audience.csv": "ready", "mailchimp_campaigns.csv": "ready",
        "sales_orders.csv": "ready", "shipments.xlsx#Shipments": "ready", "shipments.xlsx#Stock": "ready",
        "zendesk_tickets.csv": "ready",
    }


def test_a_kept_row_whose_future_date_has_passed_is_no_longer_reported(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(CORPUS / "future_dates.csv", landing)
    first = stage(tmp_path, landing)
    issue = "SELECT source_row, column_name FROM quality.value_issues WHERE source_file = 'future_dates.csv'"
    assert first.query(issue).values.tolist() == [[2, "ordered_at"]]
    # the row stays typed from night to night; by a later night its date is behind the run
    con = duckdb.connect(str(first.build))
    con.execute("UPDATE staging.crm_sales_orders_typed SET ordered_at = now() - INTERVAL 1 DAY WHERE source_row = 2")
    con.close()
    later = stage(tmp_path, landing)
    assert later.query("SELECT count(*) AS n FROM staging.crm_sales_orders_typed")["n"].tolist() == [2], "kept, not typed again"
    assert later.query(issue).empty
