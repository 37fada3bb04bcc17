"""The report's charts: drawn from the marts' rows as static SVG, the same at every run."""

import datetime as dt
import re

import pandas as pd

from pipelines import report_charts as charts

MONTHS = pd.DataFrame({
    "period": ["2025-05", "2025-06", "2025-07"],
    "cycle_time_median_days": [4.5, 4.4, 2.6], "cycle_time_p90_days": [6.1, 6.0, None],
    "cycle_time_reduction_vs_baseline_pct": [-0.5, 0.0, 42.0],
    "order_accuracy_rate": [0.91, 0.92, 0.93], "cfsat_rate": [0.34, None, 0.35], "cost_per_order": [8.4, 8.8, 9.1],
})
COHORTS = pd.DataFrame({
    "cohort": ["2025-05", "2025-06", "2025-07"], "activation_rate": [0.85, 0.86, 0.91],
    "early_churn_rate": [0.10, 0.06, 0.02], "activation_final": [True, True, False],
    "churn_final": [True, False, False],
})
CAMPAIGNS = pd.DataFrame({"dimension_value": ["Fresh in 48h", "Black Friday Beans"],
                          "promise_kept_rate": [0.83, 0.975], "promise_orders": [29102, 21268]})


def test_each_chart_is_svg_without_scripts_and_the_same_at_every_run():
    drawn = [charts.cycle_time_chart(MONTHS, dt.date(2025, 6, 15), "delivered"), charts.reduction_chart(MONTHS),
             charts.accuracy_cfsat_chart(MONTHS), charts.cost_chart(MONTHS, "GBP"), charts.cohort_chart(COHORTS),
             charts.promise_chart(CAMPAIGNS)]
    for svg in drawn:
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert "<script" not in svg
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", svg)  # nothing fetched from elsewhere
    again = charts.cycle_time_chart(MONTHS, dt.date(2025, 6, 15), "delivered")
    assert again == drawn[0]
    # each chart's styles are its own: six charts share one page
    assert len({re.search(r'id="chart-([^"]+)"', svg).group(1) for svg in drawn}) == 6


def test_the_go_live_month_is_marked_when_it_is_drawn():
    marked = charts.cycle_time_chart(MONTHS, dt.date(2025, 6, 15), "delivered")
    assert ">2025-06 go-live<" in marked and ">2025-05<" in marked
    assert "go-live" not in charts.cycle_time_chart(MONTHS, dt.date(2024, 1, 1), "delivered").split("</style>")[1]


def test_cohorts_whose_window_is_open_are_hollow():
    svg = charts.cohort_chart(COHORTS)
    # activation open in 2025-07, churn open in 2025-06 and 2025-07
    assert svg.count('style="fill: white; stroke: #2a9d8f') == 1
    assert svg.count('style="fill: white; stroke: #e76f51') == 2


def test_promise_bars_say_the_rate_and_the_orders():
    svg = charts.promise_chart(CAMPAIGNS)
    assert "98% of 21,268" in svg and "83% of 29,102" in svg


def test_no_rows_yet_says_so():
    empty = MONTHS.iloc[0:0]
    assert "no data yet" in charts.cycle_time_chart(empty, dt.date(2025, 6, 15), "delivered")
    assert "no data yet" in charts.promise_chart(CAMPAIGNS.iloc[0:0])
