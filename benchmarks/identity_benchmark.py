"""Customer and order identity resolution against the generator's truth, at growing scale.

    .venv/bin/python -m benchmarks.identity_benchmark [--scales 1 19 191] [--work /tmp/crosswalk-bench]

For each scale the sample generator writes a business (scale 1 is about 5,200 person records,
19 about 100k, 191 about 1M) with its truth; the nightly job's raw and staging steps load it
into a build; then, in a process of its own, the identity resolution runs (customer linkage:
deterministic keys, Splink scoring, clustering, stable keys, evidence, review queue; then order
reconciliation). Reported: pairwise precision, recall and F1 of customer links, the share of
true customers reproduced exactly (same set of records, nothing more), order-link precision,
recall and F1, and the wall time and peak memory (RSS) of the identity step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parent.parent


def generate(scale: float, out: Path) -> None:
    if not (out / "truth" / "record_identity.csv").exists():
        subprocess.run([sys.executable, "-m", "samplegen", "--seed", "7", "--scale", str(scale), "--out", str(out)],
                       check=True, cwd=PROJECT)


def load(landing: Path, warehouse: Path) -> None:
    """Raw and staging steps of the nightly job (and the order references) into a fresh build."""
    import dagster as dg
    import yaml

    from pipelines.core import ORDER_REFERENCES
    from pipelines.definitions import build_definitions

    warehouse.mkdir(parents=True, exist_ok=True)
    config = warehouse / "crosswalk.yaml"
    config.write_text(yaml.safe_dump({"landing_dir": str(landing), "warehouse_dir": str(warehouse)}))
    defs = build_definitions(str(config))
    selection = dg.AssetSelection.groups("raw", "staging") | dg.AssetSelection.assets(ORDER_REFERENCES)
    job = dg.define_asset_job("bench_load", selection=selection).resolve(asset_graph=defs.resolve_asset_graph())
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance, resources={"warehouse": defs.resources["warehouse"]}, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
    if not result.success:
        raise SystemExit(f"loading {landing} failed")


def resolve(warehouse: Path) -> None:
    """The identity step alone, as the nightly job runs it (called in a child process)."""
    from pipelines.identity import load_identity_settings, reconcile_orders, resolve_customers
    from pipelines.resources import WarehouseResource

    warehouse_resource = WarehouseResource(config_path=str(warehouse / "crosswalk.yaml"))
    review_csv = warehouse_resource.settings().build_path.parent / "identity_review.csv"
    identity = load_identity_settings()
    with warehouse_resource.connect() as con:
        counts = resolve_customers(con, identity.customers, review_csv)
        reconcile_orders(con, identity.order_fallback)
    print(json.dumps(counts))


def timed_child(warehouse: Path) -> tuple[float, float, dict]:
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "benchmarks.identity_benchmark", "--resolve", str(warehouse)],
                             cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"identity step failed on {warehouse}")
    return time.monotonic() - started, usage.ru_maxrss / 1024, json.loads(out.strip().splitlines()[-1])


PAIRWISE = """
WITH j AS ({joined}),
     p AS (SELECT sum(n * (n - 1) / 2) AS x FROM (SELECT count(*) AS n FROM j GROUP BY predicted)),
     t AS (SELECT sum(n * (n - 1) / 2) AS x FROM (SELECT count(*) AS n FROM j GROUP BY actual)),
     b AS (SELECT sum(n * (n - 1) / 2) AS x FROM (SELECT count(*) AS n FROM j GROUP BY predicted, actual)),
     exact AS (
         -- a true entity is reproduced exactly when one predicted group holds all its records and no other
         SELECT count(*) FILTER (WHERE groups = 1 AND pure) / count(*) AS share
         FROM (SELECT actual, count(DISTINCT predicted) AS groups,
                      bool_and(predicted_size = actual_size) AS pure
               FROM (SELECT *, count(*) OVER (PARTITION BY predicted) AS predicted_size,
                               count(*) OVER (PARTITION BY actual) AS actual_size FROM j)
               GROUP BY actual)
     )
SELECT b.x / p.x AS precision, b.x / t.x AS recall, 2 * b.x / (p.x + t.x) AS f1, exact.share AS exact_share,
       (SELECT count(*) FROM j) AS records
FROM p, t, b, exact
"""


def evaluate(warehouse: Path, truth: Path) -> dict:
    con = duckdb.connect(str(warehouse / "build" / "crosswalk_build.duckdb"), read_only=True)
    customers = PAIRWISE.format(joined=f"""
        SELECT m.customer_key AS predicted, t.person_id AS actual
        FROM read_csv('{truth / "record_identity.csv"}') t
        JOIN core.customer_identity_map m USING (source_system, source_file, source_row)""")
    # orders: every record naming an order, unlinked ones each on their own
    orders = PAIRWISE.format(joined=f"""
        SELECT coalesce(m.order_key, 'none:' || t.source_file || ':' || t.source_row) AS predicted,
               t.order_id AS actual
        FROM read_csv('{truth / "order_identity.csv"}') t
        LEFT JOIN core.order_identity_map m USING (source_system, source_file, source_row)""")
    names = ["precision", "recall", "f1", "exact_share", "records"]
    result = {"customers": dict(zip(names, con.execute(customers).fetchall()[0])),
              "orders": dict(zip(names, con.execute(orders).fetchall()[0]))}
    con.close()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.identity_benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 19, 191])
    parser.add_argument("--work", type=Path, default=Path("/tmp/crosswalk-bench"))
    parser.add_argument("--resolve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.resolve:
        resolve(args.resolve)
        return
    print(f"{'scale':>6} {'records':>9} {'cust P':>7} {'cust R':>7} {'cust F1':>7} {'exact':>6} "
          f"{'order F1':>8} {'pairs':>10} {'wall s':>7} {'peak MB':>8}", flush=True)
    for scale in args.scales:
        data = args.work / f"scale-{scale:g}"
        generate(scale, data)
        warehouse = data / "warehouse"
        if not (warehouse / "build" / "crosswalk_build.duckdb").exists():
            load(data / "landing", warehouse)
        wall, peak_mb, counts = timed_child(warehouse)
        scores = evaluate(warehouse, data / "truth")
        c, o = scores["customers"], scores["orders"]
        print(f"{scale:>6g} {c['records']:>9,} {c['precision']:>7.4f} {c['recall']:>7.4f} {c['f1']:>7.4f} "
              f"{c['exact_share']:>6.3f} {o['f1']:>8.4f} {counts['scored_pairs']:>10,} {wall:>7.1f} {peak_mb:>8.0f}",
              flush=True)
        (data / "identity_benchmark.json").write_text(json.dumps(
            {"scale": scale, **scores, "identity_step": {"wall_seconds": wall, "peak_rss_mb": peak_mb, **counts}},
            indent=2, default=float))


if __name__ == "__main__":
    main()
