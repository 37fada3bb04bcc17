"""A night that left a table's checked columns as they were reports its checks' results again,
marked with the run that read the rows; a changed table, or a full rebuild, reads them again."""

import json
import shutil

import openpyxl

from tests.conftest import SAMPLE_LANDING, nightly_run_in
from tests.test_write_audit_publish import _deliver_before_shipping


def check_details(run) -> dict[tuple[str, str], dict]:
    rows = run.query("SELECT asset_key, check_name, details FROM quality.check_results WHERE run_id = ?",
                     [run.result.run_id], published=False)
    return {(a, c): json.loads(d) for a, c, d in rows.itertuples(index=False)}


def _cost_more(workbook) -> None:
    """The third shipment's shipping cost a penny more."""
    book = openpyxl.load_workbook(workbook)
    sheet = book["Shipments"]
    cost = [c.value for c in sheet[4]].index("Shipping Cost") + 1
    sheet.cell(7, cost).value = round((sheet.cell(7, cost).value or 0) + 0.01, 2)
    book.save(workbook)


def test_unchanged_tables_report_their_checks_again_and_changed_ones_are_read(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    first = nightly_run_in(tmp_path, landing)
    checked = {k: d for k, d in check_details(first).items() if k[1].startswith(("gx_", "unique_"))}
    # the staged and core tables' checks read by rows (pipelines/check_rows.py): every row on a
    # first build; the marts' (and a suite with `mostly`) remember what they read
    by_rows = {k for k, d in checked.items() if "rows_read" in d}
    remembered = set(checked) - by_rows
    assert len(remembered) > 5 and not any("reused_from_run" in d for d in check_details(first).values())
    assert len(by_rows) > 20 and {checked[k]["rows_read"] for k in by_rows} == {"every row"}

    second = nightly_run_in(tmp_path, landing)
    details = check_details(second)
    # nothing written: the suites read by rows report their result again too, and the uniqueness
    # checks look among no key value
    suites = {k for k in by_rows if k[1].startswith("gx_")}
    assert {k for k, d in details.items() if d.get("reused_from_run") == first.result.run_id} == remembered | suites
    assert {details[k]["rows_read"] for k in by_rows - suites} == {"the key values of the rows written since it passed"}
    assert all(details[k].get("success", details[k].get("failures") == 0) is True for k in by_rows)
    # a table without checks keeps no queue for them (nothing would empty it)
    queues = set(second.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'quality' "
                              "AND table_name LIKE '%_unchecked'", published=False)["table_name"])
    assert "core_orders_unchecked" in queues and "quality_unmatched_order_refs_unchecked" not in queues
    # the reused suites' Data Docs pages are in the night's folder too
    docs = tmp_path / "warehouse" / "quality" / "data_docs"
    assert ({p.name for p in (docs / second.result.run_id).glob("*.html")}
            == {p.name for p in (docs / first.result.run_id).glob("*.html")})

    # a shipment delivered before it shipped: that row is read again, and fails; no other is read
    _deliver_before_shipping(landing / "inventory" / "shipments.xlsx")
    third = nightly_run_in(tmp_path, landing)
    details = check_details(third)
    shipments = details[("staging/inventory_shipments", "gx_blocking")]
    assert shipments["success"] is False
    assert shipments["rows_read"] == "1 rows written since the last check read; the others' failures recalled"
    assert details[("staging/crm_contacts", "gx_warn")]["reused_from_run"] == first.result.run_id

    # the next night another shipment's cost changes: only that row is read, and the failure of
    # the first is recalled
    _cost_more(landing / "inventory" / "shipments.xlsx")
    fourth = nightly_run_in(tmp_path, landing)
    details = check_details(fourth)
    recalled = details[("staging/inventory_shipments", "gx_blocking")]
    assert recalled["rows_read"].startswith("1 rows written") and recalled["success"] is False
    assert [f["unexpected_count"] for f in recalled["failures"]] == [f["unexpected_count"] for f in shipments["failures"]]

    rebuilt = nightly_run_in(tmp_path, landing, full_rebuild=True)
    assert not any("reused_from_run" in d for d in check_details(rebuilt).values())
    # the checks that read only the rows written say what reading every row says
    whole = check_details(rebuilt)
    assert {whole[k]["rows_read"] for k in by_rows if k in whole} == {"every row"}
    compared = [k for k in by_rows if k in details]
    assert len(compared) > 10

    def said(d: dict):
        return d.get("success"), d["failures"] if isinstance(d["failures"], int) else [
            (f["expectation"], f["unexpected_count"]) for f in d["failures"]]
    assert [said(details[k]) for k in compared] == [said(whole[k]) for k in compared]
    assert any(said(details[k])[1] for k in compared)  # some suite has failures to recall
