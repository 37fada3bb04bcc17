"""Running a night twice, or receiving the same file twice, never double counts."""

import shutil

from tests.conftest import SAMPLE_LANDING, nightly_run_in

TABLES = ["core.customers", "core.customer_identity_map", "core.orders", "core.order_identity_map",
          "marts.order_to_delivery_monthly", "marts.onboarding_cohorts_monthly", "marts.customer_360",
          "quality.rejected_rows"]


def _snapshot(run) -> dict:
    """Each table's rows in one canonical order: tables are written in no particular order."""
    return {
        t: run.query(f"SELECT * EXCLUDE (load_id) FROM {t} ORDER BY ALL" if t == "quality.rejected_rows"
                     else f"SELECT * FROM {t} ORDER BY ALL", published=False)
        for t in TABLES
    }


def test_rerun_and_duplicate_file_change_nothing(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    first = nightly_run_in(tmp_path, landing)
    assert first.result.success
    before = _snapshot(first)

    # the same export delivered again under another name, then the night re-run
    shutil.copy(landing / "crm" / "sales_orders.csv", landing / "sales_orders (1).csv")
    second = nightly_run_in(tmp_path, landing)
    assert second.result.success
    after = _snapshot(second)
    for table in TABLES:
        assert before[table].equals(after[table]), table
    files = second.query("SELECT relative_path, status FROM raw.landing_files", published=False)
    assert files.set_index("relative_path").loc["sales_orders (1).csv", "status"] == "duplicate"
