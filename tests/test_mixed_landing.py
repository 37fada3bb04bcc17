"""Several tools per family in one landing folder (tests/fixtures/mixed_landing): CRM from
Salesforce, Pipedrive and WooCommerce, marketing from Klaviyo and Mailchimp, support from
Freshdesk and Zendesk, inventory from ShipStation and Shopify. The nightly job reconciles them
into one set of customers and orders and publishes."""

import datetime as dt
from pathlib import Path

import pytest

from tests.conftest import nightly_run_in

MIXED = Path(__file__).parent / "fixtures" / "mixed_landing"
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    run = nightly_run_in(tmp_path_factory.mktemp("mixed"), MIXED)
    assert run.result.success and run.published.exists()
    return run


def test_every_export_is_recognised(mixed_run):
    got = dict(mixed_run.query("SELECT source_file, profile FROM raw.landing_files WHERE status = 'ready'").values.tolist())
    assert got == {
        "wc-order-export.csv": "woocommerce_orders", "deals-export.csv": "pipedrive_deals",
        "people-export.csv": "pipedrive_persons", "report1740000000000.csv": "salesforce_contacts",
        "klaviyo_segment_export.csv": "klaviyo_profiles", "mailchimp_audience.csv": "mailchimp_audience",
        "tickets-export.csv": "freshdesk_tickets", "zendesk_tickets.csv": "zendesk_tickets",
        "shipments-2025-03.csv": "shipstation_shipments_csv", "inventory_export_1.csv": "shopify_inventory",
    }


def test_one_customer_per_person_across_tools(mixed_run):
    customers = mixed_run.query("SELECT customer_key, full_name, source_records FROM core.customers", published=False)
    assert sorted(zip(customers["full_name"], customers["source_records"])) == [
        ("Grace Brown", 2), ("Ruth Evans", 5), ("Sam Lee", 2), ("Tom Hughes", 5)]
    links = mixed_run.query(
        "SELECT c.full_name, list(DISTINCT m.source_file ORDER BY m.source_file) AS files "
        "FROM core.customer_identity_map m JOIN core.customers c USING (customer_key) GROUP BY 1", published=False)
    files = dict(zip(links["full_name"], links["files"].map(list)))
    assert files["Ruth Evans"] == ["klaviyo_segment_export.csv", "report1740000000000.csv", "shipments-2025-03.csv",
                                   "tickets-export.csv", "wc-order-export.csv"]
    assert files["Tom Hughes"] == ["deals-export.csv", "people-export.csv", "shipments-2025-03.csv",
                                   "wc-order-export.csv", "zendesk_tickets.csv"]


def test_one_order_per_number_across_tools(mixed_run):
    orders = mixed_run.query(
        "SELECT o.order_key, c.full_name, o.ordered_at, o.status, o.amount, o.shipped_at, o.delivered_at, "
        "o.shipments, o.support_tickets FROM core.orders o LEFT JOIN core.customers c USING (customer_key) "
        "ORDER BY o.order_key", published=False)
    rows = [tuple(None if v != v else v for v in r) for r in orders.astype(object).itertuples(index=False)]
    assert [(r[0], r[1], r[3], float(r[4]), r[7], r[8]) for r in rows] == [
        ("ORD-1501", "Ruth Evans", "open", 33.95, 1, 1),      # Woo order, ShipStation parcel, Freshdesk ticket
        ("ORD-1502", "Sam Lee", "cancelled", 14.90, 0, 0),
        ("ORD-1503", "Tom Hughes", "open", 48.85, 1, 1),      # "#1503" in ShipStation, "1503" in Zendesk
        ("ORD-501", "Tom Hughes", "open", 820.00, 0, 0),      # a won Pipedrive deal
    ]
    by_key = {r[0]: r for r in rows}
    assert by_key["ORD-1501"][2].astimezone(UTC) == dt.datetime(2025, 3, 3, 10, 37, tzinfo=UTC)
    assert by_key["ORD-1501"][5].astimezone(UTC) == dt.datetime(2025, 3, 4, tzinfo=UTC)
    # no tool here exports a delivery date: none is invented from a ship date
    assert all(r[6] is None for r in rows)
