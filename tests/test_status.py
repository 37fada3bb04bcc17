"""`crosswalk status` (runs, freshness, failed checks, quarantine) and alerts on a failed run."""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys

import dagster as dg
import pytest

from pipelines.settings import load_settings
from pipelines.status import family_freshness, render_status
from tests.conftest import SAMPLE_LANDING, truth_quarantined_rows, write_config

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def landing_with_ages(tmp_path):
    """A copy of the sample landing folder whose files are dated: crm 2 h ago, marketing 100 h ago."""
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    ages = {"crm": 2, "marketing": 100, "support": 5, "inventory": 30}
    for family, hours in ages.items():
        for path in (landing / family).iterdir():
            stamp = (NOW - dt.timedelta(hours=hours)).timestamp()
            os.utime(path, (stamp, stamp))
    return landing


def test_freshness_flags_families_late_beyond_their_threshold(sample_run, landing_with_ages, tmp_path):
    import duckdb

    config = write_config(tmp_path, landing_with_ages, sample_run.warehouse,
                          freshness={"late_after_hours": 36, "per_family": {"inventory": 24}})
    settings = load_settings(config)
    con = duckdb.connect(str(sample_run.build), read_only=True)
    try:
        freshness = family_freshness(con, settings, NOW).set_index("family")
    finally:
        con.close()
    assert freshness["late"].to_dict() == {"crm": False, "marketing": True, "support": False, "inventory": True}
    assert round(freshness.loc["marketing", "age_hours"]) == 100
    assert freshness.loc["crm", "newest_file"] in {"crm/hubspot_contacts.csv", "crm/sales_orders.csv"}


def test_status_shows_runs_freshness_checks_and_quarantine(sample_run, landing_with_ages, tmp_path):
    config = write_config(tmp_path, landing_with_ages, sample_run.warehouse)
    with dg.DagsterInstance.ephemeral() as instance:
        text = render_status(load_settings(config), instance, now=NOW)
    assert "no run yet" in text
    assert "marketing  LATE (over 36 h)" in text
    assert "crm        ok" in text
    assert "Failed checks (latest run)\n  none" in text
    assert f"Quarantined rows: {truth_quarantined_rows()} (quality.rejected_rows)" in text
    assert f"Report: {sample_run.warehouse / 'report.html'}" in text


def test_failed_run_alerts_through_the_command_and_the_log_file(tmp_path):
    received = tmp_path / "received.jsonl"
    warehouse = tmp_path / "warehouse"
    config = write_config(tmp_path, tmp_path / "no_such_folder", warehouse,
                          alerts={"command": f"cat >> {received}; echo \"$CROSSWALK_ALERT_KIND\" >> {received}.kind"})
    home = tmp_path / "dagster_home"
    home.mkdir()
    from pipelines.definitions import build_definitions

    with dg.DagsterInstance.local_temp(str(home)) as instance:
        result = build_definitions(str(config)).resolve_job_def("nightly").execute_in_process(
            instance=instance, raise_on_error=False)
        assert not result.success
        text = render_status(load_settings(config), instance)
    alert = json.loads(received.read_text().splitlines()[0])
    assert alert["step"] == "raw__landing_files" and alert["kind"] == "step_failed"
    assert "no_such_folder does not exist" in alert["detail"]
    assert alert["run_id"] == result.run_id
    assert (tmp_path / "received.jsonl.kind").read_text() == "step_failed\n"
    assert json.loads((warehouse / "alerts.log").read_text().splitlines()[0]) == alert  # the default file log
    assert f"{result.run_id[:8]}  FAILURE" in text


def test_status_command_without_a_build_says_what_to_do(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "status", "--landing", str(SAMPLE_LANDING),
                           "--warehouse", str(tmp_path / "wh")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "no run yet: start one with `crosswalk run`" in done.stdout
    assert f"No build yet at {tmp_path / 'wh' / 'build' / 'crosswalk_build.duckdb'}" in done.stdout


def test_run_shows_progress_and_the_report_then_status_lists_the_run(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    folders = ["--landing", str(SAMPLE_LANDING), "--warehouse", str(tmp_path / "wh")]
    ran = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", *folders],
                         capture_output=True, text=True, env=env, timeout=900)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    progress = [line for line in ran.stdout.splitlines() if line.startswith("  [")]
    from pipelines.definitions import all_assets

    total = sum(len(a.keys) for a in all_assets)
    assert len(progress) == total  # one line per asset, as it finishes
    mart = next(line for line in progress if "marts/order_to_delivery_monthly" in line)
    assert f"/{total}] marts/order_to_delivery_monthly" in mart and " rows " in mart and "rows written so far" in mart
    assert f"Report: {tmp_path / 'wh' / 'report.html'}" in ran.stdout

    shown = subprocess.run([sys.executable, "-m", "pipelines.cli", "status", *folders],
                           capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    run_id = ran.stdout.split("Run ", 1)[1].split()[0]
    assert f"  {run_id[:8]}  SUCCESS" in shown.stdout
    assert "Source freshness (newest file per family)" in shown.stdout
    assert "Failed checks (latest run)\n  none" in shown.stdout
