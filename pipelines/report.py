"""The run report: one self-contained HTML file (charts as inline SVG, no scripts, no CDN) written
by every nightly run to `<warehouse>/report.html`, with a plain-language summary on top.

Each run's headline values are kept in `quality.metric_history` in the build, so the summary can
say how every headline moved since the previous run.
"""


import datetime as dt
import html
import math
import os
from dataclasses import dataclass

import dagster as dg
import duckdb
import pandas as pd

from pipelines.marts import (CUSTOMER_360, METRIC_CATALOG, ONBOARDING, ONBOARDING_HEADLINES, ORDER_HEADLINES,
                             ORDER_TO_DELIVERY)
from pipelines.raw import LANDING_FILES
from pipelines.resources import WarehouseResource

REPORT = dg.AssetKey(["publish", "report"])

# Label and format of each headline, in the order the summary lists them.
HEADLINE_LABELS = {
    "orders": ("Orders (not cancelled)", "{:,.0f}"),
    "cycle_time_median_days": ("Order cycle time, median (days)", "{:.2f}"),
    "cycle_time_p90_days": ("Order cycle time, p90 (days)", "{:.2f}"),
    "cycle_time_reduction_vs_baseline_pct": ("Cycle time reduction since go-live (%)", "{:.1f}"),
    "order_accuracy_rate": ("Order accuracy rate", "{:.1%}"),
    "cfsat_rate": ("Fulfilment CSAT, satisfied", "{:.1%}"),
    "cfsat_mean_score": ("Fulfilment CSAT, mean score (1-5)", "{:.2f}"),
    "cost_per_order": ("Cost per order fulfilled", "{:,.2f}"),
    "promise_kept_rate": ("Delivery promise kept", "{:.1%}"),
    "support_contacts_per_100_orders": ("Support contacts per 100 orders", "{:.1f}"),
    "customers": ("Customers started", "{:,.0f}"),
    "onboarding_time_median_days": ("Onboarding time, median (days)", "{:.2f}"),
    "activation_rate": ("Activation rate (within window)", "{:.1%}"),
    "onboarding_csat_rate": ("Onboarding CSAT, satisfied", "{:.1%}"),
    "onboarding_csat_mean_score": ("Onboarding CSAT, mean score (1-5)", "{:.2f}"),
    "early_churn_rate": ("Early churn rate", "{:.1%}"),
}

HISTORY_DDL = """CREATE TABLE IF NOT EXISTS quality.metric_history (
    run_id VARCHAR, recorded_at TIMESTAMPTZ, metric VARCHAR, value DOUBLE)"""

# The headline values of this run, one row per metric, from the marts' overall rows.
HEADLINES_SQL = f"""
SELECT metric, value FROM (
    SELECT * FROM marts.order_to_delivery_monthly WHERE period = 'all' AND dimension = 'all'
) UNPIVOT (value FOR metric IN ({', '.join(ORDER_HEADLINES)}))
UNION ALL
SELECT metric, value FROM (
    SELECT * FROM marts.onboarding_cohorts_monthly WHERE cohort = 'all'
) UNPIVOT (value FOR metric IN ({', '.join(ONBOARDING_HEADLINES)}))
"""

# Each metric this run and in the latest earlier run that recorded it.
MOVES_SQL = """
WITH previous_run AS (
    SELECT run_id FROM quality.metric_history WHERE run_id <> $run_id
    GROUP BY run_id ORDER BY max(recorded_at) DESC LIMIT 1
)
SELECT cur.metric, cur.value AS current, prev.value AS previous
FROM quality.metric_history cur
LEFT JOIN quality.metric_history prev
       ON prev.metric = cur.metric AND prev.run_id = (SELECT run_id FROM previous_run)
WHERE cur.run_id = $run_id
"""


def record_headlines(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Store this run's headline values (replacing any earlier record of the same run); return the moves."""
    con.execute(HISTORY_DDL)
    con.execute("BEGIN")
    con.execute("DELETE FROM quality.metric_history WHERE run_id = ?", [run_id])
    con.execute(f"INSERT INTO quality.metric_history SELECT ?, now(), metric, CAST(value AS DOUBLE) "
                f"FROM ({HEADLINES_SQL})", [run_id])
    con.execute("COMMIT")
    moves = con.execute(MOVES_SQL, {"run_id": run_id}).df()
    order = {name: i for i, name in enumerate(HEADLINE_LABELS)}
    return moves.sort_values("metric", key=lambda s: s.map(order)).reset_index(drop=True)


def run_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    files = con.execute("""
        SELECT count(DISTINCT relative_path) AS files,
               count(*) FILTER (WHERE status = 'ready') AS tables_loaded,
               count(*) FILTER (WHERE status <> 'ready') AS tables_not_loaded
        FROM raw.landing_files""").df().iloc[0]
    quarantined = con.execute(
        "SELECT count(DISTINCT (source_file, source_row)) FROM quality.rejected_rows").fetchone()[0]
    failed = con.execute(
        "SELECT check_name, asset_key, severity FROM quality.check_results WHERE run_id = ? AND NOT passed "
        "ORDER BY asset_key, check_name", [run_id]).df() if _has_table(con, "quality", "check_results") else pd.DataFrame()
    return {"files": int(files["files"]), "tables_loaded": int(files["tables_loaded"]),
            "tables_not_loaded": int(files["tables_not_loaded"]), "rows_quarantined": int(quarantined),
            "failed_checks": failed}


def _has_table(con, schema: str, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                            [schema, table]).fetchone()[0])


def _fmt(metric: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return HEADLINE_LABELS.get(metric, (metric, "{:.3f}"))[1].format(value)


def _move(metric: str, current, previous) -> str:
    if previous is None or (isinstance(previous, float) and math.isnan(previous)):
        return "first run"
    if current is None or (isinstance(current, float) and math.isnan(current)):
        return "no value now"
    delta = current - previous
    if abs(delta) < 1e-9:
        return "unchanged"
    template = HEADLINE_LABELS.get(metric, (metric, "{:.3f}"))[1]
    if "%" in template and "pct" not in metric:
        return f"{'up' if delta > 0 else 'down'} {abs(delta) * 100:.1f} points"
    return f"{'up' if delta > 0 else 'down'} {template.format(abs(delta))}"


# --- the page --------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       color: #1d3557; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .meta { color: #6c757d; margin-top: 0; }
.summary { background: #f1faee; border-left: 4px solid #2a9d8f; padding: 0.6rem 1rem; }
.summary.bad { background: #fff1ee; border-left-color: #e76f51; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; } th, td { padding: 0.25rem 0.8rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } tr:nth-child(even) { background: #f8f9fa; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(28rem, 1fr)); gap: 0.5rem 1.5rem; }
figure { margin: 0.5rem 0; } svg { max-width: 100%; height: auto; }
"""


def render_report(summary: dict, moves: pd.DataFrame, charts: list[str], run_id: str, event: str) -> str:
    failed = summary["failed_checks"]
    sentences = [
        f"This run read {summary['files']} file(s) and loaded {summary['tables_loaded']} table(s)"
        + (f"; {summary['tables_not_loaded']} table(s) were skipped or refused (see raw.landing_files)"
           if summary["tables_not_loaded"] else "") + ".",
        f"{summary['rows_quarantined']} row(s) were quarantined (quality.rejected_rows)." if summary["rows_quarantined"]
        else "No row was quarantined.",
        (f"{len(failed)} check(s) failed: " + ", ".join(f"{r.check_name} on {r.asset_key}" for r in failed.itertuples())
         + " (quality.check_results).") if len(failed) else "Every check passed.",
    ]
    if event == "shipped":
        sentences.append("No source records delivery dates, so cycle time runs from order to shipment.")
    moved = [f"{HEADLINE_LABELS[r.metric][0].lower()} {_move(r.metric, r.current, r.previous)}"
             for r in moves.itertuples() if r.metric in HEADLINE_LABELS and _move(r.metric, r.current, r.previous)
             not in ("unchanged", "first run")]
    if moves["previous"].isna().all():
        sentences.append("This is the first run with a record of headline values, so there is nothing to compare yet.")
    elif moved:
        sentences.append("Since the previous run: " + "; ".join(moved) + ".")
    else:
        sentences.append("No headline metric moved since the previous run.")
    rows = "\n".join(
        f"<tr><td>{html.escape(HEADLINE_LABELS.get(r.metric, (r.metric,))[0])}</td>"
        f"<td>{_fmt(r.metric, r.current)}</td><td>{_fmt(r.metric, r.previous)}</td>"
        f"<td>{_move(r.metric, r.current, r.previous)}</td></tr>"
        for r in moves.itertuples())
    figures = "\n".join(f"<figure>{svg}</figure>" for svg in charts)
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Crosswalk run report</title>
<style>{STYLE}</style></head>
<body>
<h1>Crosswalk run report</h1>
<p class="meta">Run {html.escape(run_id)} · generated {generated}</p>
<div class="summary{' bad' if len(failed) else ''}"><p>{' '.join(html.escape(s) for s in sentences)}</p></div>
<h2>Headline metrics</h2>
<table><thead><tr><th>Metric</th><th>This run</th><th>Previous run</th><th>Move</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<h2>Charts</h2>
<div class="charts">
{figures}
</div>
<p class="meta">Definitions of every metric: marts.metric_catalog in crosswalk.duckdb.</p>
</body></html>
"""


@dataclass(frozen=True)
class ReportData:
    """What the report shows, read from the build."""
    summary: dict
    moves: pd.DataFrame
    monthly: pd.DataFrame
    campaigns: pd.DataFrame
    cohorts: pd.DataFrame


def read_report_data(con: duckdb.DuckDBPyConnection, run_id: str) -> ReportData:
    """This run's headline values stored, and what the report shows, from a build connection."""
    moves = record_headlines(con, run_id)
    summary = run_summary(con, run_id)
    monthly = con.execute("SELECT * FROM marts.order_to_delivery_monthly WHERE dimension = 'all' "
                          "AND period <> 'all' ORDER BY period").df()
    campaigns = con.execute("SELECT * FROM marts.order_to_delivery_monthly WHERE dimension = 'campaign' "
                            "AND period = 'all' AND promise_orders > 0").df()
    cohorts = con.execute("SELECT * FROM marts.onboarding_cohorts_monthly WHERE cohort <> 'all' ORDER BY cohort").df()
    return ReportData(summary, moves, monthly, campaigns, cohorts)


def build_report(con: duckdb.DuckDBPyConnection, run_id: str, go_live: dt.date,
                 currency: str) -> tuple[str, dict, pd.DataFrame]:
    """The report's HTML, its summary and the headline moves, from a build connection."""
    return draw_report(read_report_data(con, run_id), run_id, go_live, currency)


def draw_report(data: ReportData, run_id: str, go_live: dt.date, currency: str) -> tuple[str, dict, pd.DataFrame]:
    """The report's HTML (charts drawn here, without the build), its summary and the headline moves."""
    summary, moves, monthly, campaigns, cohorts = data.summary, data.moves, data.monthly, data.campaigns, data.cohorts
    event = monthly["cycle_end_event"].iloc[0] if len(monthly) else "delivered"
    from pipelines import report_charts as c  # (pygal: imported beside the first steps, pipelines/raw.py)

    charts = [
        c.cycle_time_chart(monthly, go_live, event),
        c.reduction_chart(monthly),
        c.accuracy_cfsat_chart(monthly),
        c.cost_chart(monthly, currency),
        c.cohort_chart(cohorts),
        c.promise_chart(campaigns),
    ]
    return render_report(summary, moves, charts, run_id, event), summary, moves


def write_atomically(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.writing")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@dg.asset(
    key=REPORT,
    deps=[LANDING_FILES, ORDER_TO_DELIVERY, ONBOARDING, CUSTOMER_360, METRIC_CATALOG],
    group_name="publish",
    kinds={"html"},
    owners=["team:data"],
    description="The run report <warehouse>/report.html: a plain-language summary (files loaded, rows "
    "quarantined, failed checks, each headline metric's move since the previous run) and charts of cycle "
    "time and its reduction, accuracy and fulfilment CSAT, cost per order, activation and early churn by "
    "cohort, and promise kept by campaign. Self-contained: open it in any browser, offline.",
)
def run_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    with warehouse.connect() as con:
        data = read_report_data(con, context.run.run_id)
    # the last step: the build is read, so its checkpoint goes on while the charts are drawn
    warehouse.checkpoint_ahead()
    text, summary, moves = draw_report(data, context.run.run_id, settings.go_live_date, settings.currency)
    write_atomically(settings.report_path, text)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(settings.report_path)),
        "rows_quarantined": dg.MetadataValue.int(summary["rows_quarantined"]),
        "failed_checks": dg.MetadataValue.int(len(summary["failed_checks"])),
        "headline_moves": dg.MetadataValue.md("\n".join(
            ["| metric | this run | previous |", "|---|---|---|"]
            + [f"| {r.metric} | {_fmt(r.metric, r.current)} | {_fmt(r.metric, r.previous)} |" for r in moves.itertuples()])),
    })
