"""Probabilistic customer linkage with Splink (Fellegi–Sunter) inside the build's DuckDB.

The model (comparisons, blocking rules, m and u probabilities) is a reviewable Splink settings
file, schemas/identity_model.json, trained without labels by `python -m pipelines.identity_model`.
Each run re-estimates only the prior (how likely two random records match), which depends on
how many records there are, from the deterministic keys; then it scores the blocked pairs of
core.customer_linkage_input and keeps those above the review threshold with each field's
comparison level, and a margin below it (MARGIN_BITS). A night that changed some records scores
only the pairs of the nodes it touched and moves the kept pairs' weights by the prior's change.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines.staging_sql import ident, literal

if TYPE_CHECKING:
    from splink import Linker

INPUT = "core.customer_linkage_input"
INPUT_VIEW = "cw_linkage_input"
# Rules that admit (almost) no false positives, used to estimate the prior on every run: two
# records with the same email, or the same phone, are taken for one person.
PRIOR_COLUMNS = ("email", "phone")
PRIOR_RULES = [f"l.{c} = r.{c}" for c in PRIOR_COLUMNS]
PRIOR_RECALL = 0.8
# Pairs are kept down to this many bits of match weight below the review threshold. A later
# night whose prior rises by less finds every pair it lifts to the threshold among them; a
# larger rise derives every score again.
MARGIN_BITS = 1.0


@dataclass(frozen=True)
class Prior:
    """The prior, and the pairs of nodes PRIOR_RULES admit that it was estimated from (None where
    not kept: a build from before they were)."""
    probability: float
    admitted: int | None


@dataclass(frozen=True)
class ScoringState:
    """What core.customer_link_scores was scored with: the identity inputs' fingerprint, the prior
    its weights include, and the weight without prior down to which every blocked pair is kept."""
    fingerprint: str
    prior: Prior
    field_cutoff: float


def _weight(probability: float) -> float:
    if probability <= 0:
        return -math.inf
    if probability >= 1:
        return math.inf
    return math.log2(probability / (1 - probability))


def read_state(con: duckdb.DuckDBPyConnection) -> ScoringState | None:
    try:
        rows = con.execute("SELECT * FROM core.customer_link_state").fetchall()
        columns = [d[0] for d in con.description]
    except duckdb.CatalogException:
        return None
    if not rows:
        return None
    row = dict(zip(columns, rows[0]))
    admitted = row.get("admitted_pairs")
    return ScoringState(row["fingerprint"], Prior(row["prior"], None if admitted is None else int(admitted)),
                        row["field_cutoff"])


def write_state(con: duckdb.DuckDBPyConnection, state: ScoringState | None) -> None:
    """Recorded once the links are complete; forgotten (None) while they are being changed."""
    con.execute("CREATE OR REPLACE TABLE core.customer_link_state "
                "(fingerprint VARCHAR, prior DOUBLE, field_cutoff DOUBLE, admitted_pairs HUGEINT)")
    if state:
        con.execute("INSERT INTO core.customer_link_state VALUES (?, ?, ?, ?)",
                    [state.fingerprint, state.prior.probability, state.field_cutoff, state.prior.admitted])


def name_records_cap(model: Path) -> int | None:
    """The count past which the model's blocking rules no longer tell name_records apart: one above
    the largest `name_records <= N` (or N for `< N`) they test. None, and every count kept, when
    a rule reads name_records in any other way."""
    rules = [r["blocking_rule"] for r in json.loads(model.read_text())["blocking_rules_to_generate_predictions"]]
    caps = []
    for rule in rules:
        tests = re.findall(r"name_records\s*(<=|<)\s*(\d+)", rule)
        if len(tests) != rule.count("name_records"):
            return None
        caps += [int(n) + 1 if op == "<=" else int(n) for op, n in tests]
    return max(caps, default=None)


def _model_settings(model: Path) -> dict:
    settings = json.loads(model.read_text())
    settings["retain_intermediate_calculation_columns"] = False
    settings["retain_matching_columns"] = True  # keeps the gamma (comparison level) columns
    return settings


def score_pairs(con: duckdb.DuckDBPyConnection, model: Path, review_threshold: float, fingerprint: str,
                prior: Prior | None = None) -> dict:
    """Write core.customer_link_scores(node_a, node_b, match_weight, match_probability, gamma_*),
    with the prior given or estimated on every node. Returns the prior, the pairs to review or
    link, and the state to record once links are complete."""
    settings = _model_settings(model)
    if con.execute(f"SELECT count(*) FROM {INPUT}").fetchall()[0][0] < 2:
        _empty_scores(con, settings)
        return {"prior": None, "pairs": 0, "state": None}
    if prior is None:
        prior = estimate_prior(con, INPUT)
    settings["probability_two_random_records_match"] = prior.probability
    con.execute(f"CREATE OR REPLACE TEMP VIEW {INPUT_VIEW} AS SELECT * FROM {INPUT}")
    from splink import DuckDBAPI, Linker  # (imported beside the first steps: pipelines/raw.py)

    linker = Linker(DuckDBAPI(connection=con).register(INPUT_VIEW), settings, log_level=logging.WARNING)
    try:
        cutoff = _weight(review_threshold) - MARGIN_BITS
        predictions = linker.inference.predict(
            threshold_match_weight=cutoff if math.isfinite(cutoff) else None, warning_mode="never")
        con.execute(f"CREATE OR REPLACE TABLE core.customer_link_scores AS {_scores_sql(linker, predictions)}")
        _write_level_labels(con, linker)
    finally:
        linker.table_management.delete_tables_created_by_splink_from_db()
        con.execute(f"DROP VIEW IF EXISTS {INPUT_VIEW}")
    return {"prior": prior.probability, "pairs": _pairs_to_review(con, review_threshold),
            "state": ScoringState(fingerprint, prior, cutoff - _weight(prior.probability))}


def _scores_sql(linker: Linker, predictions) -> str:
    """Splink's scored pairs in the shape of core.customer_link_scores."""
    gammas = ", ".join(f"gamma_{c.output_column_name}" for c in linker._settings_obj.comparisons)
    return (f"SELECT least(unique_id_l, unique_id_r) AS node_a, greatest(unique_id_l, unique_id_r) AS node_b, "
            f"match_weight, match_probability, {gammas} FROM {predictions.physical_name}")


def _pairs_to_review(con: duckdb.DuckDBPyConnection, review_threshold: float) -> int:
    return int(con.execute("SELECT count(*) FROM core.customer_link_scores WHERE match_probability >= ?",
                           [review_threshold]).fetchall()[0][0])


def _prior_terms(groups) -> str:
    """The pairs PRIOR_RULES admit, counted from group sizes by inclusion and exclusion over the
    columns: `groups(columns, not_null)` is the sum over one set of columns' groups."""
    terms = []
    for size in range(1, len(PRIOR_COLUMNS) + 1):
        for columns in itertools.combinations(PRIOR_COLUMNS, size):
            not_null = " AND ".join(f"{ident(c)} IS NOT NULL" for c in columns)
            terms.append(f"{'+' if size % 2 else '-'} ({groups(', '.join(ident(c) for c in columns), not_null)})")
    return "0 " + " ".join(terms)


def _prior(records: int, admitted: int) -> Prior:
    all_pairs = records * (records - 1) // 2
    if admitted > all_pairs * PRIOR_RECALL:
        raise ValueError(f"the prior's rules admit {admitted} of {all_pairs} pairs, more than a recall of "
                         f"{PRIOR_RECALL} allows")
    return Prior((admitted / PRIOR_RECALL) / all_pairs, admitted)


def estimate_prior(con: duckdb.DuckDBPyConnection, nodes: str) -> Prior:
    """The prior Splink's estimate_probability_two_random_records_match(PRIOR_RULES, PRIOR_RECALL)
    gives on the nodes of the relation `nodes`: the pairs some rule admits, over the rules'
    recall, over all pairs. The pairs an equal column admits are counted from the sizes of the
    column's groups instead of joined: 0.26-0.30 s against Splink's 0.5-0.8 s for 1.6M nodes, and
    the same float."""
    admitted = _prior_terms(lambda columns, not_null: (
        f"SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM (SELECT count(*) AS n FROM {nodes} "
        f"WHERE {not_null} GROUP BY {columns})"))
    [(records, pairs)] = con.execute(f"SELECT (SELECT count(*) FROM {nodes}), {admitted}").fetchall()
    return _prior(records, int(pairs))


def prior_after_changes(con: duckdb.DuckDBPyConnection, admitted_before: int) -> Prior:
    """estimate_prior on core.customer_linkage_input after a night's changes, from the pairs
    admitted before them: only the groups of the nodes that arrived (cw_nodes_arrived) or went
    (cw_nodes_gone) change size, and only their nodes are read (a count over every node took
    0.16 s at 1M orders)."""
    columns = ", ".join(ident(c) for c in PRIOR_COLUMNS)
    # a group's pairs now less its pairs before: n nodes now (none where all went), d of them moved
    admitted = _prior_terms(lambda group, not_null: f"""
        SELECT coalesce(sum(n * (n - 1) // 2 - (n - d) * (n - d - 1) // 2), 0)
        FROM (SELECT m.d, coalesce(a.n, 0) AS n
              FROM (SELECT {group}, sum(change) AS d FROM moved WHERE {not_null} GROUP BY ALL) m
              LEFT JOIN (SELECT {group}, count(*) AS n FROM now WHERE {not_null} GROUP BY ALL) a USING ({group}))""")
    [(records, moved)] = con.execute(f"""
        WITH moved AS MATERIALIZED (
            SELECT {columns}, 1 AS change FROM cw_nodes_arrived
            UNION ALL
            SELECT {columns}, -1 FROM cw_nodes_gone
        ),
        now AS MATERIALIZED (
            SELECT {columns} FROM {INPUT}
            WHERE {" OR ".join(f"{ident(c)} IN (SELECT {ident(c)} FROM moved)" for c in PRIOR_COLUMNS)}
        )
        SELECT (SELECT count(*) FROM {INPUT}), {admitted}""").fetchall()
    return _prior(records, admitted_before + int(moved))


def prior_within_margin(state: ScoringState, prior: Prior, review_threshold: float) -> bool:
    """Whether the pairs kept under `state` hold every pair that `prior` lifts to the review threshold."""
    return state.field_cutoff + _weight(prior.probability) <= _weight(review_threshold)


NEIGHBOURHOOD = "cw_touched_neighbourhood"
# the nodes' count of nodes sharing their full name, before tonight's changes
INPUT_BEFORE = ("(SELECT i.* REPLACE (coalesce(c.name_records_before, i.name_records) AS name_records) "
                f"FROM {INPUT} i LEFT JOIN cw_renamed c USING (unique_id))")


def _pairs_sql(rules: list[str], touched: str, other: str = INPUT) -> str:
    """The pairs the rules admit with a node of `touched`, in the orientation Splink pairs them."""
    return "\nUNION\n".join(
        f"SELECT l.unique_id AS node_a, r.unique_id AS node_b FROM {left} l JOIN {right} r "
        f"ON ({rule}) AND l.unique_id < r.unique_id"
        for rule in rules for left, right in ((touched, other), (other, touched)))


def _partners_sql(rules: list[str], touched: str) -> str:
    """The pairs the rules admit with a node of `touched`, either way round: their nodes are those
    of _pairs_sql. A symmetric rule needs one join (a node with any other) instead of one per
    orientation, each a scan of every node."""
    return "\nUNION\n".join(
        f"SELECT l.unique_id AS node_a, r.unique_id AS node_b FROM {touched} l JOIN {INPUT} r "
        f"ON ({rule}) AND l.unique_id <> r.unique_id" if symmetric(rule) else _pairs_sql([rule], touched)
        for rule in rules)


# functions whose two arguments may change places without changing the result (as sqlglot names
# those it knows, and by their own name those it does not)
_SYMMETRIC_FUNCTIONS = {"levenshtein", "jarowinklersimilarity", "damerau_levenshtein", "jaro_similarity",
                        "jaro_winkler_similarity", "hamming", "jaccard"}


def _canonical(node) -> str:
    """A text of an expression that is the same for expressions that differ only in the order of
    AND and OR terms, of the sides of = and <>, and of a symmetric function's arguments."""
    from sqlglot import exp

    if isinstance(node, list):
        return "[" + ",".join(_canonical(n) for n in node) + "]"
    if not isinstance(node, exp.Expression):
        return repr(node)
    if isinstance(node, exp.Paren):
        return _canonical(node.this)
    if isinstance(node, (exp.And, exp.Or)):
        terms = list(node.flatten())
        return f"{node.key}{{{','.join(sorted(_canonical(t) for t in terms))}}}"
    args = {k: v for k, v in node.args.items() if v is not None and v != []}
    if isinstance(node, exp.Anonymous):
        name, operands = node.name.lower(), node.expressions
    else:
        name, operands = node.key, [args.get("this"), args.get("expression")]
    if len(operands) == 2 and len(args) == 2 and (
            isinstance(node, (exp.EQ, exp.NEQ, exp.NullSafeEQ, exp.NullSafeNEQ)) or name in _SYMMETRIC_FUNCTIONS):
        return f"{name}{{{','.join(sorted(_canonical(v) for v in operands))}}}"
    return f"{name}({','.join(f'{k}:{_canonical(v)}' for k, v in sorted(args.items()))})"


def symmetric(rule: str) -> bool:
    """Whether a blocking rule admits l = a, r = b exactly when it admits l = b, r = a: the rule
    with l and r exchanged reads the same up to _canonical. False where that is not shown."""
    import sqlglot
    from sqlglot import exp

    try:
        condition = sqlglot.parse_one(rule, read="duckdb")
    except sqlglot.errors.ParseError:
        return False
    exchanged = condition.copy()
    for column in exchanged.find_all(exp.Column):
        if column.table in ("l", "r"):
            column.set("table", exp.to_identifier("r" if column.table == "l" else "l"))
    return _canonical(condition) == _canonical(exchanged)


def score_touched_pairs(con: duckdb.DuckDBPyConnection, model: Path, review_threshold: float,
                        state: ScoringState, prior: Prior) -> dict:
    """Update core.customer_link_scores for a night that changed some records. Every pair of a
    node in cw_touched_nodes is scored again (the node, its id or its key group is new). A node
    whose shared-name count moved (cw_renamed) keeps its pairs but those a rule on that count
    admitted before or admits now, which are scored again if a rule still admits them. Every
    other kept pair's weight moves by the change of the prior."""
    settings = _model_settings(model)
    settings["probability_two_random_records_match"] = prior.probability
    rules = [r["blocking_rule"] for r in settings["blocking_rules_to_generate_predictions"]]
    count_rules = [rule for rule in rules if "name_records" in rule]
    con.execute(f"CREATE OR REPLACE TEMP TABLE cw_touched_input AS SELECT * FROM {INPUT} "
                "WHERE unique_id IN (SELECT unique_id FROM cw_touched_nodes)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE cw_renamed_input AS SELECT * FROM {INPUT} "
                "WHERE unique_id IN (SELECT unique_id FROM cw_renamed EXCEPT SELECT unique_id FROM cw_touched_nodes)")
    renamed_before = f"(SELECT * FROM {INPUT_BEFORE} WHERE unique_id IN (SELECT unique_id FROM cw_renamed_input))"
    renamed_pairs = (_pairs_sql(count_rules, "cw_renamed_input") + "\nUNION\n"
                     + _pairs_sql(count_rules, renamed_before, INPUT_BEFORE)
                     if count_rules else "SELECT NULL::BIGINT AS node_a, NULL::BIGINT AS node_b LIMIT 0")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cw_rescored_pairs AS
        WITH renamed AS ({renamed_pairs})
        SELECT * FROM renamed
        WHERE node_a NOT IN (SELECT unique_id FROM cw_touched_nodes) AND node_b NOT IN (SELECT unique_id FROM cw_touched_nodes)""")
    con.execute("""
        DELETE FROM core.customer_link_scores
        WHERE node_a IN (SELECT unique_id FROM cw_touched_nodes) OR node_b IN (SELECT unique_id FROM cw_touched_nodes)
           OR (node_a, node_b) IN (SELECT (node_a, node_b) FROM cw_rescored_pairs)""")
    shift = _weight(prior.probability) - _weight(state.prior.probability)
    if shift:
        con.execute("UPDATE core.customer_link_scores SET match_weight = match_weight + ?, "
                    "match_probability = 1 / (1 + pow(2, -(match_weight + ?)))", [shift, shift])
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {NEIGHBOURHOOD} AS
        WITH candidates AS ({_partners_sql(rules, 'cw_touched_input')} UNION SELECT * FROM cw_rescored_pairs),
        nodes AS (SELECT node_a AS unique_id FROM candidates UNION SELECT node_b FROM candidates)
        SELECT i.*, i.unique_id IN (SELECT unique_id FROM cw_touched_nodes) AS touched,
               i.unique_id IN (SELECT node_a FROM cw_rescored_pairs UNION SELECT node_b FROM cw_rescored_pairs) AS rescored
        FROM {INPUT} i
        WHERE i.unique_id IN (SELECT unique_id FROM nodes)""")
    settings["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": f"({rule}) AND (l.touched OR r.touched OR (l.rescored AND r.rescored))", "sql_dialect": "duckdb"}
        for rule in rules]
    cutoff = state.field_cutoff + _weight(prior.probability)
    if con.execute(f"SELECT count(*) FROM {NEIGHBOURHOOD}").fetchall()[0][0] >= 2:
        from splink import DuckDBAPI, Linker  # (imported beside the first steps: pipelines/raw.py)

        linker = Linker(DuckDBAPI(connection=con).register(NEIGHBOURHOOD), settings, log_level=logging.WARNING)
        try:
            predictions = linker.inference.predict(
                threshold_match_weight=cutoff if math.isfinite(cutoff) else None, warning_mode="never")
            # of two renamed nodes, only the pairs whose admission may have changed: the others are kept
            con.execute(f"""
                INSERT INTO core.customer_link_scores
                SELECT * FROM ({_scores_sql(linker, predictions)})
                WHERE node_a IN (SELECT unique_id FROM cw_touched_nodes)
                   OR node_b IN (SELECT unique_id FROM cw_touched_nodes)
                   OR (node_a, node_b) IN (SELECT (node_a, node_b) FROM cw_rescored_pairs)""")
        finally:
            linker.table_management.delete_tables_created_by_splink_from_db()
    return {"prior": prior.probability, "pairs": _pairs_to_review(con, review_threshold),
            "state": ScoringState(state.fingerprint, prior, state.field_cutoff)}


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
    """core.customer_link_evidence: every pair scored at or above the review threshold with each
    field's comparison level and label, what became of it, and a one-line 'why';
    quality.identity_review: the borderline pairs."""
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
  ON least(o.record_a, o.record_b) = s.node_a AND greatest(o.record_a, o.record_b) = s.node_b
-- pairs kept below the review threshold only serve a later night's scoring
WHERE s.match_probability >= getvariable('review_threshold');

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
