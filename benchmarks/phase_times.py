"""Run the nightly job once and print wall time per phase (raw = ingest, staging, identity = customer
and order resolution, core, marts, checks, publish) and the slowest steps.

Usage: .venv/bin/python benchmarks/phase_times.py [--landing DIR] [--warehouse DIR]
Defaults: the bundled sample into a temporary warehouse. Run by hand; results go in notes, not tests.
"""

import argparse
import collections
import tempfile
import time
from pathlib import Path

import yaml

from pipelines import collector

PROJECT = Path(__file__).resolve().parent.parent


IDENTITY_STEPS = {"core__customer_identity_map", "core__order_identity_map"}
PHASES = ("raw", "staging", "identity", "core", "marts", "checks", "publish")


def phase_of(step_key: str, check_steps: set[str]) -> str:
    if step_key in check_steps:
        return "checks"
    if step_key in IDENTITY_STEPS:
        return "identity"
    return step_key.split("__", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--landing", default=str(PROJECT / "data" / "sample" / "landing"))
    parser.add_argument("--warehouse", default=None)
    parser.add_argument("--slowest", type=int, default=12, help="how many of the slowest steps to list")
    args = parser.parse_args()
    collector.quiet_imports()  # as crosswalk run does
    import dagster as dg

    warehouse = Path(args.warehouse or tempfile.mkdtemp(prefix="crosswalk-bench-"))
    config = warehouse / "bench.yaml"
    warehouse.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump({"landing_dir": str(Path(args.landing).resolve()),
                                      "warehouse_dir": str(warehouse / "warehouse")}))

    from pipelines.definitions import build_definitions

    defs = build_definitions(str(config))
    job = defs.resolve_job_def("nightly")
    from pipelines.definitions import all_checks

    check_steps = {checks.node_def.name for checks in all_checks}
    started = time.monotonic()
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False,
                                        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
        wall = time.monotonic() - started
        starts, phases, steps = {}, collections.defaultdict(float), {}
        # only the step events: reading every event back took 0.17 s of a night
        step_events = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
        for entry in instance.all_logs(result.run_id, of_type=step_events):
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type_value == "STEP_START":
                starts[event.step_key] = entry.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
                steps[event.step_key] = entry.timestamp - starts.pop(event.step_key)
                phases[phase_of(event.step_key, check_steps)] += steps[event.step_key]
    print(f"run {'succeeded' if result.success else 'FAILED'}; wall {wall:.1f} s (includes Dagster run overhead)")
    for phase in PHASES:
        if phase in phases:
            print(f"  {phase:<8} {phases[phase]:6.2f} s")
    other = {k: v for k, v in phases.items() if k not in PHASES}
    for phase, seconds in other.items():
        print(f"  {phase:<8} {seconds:6.2f} s")
    # what the night could reuse: rows of exports sent again, staging histories appended, person
    # records linked
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        for key in ("rows_already_there", "rows_kept_typed", "history", "linkage", "person_records_derived",
                    "records_clustered", "places_derived", "orders_derived", "update"):
            if key in metadata and (metadata[key].value or key not in ("rows_already_there", "rows_kept_typed")):
                print(f"  {key} {event.asset_key.to_user_string()}: {metadata[key].value}")
    print("slowest steps:")
    for step, seconds in sorted(steps.items(), key=lambda s: -s[1])[:args.slowest]:
        print(f"  {seconds:6.2f} s  {step}")
    collector.freeze_before_exit()  # as crosswalk run does


if __name__ == "__main__":
    main()
