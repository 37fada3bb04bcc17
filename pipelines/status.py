"""What `crosswalk status` shows and what `crosswalk run` prints while it works: the last runs
(from the Dagster instance), each source family's freshness, failed checks and quarantined rows.
"""

import datetime as dt
import threading
import time

import dagster as dg
import duckdb
import pandas as pd

from pipelines.settings import FAMILIES, Settings

# Newest file per family: the files of the latest manifest, dated by their modification time.
LANDED_FILES_SQL = """
SELECT DISTINCT family, relative_path FROM raw.landing_files WHERE family IS NOT NULL AND status = 'ready'
"""
# Checks that failed in the latest run that recorded any.
FAILED_CHECKS_SQL = """
WITH latest AS (SELECT run_id FROM quality.check_results ORDER BY checked_at DESC LIMIT 1)
SELECT check_name, asset_key, severity, details FROM quality.check_results
WHERE run_id = (SELECT run_id FROM latest) AND NOT passed ORDER BY asset_key, check_name
"""
QUARANTINE_SQL = """
SELECT source_file, count(DISTINCT source_row) AS rows, string_agg(DISTINCT reason, '; ') AS reasons
FROM quality.rejected_rows GROUP BY source_file ORDER BY source_file
"""


def family_freshness(con: duckdb.DuckDBPyConnection, settings: Settings, now: dt.datetime) -> pd.DataFrame:
    """One row per source family: its newest landed file, that file's age, and whether it is late."""
    files = con.execute(LANDED_FILES_SQL).df()
    rows = []
    for family in FAMILIES:
        newest, newest_time = None, None
        for relative in files.loc[files["family"] == family, "relative_path"]:
            path = settings.landing_dir / relative
            if path.exists():
                modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
                if newest_time is None or modified > newest_time:
                    newest, newest_time = relative, modified
        threshold = settings.late_threshold_hours(family)
        age = (now - newest_time).total_seconds() / 3600 if newest_time else None
        rows.append({"family": family, "newest_file": newest, "modified_at": newest_time,
                     "age_hours": age, "late_after_hours": threshold,
                     "late": age is None or age > threshold})
    return pd.DataFrame(rows)


def recent_runs(instance: dg.DagsterInstance, limit: int = 5) -> list[dict]:
    records = instance.get_run_records(filters=dg.RunsFilter(job_name="nightly"), limit=limit)
    return [{"run_id": r.dagster_run.run_id, "status": r.dagster_run.status.value,
             "started": dt.datetime.fromtimestamp(r.start_time, dt.timezone.utc) if r.start_time else None,
             "seconds": (r.end_time - r.start_time) if r.start_time and r.end_time else None}
            for r in records]


def _when(value: dt.datetime | None, tz: str) -> str:
    if value is None:
        return "-"
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def _age(hours: float | None) -> str:
    if hours is None:
        return "-"
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def render_status(settings: Settings, instance: dg.DagsterInstance, now: dt.datetime | None = None) -> str:
    """The status report as text; reads the private build read-only."""
    now = now or dt.datetime.now(dt.timezone.utc)
    lines = [f"Crosswalk status: {settings.landing_dir} -> {settings.warehouse_dir}", "", "Last runs"]
    runs = recent_runs(instance)
    if not runs:
        lines.append("  no run yet: start one with `crosswalk run`")
    for run in runs:
        took = f"{run['seconds']:.0f} s" if run["seconds"] is not None else "-"
        lines.append(f"  {run['run_id'][:8]}  {run['status']:<10} {_when(run['started'], settings.company_timezone):<22} {took:>6}")
    build = settings.build_path
    if not build.exists():
        lines += ["", f"No build yet at {build}: run `crosswalk run` first."]
        return "\n".join(lines)
    con = duckdb.connect(str(build), read_only=True)
    try:
        tables = {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
        if "raw.landing_files" not in tables:
            lines += ["", f"The build {build} has no landing manifest yet: the last run stopped before reading "
                      "the landing folder; see its error above (crosswalk ui) or in the alerts log."]
            return "\n".join(lines + _pointers(settings))
        freshness = family_freshness(con, settings, now)
        failed = con.execute(FAILED_CHECKS_SQL).df() if "quality.check_results" in tables else pd.DataFrame()
        quarantine = con.execute(QUARANTINE_SQL).df() if "quality.rejected_rows" in tables else pd.DataFrame()
    finally:
        con.close()
    lines += ["", "Source freshness (newest file per family)"]
    for row in freshness.itertuples():
        flag = f"LATE (over {row.late_after_hours} h)" if row.late else "ok"
        lines.append(f"  {row.family:<10} {flag:<18} {_age(row.age_hours):>9}  {row.newest_file or '(no file)'}")
    lines += ["", "Failed checks (latest run)"]
    lines += [f"  {r.check_name} on {r.asset_key} ({r.severity})" for r in failed.itertuples()] or ["  none"]
    total = int(quarantine["rows"].sum()) if len(quarantine) else 0
    lines += ["", f"Quarantined rows: {total} (quality.rejected_rows)"]
    lines += [f"  {r.source_file}: {r.rows} ({r.reasons})" for r in quarantine.itertuples()]
    return "\n".join(lines + _pointers(settings))


def _pointers(settings: Settings) -> list[str]:
    lines = [""]
    if settings.report_path.exists():
        lines.append(f"Report: {settings.report_path}")
    if settings.alert_log and settings.alert_log.exists():
        lines.append(f"Alerts: {settings.alert_log}")
    return lines if len(lines) > 1 else []


class RunProgress(threading.Thread):
    """Prints each asset as it is materialised (step count, rows) while a run executes in-process."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, total_assets: int, out, interval: float = 1.0):
        super().__init__(daemon=True)
        self.instance, self.run_id, self.total, self.out, self.interval = instance, run_id, total_assets, out, interval
        self.done = threading.Event()
        self.cursor = None
        self.count = 0
        self.rows = 0
        self.started = time.monotonic()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - a busy event log only delays the display: the next tick catches up
                continue

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.poll()

    def poll(self) -> None:
        connection = self.instance.get_records_for_run(
            self.run_id, cursor=self.cursor, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        self.cursor = connection.cursor
        for record in connection.records:
            materialization = record.event_log_entry.asset_materialization
            rows = materialization.metadata.get("dagster/row_count")
            self.count += 1
            rows_text = ""
            if rows is not None:
                self.rows += int(rows.value)
                rows_text = f"{int(rows.value):>9,} rows"
            print(f"  [{self.count:>2}/{self.total}] {materialization.asset_key.to_user_string():<40} {rows_text:<14}"
                  f" {time.monotonic() - self.started:6.1f} s  ({self.rows:,} rows written so far)", file=self.out, flush=True)
