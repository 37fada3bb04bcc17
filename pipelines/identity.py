"""Identity reconciliation control: the identity settings, order-reference patterns, and
customer clustering.

The set logic lives in sql/core/*.sql; this module reads schemas/identity.yaml, builds the
reference-matching SQL from it, sets the customer-matching rules as SQL variables and macros,
and finds connected components with scipy (honouring cannot-link decisions and the cluster cap).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from connectors.files import content_fingerprint
from connectors.profiles import SCHEMAS_DIR, ProfileError, load_entities
from connectors.yaml_files import read_yaml
from pipelines import identity_linkage, record_places, unpublished
from pipelines.changed_rows import bind_scope, write_changed_rows
from pipelines.identity_linkage import (comparison_fields, estimate_prior, evidence_sql, prior_after_changes,
                                        prior_within_margin, read_state, score_pairs, score_touched_pairs,
                                        write_state)
from pipelines.metadata import column_names
from pipelines.per_customer import CUSTOMERS_QUEUE, queue_everyone
from pipelines.sql_assets import SQL_DIR, read_sql, run_sql, run_sql_files
from pipelines.staging_sql import ident, literal
from pipelines.unpublished import queue_every_row

SYSTEM_OF_ENTITY = {
    "crm_sales_orders": "crm",
    "inventory_shipments": "inventory",
    "support_tickets": "support",
}


@dataclass(frozen=True)
class ReferencePattern:
    field: str
    pattern: str


@dataclass(frozen=True)
class ExcludedKeys:
    generic_mailboxes: tuple[str, ...]
    placeholder_emails: tuple[str, ...]
    placeholder_phones: tuple[str, ...]
    placeholder_names: tuple[str, ...]


@dataclass(frozen=True)
class CustomerSettings:
    excluded_keys: ExcludedKeys
    nicknames: Path
    model: Path
    match_threshold: float
    review_threshold: float
    max_cluster_size: int
    overrides_dir: Path


@dataclass(frozen=True)
class OrderFallback:
    """Shipments that name no usable order: matched to their customer's order by date and quantity."""
    enabled: bool
    max_days: int


@dataclass(frozen=True)
class IdentitySettings:
    order_references: dict[str, tuple[ReferencePattern, ...]]
    source_priority: tuple[str, ...]
    customers: CustomerSettings
    order_fallback: OrderFallback


@cache
def load_identity_settings(path: Path = SCHEMAS_DIR / "identity.yaml") -> IdentitySettings:
    doc = read_yaml(path) or {}
    entities = load_entities()
    references = {}
    for entity, patterns in (doc.get("order_references") or {}).items():
        where = f"{path}: order_references.{entity}"
        if entity not in SYSTEM_OF_ENTITY:
            raise ProfileError(f"{where}: order references are read from {sorted(SYSTEM_OF_ENTITY)}")
        parsed = []
        for i, item in enumerate(patterns or []):
            field, pattern = item.get("field"), item.get("pattern")
            if field not in entities[entity].fields:
                raise ProfileError(f"{where}[{i}].field: '{field}' is not a field of {entity}")
            try:
                if re.compile(pattern.replace("(?i)", "")).groups < 1:
                    raise ProfileError(f"{where}[{i}].pattern: needs a capture group for the order number")
            except re.error as exc:
                raise ProfileError(f"{where}[{i}].pattern: not a regular expression ({exc})") from None
            parsed.append(ReferencePattern(field, pattern))
        references[entity] = tuple(parsed)
    priority = tuple((doc.get("survivorship") or {}).get("source_priority") or ("crm", "marketing", "inventory", "support"))
    customers = _customer_settings(doc.get("customers") or {}, path)
    fallback = doc.get("order_fallback") or {}
    order_fallback = OrderFallback(
        enabled=bool(fallback.get("enabled", True)),
        max_days=_number(fallback, "max_days", 14, f"{path}: order_fallback", int, 0, 365),
    )
    return IdentitySettings(references, priority, customers, order_fallback)


def _number(doc: dict, key: str, default, where: str, kind, low, high):
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ProfileError(f"{where}.{key}: expected a number between {low} and {high}, got {value!r}")
    return kind(value)


def _strings(doc: dict, key: str, where: str, regex: bool = False) -> tuple[str, ...]:
    values = doc.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ProfileError(f"{where}.{key}: expected a list of strings")
    for i, value in enumerate(values):
        if regex:
            try:
                re.compile(value)
            except re.error as exc:
                raise ProfileError(f"{where}.{key}[{i}]: not a regular expression ({exc})") from None
    return tuple(v.lower() for v in values) if not regex else tuple(values)


def _customer_settings(doc: dict, path: Path) -> CustomerSettings:
    where = f"{path}: customers"
    excluded = doc.get("excluded_keys") or {}
    keys = ExcludedKeys(
        generic_mailboxes=_strings(excluded, "generic_mailboxes", f"{where}.excluded_keys"),
        placeholder_emails=_strings(excluded, "placeholder_emails", f"{where}.excluded_keys", regex=True),
        placeholder_phones=_strings(excluded, "placeholder_phones", f"{where}.excluded_keys", regex=True),
        placeholder_names=_strings(excluded, "placeholder_names", f"{where}.excluded_keys"),
    )
    files = {}
    for key, default in [("nicknames", "identity_nicknames.csv"), ("model", "identity_model.json"),
                         ("overrides_dir", "identity_overrides")]:
        files[key] = path.parent / str(doc.get(key) or default)
        if key != "overrides_dir" and not files[key].is_file():
            raise ProfileError(f"{where}.{key}: no such file {files[key]}")
    match = _number(doc, "match_threshold", 0.95, where, float, 0, 1)
    review = _number(doc, "review_threshold", 0.5, where, float, 0, 1)
    if review > match:
        raise ProfileError(f"{where}.review_threshold: {review} is above match_threshold {match}")
    return CustomerSettings(
        excluded_keys=keys, nicknames=files["nicknames"], model=files["model"], match_threshold=match,
        review_threshold=review, max_cluster_size=_number(doc, "max_cluster_size", 500, where, int, 2, 10**9),
        overrides_dir=files["overrides_dir"],
    )


def prepare_customer_matching(con: duckdb.DuckDBPyConnection, settings: CustomerSettings) -> None:
    """The exclusion lists as SQL macros (cw_usable_email/phone/name), the nickname table, and the
    thresholds and name count cap as SQL variables."""
    keys = settings.excluded_keys
    con.execute("SET VARIABLE generic_mailboxes = ?", [list(keys.generic_mailboxes) or [""]])
    # one alternation per list: a single regexp_matches per value instead of one per pattern
    con.execute("SET VARIABLE placeholder_emails = ?", ["|".join(f"(?:{p})" for p in keys.placeholder_emails) or "^$"])
    con.execute("SET VARIABLE placeholder_phones = ?", ["|".join(f"(?:{p})" for p in keys.placeholder_phones) or "^$"])
    con.execute("SET VARIABLE placeholder_names = ?", [list(keys.placeholder_names) or [""]])
    con.execute("SET VARIABLE match_threshold = ?", [settings.match_threshold])
    con.execute("SET VARIABLE review_threshold = ?", [settings.review_threshold])
    con.execute("SET VARIABLE name_records_cap = ?::BIGINT", [identity_linkage.name_records_cap(settings.model)])
    # orders2@ and sales-team@ are as shared as orders@
    con.execute("""
        CREATE OR REPLACE TEMP MACRO cw_is_shared_mailbox(e) AS list_contains(
            getvariable('generic_mailboxes'), regexp_replace(split_part(e, '@', 1), '[0-9._-]+$', ''))""")
    con.execute("""
        CREATE OR REPLACE TEMP MACRO cw_usable_email(e) AS CASE
            WHEN e IS NULL OR cw_is_shared_mailbox(e)
                 OR regexp_matches(e, getvariable('placeholder_emails'))
            THEN NULL ELSE e END""")
    con.execute("""
        CREATE OR REPLACE TEMP MACRO cw_usable_phone(v) AS CASE
            WHEN v IS NULL OR regexp_matches(v, getvariable('placeholder_phones'))
            THEN NULL ELSE v END""")
    con.execute("""
        CREATE OR REPLACE TEMP MACRO cw_usable_name(n) AS CASE
            WHEN nullif(trim(n), '') IS NULL OR list_contains(getvariable('placeholder_names'), lower(trim(n)))
            THEN NULL ELSE trim(n) END""")
    con.execute("CREATE OR REPLACE TEMP TABLE cw_nicknames AS "
                "SELECT DISTINCT lower(trim(name)) AS name, lower(trim(canonical)) AS canonical "
                "FROM read_csv(?, header = true, all_varchar = true)", [str(settings.nicknames)])


def order_references_sql(settings: IdentitySettings) -> str:
    """One row per staged record that may name an order: the text, the number found and the rule.
    It reads the views cw_staged_<entity> (pipelines/record_places.py)."""
    selects = []
    for entity, patterns in settings.order_references.items():
        attempts = [
            (f"nullif(regexp_extract({ident(p.field)}, {literal(p.pattern)}, 1), '')", f"{p.field} ~ {p.pattern}")
            for p in patterns
        ]
        number = "coalesce(" + ", ".join(a for a, _ in attempts) + ")"
        rule = "CASE " + " ".join(f"WHEN {a} IS NOT NULL THEN {literal(r)}" for a, r in attempts) + " END"
        source_text = "coalesce(" + ", ".join(dict.fromkeys(ident(p.field) for p in patterns)) + ")"
        selects.append(
            f"SELECT {literal(SYSTEM_OF_ENTITY[entity])} AS source_system, {literal(entity)} AS entity, "
            f"source_file, source_row, {source_text} AS source_order_ref, "
            f"CAST(TRY_CAST({number} AS BIGINT) AS VARCHAR) AS order_number, {rule} AS match_rule "
            f"FROM cw_staged_{entity}"
        )
    return "\nUNION ALL\n".join(selects)


# The orders that exist: numbers the CRM or the fulfilment tool knows. Support tickets may
# reference an order, but a reference alone does not make one.
ORDER_NUMBERS_SQL = """SELECT DISTINCT order_number FROM core.order_references
                       WHERE entity IN ('crm_sales_orders', 'inventory_shipments') AND order_number IS NOT NULL"""


def write_order_references(con: duckdb.DuckDBPyConnection, settings: IdentitySettings, rebuild: bool) -> str:
    """core.order_references and core.order_numbers: the references derived whole, or on a night
    with the same patterns only at the places whose staged record changed (and the numbers they
    named before or name now); says which."""
    # the patterns and the code that reads them: either changed, every reference may differ
    fingerprint = content_fingerprint([Path(__file__)], repr(sorted(settings.order_references.items())))
    scoped = not rebuild and record_places.reference_scope(con, fingerprint)
    record_places.staged_views(con, "cw_reference_places" if scoped else None)
    derived = order_references_sql(settings)
    if scoped:
        at_places = ("(entity, source_file, source_row) IN "
                     "(SELECT entity, source_file, source_row FROM cw_reference_places)")
        # the order numbers named there before and after: the order map derives their places again
        touched = f"SELECT order_number FROM core.order_references WHERE {at_places} AND order_number IS NOT NULL"
        known_touched = ("SELECT order_number FROM core.order_numbers "
                         "WHERE order_number IN (SELECT order_number FROM cw_numbers_touched)")
        writes = [f"CREATE OR REPLACE TEMP TABLE cw_numbers_touched AS {touched}",
                  f"DELETE FROM core.order_references WHERE {at_places}", f"INSERT INTO core.order_references {derived}",
                  f"INSERT INTO cw_numbers_touched {touched}",
                  # only a touched number can have come or gone (0.23-0.31 s to derive them all at 1M orders)
                  f"CREATE OR REPLACE TEMP TABLE cw_numbers_before AS {known_touched}",
                  "DELETE FROM core.order_numbers WHERE order_number IN (SELECT order_number FROM cw_numbers_touched)",
                  f"INSERT INTO core.order_numbers {ORDER_NUMBERS_SQL} "
                  "AND order_number IN (SELECT order_number FROM cw_numbers_touched)",
                  # the numbers that became known or unknown: the records naming them are derived again
                  f"""CREATE OR REPLACE TEMP TABLE cw_numbers_moved AS
                      ({known_touched} EXCEPT SELECT order_number FROM cw_numbers_before)
                      UNION ALL
                      (SELECT order_number FROM cw_numbers_before EXCEPT {known_touched})"""]
    else:
        writes = [f"CREATE OR REPLACE TABLE core.order_references AS {derived}",
                  f"CREATE OR REPLACE TABLE core.order_numbers AS {ORDER_NUMBERS_SQL}"]
    run_sql(con, *writes, *record_places.references_written_sql(con, fingerprint, scoped))
    if not scoped:
        return "derived whole"
    return f"{con.execute('SELECT count(*) FROM cw_reference_places').fetchall()[0][0]} places derived again"


OVERRIDE_COLUMNS = ("source_file_a", "source_row_a", "source_file_b", "source_row_b", "decision")
DECISIONS = ("must_link", "cannot_link")


def read_overrides(directory: Path) -> pd.DataFrame:
    """Every analyst decision in <directory>/*.csv; rows with an empty decision are skipped."""
    rows = []
    for path in sorted(directory.glob("*.csv")) if directory.is_dir() else []:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in OVERRIDE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ProfileError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(OVERRIDE_COLUMNS)}")
            for line, row in enumerate(reader, start=1):
                decision = (row["decision"] or "").strip().lower()
                if not decision:
                    continue
                if decision not in DECISIONS:
                    raise ProfileError(f"{path}: row {line}, column decision: '{row['decision']}' is not one of {', '.join(DECISIONS)}")
                for side in ("a", "b"):
                    value = (row[f"source_row_{side}"] or "").strip()
                    if not value.isdigit():
                        raise ProfileError(f"{path}: row {line}, column source_row_{side}: '{value}' is not a row number")
                rows.append({"source_file_a": row["source_file_a"].strip(), "source_row_a": int(row["source_row_a"]),
                             "source_file_b": row["source_file_b"].strip(), "source_row_b": int(row["source_row_b"]),
                             "decision": decision, "override_file": path.name, "override_row": line})
    return pd.DataFrame(rows, columns=[*OVERRIDE_COLUMNS, "override_file", "override_row"]).astype(
        {"source_row_a": "int64", "source_row_b": "int64", "override_row": "int64"})


def load_overrides(con: duckdb.DuckDBPyConnection, directory: Path) -> int:
    """core.customer_overrides(record_a, record_b, decision, ...); returns decisions naming no record."""
    decisions = read_overrides(directory)
    con.register("cw_override_rows", decisions)
    con.execute("""
        CREATE OR REPLACE TABLE core.customer_overrides AS
        SELECT a.record_id AS record_a, b.record_id AS record_b, o.*
        FROM cw_override_rows o
        LEFT JOIN core.customer_records a ON a.source_file = o.source_file_a AND a.source_row = o.source_row_a
        LEFT JOIN core.customer_records b ON b.source_file = o.source_file_b AND b.source_row = o.source_row_b""")
    con.unregister("cw_override_rows")
    # DuckDB answers a DELETE with the number of rows it removed
    unknown = con.execute("DELETE FROM core.customer_overrides WHERE record_a IS NULL OR record_b IS NULL").fetchone()[0]
    return int(unknown)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix  # (imported beside the first steps: pipelines/raw.py)
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _graph_nodes(con: duckdb.DuckDBPyConnection, scope: str | None):
    """(ids, node_ids, node_of): the record ids to label, the graph's nodes (as record ids) and a
    function giving the node of record ids. On a whole build every id up to the largest is a node
    (ids skip the numbers of rows rejected in staging), so a record's node is its id - 1; on a
    night, the records of the scope table, sorted."""
    if scope is None:
        ids = np.asarray(con.execute("SELECT record_id FROM core.customer_records").fetchnumpy()["record_id"],
                         dtype=np.int64)
        node_ids = np.arange(1, int(ids.max()) + 1 if len(ids) else 1, dtype=np.int64)
        return ids, node_ids, lambda records: np.asarray(records, dtype=np.int64) - 1
    ids = np.sort(np.asarray(con.execute(f"SELECT record_id FROM {scope}").fetchnumpy()["record_id"], dtype=np.int64))
    return ids, ids, lambda records: np.searchsorted(ids, np.asarray(records, dtype=np.int64))


def _first_ids(labels: np.ndarray, node_ids: np.ndarray) -> np.ndarray:
    """Each node's component named by its smallest record id: the same name whichever part of the
    graph the components were found in."""
    first = np.full(int(labels.max()) + 1 if len(labels) else 0, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, labels, node_ids)
    return first[labels]


def key_groups(con: duckdb.DuckDBPyConnection, changed_only: bool = False) -> None:
    """core.customer_key_groups(record_id, key_group): the connected components of the deterministic
    key links (cw_key_links; with changed_only, those of cw_key_group_scope's records,
    cw_scope_key_links), each named by its smallest record id, so a group keeps its name on a
    night that only adds to it. The view cw_key_groups shows the groups found: all of them, or with
    changed_only only those of cw_key_group_scope (customer_key_group_scope.sql)."""
    if changed_only:
        run_sql_files(con, "core/customer_key_group_scope.sql")
    ids, node_ids, node_of = _graph_nodes(con, "cw_key_group_scope" if changed_only else None)
    links = con.execute(f"SELECT record_a, record_b FROM {'cw_scope_key_links' if changed_only else 'cw_key_links'}"
                        ).fetchnumpy()
    labels = _components(len(node_ids), node_of(links["record_a"]), node_of(links["record_b"]))
    groups = pd.DataFrame({"record_id": ids, "key_group": _first_ids(labels, node_ids)[node_of(ids)]})
    con.register("cw_key_groups_found", groups)
    if changed_only:
        run_sql(con, "DELETE FROM core.customer_key_groups WHERE record_id IN (SELECT record_id FROM cw_key_group_scope) "
                     "OR record_id IN (SELECT record_id FROM cw_records_gone)",
                "INSERT INTO core.customer_key_groups SELECT * FROM cw_key_groups_found",
                "CREATE OR REPLACE TEMP VIEW cw_key_groups AS SELECT * FROM core.customer_key_groups "
                "WHERE record_id IN (SELECT record_id FROM cw_key_group_scope)")
    else:
        run_sql(con, "CREATE OR REPLACE TABLE core.customer_key_groups AS SELECT * FROM cw_key_groups_found",
                "CREATE OR REPLACE TEMP VIEW cw_key_groups AS SELECT * FROM core.customer_key_groups")
    con.unregister("cw_key_groups_found")


DROP_REASONS = ("cluster above max_cluster_size", "cannot_link override")


def cluster_records(con: duckdb.DuckDBPyConnection, max_cluster_size: int, changed_only: bool = False) -> dict:
    """core.customer_clusters(record_id, cluster_id, oversized, component_id) from the kept
    core.customer_edges. A cluster is named by its smallest record id; component_id names the
    component before the guards.

    Connected components, then two guards: a cluster above max_cluster_size, or holding two
    records an analyst said are different people, loses its model links; if a cannot-link pair is
    still joined (by shared keys), its second record (source_file_b, source_row_b) is detached: it
    loses every link but analysts' must-links.
    Dropped links stay in core.customer_edges with the reason.

    With changed_only (after customer_edges_changed.sql), only the components holding a record
    in cw_edges_touched, a gone or an arrived record are found again (cw_cluster_scope): the
    guards act within a component, so elsewhere the clusters are as they were.
    """
    if changed_only:
        run_sql_files(con, "core/customer_cluster_scope.sql")
    ids, node_ids, node_of = _graph_nodes(con, "cw_cluster_scope" if changed_only else None)
    scope = "(SELECT record_id FROM cw_cluster_scope)"
    in_scope = f"WHERE record_a IN {scope}" if changed_only else ""
    n = len(node_ids)
    # the rule as two flags, not text: millions of Python strings cost seconds
    edges = con.execute("SELECT rowid AS row_id, record_a, record_b, rule = 'probabilistic' AS model, "
                        f"rule = 'must_link' AS must FROM core.customer_edges {in_scope}").fetchnumpy()
    a, b = node_of(edges["record_a"]), node_of(edges["record_b"])
    model, must = np.asarray(edges["model"], dtype=bool), np.asarray(edges["must"], dtype=bool)
    # (on a night every decision's records are in scope: customer_edges_changed.sql)
    both_in_scope = f"AND record_a IN {scope} AND record_b IN {scope}" if changed_only else ""
    cannot = con.execute("SELECT record_a, record_b FROM core.customer_overrides "
                         f"WHERE decision = 'cannot_link' {both_in_scope}").fetchnumpy()
    ca, cb = node_of(cannot["record_a"]), node_of(cannot["record_b"])
    dropped = np.zeros(len(a), dtype=np.int8)  # 0: kept, else 1 + index in DROP_REASONS

    labels = first = _components(n, a, b)
    sizes = np.bincount(labels, minlength=n)
    oversized = np.flatnonzero(sizes > max_cluster_size)
    conflicted = np.unique(labels[ca][labels[ca] == labels[cb]])
    for code, bad in enumerate([oversized, conflicted], start=1):
        dropped[model & np.isin(labels[a], bad) & (dropped == 0)] = code
    kept = dropped == 0
    if not kept.all():  # else the components are those above
        labels = _components(n, a[kept], b[kept])
    still = (labels[ca] == labels[cb])
    if still.any():
        isolated = np.unique(cb[still])
        dropped[kept & ~must & (np.isin(a, isolated) | np.isin(b, isolated))] = 2
        kept = dropped == 0
        labels = _components(n, a[kept], b[kept])
    big = np.isin(labels, np.flatnonzero(np.bincount(labels, minlength=n) > max_cluster_size))
    was_big = np.isin(first, oversized)

    at = node_of(ids)
    clusters = pd.DataFrame({"record_id": ids, "cluster_id": _first_ids(labels, node_ids)[at],
                             "oversized": (was_big | big)[at], "component_id": _first_ids(first, node_ids)[at]})
    reasons = pd.DataFrame({"row_id": np.asarray(edges["row_id"])[~kept],
                            "reason": np.asarray(DROP_REASONS, dtype=object)[dropped[~kept] - 1].astype(str)})
    writes = ["UPDATE core.customer_edges e SET dropped_reason = d.reason FROM cw_dropped d WHERE e.rowid = d.row_id"]
    if changed_only:
        writes = [f"UPDATE core.customer_edges SET dropped_reason = NULL {in_scope} AND dropped_reason IS NOT NULL",
                  *writes,
                  "DELETE FROM core.customer_clusters WHERE record_id IN (SELECT record_id FROM cw_cluster_scope) "
                  "OR record_id IN (SELECT record_id FROM cw_records_gone)",
                  "INSERT INTO core.customer_clusters BY NAME SELECT * FROM cw_clusters_found"]
    else:
        writes.insert(0, "CREATE OR REPLACE TABLE core.customer_clusters AS SELECT * FROM cw_clusters_found")
    con.register("cw_dropped", reasons)
    con.register("cw_clusters_found", clusters)
    run_sql(con, *writes)
    con.unregister("cw_dropped")
    con.unregister("cw_clusters_found")
    if not changed_only:
        return {"clusters": int(clusters["cluster_id"].nunique()), "oversized_clusters": int(len(oversized)),
                "dropped_links": int((~kept).sum()), "records_clustered": "all"}
    # a cluster is named by its smallest record, and a record is oversized where its component is
    [(count, oversized_count, dropped_count)] = con.execute(
        "SELECT (SELECT count(*) FROM core.customer_clusters WHERE record_id = cluster_id), "
        "(SELECT count(DISTINCT component_id) FROM core.customer_clusters WHERE oversized), "
        "(SELECT count(*) FROM core.customer_edges WHERE dropped_reason IS NOT NULL)").fetchall()
    return {"clusters": count, "oversized_clusters": oversized_count, "dropped_links": dropped_count,
            "records_clustered": f"{len(ids)} records"}


# What the links between person records (and their clusters) are derived from, besides the
# records: a change in any of it derives every link again.
LINKAGE_SOURCES = [SQL_DIR / "core" / name for name in (
    "customer_records_now.sql", "customer_records.sql", "customer_records_arrived.sql", "customer_records_kept.sql",
    "customer_records_gone.sql", "customer_linkage_records.sql", "customer_keyed_records.sql", "customer_key_links.sql",
    "customer_key_links_arrived.sql", "customer_linkage_input.sql", "customer_linkage_input_arrived.sql",
    # the links and clusters are kept across nights too
    "customer_key_group_scope.sql", "customer_model_edges.sql", "customer_edges.sql", "customer_edges_changed.sql",
    "customer_cluster_scope.sql")]


def linkage_fingerprint(settings: CustomerSettings, references: dict | None = None) -> str:
    """Of the settings and code the links are derived by; with the order reference patterns,
    which say what order a record names (the night's derivation assumes them unchanged)."""
    # files count by their content, not where the project lies: moving it derives no link again
    unplaced = replace(settings, nicknames=Path(settings.nicknames.name), model=Path(settings.model.name),
                       overrides_dir=Path(settings.overrides_dir.name))
    return content_fingerprint([settings.nicknames, settings.model, *LINKAGE_SOURCES, Path(record_places.__file__),
                                Path(identity_linkage.__file__), Path(__file__)], repr(unplaced),
                               repr(sorted((references or {}).items())))


def _has_earlier_records(con: duckdb.DuckDBPyConnection) -> bool:
    return "record_hash" in column_names(con, "core", "customer_records")


def _link_all_records(con: duckdb.DuckDBPyConnection, settings: CustomerSettings, fingerprint: str) -> dict:
    con.execute("CREATE OR REPLACE TEMP VIEW cw_person_records AS SELECT * FROM core.customer_records")
    run_sql_files(con, "core/customer_linkage_records.sql", "core/customer_keyed_records.sql", "core/customer_key_links.sql")
    key_groups(con)
    run_sql_files(con, "core/customer_linkage_input.sql")
    return score_pairs(con, settings.model, settings.review_threshold, fingerprint)


def _link_changed_records(con: duckdb.DuckDBPyConnection, settings: CustomerSettings, state,
                          records_moved: bool = True) -> dict:
    """A night linked with the same settings as the night before: the records that went leave,
    the arrived ones are added, and only the pairs of the nodes that changed are scored again.
    The links come out as deriving them all again would give them. Without a record that came or
    went (records_moved), the nodes are those the kept prior was estimated on."""
    run_sql_files(con, "core/customer_records_gone.sql")
    con.execute("CREATE OR REPLACE TEMP VIEW cw_person_records AS SELECT * FROM cw_records_arrived")
    run_sql_files(con, "core/customer_linkage_records.sql", "core/customer_keyed_records.sql",
                  "core/customer_key_links_arrived.sql")
    run_sql(con, "INSERT INTO core.customer_records SELECT * FROM cw_records_arrived")
    key_groups(con, changed_only=True)
    run_sql_files(con, "core/customer_linkage_input_arrived.sql")
    if not records_moved:
        prior = state.prior
    elif state.prior.admitted is None:
        prior = estimate_prior(con, identity_linkage.INPUT)
    else:
        prior = prior_after_changes(con, state.prior.admitted)
    if not prior_within_margin(state, prior, settings.review_threshold):
        return score_pairs(con, settings.model, settings.review_threshold, state.fingerprint, prior)
    return score_touched_pairs(con, settings.model, settings.review_threshold, state, prior)


# Beyond this share of records changed, deriving every link again is quicker.
MOST_CHANGED = 0.2


def _link_records(con: duckdb.DuckDBPyConnection, settings: CustomerSettings, derive_whole: bool,
                  references: dict | None) -> dict:
    """core.customer_records, the key links (cw_key_links) and core.customer_link_scores: derived
    whole on a first build, after a change of settings or when asked, else for the records that
    changed. With the same settings, person records are derived only at the places that may have
    changed (pipelines/record_places.py)."""
    fingerprint = linkage_fingerprint(settings, references)
    state = None if derive_whole else read_state(con)
    write_state(con, None)  # until the links are complete
    earlier_records = _has_earlier_records(con)
    same_settings = state is not None and state.fingerprint == fingerprint
    scoped = same_settings and earlier_records and record_places.person_scope(con)
    record_places.staged_views(con, "cw_record_places" if scoped else None)
    run_sql_files(con, "core/customer_records_now.sql")
    if not earlier_records:
        run_sql_files(con, "core/customer_records.sql")
        return {**_link_all_records(con, settings, fingerprint), "linkage": "derived whole", "derived": "all"}
    run_sql_files(con, "core/customer_records_arrived.sql")
    [(gone, arrived, earlier)] = con.execute(
        "SELECT (SELECT count(*) FROM cw_records_gone), (SELECT count(*) FROM cw_records_arrived), "
        "(SELECT count(*) FROM core.customer_records)").fetchall()
    derived = (f"{con.execute('SELECT count(*) FROM cw_record_places').fetchall()[0][0]} places"
               if scoped else "all")
    if same_settings and gone + arrived <= MOST_CHANGED * earlier:
        scoring = _link_changed_records(con, settings, state, records_moved=bool(gone or arrived))
        return {**scoring, "linkage": f"{arrived} records added, {gone} removed", "changed_only": True,
                "records_moved": bool(gone or arrived), "derived": derived}
    if scoped:  # records outside the places are as they were, and the settings too
        run_sql(con, "DELETE FROM core.customer_records WHERE record_id IN (SELECT record_id FROM cw_records_gone)",
                "INSERT INTO core.customer_records SELECT * FROM cw_records_arrived")
    else:
        # every record written again: settings that change usable_email or usable_phone leave
        # record_hash as it was, so the records that kept their hash may still differ
        run_sql_files(con, "core/customer_records_kept.sql")
    return {**_link_all_records(con, settings, fingerprint), "linkage": "derived whole", "derived": derived}


def issue_customer_keys(con: duckdb.DuckDBPyConnection, changed_only: bool = False) -> None:
    """core.customer_cluster_keys: a stable key for every cluster (sql/core/customer_keys.sql).
    With changed_only (a night that changed some records, before the identity map is written
    again), a cluster that is a customer of the night before, less gone records and with arrived
    ones, keeps that key unless a record elsewhere, or one of its arrived records, claims another;
    only the others are keyed."""
    if changed_only:
        run_sql_files(con, "core/customer_clusters_changed.sql")
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE cw_clusters_to_key AS SELECT DISTINCT cluster_id FROM core.customer_clusters")
        con.execute("CREATE OR REPLACE TEMP TABLE cw_cluster_keys_kept "
                    "(cluster_id BIGINT, customer_key VARCHAR, found_again BOOLEAN)")
        con.execute("CREATE OR REPLACE TEMP TABLE cw_arrivals_kept (record_id BIGINT, cluster_id BIGINT)")
    if "last_seen_at" in column_names(con, "core", "customer_key_registry"):  # builds before keyed_at
        con.execute("ALTER TABLE core.customer_key_registry RENAME COLUMN last_seen_at TO keyed_at")
    if con.execute("SELECT count(*) FROM duckdb_constraints() WHERE database_name = current_database() "
                   "AND schema_name = 'core' AND table_name = 'customer_keys_issued' "
                   "AND constraint_type = 'PRIMARY KEY'").fetchall()[0][0]:
        # builds before the key check in customer_keys.sql: the table without its primary key
        run_sql(con, "CREATE TEMP TABLE cw_issued AS SELECT * FROM core.customer_keys_issued",
                "DROP TABLE core.customer_keys_issued",
                "CREATE TABLE core.customer_keys_issued (customer_key VARCHAR NOT NULL, issued_at TIMESTAMPTZ, "
                "anchor VARCHAR)",
                "INSERT INTO core.customer_keys_issued SELECT * FROM cw_issued", "DROP TABLE cw_issued")
    run_sql_files(con, "core/customer_record_keys.sql")
    while changed_only:
        # a kept key a record of another cluster claims, or a kept cluster whose arrived record
        # claims another key: that cluster is keyed too, as deriving all would
        con.execute("""
            CREATE OR REPLACE TEMP TABLE cw_claimed AS
            SELECT kept.cluster_id FROM cw_record_claims c
            JOIN cw_cluster_keys_kept kept ON kept.customer_key = c.customer_key AND kept.cluster_id <> c.cluster_id
            UNION
            SELECT kept.cluster_id FROM cw_record_claims c
            JOIN cw_cluster_keys_kept kept ON kept.cluster_id = c.cluster_id AND kept.customer_key <> c.customer_key""")
        if not con.execute("SELECT count(*) FROM cw_claimed").fetchall()[0][0]:
            break
        run_sql(con, "DELETE FROM cw_cluster_keys_kept WHERE cluster_id IN (SELECT cluster_id FROM cw_claimed)",
                "DELETE FROM cw_arrivals_kept WHERE cluster_id IN (SELECT cluster_id FROM cw_claimed)",
                "INSERT INTO cw_clusters_to_key SELECT cluster_id FROM cw_claimed")
        run_sql_files(con, "core/customer_record_keys.sql")
    run_sql_files(con, "core/customer_keys.sql")


def write_identity_map(con: duckdb.DuckDBPyConnection, changed_only: bool = False) -> None:
    """core.customer_identity_map, whole or (changed_only) for the records whose row may change;
    quality.identity_oversized_clusters."""
    if changed_only:
        run_sql_files(con, "core/customer_identity_map_scope.sql")
    bind_scope(con, "identity_map_scoped", "cw_map_scope", "record_id BIGINT", changed_only)
    run_sql_files(con, "core/customer_identity_map.sql")
    if changed_only and column_names(con, "core", "customer_identity_map") != con.sql(
            "SELECT * FROM cw_identity_map_rows LIMIT 0").columns:
        changed_only = False  # a build made before the map's columns changed: written whole
        bind_scope(con, "identity_map_scoped", "cw_map_scope", "record_id BIGINT", False)
    if changed_only:
        # the rows of the records in scope compared with those kept; gone records' rows leave
        write_changed_rows(con, unpublished.CUSTOMER_IDENTITY_MAP, "cw_identity_map_rows", False,
                           within="cw_members_before")
        def moved(entities: str) -> str:
            """The places of those entities whose record changed customer tonight."""
            return ("SELECT DISTINCT entity, source_file, source_row FROM core.customer_identity_map "
                    f"WHERE entity IN ({entities}) AND record_id IN (SELECT record_id FROM cw_members_moved)")

        # an order's customer is that of its sales order or shipments (pipelines/order_scope.py), a
        # ticket's that of its record
        run_sql(con, read_sql("core/customer_identity_map_changed.sql"),
                *record_places.queue_places_sql(con, record_places.ORDER_QUEUE,
                                                moved("'crm_sales_orders', 'inventory_shipments'")),
                *record_places.queue_places_sql(con, record_places.TICKET_PLACES.queue, moved("'support_tickets'")))
    else:
        run_sql(con, "CREATE OR REPLACE TABLE core.customer_identity_map AS SELECT * FROM cw_identity_map_rows",
                queue_everyone(CUSTOMERS_QUEUE), queue_every_row(con, unpublished.CUSTOMER_IDENTITY_MAP),
                *record_places.queue_places_sql(con, record_places.ORDER_QUEUE, "VALUES ('crm_sales_orders', NULL, NULL)"),
                *record_places.queue_places_sql(con, record_places.TICKET_PLACES.queue,
                                                "VALUES ('support_tickets', NULL, NULL)"))


def resolve_customers(con: duckdb.DuckDBPyConnection, settings: CustomerSettings, review_csv: Path,
                      derive_whole: bool = False, references: dict | None = None) -> dict:
    """The whole customer resolution on the build: records, model scores, overrides, links,
    clusters, stable keys, the identity map, link evidence and the review queue (also as CSV).
    A night links only what changed unless derive_whole (a full rebuild) asks for every link.
    `references` are the order reference patterns core.order_references was read with."""
    prepare_customer_matching(con, settings)
    scoring = _link_records(con, settings, derive_whole, references)
    decisions_before = _overrides_hash(con)
    unknown_overrides = load_overrides(con, settings.overrides_dir)
    changed_only = scoring.get("changed_only", False)
    # no record came or went and the analysts' decisions are as they were: the scores, links and
    # clusters the evidence reads are too
    quiet = changed_only and not scoring.get("records_moved", True) and decisions_before == _overrides_hash(con)
    run_sql_files(con, "core/customer_model_edges.sql",
                  "core/customer_edges_changed.sql" if changed_only else "core/customer_edges.sql")
    clustering = cluster_records(con, settings.max_cluster_size, changed_only)
    issue_customer_keys(con, changed_only)
    write_identity_map(con, changed_only)
    if not quiet:
        run_sql(con, evidence_sql(comparison_fields(settings.model)))
    con.execute(f"COPY quality.identity_review TO {literal(str(review_csv))} (HEADER, DELIMITER ',')")
    review = con.execute("SELECT count(*) FROM quality.identity_review").fetchall()[0][0]
    write_state(con, scoring["state"])
    run_sql(con, *record_places.persons_derived_sql())
    return {**clustering, "model_prior": scoring["prior"] or 0.0, "scored_pairs": scoring["pairs"],
            "review_pairs": int(review), "overrides_naming_no_record": unknown_overrides,
            "linkage": scoring["linkage"], "person_records_derived": scoring["derived"]}


def _overrides_hash(con: duckdb.DuckDBPyConnection) -> str | None:
    if not column_names(con, "core", "customer_overrides"):
        return None
    return con.execute("SELECT count(*) || ':' || coalesce(sum(hash(o)), 0) FROM core.customer_overrides o"
                       ).fetchall()[0][0]


def reconcile_orders(con: duckdb.DuckDBPyConnection, fallback, rebuild: bool = False) -> tuple[str, str]:
    """Build core.order_identity_map (and quality.unmatched_order_refs) with the order fallback
    settings: every row, or on a night only the rows at the places whose reference or order number
    changed and the shipments the fallback matches (record_places.order_map_scope). Says which
    rows were written again, and how many places were derived ("all" when every one was)."""
    con.execute("SET VARIABLE order_fallback_enabled = ?", [fallback.enabled])
    con.execute("SET VARIABLE order_fallback_days = ?", [fallback.max_days])
    fingerprint = content_fingerprint([SQL_DIR / "core" / "order_identity_map.sql"], repr(fallback))
    scoped = not rebuild and record_places.order_map_scope(con, fingerprint)
    bind_scope(con, "order_map_scoped", "cw_order_map_places", record_places.QUEUE_COLUMNS, scoped)
    run_sql_files(con, "core/order_identity_map.sql")
    update = write_changed_rows(con, unpublished.ORDER_IDENTITY_MAP, "cw_order_identity_map", rebuild,
                                within="cw_order_map_places" if scoped else None, order_keys=True,
                                passed_to=(record_places.FULFILMENT_PLACES.queue, record_places.TICKET_PLACES.queue,
                                           record_places.UNMATCHED_QUEUE))
    derived = f"{con.execute('SELECT count(*) FROM cw_order_map_places').fetchall()[0][0]} places" if scoped else "all"
    run_sql(con, *record_places.order_map_derived_sql(fingerprint))
    run_sql_files(con, "core/order_unmatched_refs.sql")
    run_sql(con, *record_places.unmatched_refs_sql(
        con, content_fingerprint([SQL_DIR / "core" / "order_unmatched_refs.sql"]), rebuild))
    return update, derived
