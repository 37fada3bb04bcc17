"""Tables of one row per customer that a night builds again only for the customers that changed.

Each has a queue of customer keys (a NULL key: every customer) that the steps before it fill and
its own step empties in the transaction that builds those customers; facts it keeps from other
tables (first order, tickets), so that it notices a customer whose facts moved there; and a
fingerprint of its SQL and settings. It is built whole on a first build, when the fingerprint
moves, when the queue holds a NULL, and on a full rebuild.

A night replaces rows by DELETE and INSERT; DuckDB compacts the row groups holding deleted rows
at the run's checkpoint, with every other table's (pipelines/resources.py: a run's steps share
one database and write one checkpoint). Skipping that compaction for these tables, as nights
did while each step checkpointed on its own, would now need a checkpoint of their own in the
middle of the run: measured, it cost as much as the compaction.
"""

from dataclasses import dataclass

import duckdb

from connectors.files import content_fingerprint
from pipelines.sql_assets import SQL_DIR, read_sql, run_sql
from pipelines.staging_sql import literal
from pipelines.unpublished import UnpublishedRows, queue_every_row, queue_keys


@dataclass(frozen=True)
class PerCustomerTable:
    table: str                  # e.g. core.customers
    queue: str                  # customer keys to build again, e.g. core.customer_keys_changed
    facts_sql: str              # SQL file: temporary tables of facts from other tables
    facts: dict[str, str]       # each temporary facts table, and the table that keeps it across nights
    rows_sql: str               # SQL file: the view cw_<name> of the customers for which cw_in_scope(key)
    next_queues: tuple[str, ...] = ()  # queues told of the customers built: tables built from this one
    published: UnpublishedRows | None = None  # its publish (and checks') queues, told too

    @property
    def state(self) -> str:
        return f"{self.table}_state"

    @property
    def rows_view(self) -> str:
        return f"cw_{self.table.split('.')[1]}"


def create_queue(queue: str) -> str:
    return f"CREATE TABLE IF NOT EXISTS {queue} (customer_key VARCHAR)"


def queue_everyone(queue: str) -> str:
    return f"CREATE OR REPLACE TABLE {queue} AS SELECT NULL::VARCHAR AS customer_key"


def _moved_facts_sql(spec: PerCustomerTable) -> list[str]:
    """Queue the customers whose facts differ from the kept ones, either way."""
    return [f"""INSERT INTO {spec.queue}
                SELECT customer_key FROM ((SELECT * FROM {now} EXCEPT SELECT * FROM {kept})
                                          UNION ALL (SELECT * FROM {kept} EXCEPT SELECT * FROM {now}))"""
            for now, kept in spec.facts.items()]


def _builds_whole(con: duckdb.DuckDBPyConnection, spec: PerCustomerTable, fingerprint: str) -> bool:
    needed = {spec.table, spec.queue, spec.state, *spec.facts.values()}
    present = {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
    if not needed <= present:
        return True
    [(kept, everyone)] = con.execute(f"""
        SELECT (SELECT count(*) FROM {spec.state} WHERE fingerprint = ?),
               (SELECT count(*) FROM {spec.queue} WHERE customer_key IS NULL)""", [fingerprint]).fetchall()
    return kept == 0 or everyone > 0


def build_per_customer(con: duckdb.DuckDBPyConnection, spec: PerCustomerTable, rebuild: bool, *settings) -> str:
    """Build the table whole, or for the queued customers and those whose facts moved, in one
    transaction that also empties the queue and passes the built customers on; what it did."""
    fingerprint = content_fingerprint([SQL_DIR / spec.facts_sql, SQL_DIR / spec.rows_sql, SQL_DIR.parent / "per_customer.py"],
                                      *settings)
    whole = rebuild or _builds_whole(con, spec, fingerprint)
    statements = [read_sql(spec.facts_sql)]
    if whole:
        # no filter: a whole build runs the query it ran before nights were built per customer
        statements += ["CREATE OR REPLACE TEMP MACRO cw_in_scope(k) AS true", read_sql(spec.rows_sql),
                       f"CREATE OR REPLACE TABLE {spec.table} AS SELECT * FROM {spec.rows_view}",
                       *(queue_everyone(q) for q in spec.next_queues),
                       *([queue_every_row(con, spec.published)] if spec.published else []),
                       f"CREATE OR REPLACE TABLE {spec.state} AS SELECT {literal(fingerprint)} AS fingerprint"]
    else:
        statements += [*_moved_facts_sql(spec),
                       f"CREATE OR REPLACE TEMP TABLE cw_changed_keys AS SELECT DISTINCT customer_key FROM {spec.queue}",
                       "CREATE OR REPLACE TEMP MACRO cw_in_scope(k) AS "
                       "k IN (SELECT customer_key FROM cw_changed_keys)",
                       read_sql(spec.rows_sql),
                       f"DELETE FROM {spec.table} WHERE customer_key IN (SELECT customer_key FROM cw_changed_keys)",
                       f"INSERT INTO {spec.table} SELECT * FROM {spec.rows_view}",
                       *(s for q in spec.next_queues
                         for s in (create_queue(q), f"INSERT INTO {q} SELECT customer_key FROM cw_changed_keys")),
                       *(queue_keys(con, spec.published, "SELECT customer_key FROM cw_changed_keys")
                         if spec.published else [])]
    run_sql(con, *statements,
            *(f"CREATE OR REPLACE TABLE {kept} AS SELECT * FROM {now}" for now, kept in spec.facts.items()),
            f"CREATE OR REPLACE TABLE {spec.queue} (customer_key VARCHAR)")
    if whole:
        return "derived whole"
    [(built,)] = con.execute("SELECT count(*) FROM cw_changed_keys").fetchall()
    return f"{built} customers built again"
