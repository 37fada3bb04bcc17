"""Which orders a night derives again: core.orders only for the orders whose inputs changed.

An order's row reads its sales order (staged), the order map's rows naming it, the customer map's
rows at those places, its fulfilments and tickets, the campaigns and the company time zone. The
steps that write those fill two queues:
- `core.order_keys_changed`: the order keys of the order map's, fulfilments' and tickets' rows
  written again, before and after (pipelines/changed_rows.py); a NULL key: every order;
- `staging.order_places_changed` (pipelines/record_places.py): the places whose staged sales order
  changed (staging), and the sales-order and shipment places whose record changed customer
  (customer identity); a NULL place: every order.
core.orders derives the orders of both, and empties them in the same transaction. It derives every
order on a first build, on a full rebuild, without the queues, or when its SQL, the time zone or
the campaigns changed (their fingerprint is kept in `core.orders_state`).
"""

import duckdb

from connectors.files import content_fingerprint
from pipelines.metadata import column_names
from pipelines.record_places import ORDER_QUEUE, QUEUE_COLUMNS, fingerprint_kept, keep_fingerprint_sql
from pipelines.sql_assets import SQL_DIR

ORDER_KEYS_QUEUE = "core.order_keys_changed"
STATE = "core.orders_state"


def queue_order_keys_sql(keys_sql: str) -> list[str]:
    """The statements that queue the order keys `keys_sql` selects (NULLs are passed over)."""
    return [f"CREATE TABLE IF NOT EXISTS {ORDER_KEYS_QUEUE} (order_key VARCHAR)",
            f"INSERT INTO {ORDER_KEYS_QUEUE} SELECT order_key FROM ({keys_sql}) WHERE order_key IS NOT NULL"]


def queue_every_order_sql() -> list[str]:
    return [f"CREATE TABLE IF NOT EXISTS {ORDER_KEYS_QUEUE} (order_key VARCHAR)",
            f"INSERT INTO {ORDER_KEYS_QUEUE} VALUES (NULL)"]


def orders_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """What every order's row depends on besides its own inputs."""
    [(campaigns,)] = con.execute("SELECT coalesce(sum(hash(c)), 0)::VARCHAR FROM core.campaigns c").fetchall()
    [(company_tz,)] = con.execute("SELECT getvariable('company_tz')").fetchall()
    return content_fingerprint([SQL_DIR / "core" / "orders.sql"], company_tz, campaigns)


def order_scope(con: duckdb.DuckDBPyConnection, fingerprint: str) -> bool:
    """cw_order_scope(order_key): the orders whose inputs changed since core.orders was written.
    False (derive every order) when that cannot be known."""
    present = all(column_names(con, *t.split(".")) for t in ("core.orders", ORDER_KEYS_QUEUE, ORDER_QUEUE))
    if not present or not fingerprint_kept(con, STATE, fingerprint):
        return False
    [(whole,)] = con.execute(f"""
        SELECT (SELECT count(*) FROM {ORDER_KEYS_QUEUE} WHERE order_key IS NULL)
               + (SELECT count(*) FROM {ORDER_QUEUE} WHERE source_file IS NULL)""").fetchall()
    if whole:
        return False
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cw_order_scope AS
        SELECT order_key FROM {ORDER_KEYS_QUEUE}
        UNION
        SELECT m.order_key FROM {ORDER_QUEUE} p
        JOIN core.order_identity_map m USING (entity, source_file, source_row)
        WHERE m.order_key IS NOT NULL""")
    return True


def orders_derived_sql(fingerprint: str) -> list[str]:
    """The queues emptied (created on a build that had none) and the fingerprint kept."""
    return [f"CREATE OR REPLACE TABLE {ORDER_KEYS_QUEUE} (order_key VARCHAR)",
            f"CREATE OR REPLACE TABLE {ORDER_QUEUE} ({QUEUE_COLUMNS})",
            keep_fingerprint_sql(STATE, fingerprint)]
