"""A night that left a table's checked columns as they were reports its checks' results again,
marked with the run that read the rows; a changed table, or a full rebuild, reads them again."""

import json
import shutil

from tests.conftest import SAMPLE_LANDING, nightly_run_in
from tests.test_write_audit_publish import _deliver_before_shipping


def check_details(run) -> dict[tuple[str, str], dict]:
    rows = run.query("SELECT asset_key, check_name, details FROM quality.check_results WHERE run_id = ?",
                     [run.result.run_id], published=False)
    return {(a, c): json.loads(d) for a, c, d in rows.itertuples(index=False)}


def test_unchanged_tables_report_their_checks_again_and_changed_ones_are_read(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    first = nightly_run_in(tmp_path, landing)
    remembered = {k for k in check_details(first) if k[1].startswith(("gx_", "unique_"))}
    assert len(remembered) > 20 and not any("reused_from_run" in d for d in check_details(first).values())

    second = nightly_run_in(tmp_path, landing)
    details = check_details(second)
    assert {k for k, d in details.items() if d.get("reused_from_run") == first.result.run_id} == remembered
    # the reused suites' Data Docs pages are in the night's folder too
    docs = tmp_path / "warehouse" / "quality" / "data_docs"
    assert ({p.name for p in (docs / second.result.run_id).glob("*.html")}
            == {p.name for p in (docs / first.result.run_id).glob("*.html")})

    # a shipment delivered before it shipped: that table is read again, and fails; the rest is reused
    _deliver_before_shipping(landing / "inventory" / "shipments.xlsx")
    third = nightly_run_in(tmp_path, landing)
    details = check_details(third)
    shipments = details[("staging/inventory_shipments", "gx_blocking")]
    assert "reused_from_run" not in shipments and shipments["success"] is False
    assert details[("staging/crm_contacts", "gx_warn")]["reused_from_run"] == first.result.run_id

    rebuilt = nightly_run_in(tmp_path, landing, full_rebuild=True)
    assert not any("reused_from_run" in d for d in check_details(rebuilt).values())
