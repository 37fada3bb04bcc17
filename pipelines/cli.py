"""The `crosswalk` command: `run` the nightly job once in-process, show its `status`, or open the Dagster `ui`."""

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from pipelines import collector
from pipelines.settings import PROJECT_DIR, SettingsError, load_settings

HOME = PROJECT_DIR / ".dagster_home"
ORDER_LINES = [
    ("orders", "Orders (not cancelled)", "{:,.0f}"),
    ("cycle_time_median_days", "Order cycle time, median (days)", "{:.2f}"),
    ("cycle_time_p90_days", "Order cycle time, p90 (days)", "{:.2f}"),
    ("cycle_time_reduction_vs_baseline_pct", "Cycle time reduction since go-live (%)", "{:.1f}"),
    ("order_accuracy_rate", "Order accuracy rate", "{:.1%}"),
    ("cfsat_rate", "Fulfilment CSAT, satisfied", "{:.1%}"),
    ("cfsat_mean_score", "Fulfilment CSAT, mean score (1-5)", "{:.2f}"),
    ("cost_per_order", "Cost per order fulfilled", "{:,.2f}"),
    ("promise_kept_rate", "Delivery promise kept", "{:.1%}"),
    ("support_contacts_per_100_orders", "Support contacts per 100 orders", "{:.1f}"),
]
ONBOARDING_LINES = [
    ("customers", "Customers started", "{:,.0f}"),
    ("onboarding_time_median_days", "Onboarding time, median (days)", "{:.2f}"),
    ("activation_rate", "Activation rate (within window)", "{:.1%}"),
    ("onboarding_csat_rate", "Onboarding CSAT, satisfied", "{:.1%}"),
    ("early_churn_rate", "Early churn rate", "{:.1%}"),
]


def _dagster_home() -> Path:
    """A project-local Dagster instance (SQLite), unless DAGSTER_HOME says otherwise."""
    home = Path(os.environ.get("DAGSTER_HOME") or HOME)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _fmt(template: str, value) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return template.format(value)


def print_headlines(database: Path, out=sys.stdout) -> None:
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        overall = con.execute("SELECT * FROM marts.order_to_delivery_monthly "
                              "WHERE period = 'all' AND dimension = 'all'").df()
        cohorts = con.execute("SELECT * FROM marts.onboarding_cohorts_monthly WHERE cohort = 'all'").df()
        monthly = con.execute(
            "SELECT period, orders, cycle_time_median_days AS median_days, cycle_time_p90_days AS p90_days, "
            "order_accuracy_rate AS accuracy, cfsat_rate AS cfsat, cost_per_order, promise_kept_rate AS promise_kept "
            "FROM marts.order_to_delivery_monthly WHERE dimension = 'all' AND period <> 'all' ORDER BY period").df()
        event = overall["cycle_end_event"].iloc[0] if len(overall) else "delivered"
    finally:
        con.close()
    print(f"\nOrder to delivery, all orders (cycle ends at: {event})", file=out)
    row = overall.iloc[0] if len(overall) else {}
    for column, label, template in ORDER_LINES:
        print(f"  {label:<42} {_fmt(template, row.get(column) if len(overall) else None):>10}", file=out)
    print("\nOnboarding, all cohorts", file=out)
    row = cohorts.iloc[0] if len(cohorts) else {}
    for column, label, template in ONBOARDING_LINES:
        print(f"  {label:<42} {_fmt(template, row.get(column) if len(cohorts) else None):>10}", file=out)
    if len(monthly):
        print("\nBy order month", file=out)
        print(monthly.to_string(index=False, float_format=lambda v: f"{v:.3f}"), file=out)


def _summary(database: Path) -> tuple[int, int, int]:
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = con.execute("SELECT count(*) FILTER (WHERE status = 'ready'), count(*) FILTER (WHERE status <> 'ready') "
                             "FROM raw.landing_files").fetchone()
        rejected = con.execute("SELECT count(DISTINCT (source_file, source_row)) FROM quality.rejected_rows").fetchone()[0]
    finally:
        con.close()
    return int(tables[0]), int(tables[1]), int(rejected)


def _use_folders(landing: str | None, warehouse: str | None) -> None:
    """The folders given on the command line, for this process and the ones it starts."""
    if landing:
        os.environ["CROSSWALK_LANDING"] = str(Path(landing).resolve())
    if warehouse:
        os.environ["CROSSWALK_WAREHOUSE"] = str(Path(warehouse).resolve())


def _settings(landing: str | None, warehouse: str | None):
    """The settings with the command line's folders, or None after saying what is wrong."""
    _use_folders(landing, warehouse)
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"crosswalk: {exc}", file=sys.stderr)
        return None


def run(landing: str | None, warehouse: str | None, full_rebuild: bool = False) -> int:
    settings = _settings(landing, warehouse)
    if settings is None:
        return 2
    if not settings.landing_dir.is_dir():
        print(f"crosswalk: the landing folder {settings.landing_dir} does not exist; pass --landing DIR "
              f"or set landing_dir in {settings.config_path}", file=sys.stderr)
        return 2
    home = _dagster_home()
    from pipelines.dagster_storage import run_instance
    from pipelines.definitions import all_assets, build_definitions
    from pipelines.status import RunProgress

    defs = build_definitions(full_rebuild=full_rebuild)

    started = time.monotonic()
    print(f"Crosswalk nightly run: {settings.landing_dir} -> {settings.warehouse_dir}", flush=True)
    run_id = str(uuid.uuid4())
    with run_instance(home) as instance:
        # The console shows each asset as it is done and Dagster's warnings and errors (quarantined
        # rows, failed steps), then a summary with one sentence per failed step; the full event log
        # is kept in the instance and shown in the UI.
        progress = RunProgress(instance, run_id, sum(len(a.keys) for a in all_assets), sys.stdout)
        progress.start()
        try:
            result = defs.resolve_job_def("nightly").execute_in_process(
                instance=instance, raise_on_error=False, run_id=run_id,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
        finally:
            progress.stop()
    elapsed = time.monotonic() - started
    failed_checks = [
        e.event_specific_data.check_name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    published = settings.published_path
    was_published = any(
        e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key and e.asset_key.path == ["publish", "crosswalk_duckdb"]
        for e in result.all_events
    )
    status = "succeeded" if result.success and not failed_checks else "FAILED"
    print(f"Run {result.run_id} {status} in {elapsed:.1f} s", flush=True)
    if settings.build_path.exists():
        loaded, not_loaded, rejected = _summary(settings.build_path)
        print(f"Files: {loaded} tables loaded, {not_loaded} skipped or refused (raw.landing_files); "
              f"{rejected} rows quarantined (quality.rejected_rows)")
    if failed_checks:
        print(f"Failed checks: {', '.join(sorted(set(failed_checks)))} (quality.check_results)")
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            error = (error.cause or error) if error else None  # the cause says what went wrong
            reason = (error.message if error else "no message").strip().splitlines()[0]
            print(f"Step {event.step_key} failed: {reason} (details: crosswalk ui, run {result.run_id[:8]}; "
                  f"alerts in {settings.alert_log})", file=sys.stderr)
    if settings.report_path.exists() and any(
        e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key and e.asset_key.path == ["publish", "report"]
        for e in result.all_events
    ):
        print(f"Report: {settings.report_path}")
    if was_published:
        print(f"Published: {published}")
        print_headlines(published)
    else:
        print(f"Not published: the previous {published.name} (if any) is unchanged. "
              f"See the run in the UI (crosswalk ui) or quality.check_results in {settings.build_path}.")
    return 0 if result.success and was_published else 1


def ui(port: int, host: str) -> int:
    home = _dagster_home()
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_DIR / "workspace.yaml"),
               "-h", host, "-p", str(port)]
    print(f"Dagster UI on http://{host}:{port} (instance {home}); Ctrl-C stops it.", flush=True)
    return subprocess.call(command, cwd=PROJECT_DIR)


def status(landing: str | None, warehouse: str | None) -> int:
    settings = _settings(landing, warehouse)
    if settings is None:
        return 2
    _dagster_home()
    import dagster as dg
    import duckdb

    from pipelines.status import render_status

    with dg.DagsterInstance.get() as instance:
        try:
            print(render_status(settings, instance))
        except duckdb.IOException as exc:
            print(f"crosswalk: cannot read the build {settings.build_path} ({str(exc).splitlines()[0]}); "
                  "a run may be writing it: try again when it ends (crosswalk ui shows running runs).", file=sys.stderr)
            return 1
    return 0


def suggest_profile(file: str, out: str | None) -> int:
    from connectors.files import FileRefused
    from connectors.suggest import suggest

    path = Path(file)
    if not path.is_file():
        print(f"crosswalk: {file}: no such file", file=sys.stderr)
        return 2
    try:
        draft = suggest(path)
    except FileRefused as exc:
        print(f"crosswalk: {exc}", file=sys.stderr)
        return 2
    if out:
        Path(out).write_text(draft)
        print(f"Draft profile written to {out}; review it, then move it under schemas/profiles/.")
    else:
        print(draft, end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crosswalk", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run the nightly job once and print the headline metrics")
    ui_parser = commands.add_parser("ui", help="start the Dagster UI (lineage, runs, checks)")
    status_parser = commands.add_parser("status", help="last runs, source freshness, failed checks, quarantined rows")
    profile_parser = commands.add_parser("profile", help="mapping profiles: draft one for an unknown export")
    profile_commands = profile_parser.add_subparsers(dest="profile_command", required=True)
    suggest_parser = profile_commands.add_parser("suggest", help="draft a profile from a file's headers and values")
    suggest_parser.add_argument("file", help="the export (CSV or XLSX)")
    suggest_parser.add_argument("--out", help="write the draft here instead of printing it")
    run_parser.add_argument("--full-rebuild", action="store_true",
                            help="read every landing file again instead of reusing the rows of unchanged files")
    ui_parser.add_argument("--port", type=int, default=3000)
    ui_parser.add_argument("--host", default="127.0.0.1", help="bind address (default: localhost only)")
    for sub in (run_parser, ui_parser, status_parser):
        sub.add_argument("--landing", help="folder of exports (default: landing_dir in crosswalk.yaml)")
        sub.add_argument("--warehouse", help="folder for the build and crosswalk.duckdb (default: warehouse_dir)")
    args = parser.parse_args(argv)
    if args.command == "run":
        collector.quiet_imports()
        code = run(args.landing, args.warehouse, args.full_rebuild)
        collector.freeze_before_exit()
        return code
    if args.command == "status":
        return status(args.landing, args.warehouse)
    if args.command == "profile":
        return suggest_profile(args.file, args.out)
    _use_folders(args.landing, args.warehouse)
    return ui(args.port, args.host)


if __name__ == "__main__":
    sys.exit(main())
