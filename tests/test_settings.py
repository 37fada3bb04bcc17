"""crosswalk.yaml validation (messages name the key) and the company time zone deciding the month."""

import shutil

import duckdb
import pytest
import yaml

from pipelines import order_to_delivery
from pipelines.resources import prepare_connection
from pipelines.settings import SettingsError, load_settings
from pipelines.sql_assets import run_sql, run_sql_files


def _load(tmp_path, text: str):
    path = tmp_path / "crosswalk.yaml"
    path.write_text(text)
    return load_settings(path)


def test_defaults_when_the_file_is_empty(tmp_path):
    settings = _load(tmp_path, "")
    assert settings.company_timezone == "Europe/London"
    assert settings.schedule_cron == "0 2 * * *"
    assert settings.activation_window_days == 30 and settings.churn_window_days == 90
    assert settings.go_live_date.isoformat() == "2025-07-01"
    assert settings.personal_data == "pseudonymise"
    assert settings.late_threshold_hours("crm") == 36
    assert settings.alert_log == tmp_path / "data" / "warehouse" / "alerts.log"
    assert settings.report_path == tmp_path / "data" / "warehouse" / "report.html"


def test_the_shipped_file_holds_the_defaults():
    settings = load_settings()
    assert (settings.schedule_cron, settings.late_after_hours, settings.alert_command) == ("0 2 * * *", 36, "")


@pytest.mark.parametrize("text, key, words", [
    ("colour: blue\n", "colour", "unknown key; known keys are"),
    ("schedule: {cron: '0 25 * * *'}\n", "schedule.cron", "not a cron expression"),
    ("schedule: {timezone: Mars/Olympus}\n", "schedule.timezone", "not a time zone"),
    ("company_timezone: Europe/Lndon\n", "company_timezone", "not a time zone"),
    ("metrics: {activation_window_days: 0}\n", "metrics.activation_window_days", "above 0"),
    ("metrics: {go_live_date: 2025-13-01}\n", "metrics.go_live_date", "not a date"),
    ("metrics: {satisfied_min_score: 6}\n", "metrics.satisfied_min_score", "1 to 5"),
    ("metrics: {window: 3}\n", "metrics.window", "unknown key"),
    ("publish: {personal_data: hide}\n", "publish.personal_data", "pseudonymise"),
    ("freshness: {late_after_hours: -1}\n", "freshness.late_after_hours", "hours above 0"),
    ("freshness: {per_family: {finance: 24}}\n", "freshness.per_family.finance", "not a source family"),
    ("alerts: {webhook_url_env: 'https://hooks.example/T0/B0'}\n", "alerts.webhook_url_env", "environment variable"),
    ("alerts: {webhook_url: 'https://hooks.example/T0/B0'}\n", "alerts.webhook_url", "unknown key"),
    ("landing_dir: [a, b]\n", "landing_dir", "expected text"),
    ("schedule: [1]\n", "schedule", "expected a mapping"),
    ("memory_limit: lots\n", "memory_limit", "not a size such as 2GB"),
])
def test_invalid_settings_name_the_key(tmp_path, text, key, words):
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, text)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'crosswalk.yaml'}: {key}"), message
    assert words in message, message


def test_memory_limit_reaches_duckdb(tmp_path):
    assert _load(tmp_path, "").memory_limit == "2GB"
    con = duckdb.connect()
    prepare_connection(con, _load(tmp_path, "memory_limit: 1500 MB\n"))
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "1.3 GiB"  # 1500 MB


def test_per_family_threshold_overrides_the_default(tmp_path):
    settings = _load(tmp_path, yaml.safe_dump({"freshness": {"late_after_hours": 30, "per_family": {"marketing": 170}}}))
    assert settings.late_threshold_hours("marketing") == 170
    assert settings.late_threshold_hours("support") == 30


def test_event_near_midnight_utc_lands_in_the_company_month(sample_run, tmp_path):
    """30 June 23:30 UTC is 1 July 00:30 in London (BST): the order and the customer belong to July."""
    build = tmp_path / "build.duckdb"
    shutil.copy(sample_run.build, build)
    con = duckdb.connect(str(build))
    try:
        prepare_connection(con, load_settings(sample_run.config_path))
        month = "SELECT period, orders FROM marts.order_to_delivery_monthly WHERE dimension = 'all' " \
                "AND period IN ('2025-06', '2025-07') ORDER BY period"
        cohort = "SELECT cohort, customers FROM marts.onboarding_cohorts_monthly " \
                 "WHERE cohort IN ('2025-06', '2025-07') ORDER BY cohort"
        orders_before, customers_before = dict(con.execute(month).fetchall()), dict(con.execute(cohort).fetchall())
        con.execute("""INSERT INTO core.orders
            SELECT * REPLACE ('late-night-order' AS order_key, TIMESTAMPTZ '2025-06-30 23:30:00+00' AS ordered_at,
                              NULL AS delivered_at, NULL AS shipped_at, 'open' AS status)
            FROM core.orders WHERE status <> 'cancelled' LIMIT 1""")
        con.execute("""INSERT INTO core.customers
            SELECT * REPLACE ('late-night-customer' AS customer_key, TIMESTAMPTZ '2025-06-30 23:30:00+00' AS start_at)
            FROM core.customers WHERE start_at IS NOT NULL LIMIT 1""")
        order_to_delivery.set_cycle_end(con)
        run_sql(con, *order_to_delivery.views_sql(), *order_to_delivery.whole_sql())
        run_sql_files(con, "marts/onboarding_cohorts_monthly.sql")
        orders_after, customers_after = dict(con.execute(month).fetchall()), dict(con.execute(cohort).fetchall())
    finally:
        con.close()
    assert orders_after == {"2025-06": orders_before["2025-06"], "2025-07": orders_before["2025-07"] + 1}
    assert customers_after == {"2025-06": customers_before["2025-06"], "2025-07": customers_before["2025-07"] + 1}
