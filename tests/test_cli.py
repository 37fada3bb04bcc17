"""The `crosswalk run` command as an analyst runs it."""

import os
import subprocess
import sys

from tests.conftest import SAMPLE_LANDING


def test_crosswalk_run_prints_headline_metrics(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--landing", str(SAMPLE_LANDING), "--warehouse", str(tmp_path / "wh")],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for label in ("Order cycle time, median (days)", "Order accuracy rate", "Fulfilment CSAT, satisfied",
                  "Cost per order fulfilled", "Onboarding time, median (days)", "Activation rate",
                  "Onboarding CSAT, satisfied", "Early churn rate", "By order month"):
        assert label in done.stdout, label
    assert (tmp_path / "wh" / "crosswalk.duckdb").exists()
    assert "4 rows quarantined" in done.stdout


def test_crosswalk_run_names_a_missing_landing_folder(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--landing", str(tmp_path / "nowhere"), "--warehouse", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert "nowhere" in done.stderr and "does not exist" in done.stderr
