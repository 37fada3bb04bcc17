"""The run report: written by every run, self-contained, with a summary and headline moves."""

import re
import shutil

import duckdb

from pipelines.report import REPORT, build_report
from pipelines.settings import load_settings
from tests.conftest import read_truth, truth_quarantined_rows


# The bundled sample: six export files, one of them a workbook with two sheets.
SAMPLE_FILES, SAMPLE_TABLES = 6, 7


def test_every_run_writes_a_self_contained_report(sample_run):
    report = sample_run.warehouse / "report.html"
    text = report.read_text()
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)  # nothing fetched from elsewhere
    assert len(re.findall(r"<svg[ >]", text)) == 6  # cycle time, reduction, accuracy/CFSAT, cost, cohorts, promise
    for title in ("Order cycle time by order month", "Cycle time reduction vs the pre-go-live median", "Order accuracy and fulfilment CSAT",
                  "Cost per order fulfilled by order month (GBP)", "Activation and early churn by start cohort",
                  "Delivery promise kept by campaign"):
        assert title in text, title
    assert f"This run read {SAMPLE_FILES} file(s) and loaded {SAMPLE_TABLES} table(s)." in text
    assert f"{truth_quarantined_rows()} row(s) were quarantined" in text
    assert "Every check passed." in text
    assert "This is the first run with a record of headline values" in text


def test_report_is_linked_from_the_asset_metadata(sample_run):
    materialization = sample_run.result.asset_materializations_for_node("publish__report")[0]
    assert materialization.asset_key == REPORT
    assert materialization.metadata["path"].value == str(sample_run.warehouse / "report.html")
    assert materialization.metadata["rows_quarantined"].value == truth_quarantined_rows() > 0


def test_headline_history_matches_the_truth(sample_run):
    history = sample_run.query("SELECT metric, value FROM quality.metric_history WHERE run_id = ?",
                               [sample_run.result.run_id], published=False)
    values = dict(zip(history["metric"], history["value"]))
    truth = read_truth("metrics_order_to_delivery.csv")
    overall = truth[(truth["period"] == "all") & (truth["dimension"] == "all")].iloc[0]
    assert values["orders"] == overall["orders"]
    assert abs(values["cycle_time_median_days"] - overall["cycle_time_median_days"]) < 1e-9
    assert len(values) == 16


def test_summary_says_how_each_headline_moved_since_the_previous_run(sample_run, tmp_path):
    build = tmp_path / "build.duckdb"
    shutil.copy(sample_run.build, build)
    con = duckdb.connect(str(build))
    try:
        # As if the previous run had counted 100 fewer orders and a 2-point lower accuracy.
        con.execute("UPDATE quality.metric_history SET value = value - 100 WHERE metric = 'orders'")
        con.execute("UPDATE quality.metric_history SET value = value - 0.02 WHERE metric = 'order_accuracy_rate'")
        settings = load_settings(sample_run.config_path)
        text, _, moves = build_report(con, "the-next-run", settings.go_live_date, settings.currency)
    finally:
        con.close()
    orders = moves[moves["metric"] == "orders"].iloc[0]
    assert orders["current"] - orders["previous"] == 100
    assert "orders (not cancelled) up 100" in text
    assert "order accuracy rate up 2.0 points" in text
    assert "order cycle time, median (days) unchanged" not in text  # unchanged metrics stay out of the sentence
