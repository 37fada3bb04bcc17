"""Each tool's export (tests/fixtures/exports, written from the tool's own export columns) loads
to the canonical schema: dates with their time zones to exact UTC, money, statuses."""

import datetime as dt
import decimal
from pathlib import Path

import pytest

from connectors.profiles import ProfileError, load_overrides, load_profiles
from tests.fixtures.loading import stage

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
UTC = dt.timezone.utc


def ts(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    return stage(tmp_path_factory.mktemp("exports"), EXPORTS)


def rows(staged, table: str, source_file: str) -> list[dict]:
    return staged.records(f"SELECT * FROM staging.{table}_history WHERE source_file = ? ORDER BY source_row", [source_file])


def test_every_profile_says_where_it_was_verified():
    assert all(p.verified for p in load_profiles())


def test_every_fixture_is_detected_by_its_profile(staged):
    got = dict(staged.query("SELECT source_file, profile FROM raw.landing_files WHERE status = 'ready'").values.tolist())
    assert got == {
        "hubspot-crm-exports-all-deals-2025-03-01.csv": "hubspot_deals",
        "report1740000000000.csv": "salesforce_contacts",
        "report1740000000001.csv": "salesforce_opportunities",
        "people-export.csv": "pipedrive_persons",
        "deals-export.csv": "pipedrive_deals",
        "orders_export_1.csv": "shopify_orders",
        "wc-order-export-2025-03-01.csv": "woocommerce_orders",
        "klaviyo_segment_export.csv": "klaviyo_profiles",
        "tickets-export.csv": "freshdesk_tickets",
        "inventory_export_1.csv": "shopify_inventory",
        "shipments-2025-04.csv": "shipstation_shipments_csv",
        "hubspot-crm-exports-all-contacts-2025-07-01.csv": "hubspot_contacts",
        "Sales_Orders_Report.csv": "zoho_sales_orders",
        "members_export_8c1f.csv": "mailchimp_audience",
        "campaigns.csv": "mailchimp_campaigns",
        "export-2025-07-31.csv": "zendesk_tickets",
    }


def test_hubspot_deals_won_is_a_sale_lost_is_cancelled_open_stage_is_quarantined(staged):
    got = rows(staged, "crm_sales_orders", "hubspot-crm-exports-all-deals-2025-03-01.csv")
    assert [(r["order_ref"], r["status"], r["amount"], r["ordered_at"]) for r in got] == [
        ("18233410001", "open", decimal.Decimal("1250.00"), ts(2025, 1, 14, 10, 32)),  # GMT in January
        ("18233410002", "cancelled", decimal.Decimal("480.50"), ts(2025, 2, 3, 16, 5)),
    ]
    assert got[0]["email"] == "owner@cafenero-brighton.co.uk"
    assert staged.rejected("hubspot-crm-exports-all-deals-2025-03-01.csv") == [
        (3, "status", "cannot read 'Appointment Scheduled' as one of: Closed Won, Closed Lost (profile hubspot_deals)")]


def test_salesforce_contacts_uk_dates_and_phones(staged):
    got = rows(staged, "crm_contacts", "report1740000000000.csv")
    assert [(r["crm_contact_id"], r["email"], r["phone"], r["postcode"], r["created_at"]) for r in got] == [
        ("0035g00000ABCDE1", "oliver.bennett@bennettdaughters.co.uk", "+441632960123", "YO1 7HH", ts(2025, 2, 3)),
        ("0035g00000ABCDE2", "amira@khancoffee.co.uk", None, "LS1 4DY", ts(2025, 2, 28)),
    ]
    assert got[0]["company"] == "Bennett & Daughters" and got[1]["original_source"] == "Trade Show"


def test_salesforce_opportunities_currency_code_amounts(staged):
    got = rows(staged, "crm_sales_orders", "report1740000000001.csv")
    assert [(r["order_ref"], r["status"], r["amount"], r["ordered_at"], r["campaign"]) for r in got] == [
        ("0065g00000XYZAB1", "open", decimal.Decimal("2400.00"), ts(2025, 1, 15), "Winter Trade Fair"),
        ("0065g00000XYZAB2", "cancelled", decimal.Decimal("950.00"), ts(2025, 2, 20), None),
    ]


def test_pipedrive_persons_and_deals(staged):
    people = rows(staged, "crm_contacts", "people-export.csv")
    assert [(r["crm_contact_id"], r["first_name"], r["email"], r["phone"], r["created_at"]) for r in people] == [
        ("101", "Grace", "gbrown@icloud.com", "+447504791473", ts(2025, 1, 5, 9, 12, 44)),
        ("102", "Tom", "tom@hughesdeli.co.uk", "+442079460991", ts(2025, 1, 6, 14, 0)),
    ]
    deals = rows(staged, "crm_sales_orders", "deals-export.csv")
    assert [(r["order_ref"], r["status"], r["amount"], r["ordered_at"], r["crm_contact_id"]) for r in deals] == [
        ("501", "open", decimal.Decimal("820.00"), ts(2025, 1, 20, 11, 45, 30), "102")]
    # a lost deal has no won time: not an order, quarantined with the reason
    assert staged.rejected("deals-export.csv") == [(2, "ordered_at", "required value is missing")]


def test_shopify_line_item_rows_collapse_to_one_order(staged):
    got = rows(staged, "crm_sales_orders", "orders_export_1.csv")
    assert [(r["order_ref"], r["source_row"], r["source_rows"], r["quantity"], r["amount"], r["currency"])
            for r in got] == [
        ("#1001", 1, 2, 4, decimal.Decimal("58.81"), "EUR"),  # 3 + 1 line items
        ("#1002", 3, 1, 1, decimal.Decimal("14.90"), "GBP"),
    ]
    first = got[0]
    assert first["ordered_at"] == ts(2025, 3, 7, 8, 50, 26)   # +0100 in the export
    assert first["shipped_at"] == ts(2025, 3, 8, 13, 21, 21)  # "Fulfilled at": left the warehouse
    assert (first["status"], first["email"], first["campaign"], first["channel"]) == (
        "open", "sophie@example.fr", "WELCOME10", "web")
    assert got[1]["status"] == "cancelled" and got[1]["ordered_at"] == ts(2025, 6, 30, 22, 30)
    assert "delivered_at" not in got[0]  # Shopify knows no delivery date


def test_shopify_inventory_not_stocked_is_no_value(staged):
    got = rows(staged, "inventory_stock", "inventory_export_1.csv")
    assert [(r["sku"], r["location"], r["on_hand"]) for r in got] == [
        ("COL-250", "Brighton Warehouse", 42), ("COL-250", "Shop", None), ("KEN-250", "Brighton Warehouse", 8)]
    assert staged.rejected("inventory_export_1.csv") == []


def test_woocommerce_us_dates_in_store_time_zone(staged):
    got = rows(staged, "crm_sales_orders", "wc-order-export-2025-03-01.csv")
    assert [(r["order_ref"], r["status"], r["amount"], r["ordered_at"], r["email"]) for r in got] == [
        ("1501", "open", decimal.Decimal("33.95"), ts(2025, 3, 30, 0, 37), "ruth@example.co.uk"),  # still GMT
        ("1502", "cancelled", decimal.Decimal("14.90"), ts(2025, 3, 31, 8, 5), "sam@example.co.uk"),  # BST
    ]


def test_klaviyo_profiles(staged):
    got = rows(staged, "marketing_subscribers", "klaviyo_segment_export.csv")
    assert [(r["email"], r["phone"], r["opted_in_at"], r["updated_at"], r["signup_campaign"]) for r in got] == [
        ("ruth@example.co.uk", "+447700900111", ts(2025, 3, 2, 18, 4, 5), ts(2025, 3, 28, 7, 15), "Spring Signup Form"),
        ("sam@example.co.uk", None, None, ts(2025, 3, 31, 9, 10), "Checkout"),
    ]


def test_freshdesk_tickets_types_map_to_categories(staged):
    got = rows(staged, "support_tickets", "tickets-export.csv")
    assert [(r["ticket_id"], r["category"], r["status"], r["created_at"], r["solved_at"], r["phone"]) for r in got] == [
        ("3101", "damaged_item", "Closed", ts(2025, 4, 2, 8, 15), ts(2025, 4, 2, 15, 40, 10), "+447700900111"),
        ("3102", "other", "Open", ts(2025, 7, 10, 11, 0), None, None),
    ]


def test_shipstation_ship_date_is_shipped_never_delivered(staged):
    got = rows(staged, "inventory_shipments", "shipments-2025-04.csv")
    assert [(r["order_ref"], r["shipped_at"], r["delivered_at"], r["qty_shipped"], r["shipping_cost"], r["carrier"])
            for r in got] == [
        ("1501", ts(2025, 4, 1), None, 1, decimal.Decimal("3.20"), "Royal Mail"),
        ("#1503", ts(2025, 4, 2), None, 2, decimal.Decimal("6.75"), "DPD"),
    ]


def test_hubspot_contacts_in_portal_time_zone(staged):
    [r] = rows(staged, "crm_contacts", "hubspot-crm-exports-all-contacts-2025-07-01.csv")
    assert (r["crm_contact_id"], r["email"], r["phone"], r["lifecycle_stage"]) == (
        "40100034", "gbrown@icloud.com", "+447504791473", "Customer")
    assert r["became_customer_at"] == ts(2025, 7, 2, 8, 15)        # BST
    assert r["onboarding_completed_at"] == ts(2025, 7, 20, 16, 45)
    assert r["created_at"] == ts(2024, 10, 1, 15, 32)


def test_zoho_sales_orders_pounds_and_uk_dates(staged):
    [r] = rows(staged, "crm_sales_orders", "Sales_Orders_Report.csv")
    assert (r["order_ref"], r["status"], r["amount"], r["quantity"], r["ordered_at"], r["promised_date"]) == (
        "SO-2001", "delivered", decimal.Decimal("1071.70"), 6, ts(2025, 7, 2, 7, 1), dt.date(2025, 7, 7))


def test_mailchimp_audience_and_campaigns(staged):
    [member] = rows(staged, "marketing_subscribers", "members_export_8c1f.csv")
    assert (member["email"], member["phone"], member["member_rating"], member["opted_in_at"], member["updated_at"]) == (
        "gbrown@icloud.com", "+447504791473", 3, ts(2024, 10, 1, 15, 32), ts(2025, 7, 16, 8, 12))
    [campaign] = rows(staged, "marketing_campaigns", "campaigns.csv")
    assert (campaign["campaign_name"], campaign["sent_at"], campaign["recipients"], campaign["promised_delivery_days"]) == (
        "Summer Sale", ts(2025, 7, 1, 19, 30), 265, 3)


def test_zendesk_tickets(staged):
    [r] = rows(staged, "support_tickets", "export-2025-07-31.csv")
    assert (r["ticket_id"], r["category"], r["order_ref"], r["csat_score"], r["created_at"], r["solved_at"]) == (
        "7001", "late_delivery", "SO-2001", 2, ts(2025, 7, 8, 8, 30), ts(2025, 7, 8, 12, 0))


def test_rows_conserved_per_file_counting_collapsed_line_rows(staged):
    counts = staged.query("""
        WITH landed AS (SELECT source_file, count(*) AS n FROM (
                 SELECT source_file FROM raw.crm_sales_orders UNION ALL SELECT source_file FROM raw.crm_contacts
                 UNION ALL SELECT source_file FROM raw.marketing_subscribers UNION ALL SELECT source_file FROM raw.support_tickets
                 UNION ALL SELECT source_file FROM raw.inventory_shipments UNION ALL SELECT source_file FROM raw.inventory_stock
                 UNION ALL SELECT source_file FROM raw.marketing_campaigns)
               GROUP BY 1),
             staged AS (SELECT source_file, sum(source_rows) AS n FROM (
                 SELECT source_file, source_rows FROM staging.crm_sales_orders_history UNION ALL SELECT source_file, source_rows FROM staging.crm_contacts_history
                 UNION ALL SELECT source_file, source_rows FROM staging.marketing_subscribers_history
                 UNION ALL SELECT source_file, source_rows FROM staging.support_tickets_history
                 UNION ALL SELECT source_file, source_rows FROM staging.inventory_shipments_history
                 UNION ALL SELECT source_file, source_rows FROM staging.inventory_stock_history
                 UNION ALL SELECT source_file, source_rows FROM staging.marketing_campaigns_history) GROUP BY 1),
             rejected AS (SELECT source_file, count(DISTINCT source_row) AS n FROM quality.rejected_rows GROUP BY 1)
        SELECT l.source_file, l.n AS landed, coalesce(s.n, 0) AS staged, coalesce(r.n, 0) AS rejected
        FROM landed l LEFT JOIN staged s USING (source_file) LEFT JOIN rejected r USING (source_file)""")
    assert len(counts) == 16
    assert (counts["landed"] == counts["staged"] + counts["rejected"]).all(), counts.to_string()


def test_a_user_can_force_a_profile_for_file_names(tmp_path):
    (tmp_path / "profiles").mkdir()
    for path in (Path(__file__).parent.parent / "schemas").glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "profiles" / "a.yaml").write_text(
        (Path(__file__).parent.parent / "schemas/profiles/crm/woocommerce_orders.yaml").read_text())
    (tmp_path / "profile_overrides.yaml").write_text(
        "overrides:\n  - {files: 'shop-*.csv', profile: woocommerce_orders, delimiter: ';'}\n")
    [override] = load_overrides(tmp_path)
    assert (override.pattern, override.profile.name, override.delimiter) == ("shop-*.csv", "woocommerce_orders", ";")
    (tmp_path / "profile_overrides.yaml").write_text("overrides:\n  - {files: 'x.csv', profile: nosuch}\n")
    load_overrides.cache_clear()
    with pytest.raises(ProfileError, match=r"profile_overrides.yaml: overrides\[0\].profile: no profile named 'nosuch'"):
        load_overrides(tmp_path)
    (tmp_path / "profile_overrides.yaml").write_text("overrides:\n  - {files: 'x.csv', profile: woocommerce_orders, sheets: A}\n")
    load_overrides.cache_clear()
    with pytest.raises(ProfileError, match=r"overrides\[0\]: unknown key\(s\) sheets"):
        load_overrides(tmp_path)
