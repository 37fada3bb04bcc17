"""Tables of one row per customer that a night builds again only for the customers that changed.

Each has a queue of customer keys (a NULL key: every customer) that the steps before it fill and
its own step empties in the transaction that builds those customers; facts it keeps from other
tables (first order, tickets), so that it notices a customer whose facts moved there; and a
fingerprint of its SQL and settings. It is built whole on a first build, when the fingerprint
moves, when the queue holds a NULL, on a full rebuild, and once the rows built again since the
last whole build pass a quarter of the table.

A night replaces rows by DELETE and INSERT, and DuckDB's checkpoint would then compact every row
group holding a deleted row: 1.0 s for 22k of 726k customers, against 0.08 s without. The night
skips that compaction; the whole build that follows a quarter of the rows rewrites the table
compactly instead.
"""

from dataclasses import dataclass

import duckdb

from connectors.files import content_fingerprint
from pipelines.metadata import column_names
from pipelines.sql_assets import SQL_DIR, read_sql, run_sql
from pipelines.staging_sql import literal


@dataclass(frozen=True)
class PerCustomerTable:
    table: str                  # e.g. core.customers
    queue: str                  # customer keys to build again, e.g. core.customer_keys_changed
    facts_sql: str              # SQL file: temporary tables of facts from other tables
    facts: dict[str, str]       # each temporary facts table, and the table that keeps it across nights
    rows_sql: str               # SQL file: the view cw_<name> of the customers for which cw_in_scope(key)
    next_queues: tuple[str, ...] = ()  # queues told of the customers built: tables built from this one, publish

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


# rows built again since the last whole build, as a share of the table, beyond which it is built whole
MOST_REBUILT = 0.25


def _builds_whole(con: duckdb.DuckDBPyConnection, spec: PerCustomerTable, fingerprint: str) -> bool:
    needed = {spec.table, spec.queue, spec.state, *spec.facts.values()}
    present = {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
    if not needed <= present or "rebuilt_rows" not in column_names(con, *spec.state.split(".")):
        return True
    [(kept, everyone, compact)] = con.execute(f"""
        SELECT (SELECT count(*) FROM {spec.state} WHERE fingerprint = ?),
               (SELECT count(*) FROM {spec.queue} WHERE customer_key IS NULL),
               (SELECT max(rebuilt_rows) FROM {spec.state}) <= ? * (SELECT count(*) FROM {spec.table})""",
        [fingerprint, MOST_REBUILT]).fetchall()
    return kept == 0 or everyone > 0 or not compact


def _without_compaction(con: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
    """Run the statements and checkpoint their changes leaving deleted rows in place: DuckDB would
    compact every row group they touched (1.0 s for 22k customers at 1M orders), and the table is
    built whole once a quarter of its rows was rebuilt. The setting is the database's, and a run
    shares one database across its steps: what the run wrote before is checkpointed first, as
    usual, and the setting is restored after."""
    con.execute("CHECKPOINT")
    [(tasks,)] = con.execute("SELECT current_setting('max_vacuum_tasks')").fetchall()
    con.execute("SET max_vacuum_tasks = 0")
    try:
        run_sql(con, *statements)
        con.execute("CHECKPOINT")
    finally:
        con.execute(f"SET max_vacuum_tasks = {int(tasks)}")


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
                       f"CREATE OR REPLACE TABLE {spec.state} AS SELECT {literal(fingerprint)} AS fingerprint, "
                       "0::BIGINT AS rebuilt_rows"]
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
                       f"UPDATE {spec.state} SET rebuilt_rows = rebuilt_rows + (SELECT count(*) FROM cw_changed_keys)"]
    statements += [*(f"CREATE OR REPLACE TABLE {kept} AS SELECT * FROM {now}" for now, kept in spec.facts.items()),
                   f"CREATE OR REPLACE TABLE {spec.queue} (customer_key VARCHAR)"]
    if whole:
        run_sql(con, *statements)
        return "derived whole"
    _without_compaction(con, statements)
    [(built,)] = con.execute("SELECT count(*) FROM cw_changed_keys").fetchall()
    return f"{built} customers built again"
