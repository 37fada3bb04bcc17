"""Write-audit-publish: a failed audit or a killed run never touches the published BI file,
and readers holding it open are neither blocked nor shown a half-written state."""

import datetime as dt
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import SAMPLE_LANDING, nightly_run_in

READER = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*) FROM core.customers").fetchone()[0], flush=True)
sys.stdin.readline()  # hold the file open until told to go on
print(con.execute("SELECT count(*) FROM core.customers").fetchone()[0], flush=True)
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count_customers(path: Path) -> int:
    code = "import duckdb,sys; print(duckdb.connect(sys.argv[1], read_only=True).execute('SELECT count(*) FROM core.customers').fetchone()[0])"
    return int(subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout)


@pytest.fixture()
def published_once(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    run = nightly_run_in(tmp_path, landing)
    assert run.result.success
    return run


def _deliver_before_shipping(workbook: Path) -> None:
    """Corrupt one shipment so that it is delivered two days before it shipped."""
    book = openpyxl.load_workbook(workbook)
    sheet = book["Shipments"]
    header = [c.value for c in sheet[4]]
    shipped, delivered = header.index("Ship Date") + 1, header.index("Delivery Date") + 1
    for row in range(5, sheet.max_row + 1):
        ship = sheet.cell(row, shipped).value
        if ship and sheet.cell(row, delivered).value:
            sheet.cell(row, delivered).value = ship - dt.timedelta(days=2)
            break
    else:
        raise AssertionError("the sample has no delivered shipment to corrupt")
    book.save(workbook)


def test_failed_blocking_check_keeps_the_previous_published_file(published_once):
    run = published_once
    before = digest(run.published)
    _deliver_before_shipping(run.landing / "inventory" / "shipments.xlsx")

    failed = nightly_run_in(run.config_path.parent, run.landing)

    assert digest(run.published) == before
    materialized = {tuple(e.asset_key.path) for e in failed.result.all_events
                    if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert ("publish", "crosswalk_duckdb") not in materialized
    checks = failed.query(
        "SELECT asset_key, check_name, passed, details FROM quality.check_results WHERE run_id = ?",
        [failed.result.run_id], published=False)
    broken = checks[~checks["passed"]]
    assert broken[["asset_key", "check_name"]].values.tolist() == [["staging/inventory_shipments", "gx_blocking"]]
    assert "delivered_at" in broken["details"].iloc[0]
    evaluations = [e.event_specific_data for e in failed.result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert any(not ev.passed and ev.check_name == "gx_blocking" for ev in evaluations)
    assert not list(run.published.parent.glob(".*.publishing*"))
    # the run's Data Docs: the failed suite's page, marked so in the index, beside the passed ones
    docs = run.warehouse / "quality" / "data_docs" / failed.result.run_id
    page = docs / "staging.inventory_shipments.blocking.FAILED.html"
    assert "delivered_at" in page.read_text()
    index = (docs / "index.html").read_text()
    assert '<li class="failed"><a href="staging.inventory_shipments.blocking.FAILED.html">' in index
    assert index.count('class="passed"') == len(list(docs.glob("*.passed.html"))) > 5


def test_a_night_copies_the_published_file_from_its_start_for_publishing(published_once, monkeypatch):
    run = published_once
    customers = count_customers(run.published)
    copies, real = [], shutil.copyfile

    def recorded(source, destination, *args, **kwargs):
        copies.append((Path(source).name, threading.current_thread().name))
        return real(source, destination, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", recorded)
    night = nightly_run_in(run.config_path.parent, run.landing)
    assert night.result.success
    # copied once, by the thread begun with the run, and publishing finished that copy
    assert [c for c in copies if c[0] == run.published.name] == [(run.published.name, "copy-published")]
    assert count_customers(run.published) == customers
    assert not list(run.published.parent.glob(".*.publishing*"))


def test_reader_holding_the_file_keeps_its_snapshot_while_a_run_publishes(published_once):
    run = published_once
    reader = subprocess.Popen([sys.executable, "-c", READER, str(run.published)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        first = int(reader.stdout.readline())
        shutil.rmtree(run.landing / "marketing")  # the next night knows fewer people

        second_run = nightly_run_in(run.config_path.parent, run.landing)

        assert second_run.result.success, "an open reader must not block the run"
        assert not list(run.published.parent.glob(".*.publishing*")), "the file replaced keeps no second name"
        reader.stdin.write("go\n")
        reader.stdin.flush()
        assert int(reader.stdout.readline()) == first, "the open reader keeps its snapshot"
    finally:
        reader.kill()
        reader.wait()
    assert count_customers(run.published) < first, "a new connection sees the new file"


def test_run_killed_mid_build_leaves_the_published_file_and_recovers(published_once, tmp_path):
    run = published_once
    before = digest(run.published)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "CROSSWALK_CONFIG": str(run.config_path)}
    process = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Kill it the moment staging starts quarantining rows: mid-build, before publishing.
    for line in process.stdout:
        if "quarantined" in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL

    assert digest(run.published) == before

    recovered = nightly_run_in(run.config_path.parent, run.landing)
    assert recovered.result.success
    after = recovered.query("SELECT * FROM marts.order_to_delivery_monthly ORDER BY ALL")
    expected = run.query("SELECT * FROM marts.order_to_delivery_monthly ORDER BY ALL")
    assert after.equals(expected)
