"""Asset checks: Great Expectations suites on the warehouse tables, plus aggregate checks that
DuckDB answers in one query. Blocking checks stop the publish; every result is also written to
quality.check_results with the run id.
"""


import datetime as dt
import json
from collections.abc import Callable

import dagster as dg

from pipelines.core import CUSTOMER_IDENTITY_MAP, CUSTOMERS, ORDERS
from pipelines.gx_bridge import outcome_metadata, validate_table
from pipelines.marts import CUSTOMER_360, ONBOARDING, ORDER_TO_DELIVERY
from pipelines.resources import WarehouseResource
from pipelines.staging import staging_assets

CUSTOMER_KEYS_VALID = "customer_keys_unique_and_present"
IDENTITY_LINKS_EXPLAINED = "identity_links_explained"
ORDER_KEYS_AND_TIMES_VALID = "order_keys_unique_and_times_ordered"
ORDER_RATES_IN_RANGE = "order_metrics_in_range"
ONBOARDING_RATES_IN_RANGE = "onboarding_metrics_in_range"
CUSTOMER_360_COMPLETE = "one_row_per_customer"
ROWS_CONSERVED = "rows_conserved"

CHECK_RESULTS_COLUMNS = """run_id VARCHAR, check_name VARCHAR, asset_key VARCHAR, severity VARCHAR,
    passed BOOLEAN, engine VARCHAR, details VARCHAR, checked_at TIMESTAMPTZ"""


def record_result(con, run_id: str, check: str, asset_key: dg.AssetKey, blocking: bool, passed: bool,
                  engine: str, details: dict) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS quality.check_results ({CHECK_RESULTS_COLUMNS})")
    key = asset_key.to_user_string()
    con.execute("DELETE FROM quality.check_results WHERE run_id = ? AND check_name = ? AND asset_key = ?",
                [run_id, check, key])
    con.execute("INSERT INTO quality.check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, check, key, "blocking" if blocking else "warn", passed, engine,
                 json.dumps(details, default=str), dt.datetime.now(dt.timezone.utc)])


def _severity(blocking: bool) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN


def gx_check(asset: dg.AssetKey, name: str, description: str,
             expectations: Callable[[], list], blocking: bool = True) -> dg.AssetChecksDefinition:
    """A Dagster asset check that runs a GX suite on the asset's table."""
    table = ".".join(asset.path)

    @dg.asset_check(asset=asset, name=name, blocking=blocking, description=description)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            outcome = validate_table(con, table, name, expectations())
            metadata = outcome_metadata(outcome)
            record_result(con, context.run.run_id, name, asset, blocking, outcome.success, "great_expectations", metadata)
        return dg.AssetCheckResult(passed=outcome.success, severity=_severity(blocking), metadata=metadata)

    return _check


def sql_check(asset: dg.AssetKey, name: str, description: str, query: str, blocking: bool = True):
    """A Dagster asset check passing when `query` returns no rows; the rows it returns are the failures."""

    @dg.asset_check(asset=asset, name=name, blocking=blocking, description=description)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            failures = con.execute(query).df()
            details = {"failures": int(len(failures)), "sample": failures.head(10).to_dict(orient="records")}
            record_result(con, context.run.run_id, name, asset, blocking, failures.empty, "duckdb", details)
        return dg.AssetCheckResult(passed=failures.empty, severity=_severity(blocking),
                                   metadata={"failures": len(failures),
                                             "sample": dg.MetadataValue.json(details["sample"])})

    return _check


def _expectations():
    """GX's expectation classes, imported on first use: the import takes seconds, so not at load time."""
    import great_expectations as gx

    return gx.expectations


def _between_0_and_1(*columns: str) -> list:
    return [_expectations().ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1) for c in columns]


def _customer_key_expectations() -> list:
    e = _expectations()
    return [e.ExpectColumnValuesToNotBeNull(column="customer_key"), e.ExpectColumnValuesToBeUnique(column="customer_key")]


def _identity_map_expectations() -> list:
    e = _expectations()
    return [
        e.ExpectColumnValuesToNotBeNull(column="customer_key"),
        e.ExpectColumnValuesToBeInSet(column="match_rule", value_set=["crm_id", "email", "phone", "order_ref", "singleton"]),
        *_between_0_and_1("match_probability"),
    ]


def _order_expectations() -> list:
    e = _expectations()
    return [
        e.ExpectColumnValuesToNotBeNull(column="order_key"),
        e.ExpectColumnValuesToBeUnique(column="order_key"),
        e.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="delivered_at", column_B="ordered_at", or_equal=True, ignore_row_if="either_value_is_missing"),
    ]


def _order_mart_expectations() -> list:
    e = _expectations()
    return [
        *_between_0_and_1("order_accuracy_rate", "cfsat_rate", "promise_kept_rate"),
        e.ExpectColumnValuesToBeBetween(column="cycle_time_median_days", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="cfsat_mean_score", min_value=1, max_value=5),
    ]


def _onboarding_mart_expectations() -> list:
    return [
        *_between_0_and_1("activation_rate", "onboarding_csat_rate", "early_churn_rate"),
        _expectations().ExpectColumnValuesToBeBetween(column="onboarding_time_median_days", min_value=0),
    ]


def conservation_query(entity: str) -> str:
    """Files where rows landed differ from rows staged plus rows rejected."""
    return f"""
        WITH landed AS (SELECT source_file, count(*) AS n FROM raw.{entity} GROUP BY ALL),
             staged AS (SELECT source_file, count(*) AS n FROM staging.{entity} GROUP BY ALL),
             rejected AS (SELECT source_file, count(DISTINCT source_row) AS n FROM quality.rejected_rows
                          WHERE entity = '{entity}' GROUP BY ALL)
        SELECT l.source_file, l.n AS landed, coalesce(s.n, 0) AS staged, coalesce(r.n, 0) AS rejected
        FROM landed l LEFT JOIN staged s USING (source_file) LEFT JOIN rejected r USING (source_file)
        WHERE l.n <> coalesce(s.n, 0) + coalesce(r.n, 0)"""


conservation_checks = [
    sql_check(
        asset.key, ROWS_CONSERVED,
        "For every file: rows landed = rows staged + rows rejected. Nothing is silently dropped.",
        conservation_query(asset.key.path[-1]),
    )
    for asset in staging_assets
]

warehouse_checks = [
    gx_check(CUSTOMERS, CUSTOMER_KEYS_VALID, "Every customer has one key, present and unique (GX).",
             _customer_key_expectations),
    gx_check(CUSTOMER_IDENTITY_MAP, IDENTITY_LINKS_EXPLAINED,
             "Every record has a customer and a known match rule with a probability in 0..1 (GX).",
             _identity_map_expectations),
    gx_check(ORDERS, ORDER_KEYS_AND_TIMES_VALID,
             "Order keys are present and unique, and no order is delivered before it was ordered (GX).",
             _order_expectations),
    gx_check(ORDER_TO_DELIVERY, ORDER_RATES_IN_RANGE, "Rates are shares in 0..1, cycle times are not negative (GX).",
             _order_mart_expectations),
    gx_check(ONBOARDING, ONBOARDING_RATES_IN_RANGE,
             "Activation, onboarding CSAT and early churn rates are shares in 0..1 (GX).",
             _onboarding_mart_expectations),
    sql_check(
        CUSTOMER_360, CUSTOMER_360_COMPLETE, "Exactly one row per customer of core.customers.",
        """SELECT customer_key, sum(in_customers) AS in_customers, sum(in_360) AS in_customer_360
           FROM (SELECT customer_key, 1 AS in_customers, 0 AS in_360 FROM core.customers
                 UNION ALL SELECT customer_key, 0, 1 FROM marts.customer_360)
           GROUP BY customer_key HAVING sum(in_customers) <> 1 OR sum(in_360) <> 1""",
    ),
]

all_checks = [*conservation_checks, *warehouse_checks]
