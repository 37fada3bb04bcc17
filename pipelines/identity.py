"""Identity reconciliation control: order-reference patterns and customer clustering.

The set logic lives in sql/core/*.sql; this module reads the identity settings, builds the
reference-matching SQL from them and finds connected components with scipy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from connectors.profiles import SCHEMAS_DIR, ProfileError, load_entities
from pipelines.staging_sql import ident, literal

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
class IdentitySettings:
    order_references: dict[str, tuple[ReferencePattern, ...]]
    source_priority: tuple[str, ...]


@cache
def load_identity_settings(path: Path = SCHEMAS_DIR / "identity.yaml") -> IdentitySettings:
    doc = yaml.safe_load(path.read_text()) or {}
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
    return IdentitySettings(references, priority)


def order_references_sql(settings: IdentitySettings) -> str:
    """One row per staged record that may name an order: the text, the number found and the rule."""
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
            f"FROM staging.{entity}"
        )
    return "CREATE OR REPLACE TABLE core.order_references AS\n" + "\nUNION ALL\n".join(selects)


def cluster_records(con: duckdb.DuckDBPyConnection) -> int:
    """Write core.customer_clusters(record_id, cluster_id) from core.customer_edges; returns clusters."""
    n = con.execute("SELECT coalesce(max(record_id), 0) FROM core.customer_records").fetchone()[0]
    edges = con.execute("SELECT record_a, record_b FROM core.customer_edges").fetchnumpy()
    a = np.asarray(edges["record_a"], dtype=np.int64) - 1
    b = np.asarray(edges["record_b"], dtype=np.int64) - 1
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    clusters = pd.DataFrame({"record_id": np.arange(1, n + 1, dtype=np.int64), "cluster_id": labels.astype(np.int64)})
    con.execute("CREATE OR REPLACE TABLE core.customer_clusters AS SELECT * FROM clusters")
    return int(count)
