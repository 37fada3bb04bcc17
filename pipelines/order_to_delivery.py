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
A fact that changed only in its sums (a late ticket, a CSAT score: `ADDITIVE`) moves its groups'
sums by the difference instead: its month's medians cannot have moved, so the month is not grouped
again (most months of a night change only so).
A first build, a full rebuild, another SQL, time zone, go-live date, CSAT threshold or cycle end
(delivery or shipment) derives every fact (the fingerprint kept in
`marts.order_to_delivery_monthly_state`).
"""

import duckdb

from connectors.files import content_fingerprint
from pipelines.changed_rows import bind_scope
from pipelines.metadata import column_names, table_exists
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
# the facts the groups only sum (order_to_delivery_facts.sql gives them no NULL; a NULL on either
# side groups the month again): a change to these alone moves each of the order's groups by the
# difference
ADDITIVE = ("support_tickets", "cfsat_responses", "cfsat_satisfied", "cfsat_score_sum")


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
    run_sql(con, "CREATE OR REPLACE TEMP TABLE cw_otd_facts_now AS SELECT * FROM cw_otd_facts", _facts_changed_sql(con))
    [(changed,)] = con.execute("SELECT count(*) FROM cw_otd_facts_changed").fetchall()
    if not changed:
        run_sql(con, *_inputs_read_sql(True))
        return f"kept: the facts of {_count(con, 'cw_otd_orders')} orders derived again are unchanged"
    run_sql(con, """
        CREATE OR REPLACE TEMP TABLE cw_otd_months AS
        SELECT period_before AS period FROM cw_otd_facts_changed WHERE period_before IS NOT NULL AND NOT sums_only
        UNION SELECT period_after FROM cw_otd_facts_changed WHERE period_after IS NOT NULL AND NOT sums_only""",
            f"DELETE FROM {FACTS} WHERE order_key IN (SELECT order_key FROM cw_otd_facts_changed)",
            f"INSERT INTO {FACTS} SELECT * FROM cw_otd_facts_now "
            "WHERE order_key IN (SELECT order_key FROM cw_otd_facts_changed)")
    regrouped = _count(con, "cw_otd_months") > 0
    run_sql(con, _sums_added_sql(regrouped), f"""
        UPDATE {GROUPS} g SET {', '.join(f'{c} = g.{c} + d.{c}' for c in ADDITIVE)}
        FROM cw_otd_sums_added d
        WHERE g.period = d.period AND g.dimension = d.dimension AND g.dimension_value = d.dimension_value""")
    if regrouped:
        run_sql(con, read_sql(SQL_FILES[1]),
                f"DELETE FROM {GROUPS} WHERE period = 'all' OR period IN (SELECT period FROM cw_otd_months)",
                f"INSERT INTO {GROUPS} SELECT * FROM cw_otd_groups")
    run_sql(con, read_sql(SQL_FILES[2]), *_inputs_read_sql(True))
    [(months, summed)] = con.execute(
        "SELECT (SELECT string_agg(period, ', ' ORDER BY period) FROM cw_otd_months), "
        "(SELECT string_agg(DISTINCT period, ', ' ORDER BY period) FROM cw_otd_sums_added)").fetchall()
    grouped = f"months {months} and 'all' grouped again" if regrouped else "no month grouped again"
    return f"computed: {changed} orders' facts changed, {grouped}" + (f"; sums moved in {summed}" if summed else "")


def _facts_changed_sql(con: duckdb.DuckDBPyConnection) -> str:
    """cw_otd_facts_changed: the facts derived again that differ from those kept, with their month
    before and after; sums_only where they differ only in the ADDITIVE sums, with the difference
    of each and the dimension values of the groups it moves."""
    kept = [c for c in column_names(con, *FACTS.split(".")) if c not in ("order_key", *ADDITIVE)]
    same = " AND ".join(f"n.{c} IS NOT DISTINCT FROM o.{c}" for c in kept)
    present = " AND ".join(f"n.{c} IS NOT NULL AND o.{c} IS NOT NULL" for c in ADDITIVE)
    return f"""
        CREATE OR REPLACE TEMP TABLE cw_otd_facts_changed AS
        SELECT order_key, o.period AS period_before, n.period AS period_after,
               coalesce({same} AND {present}, false) AS sums_only,
               n.period, n.channel_value, n.campaign_value, n.region_value,
               {', '.join(f'n.{c} - o.{c} AS {c}' for c in ADDITIVE)}
        FROM (SELECT *, hash(f) AS row_hash FROM cw_otd_facts_now f) n
        FULL JOIN (SELECT *, hash(f) AS row_hash FROM {FACTS} f
                   WHERE order_key IN (SELECT order_key FROM cw_otd_orders)) o USING (order_key)
        WHERE n.row_hash IS DISTINCT FROM o.row_hash"""


def _sums_added_sql(regrouped: bool) -> str:
    """cw_otd_sums_added: what each group not grouped again gains, grouped as
    order_to_delivery_groups.sql groups (its dimension expressions repeated: DuckDB takes no
    grouping() in a macro); the overall groups too when no month is grouped again."""
    moved = ("SELECT period, channel_value, campaign_value, region_value, " + ", ".join(ADDITIVE)
             + " FROM cw_otd_facts_changed WHERE sums_only")
    overall = "" if regrouped else f"UNION ALL SELECT * REPLACE ('all' AS period) FROM ({moved})"
    return f"""
        CREATE OR REPLACE TEMP TABLE cw_otd_sums_added AS
        SELECT period,
               CASE WHEN grouping(channel_value) = 0 THEN 'channel' WHEN grouping(campaign_value) = 0 THEN 'campaign'
                    WHEN grouping(region_value) = 0 THEN 'region' ELSE 'all' END AS dimension,
               coalesce(channel_value, campaign_value, region_value, 'all') AS dimension_value,
               {', '.join(f'sum({c}) AS {c}' for c in ADDITIVE)}
        FROM (SELECT * FROM ({moved}) WHERE period NOT IN (SELECT period FROM cw_otd_months) {overall})
        GROUP BY GROUPING SETS ((period), (period, channel_value), (period, campaign_value), (period, region_value))"""


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
