"""Tables a night derives whole by SQL but writes by the rows that changed.

Writing is most of what such a table costs (DuckDB writes about a million wide rows a second
here), and a night changes few of its rows. So a night derives the table into a temporary one,
compares it with the rows the build holds, key by key, and deletes and inserts only the keys whose
rows differ; those keys go to the table's publish queue (pipelines/unpublished.py), so publish replaces
only them too. A first build, a full rebuild or a change of columns writes the table whole.
"""

import duckdb

from pipelines import order_scope
from pipelines.metadata import column_names, table_exists
from pipelines.per_customer import create_queue, queue_everyone
from pipelines.sql_assets import run_sql
from pipelines.unpublished import UnpublishedRows, queue_every_row, queue_keys


def write_changed_rows(con: duckdb.DuckDBPyConnection, rows: UnpublishedRows, view: str, rebuild: bool,
                       within: str | None = None, order_keys: bool = False, passed_to: tuple[str, ...] = (),
                       customers_to: tuple[str, ...] = ()) -> str:
    """Write `rows.table` from the relation `view` (whole, or the changed keys' rows); what it did.
    With `within` (a relation of keys), `view` holds only those keys' rows and only they are
    compared. With `order_keys`, the order_key of each changed row, before and after, is queued
    for core.orders (pipelines/order_scope.py). With `passed_to`, queues with the key's columns
    that later steps read, the changed keys are added to those that exist (a row of NULLs: every
    key). With `customers_to`, queues of the customers whose facts may have moved
    (pipelines/per_customer.py), the customer_key of each changed row, before and after, is queued
    (a NULL: every customer)."""
    table = rows.table
    passed_on = [queue for queue in passed_to if table_exists(con, queue)]
    if rebuild or column_names(con, *table.split(".")) != con.sql(f"SELECT * FROM {view} LIMIT 0").columns:
        run_sql(con, f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {view}", queue_every_row(con, rows),
                *(order_scope.queue_every_order_sql() if order_keys else []),
                *(queue_everyone(queue) for queue in customers_to),
                *(f"INSERT INTO {queue} VALUES ({', '.join('NULL' for _ in rows.key)})" for queue in passed_on))
        return "derived whole"
    changed = rows.row_in_queue("cw_rows_changed")
    run_sql(con,
            f"CREATE OR REPLACE TEMP TABLE cw_rows_now AS SELECT * FROM {view}",
            # rows compared by a hash of the whole row, joined by key: 0.3 s for the order map
            # at 1M orders, against 0.9-1.6 s for EXCEPT both ways (as record_hash, a 64-bit
            # hash: two different rows alike in it are about 1 in 2^64)
            f"""CREATE OR REPLACE TEMP TABLE cw_rows_changed AS
                SELECT {rows.columns}
                FROM (SELECT {rows.columns}, hash(n) AS row_hash FROM cw_rows_now n) n
                FULL JOIN (SELECT {rows.columns}, hash(o) AS row_hash FROM {table} o
                           {f"WHERE {rows.row_in_queue(within)}" if within else ""}) o USING ({rows.columns})
                WHERE n.row_hash IS DISTINCT FROM o.row_hash""",
            *(order_scope.queue_order_keys_sql(f"SELECT order_key FROM {table} WHERE {changed} "
                                               f"UNION SELECT order_key FROM cw_rows_now WHERE {changed}")
              if order_keys else []),
            *(s for queue in customers_to for s in (
                create_queue(queue),
                f"INSERT INTO {queue} SELECT customer_key FROM (SELECT customer_key FROM {table} WHERE {changed} "
                f"UNION SELECT customer_key FROM cw_rows_now WHERE {changed}) WHERE customer_key IS NOT NULL")),
            f"DELETE FROM {table} WHERE {changed}",
            f"INSERT INTO {table} SELECT * FROM cw_rows_now WHERE {changed}",
            *queue_keys(con, rows, f"SELECT {rows.columns} FROM cw_rows_changed"),
            *(f"INSERT INTO {queue} SELECT {rows.columns} FROM cw_rows_changed" for queue in passed_on))
    [(changed,)] = con.execute("SELECT count(*) FROM cw_rows_changed").fetchall()
    con.execute("DROP TABLE cw_rows_now")
    con.execute("DROP TABLE cw_rows_changed")
    return f"{changed} rows written again"


def bind_scope(con: duckdb.DuckDBPyConnection, variable: str, scope: str, columns: str, scoped: bool) -> None:
    """The SQL variable a view tests to read only the keys of the relation `scope`, set to `scoped`;
    without a scope, `scope` is made empty (with its `columns`) so that the view still binds."""
    if not scoped:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {scope} ({columns})")
    con.execute(f"SET VARIABLE {variable} = ?", [scoped])
