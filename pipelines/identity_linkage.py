"""Probabilistic customer linkage with Splink (Fellegi–Sunter) inside the build's DuckDB.

The model (comparisons, blocking rules, m and u probabilities) is a reviewable Splink settings
file, schemas/identity_model.json, trained without labels by `python -m pipelines.identity_model`.
Each run re-estimates only the prior (how likely two random records match), which depends on
how many records there are, from the deterministic keys; then it scores the blocked pairs of
core.customer_linkage_input and keeps those above the review threshold with each field's
comparison level.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
from splink import DuckDBAPI, Linker

from pipelines.staging_sql import literal

INPUT_VIEW = "cw_linkage_input"
# Rules that admit (almost) no false positives, used to estimate the prior on every run.
PRIOR_RULES = ["l.email = r.email", "l.phone = r.phone"]
PRIOR_RECALL = 0.8


def _model_settings(model: Path) -> dict:
    settings = json.loads(model.read_text())
    settings["retain_intermediate_calculation_columns"] = False
    settings["retain_matching_columns"] = True  # keeps the gamma (comparison level) columns
    return settings


def score_pairs(con: duckdb.DuckDBPyConnection, model: Path, review_threshold: float) -> dict:
    """Write core.customer_link_scores(node_a, node_b, match_weight, match_probability, gamma_*)."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW {INPUT_VIEW} AS SELECT * FROM core.customer_linkage_input")
    n = con.execute(f"SELECT count(*) FROM {INPUT_VIEW}").fetchall()[0][0]
    settings = _model_settings(model)
    if n < 2:
        _empty_scores(con, settings)
        return {"prior": None, "pairs": 0}
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register(INPUT_VIEW), settings, log_level=logging.WARNING)
    try:
        linker.training.estimate_probability_two_random_records_match(PRIOR_RULES, recall=PRIOR_RECALL)
        prior = linker._settings_obj._probability_two_random_records_match
        predictions = linker.inference.predict(threshold_match_probability=review_threshold, warning_mode="never")
        gammas = [f"gamma_{c.output_column_name}" for c in linker._settings_obj.comparisons]
        con.execute(f"""
            CREATE OR REPLACE TABLE core.customer_link_scores AS
            SELECT least(unique_id_l, unique_id_r) AS node_a, greatest(unique_id_l, unique_id_r) AS node_b,
                   match_weight, match_probability, {", ".join(gammas)}
            FROM {predictions.physical_name}""")
        _write_level_labels(con, linker)
        pairs = con.execute("SELECT count(*) FROM core.customer_link_scores").fetchall()[0][0]
    finally:
        linker.table_management.delete_tables_created_by_splink_from_db()
        con.execute(f"DROP VIEW IF EXISTS {INPUT_VIEW}")
    return {"prior": float(prior), "pairs": int(pairs)}


def _write_level_labels(con: duckdb.DuckDBPyConnection, linker: Linker) -> None:
    """core.customer_link_levels(field, level, label, bayes_factor): what each gamma value means."""
    rows = []
    for comparison in linker._settings_obj.comparisons:
        for level in comparison.comparison_levels:
            bf = None if level.is_null_level else level._bayes_factor
            rows.append(f"({literal(comparison.output_column_name)}, {int(level.comparison_vector_value)}, "
                        f"{literal(level.label_for_charts)}, {'NULL' if bf is None else repr(float(bf))})")
    con.execute("CREATE OR REPLACE TABLE core.customer_link_levels AS SELECT * FROM (VALUES "
                + ", ".join(rows) + ") AS t(field, level, label, bayes_factor)")


def _empty_scores(con: duckdb.DuckDBPyConnection, settings: dict) -> None:
    gammas = ", ".join(f"NULL::INTEGER AS gamma_{c['output_column_name']}" for c in settings["comparisons"])
    con.execute("CREATE OR REPLACE TABLE core.customer_link_scores AS SELECT NULL::BIGINT AS node_a, "
                f"NULL::BIGINT AS node_b, NULL::DOUBLE AS match_weight, NULL::DOUBLE AS match_probability, {gammas} "
                "LIMIT 0")
    con.execute("CREATE OR REPLACE TABLE core.customer_link_levels AS SELECT NULL::VARCHAR AS field, "
                "NULL::INTEGER AS level, NULL::VARCHAR AS label, NULL::DOUBLE AS bayes_factor LIMIT 0")


def comparison_fields(model: Path) -> list[str]:
    return [c["output_column_name"] for c in json.loads(model.read_text())["comparisons"]]


def evidence_sql(fields: list[str]) -> str:
    """core.customer_link_evidence: every scored pair with each field's comparison level and label,
    what became of it, and a one-line 'why'; quality.identity_review: the borderline pairs."""
    level_cols, label_joins, why = [], [], []
    for i, field in enumerate(fields):
        level_cols.append(f"s.gamma_{field} AS {field}_level, l{i}.label AS {field}_agreement")
        label_joins.append(f"LEFT JOIN core.customer_link_levels l{i} ON l{i}.field = {literal(field)} "
                           f"AND l{i}.level = s.gamma_{field}")
        why.append(f"CASE WHEN s.gamma_{field} >= 0 THEN {literal(field)} || ': ' || l{i}.label END")
    return f"""
CREATE OR REPLACE TABLE core.customer_link_evidence AS
SELECT s.node_a AS record_a, s.node_b AS record_b,
       ra.source_file AS source_file_a, ra.source_row AS source_row_a,
       rb.source_file AS source_file_b, rb.source_row AS source_row_b,
       s.match_weight, s.match_probability,
       CASE WHEN e.dropped_reason IS NOT NULL THEN 'dropped: ' || e.dropped_reason
            WHEN e.rule IS NOT NULL THEN 'linked'
            WHEN o.decision = 'cannot_link' THEN 'cannot_link override'
            WHEN s.match_probability >= getvariable('match_threshold') THEN 'linked'
            ELSE 'review' END AS outcome,
       concat_ws('; ', {", ".join(why)}) AS why,
       {", ".join(level_cols)}
FROM core.customer_link_scores s
JOIN core.customer_records ra ON ra.record_id = s.node_a
JOIN core.customer_records rb ON rb.record_id = s.node_b
{" ".join(label_joins)}
LEFT JOIN core.customer_edges e ON e.rule = 'probabilistic' AND e.record_a = s.node_a AND e.record_b = s.node_b
LEFT JOIN core.customer_overrides o
  ON least(o.record_a, o.record_b) = s.node_a AND greatest(o.record_a, o.record_b) = s.node_b;

CREATE OR REPLACE TABLE quality.identity_review AS
SELECT v.source_file_a, v.source_row_a, v.source_file_b, v.source_row_b, '' AS decision,
       round(v.match_probability, 4) AS match_probability, v.why,
       concat_ws(' ', ra.first_name, ra.last_name) AS name_a, concat_ws(' ', rb.first_name, rb.last_name) AS name_b,
       ra.email AS email_a, rb.email AS email_b, ra.phone AS phone_a, rb.phone AS phone_b,
       ra.postcode AS postcode_a, rb.postcode AS postcode_b, ka.customer_key AS customer_key_a, kb.customer_key AS customer_key_b
FROM core.customer_link_evidence v
JOIN core.customer_records ra ON ra.record_id = v.record_a
JOIN core.customer_records rb ON rb.record_id = v.record_b
JOIN core.customer_identity_map ka ON ka.record_id = v.record_a
JOIN core.customer_identity_map kb ON kb.record_id = v.record_b
WHERE v.outcome = 'review' AND ka.customer_key <> kb.customer_key
  AND NOT EXISTS (SELECT 1 FROM core.customer_overrides o
                  WHERE least(o.record_a, o.record_b) = v.record_a AND greatest(o.record_a, o.record_b) = v.record_b)
ORDER BY v.match_probability DESC, v.source_file_a, v.source_row_a;
"""
