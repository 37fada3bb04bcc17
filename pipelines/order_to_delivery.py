"""marts.order_to_delivery_monthly, computed again only where a night changed an order's facts.

The mart's medians read every order, so it is computed in three layers kept in the build:
- `marts.order_to_delivery_facts`: one row per order counted (order_to_delivery_facts.sql);
- `marts.order_to_delivery_groups`: each month's and the overall sums, counts and quantiles per
  dimension value (order_to_delivery_groups.sql);
- the mart itself, derived from the groups (order_to_delivery_monthly.sql): a few hundred rows.

A night derives the facts of the orders whose inputs may have changed: those core.orders wrote
again (its step passes their keys to `marts.order_to_delivery_orders_changed`), those whose
fulfilment tickets' scores changed and those whose customer's region changed (both compared with
what the facts last read, kept beside them; the regions only of the customers core.customers
built again since, which its step passes to `marts.order_to_delivery_customers_changed`). Only the months of the facts that changed, before or
after, are grouped again, and the overall groups; a night that changed no fact keeps the mart.
A first build, a full rebuild, another SQL, time zone, go-live date, CSAT threshold or cycle end
(delivery or shipment) derives every fact (the fingerprint kept in
`marts.order_to_delivery_monthly_state`).
"""

import duckdb

from connectors.files import content_fingerprint
from pipelines.changed_rows import bind_scope
from pipelines.metadata import table_exists
from pipelines.record_places import fingerprint_kept, keep_fingerprint_sql
from pipelines.sql_assets import SQL_DIR, read_sql, run_sql

FACTS = "marts.order_to_delivery_facts"
GROUPS = "marts.order_to_delivery_groups"
ORDERS_QUEUE = "marts.order_to_delivery_orders_changed"
TICKETS_READ = "marts.order_to_delivery_ticket_facts"   # the tickets' facts per order the facts read
REGIONS_READ = "marts.order_to_delivery_regions"        # each customer's region the facts read
CUSTOMERS_QUEUE = "marts.order_to_delivery_customers_changed"  # customers built again since (a NULL: all)
STATE = "marts.order_to_delivery_monthly_state"
SQL_FILES = ("marts/order_to_delivery_facts.sql", "marts/order_to_delivery_groups.sql",
             "marts/order_to_delivery_monthly.sql")


def set_cycle_end(con: duckdb.DuckDBPyConnection) -> str:
    """The event a cycle ends at, set as otd_cycle_end: delivery where any source knows it, else shipment."""
    [(delivered,)] = con.execute(
        "SELECT EXISTS (SELECT 1 FROM core.orders WHERE delivered_at IS NOT NULL)").fetchall()
    event = "delivered" if delivered else "shipped"
    con.execute("SET VARIABLE otd_cycle_end = ?", [event])
    return event


def views_sql() -> list[str]:
    """The facts' views, reading every order until a scope is bound."""
    return ["CREATE OR REPLACE TEMP TABLE cw_otd_orders (order_key VARCHAR)",
            "CREATE OR REPLACE TEMP TABLE cw_otd_months (period VARCHAR)",
            "SET VARIABLE otd_scoped = false", read_sql(SQL_FILES[0])]


def whole_sql() -> list[str]:
    """Every order's facts, every group and the mart, from core (otd_cycle_end set, views_sql run)."""
    return [f"CREATE OR REPLACE TABLE {FACTS} AS SELECT * FROM cw_otd_facts", read_sql(SQL_FILES[1]),
            f"CREATE OR REPLACE TABLE {GROUPS} AS SELECT * FROM cw_otd_groups", read_sql(SQL_FILES[2])]


def _fingerprint(con: duckdb.DuckDBPyConnection, cycle_end: str) -> str:
    [settings] = con.execute("SELECT getvariable('company_tz'), getvariable('go_live_date')::VARCHAR, "
                             "getvariable('satisfied_min_score')::VARCHAR").fetchall()
    return content_fingerprint([SQL_DIR / f for f in SQL_FILES], cycle_end, *settings)


def _scoped(con: duckdb.DuckDBPyConnection, fingerprint: str) -> bool:
    """cw_otd_orders: the orders whose facts may have changed since they were derived; False
    (derive every order) when that cannot be known."""
    present = all(table_exists(con, t) for t in
                  ("marts.order_to_delivery_monthly", FACTS, GROUPS, ORDERS_QUEUE, TICKETS_READ, REGIONS_READ,
                   CUSTOMERS_QUEUE))
    if not present or not fingerprint_kept(con, STATE, fingerprint):
        return False
    [(whole,)] = con.execute(f"SELECT count(*) FROM {ORDERS_QUEUE} WHERE order_key IS NULL").fetchall()
    if whole:
        return False
    [(everyone,)] = con.execute(f"SELECT count(*) FROM {CUSTOMERS_QUEUE} WHERE customer_key IS NULL").fetchall()
    built = "" if everyone else f"WHERE customer_key IN (SELECT customer_key FROM {CUSTOMERS_QUEUE})"
    run_sql(con, f"""
        CREATE OR REPLACE TEMP TABLE cw_otd_regions_moved AS
        SELECT customer_key FROM (
            (SELECT customer_key, region FROM core.customers {built} EXCEPT SELECT * FROM {REGIONS_READ} {built})
            UNION ALL
            (SELECT * FROM {REGIONS_READ} {built} EXCEPT SELECT customer_key, region FROM core.customers {built}))""", f"""
        CREATE OR REPLACE TEMP TABLE cw_otd_orders AS
        SELECT order_key FROM {ORDERS_QUEUE}
        UNION
        SELECT order_key FROM (
            (SELECT * FROM cw_otd_ticket_facts EXCEPT SELECT * FROM {TICKETS_READ})
            UNION ALL
            (SELECT * FROM {TICKETS_READ} EXCEPT SELECT * FROM cw_otd_ticket_facts))
        UNION
        SELECT order_key FROM core.orders WHERE customer_key IN (SELECT customer_key FROM cw_otd_regions_moved)""")
    return True


def _inputs_read_sql(scoped: bool) -> list[str]:
    """What the facts read of tickets and regions, kept to be compared the next night; the queue emptied."""
    regions = "SELECT customer_key, region FROM core.customers"
    kept = [f"CREATE OR REPLACE TABLE {TICKETS_READ} AS SELECT * FROM cw_otd_ticket_facts",
            f"CREATE OR REPLACE TABLE {ORDERS_QUEUE} (order_key VARCHAR)",
            f"CREATE OR REPLACE TABLE {CUSTOMERS_QUEUE} (customer_key VARCHAR)"]
    if not scoped:
        return [*kept, f"CREATE OR REPLACE TABLE {REGIONS_READ} AS {regions}"]
    # most nights move no region: only the customers whose region moved are written
    return [*kept, f"DELETE FROM {REGIONS_READ} WHERE customer_key IN (SELECT customer_key FROM cw_otd_regions_moved)",
            f"INSERT INTO {REGIONS_READ} {regions} WHERE customer_key IN (SELECT customer_key FROM cw_otd_regions_moved)"]


def build_order_to_delivery(con: duckdb.DuckDBPyConnection, rebuild: bool) -> str:
    """Write the mart (and its facts and groups) as the night's changes require; what was done."""
    cycle_end = set_cycle_end(con)
    fingerprint = _fingerprint(con, cycle_end)
    run_sql(con, *views_sql())
    scoped = not rebuild and _scoped(con, fingerprint)
    bind_scope(con, "otd_scoped", "cw_otd_orders", "order_key VARCHAR", scoped)
    if not scoped:
        run_sql(con, *whole_sql(), *_inputs_read_sql(False), keep_fingerprint_sql(STATE, fingerprint))
        return "computed whole"
    run_sql(con, "CREATE OR REPLACE TEMP TABLE cw_otd_facts_now AS SELECT * FROM cw_otd_facts", f"""
        CREATE OR REPLACE TEMP TABLE cw_otd_facts_changed AS
        SELECT order_key, o.period AS period_before, n.period AS period_after
        FROM (SELECT order_key, period, hash(f) AS row_hash FROM cw_otd_facts_now f) n
        FULL JOIN (SELECT order_key, period, hash(f) AS row_hash FROM {FACTS} f
                   WHERE order_key IN (SELECT order_key FROM cw_otd_orders)) o USING (order_key)
        WHERE n.row_hash IS DISTINCT FROM o.row_hash""")
    [(changed,)] = con.execute("SELECT count(*) FROM cw_otd_facts_changed").fetchall()
    if not changed:
        run_sql(con, *_inputs_read_sql(True))
        return f"kept: the facts of {_count(con, 'cw_otd_orders')} orders derived again are unchanged"
    run_sql(con, """
        CREATE OR REPLACE TEMP TABLE cw_otd_months AS
        SELECT period_before AS period FROM cw_otd_facts_changed WHERE period_before IS NOT NULL
        UNION SELECT period_after FROM cw_otd_facts_changed WHERE period_after IS NOT NULL""",
            f"DELETE FROM {FACTS} WHERE order_key IN (SELECT order_key FROM cw_otd_facts_changed)",
            f"INSERT INTO {FACTS} SELECT * FROM cw_otd_facts_now "
            "WHERE order_key IN (SELECT order_key FROM cw_otd_facts_changed)",
            read_sql(SQL_FILES[1]),
            f"DELETE FROM {GROUPS} WHERE period = 'all' OR period IN (SELECT period FROM cw_otd_months)",
            f"INSERT INTO {GROUPS} SELECT * FROM cw_otd_groups",
            read_sql(SQL_FILES[2]), *_inputs_read_sql(True))
    months = con.execute("SELECT string_agg(period, ', ' ORDER BY period) FROM cw_otd_months").fetchall()[0][0]
    return f"computed: {changed} orders' facts changed, months {months} and 'all' grouped again"


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
