"""The landing-folder sensor asks for a run when exports arrive, and only then."""

import os
import shutil
import time

import dagster as dg

from pipelines.sensors import landing_folder_sensor
from tests.conftest import SAMPLE_LANDING, write_config


def _evaluate(cursor):
    context = dg.build_sensor_context(cursor=cursor)
    result = landing_folder_sensor(context)
    return result, context.cursor


def test_sensor_requests_a_run_only_when_files_change(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv("CROSSWALK_CONFIG", str(write_config(tmp_path, landing, tmp_path / "warehouse")))

    result, cursor = _evaluate(None)
    assert isinstance(result, dg.SkipReason) and "no exports" in result.skip_message

    shutil.copy(SAMPLE_LANDING / "crm" / "sales_orders.csv", landing / "sales_orders.csv")
    first, cursor = _evaluate(cursor)
    assert isinstance(first, dg.RunRequest) and first.run_key == cursor

    result, cursor = _evaluate(cursor)
    assert isinstance(result, dg.SkipReason) and "unchanged" in result.skip_message

    shutil.copy(SAMPLE_LANDING / "support" / "zendesk_tickets.csv", landing / "zendesk_tickets.csv")
    result, newer = _evaluate(cursor)
    assert isinstance(result, dg.RunRequest)
    assert result.run_key == newer and result.run_key != first.run_key, "a new file is a new fingerprint"


def test_sensor_notices_an_export_copied_in_with_its_size_and_time_kept(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv("CROSSWALK_CONFIG", str(write_config(tmp_path, landing, tmp_path / "warehouse")))
    export = landing / "sales_orders.csv"
    shutil.copy2(SAMPLE_LANDING / "crm" / "sales_orders.csv", export)
    first, cursor = _evaluate(None)
    assert isinstance(first, dg.RunRequest)

    # a corrected export of the same size, copied in as `cp -p` would: the old modification time
    before = export.stat()
    time.sleep(0.05)  # past the file system's clock tick
    export.write_text(export.read_text(encoding="utf-8").replace("Delivered", "Cancelled", 1), encoding="utf-8")
    os.utime(export, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (export.stat().st_size, export.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    result, _ = _evaluate(cursor)
    assert isinstance(result, dg.RunRequest)
