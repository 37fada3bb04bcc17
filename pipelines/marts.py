"""Marts: the cross-functional metrics, the customer 360 and the metric catalog."""


import math
from functools import cache

import dagster as dg
import pandas as pd

from connectors.profiles import SCHEMAS_DIR
from connectors.yaml_files import read_yaml
from pipelines import unpublished
from pipelines.core import CUSTOMER_IDENTITY_MAP, CUSTOMERS, FULFILMENTS, ORDERS, TICKETS
from pipelines.metadata import markdown_table, table_metadata
from pipelines.per_customer import CUSTOMER_360_FACTS_QUEUE, CUSTOMER_360_QUEUE, PerCustomerTable, build_per_customer
from pipelines.order_to_delivery import build_order_to_delivery
from pipelines.resources import WarehouseResource
from pipelines.sql_assets import run_sql_files

ORDER_TO_DELIVERY = dg.AssetKey(["marts", "order_to_delivery_monthly"])
ONBOARDING = dg.AssetKey(["marts", "onboarding_cohorts_monthly"])
CUSTOMER_360 = dg.AssetKey(["marts", "customer_360"])
METRIC_CATALOG = dg.AssetKey(["marts", "metric_catalog"])

ORDER_HEADLINES = (
    "orders", "cycle_time_median_days", "cycle_time_p90_days", "cycle_time_reduction_vs_baseline_pct",
    "order_accuracy_rate", "cfsat_rate", "cfsat_mean_score", "cost_per_order", "promise_kept_rate",
    "support_contacts_per_100_orders",
)
ONBOARDING_HEADLINES = (
    "customers", "onboarding_time_median_days", "activation_rate", "onboarding_csat_rate",
    "onboarding_csat_mean_score", "early_churn_rate",
)
_MARTS = dict(group_name="marts", kinds={"duckdb", "sql"}, owners=["team:data"])


@cache
def load_metric_catalog() -> list[dict]:
    return read_yaml(SCHEMAS_DIR / "metric_catalog.yaml")["metrics"]


def _headline_metadata(row: pd.Series, names: tuple[str, ...]) -> dict:
    """Each headline as numeric metadata, so the UI plots it across runs."""
    out = {}
    for name in names:
        value = row.get(name)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            out[f"overall/{name}"] = dg.MetadataValue.float(float(value))
    return out


@dg.asset(
    key=ORDER_TO_DELIVERY,
    deps=[ORDERS, CUSTOMERS, TICKETS, FULFILMENTS],
    **_MARTS,
    tags={"departments": "sales.operations.support.marketing"},
    description="Order-to-delivery metrics by order month and overall ('all'), for the business and by "
    "channel, campaign and region: cycle time (median, p90, mean) and its reduction vs the previous month "
    "and the go-live baseline, order accuracy, fulfilment CSAT, cost per order, promise kept, support "
    "contacts per 100 orders. Definitions in marts.metric_catalog.",
)
def order_to_delivery_monthly(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        update = build_order_to_delivery(con, warehouse.full_rebuild)
        monthly = con.execute(
            "SELECT * FROM marts.order_to_delivery_monthly WHERE dimension = 'all' ORDER BY period = 'all', period"
        ).df()
        metadata = table_metadata(con, "marts", "order_to_delivery_monthly")
    overall = monthly[monthly["period"] == "all"]
    headline = _headline_metadata(overall.iloc[0], ORDER_HEADLINES) if len(overall) else {}
    preview = monthly[["period", "orders", "cycle_time_median_days", "order_accuracy_rate", "cfsat_rate",
                       "cost_per_order", "promise_kept_rate"]].round(3)
    return dg.MaterializeResult(metadata={
        **metadata, **headline, "by_month": markdown_table(preview),
        "update": dg.MetadataValue.text(update)})


@dg.asset(
    key=ONBOARDING,
    deps=[CUSTOMERS, TICKETS, ORDERS, FULFILMENTS],
    **_MARTS,
    tags={"departments": "sales.operations.support.marketing"},
    description="Onboarding metrics by customer start-month cohort and overall ('all'): onboarding time, "
    "activation rate within the window, CSAT during onboarding, early churn, with flags saying whether "
    "each cohort's window has fully elapsed. Definitions in marts.metric_catalog.",
)
def onboarding_cohorts_monthly(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        run_sql_files(con, "marts/onboarding_cohorts_monthly.sql")
        cohorts = con.execute("SELECT * FROM marts.onboarding_cohorts_monthly").df()
        metadata = table_metadata(con, "marts", "onboarding_cohorts_monthly")
    overall = cohorts[cohorts["cohort"] == "all"]
    headline = _headline_metadata(overall.iloc[0], ONBOARDING_HEADLINES) if len(overall) else {}
    preview = cohorts[["cohort", "customers", "activation_rate", "onboarding_time_median_days",
                       "onboarding_csat_rate", "early_churn_rate"]].round(3)
    return dg.MaterializeResult(metadata={**metadata, **headline, "by_cohort": markdown_table(preview)})


CUSTOMER_360_BY_KEY = PerCustomerTable(
    table="marts.customer_360", queue=CUSTOMER_360_QUEUE, facts_queue=CUSTOMER_360_FACTS_QUEUE,
    facts_sql="marts/customer_360_facts.sql",
    facts={"cw_360_order_facts": "marts.customer_360_order_facts", "cw_360_ticket_facts": "marts.customer_360_ticket_facts"},
    rows_sql="marts/customer_360.sql", published=unpublished.CUSTOMER_360, rows_from="core.customers",
)


@dg.asset(
    key=CUSTOMER_360,
    deps=[CUSTOMERS, CUSTOMER_IDENTITY_MAP, ORDERS, TICKETS],
    **_MARTS,
    description="One row per customer: golden record, which departments' systems know them, orders, "
    "lifetime value, tickets and CSAT, and the first campaign that reached them. A night builds again only "
    "the customers whose golden record, orders or tickets changed.",
)
def customer_360(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        update = build_per_customer(con, CUSTOMER_360_BY_KEY, warehouse.full_rebuild)
        return dg.MaterializeResult(metadata={**table_metadata(con, "marts", "customer_360"),
                                              "update": dg.MetadataValue.text(update)})


@dg.asset(
    key=METRIC_CATALOG,
    **_MARTS,
    description="Each metric's definition, unit, grain, the table and columns that hold it, the "
    "departments it spans and the reason for each judgement call (from schemas/metric_catalog.yaml).",
)
def metric_catalog(warehouse: WarehouseResource) -> dg.MaterializeResult:
    catalog = pd.DataFrame(
        [
            {
                "metric_id": m["id"], "name": m["name"], "definition": " ".join(m["definition"].split()),
                "unit": m["unit"], "grain": m["grain"], "table_name": m["table"],
                "columns": ", ".join(m["columns"]), "departments": ", ".join(m["departments"]),
                "department_count": len(m["departments"]), "why": " ".join(m.get("why", "").split()),
            }
            for m in load_metric_catalog()
        ]
    )
    with warehouse.connect() as con:
        con.execute("CREATE OR REPLACE TABLE marts.metric_catalog AS SELECT * FROM catalog")
        return dg.MaterializeResult(metadata=table_metadata(con, "marts", "metric_catalog"))


marts_assets = [order_to_delivery_monthly, onboarding_cohorts_monthly, customer_360, metric_catalog]
