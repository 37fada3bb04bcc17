"""Core layer: customers and orders reconciled across the departments' tools."""


import dagster as dg

from connectors.files import content_fingerprint
from pipelines import order_scope, order_to_delivery, record_places, unpublished
from pipelines.changed_rows import bind_scope, write_changed_rows
from pipelines.identity import load_identity_settings, reconcile_orders, resolve_customers, write_order_references
from pipelines.metadata import table_metadata
from pipelines.per_customer import (
    CUSTOMER_360_FACTS_QUEUE, CUSTOMER_360_QUEUE, CUSTOMERS_FACTS_QUEUE, CUSTOMERS_QUEUE, PerCustomerTable, build_per_customer,
)
from pipelines.resources import WarehouseResource
from pipelines.sql_assets import SQL_DIR, run_sql, run_sql_files
from pipelines.staging import staging_key

ORDER_REFERENCES = dg.AssetKey(["core", "order_references"])
CUSTOMER_IDENTITY_MAP = dg.AssetKey(["core", "customer_identity_map"])
ORDER_IDENTITY_MAP = dg.AssetKey(["core", "order_identity_map"])
FULFILMENTS = dg.AssetKey(["core", "fulfilments"])
TICKETS = dg.AssetKey(["core", "tickets"])
CAMPAIGNS = dg.AssetKey(["core", "campaigns"])
ORDERS = dg.AssetKey(["core", "orders"])
CUSTOMERS = dg.AssetKey(["core", "customers"])

_CORE = dict(group_name="core", kinds={"duckdb", "sql"}, owners=["team:data"])


@dg.asset(
    key=ORDER_REFERENCES,
    deps=[staging_key("crm_sales_orders"), staging_key("inventory_shipments"), staging_key("support_tickets")],
    **_CORE,
    description="Order numbers read from each tool's own reference format (SO-1001, #1001, 1001, "
    "'order 1001' in a ticket subject) by the patterns in schemas/identity.yaml.",
)
def order_references(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        update = write_order_references(con, load_identity_settings(), warehouse.full_rebuild)
        return dg.MaterializeResult(metadata={**table_metadata(con, "core", "order_references"),
                                              "update": dg.MetadataValue.text(update)})


@dg.asset(
    key=CUSTOMER_IDENTITY_MAP,
    deps=[ORDER_REFERENCES, *(staging_key(e) for e in
          ("crm_contacts", "crm_sales_orders", "marketing_subscribers", "support_tickets", "inventory_shipments"))],
    **_CORE,
    description="Every person record from every department (CRM contacts and orders, subscribers, ticket "
    "requesters, ship-to names) with its customer_key and the link that put it there: an analyst's must_link, "
    "a deterministic key (CRM id, normalised email, E.164 phone, the same order; shared mailboxes and "
    "placeholders excluded) or the Fellegi-Sunter model (Splink) on name, email, phone, address and company, "
    "with its match_probability. Keys are stable across runs (core.customer_key_registry, merges and splits "
    "in core.customer_key_history); scored pairs and per-field agreements in core.customer_link_evidence; "
    "borderline pairs in quality.identity_review and identity_review.csv beside the build.",
)
def customer_identity_map(warehouse: WarehouseResource) -> dg.MaterializeResult:
    review_csv = warehouse.settings().build_path.parent / "identity_review.csv"
    with warehouse.connect() as con:
        identity = load_identity_settings()
        counts = resolve_customers(con, identity.customers, review_csv, derive_whole=warehouse.full_rebuild,
                                   references=identity.order_references)
        rules = con.execute(
            "SELECT match_rule, count(*) FROM core.customer_identity_map GROUP BY 1 ORDER BY 1").fetchall()
        return dg.MaterializeResult(metadata={
            **table_metadata(con, "core", "customer_identity_map"),
            **{name: dg.MetadataValue.int(value) for name, value in counts.items()
               if name not in ("model_prior", "linkage", "person_records_derived", "records_clustered")},
            "linkage": dg.MetadataValue.text(counts["linkage"]),
            # "all", or on a night the places whose staged record or order reference changed
            "person_records_derived": dg.MetadataValue.text(counts["person_records_derived"]),
            # "all", or on a night the records of the components a changed link touched
            "records_clustered": dg.MetadataValue.text(counts["records_clustered"]),
            "model_prior": dg.MetadataValue.float(counts["model_prior"]),
            "records_by_rule": dg.MetadataValue.json({rule: int(n) for rule, n in rules}),
            "review_csv": dg.MetadataValue.path(str(review_csv)),
        })


@dg.asset(
    key=ORDER_IDENTITY_MAP,
    deps=[ORDER_REFERENCES, CUSTOMER_IDENTITY_MAP, staging_key("crm_sales_orders"), staging_key("inventory_shipments")],
    **_CORE,
    description="Every record that names an order, with the order it was reconciled to and the pattern "
    "that matched; a shipment whose reference matches no pattern is matched to its customer's order by "
    "date and quantity (order_fallback in schemas/identity.yaml). References that match no known order "
    "are listed in quality.unmatched_order_refs.",
)
def order_identity_map(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        update, derived = reconcile_orders(con, load_identity_settings().order_fallback, warehouse.full_rebuild)
        unmatched = con.execute("SELECT count(*) FROM quality.unmatched_order_refs").fetchone()[0]
        return dg.MaterializeResult(metadata={
            **table_metadata(con, "core", "order_identity_map"),
            "unmatched_references": dg.MetadataValue.int(int(unmatched)),
            "update": dg.MetadataValue.text(update),
            # "all", or on a night the places whose reference or order changed and the fallback's
            "places_derived": dg.MetadataValue.text(derived),
        })


def _simple_sql_asset(key: dg.AssetKey, deps: list, description: str) -> dg.AssetsDefinition:
    """A table from its SQL file, written whole."""
    table = key.path[-1]

    @dg.asset(key=key, deps=deps, **_CORE, description=description)
    def _asset(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            con.execute("SET VARIABLE source_priority = ?", [list(load_identity_settings().source_priority)])
            run_sql_files(con, f"core/{table}.sql")
            return dg.MaterializeResult(metadata=table_metadata(con, "core", table))

    return _asset


def _places_sql_asset(key: dg.AssetKey, deps: list, description: str, rows: unpublished.UnpublishedRows,
                      scope: record_places.PlacesScope, customers_to: tuple[str, ...] = ()) -> dg.AssetsDefinition:
    """A table from its SQL file (the view cw_<table>), written by the rows that changed: whole, or
    on a night only at the places whose staged record or identity-map rows changed, whose orders
    core.orders then derives again (and whose customers the `customers_to` queues' tables)."""
    table = key.path[-1]
    # the keys a night derives: the places themselves, or the keys of the rows there
    keys = f"cw_{table}_keys" if scope.keys_sql else scope.places

    @dg.asset(key=key, deps=deps, **_CORE, description=description)
    def _asset(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            fingerprint = content_fingerprint([SQL_DIR / "core" / f"{table}.sql"])
            scoped = not warehouse.full_rebuild and record_places.places_scope(con, scope, fingerprint)
            bind_scope(con, f"{table}_scoped", keys, ", ".join(f"{c} {t}" for c, t in rows.key.items()), scoped)
            run_sql_files(con, f"core/{table}.sql")
            update = write_changed_rows(con, rows, f"cw_{table}", warehouse.full_rebuild,
                                        within=keys if scoped else None, order_keys=True,
                                        customers_to=customers_to)
            derived = con.execute(f"SELECT count(*) FROM {scope.places}").fetchall()[0][0] if scoped else None
            run_sql(con, *record_places.places_derived_sql(scope, fingerprint))
            return dg.MaterializeResult(metadata={
                **table_metadata(con, "core", table),
                "update": dg.MetadataValue.text(update),
                # "all", or on a night the places whose record or rows of the maps changed
                "places_derived": dg.MetadataValue.text("all" if derived is None else f"{derived} places"),
            })

    return _asset


fulfilments = _places_sql_asset(
    FULFILMENTS, [ORDER_IDENTITY_MAP, staging_key("inventory_shipments")],
    "Shipments per order from the fulfilment tool: shipped and delivered times (UTC), quantities, "
    "pick/pack, packaging, shipping and return costs, flagged issues and return reasons. A night derives "
    "again only the shipments whose staged record or order changed.",
    unpublished.FULFILMENTS, record_places.FULFILMENT_PLACES,
)
tickets = _places_sql_asset(
    TICKETS, [staging_key("support_tickets"), CUSTOMER_IDENTITY_MAP, ORDER_IDENTITY_MAP],
    "Support tickets with the customer who raised them and the order they concern, category, "
    "timestamps (UTC) and CSAT score. A night derives again only the tickets whose staged record, "
    "customer or order changed.",
    unpublished.TICKETS, record_places.TICKET_PLACES, customers_to=(CUSTOMER_360_FACTS_QUEUE,),
)
campaigns = _simple_sql_asset(
    CAMPAIGNS, [staging_key("marketing_campaigns")],
    "Marketing campaigns with send time and any delivery promise they made.",
)


@dg.asset(
    key=ORDERS,
    deps=[staging_key("crm_sales_orders"), ORDER_IDENTITY_MAP, CUSTOMER_IDENTITY_MAP, FULFILMENTS, TICKETS, CAMPAIGNS],
    **_CORE,
    description="One row per order across CRM, fulfilment and support: customer, ordered/shipped/delivered times "
    "(UTC), promised date, fulfilment cost, linked tickets and whether it went wrong (and why). A night derives "
    "again only the orders whose sales order, references, customer, fulfilments or tickets changed.",
)
def orders(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        fingerprint = order_scope.orders_fingerprint(con)
        scoped = not warehouse.full_rebuild and order_scope.order_scope(con, fingerprint)
        bind_scope(con, "orders_scoped", "cw_order_scope", "order_key VARCHAR", scoped)
        run_sql_files(con, "core/orders.sql")
        update = write_changed_rows(con, unpublished.ORDERS, "cw_orders", warehouse.full_rebuild,
                                    within="cw_order_scope" if scoped else None,
                                    passed_to=(order_to_delivery.ORDERS_QUEUE,),
                                    customers_to=(CUSTOMERS_FACTS_QUEUE, CUSTOMER_360_FACTS_QUEUE))
        derived = con.execute("SELECT count(*) FROM cw_order_scope").fetchall()[0][0] if scoped else None
        run_sql(con, *order_scope.orders_derived_sql(fingerprint))
        return dg.MaterializeResult(metadata={
            **table_metadata(con, "core", "orders"),
            "update": dg.MetadataValue.text(update),
            # "all", or on a night the orders whose inputs changed
            "orders_derived": dg.MetadataValue.text("all" if derived is None else f"{derived} orders"),
        })


CUSTOMERS_BY_KEY = PerCustomerTable(
    table="core.customers", queue=CUSTOMERS_QUEUE, facts_queue=CUSTOMERS_FACTS_QUEUE,
    facts_sql="core/customer_order_facts.sql", facts={"cw_order_facts": "core.customer_order_facts"},
    rows_sql="core/customers.sql", next_queues=(CUSTOMER_360_QUEUE, order_to_delivery.CUSTOMERS_QUEUE), published=unpublished.CUSTOMERS,
)


@dg.asset(
    key=CUSTOMERS, deps=[CUSTOMER_IDENTITY_MAP, ORDERS], **_CORE,
    description="The golden record: one row per customer with attributes by source priority and recency, which "
    "systems know them, and lifecycle dates (start, activation, churn) with where each came from. A night "
    "builds again only the customers whose records or first order or delivery changed.",
)
def customers(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        priority = list(load_identity_settings().source_priority)
        con.execute("SET VARIABLE source_priority = ?", [priority])
        update = build_per_customer(con, CUSTOMERS_BY_KEY, warehouse.full_rebuild, priority)
        return dg.MaterializeResult(metadata={**table_metadata(con, "core", "customers"),
                                              "update": dg.MetadataValue.text(update)})

core_assets = [order_references, customer_identity_map, order_identity_map,
               fulfilments, tickets, campaigns, orders, customers]
