"""Splink's own default pipeline on the records the identity step links: the comparator for it.

    .venv/bin/python -m benchmarks.splink_default --build PATH/crosswalk_build.duckdb --truth DIR \
        [--threshold 0.95] [--json]

What a competent user following Splink's tutorial would build on core.customer_records of a
finished build: minimal cleaning, the comparison library's out-of-the-box comparisons, the
documented training sequence (prior from deterministic rules, u by random sampling, m by
expectation maximisation on two blocking rules), prediction and connected-components clustering,
all in DuckDB. The build is copied to a temporary directory first and only the copy is read.

Scored against the generator's truth (DIR/record_identity.csv) with the same pairwise definition
as benchmarks/identity_benchmark.py; a record Splink leaves unclustered is a customer of its own.
Timed: reading the records to clusters (total), and training + prediction + clustering (splink);
the blocked-pair count (Splink's blocking analysis) and the scoring are outside the timings.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from benchmarks.identity_benchmark import PAIRWISE

# Tutorial-style minimal cleaning. Postcodes are put in the usual UK form (one space before the
# inward code) because PostcodeComparison's sector level matches on that space.
INPUT_SQL = r"""
CREATE TABLE splink_input AS
SELECT record_id AS unique_id,
       nullif(lower(trim(first_name)), '') AS first_name,
       nullif(lower(trim(last_name)), '') AS last_name,
       nullif(lower(trim(email)), '') AS email,
       nullif(trim(phone), '') AS phone,
       nullif(lower(trim(city)), '') AS city,
       nullif(regexp_replace(upper(replace(postcode, ' ', '')), '^(.+)([0-9][A-Z]{2})$', '\1 \2'), '') AS postcode
FROM build.core.customer_records
"""

BLOCKING_RULES = [
    block_on("email"),
    block_on("phone"),
    block_on("first_name", "last_name"),
    block_on("last_name", "postcode"),
]


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("last_name"),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
    )


def link(con: duckdb.DuckDBPyConnection, threshold: float) -> dict:
    """Splink's default workflow, timed; the clusters (unique_id, cluster_id) are left in clusters_table."""
    started = time.monotonic()
    con.execute(INPUT_SQL)
    records = con.execute("SELECT count(*) FROM splink_input").fetchall()[0][0]
    read = time.monotonic()
    records_df = DuckDBAPI(connection=con).register("splink_input")
    linker = Linker(records_df, settings(), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match([block_on("email"), block_on("phone")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=7)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "last_name"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    # kept pairs counted at the identity step's review threshold (0.5), for comparison with its scored_pairs
    predictions = linker.inference.predict(threshold_match_probability=min(0.5, threshold))
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold)
    finished = time.monotonic()
    blocked = count_comparisons_from_blocking_rules(records_df, blocking_rules=BLOCKING_RULES,
                                                    link_type="dedupe_only", record_sample_proportion=1.0)
    return {"records": records,
            "blocked_pairs": {r["blocking_rule"]: r["marginal_comparison_count"] for r in blocked},
            "predicted_pairs": con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()[0][0],
            "clusters_table": clusters.physical_name,
            "splink_seconds": finished - read, "total_seconds": finished - started}


def evaluate(con: duckdb.DuckDBPyConnection, clusters_table: str, truth: Path) -> dict:
    scores = con.execute(PAIRWISE.format(joined=f"""
        SELECT coalesce(c.cluster_id::VARCHAR, 'record:' || r.record_id) AS predicted, t.person_id AS actual
        FROM read_csv('{truth / "record_identity.csv"}') t
        JOIN build.core.customer_records r USING (source_system, source_file, source_row)
        LEFT JOIN {clusters_table} c ON c.unique_id = r.record_id""")).fetchall()[0]
    return dict(zip(["precision", "recall", "f1", "exact_share", "scored_records"], scores))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.splink_default", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, required=True, help="a finished build (crosswalk_build.duckdb)")
    parser.add_argument("--truth", type=Path, required=True, help="the generator's truth directory")
    parser.add_argument("--threshold", type=float, default=0.95, help="match probability to cluster at")
    parser.add_argument("--json", action="store_true", help="print a JSON dict instead of a line")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="splink-default-") as tmp:
        copy = Path(tmp) / args.build.name
        shutil.copyfile(args.build, copy)
        if args.build.with_name(args.build.name + ".wal").exists():
            shutil.copyfile(args.build.with_name(args.build.name + ".wal"), copy.with_name(copy.name + ".wal"))
        con = duckdb.connect()  # Splink's working tables stay in memory
        con.execute(f"ATTACH '{copy}' AS build")
        result = link(con, args.threshold)
        result.update(evaluate(con, result.pop("clusters_table"), args.truth))
        con.close()
    result["threshold"] = args.threshold
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps(result, default=float))
        return
    print(f"records {result['records']:,}  blocked pairs {sum(result['blocked_pairs'].values()):,}  "
          f"predicted pairs {result['predicted_pairs']:,}  precision {result['precision']:.4f}  "
          f"recall {result['recall']:.4f}  F1 {result['f1']:.4f}  exact {result['exact_share']:.3f}  "
          f"wall {result['splink_seconds']:.1f} s splink / {result['total_seconds']:.1f} s total  "
          f"peak {result['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
