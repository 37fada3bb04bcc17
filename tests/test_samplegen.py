"""The sample generator: deterministic, shaped as docs/sample-business.md says, truth consistent."""
from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import phonenumbers
import pytest

from samplegen import generate
from samplegen.hardcases import PLACEHOLDER_PHONES

SCALE = 0.1
LANDING_HEADERS = {
    "crm/hubspot_contacts.csv": [
        "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Company Name", "Street Address", "City",
        "State/Region", "Postal Code", "Country/Region", "Lifecycle Stage", "Became a Customer Date",
        "Onboarding Completed Date", "Churn Date", "Original Source", "Create Date"],
    "crm/sales_orders.csv": [
        "Sales Order Number", "Subject", "Contact ID", "Contact Email", "Order Date", "Status", "Quantity",
        "Grand Total", "Sales Channel", "Campaign", "Promised Delivery Date"],
    "marketing/mailchimp_audience.csv": [
        "Email Address", "First Name", "Last Name", "Address", "Phone Number", "MEMBER_RATING", "OPTIN_TIME",
        "CONFIRM_TIME", "LAST_CHANGED", "TAGS", "SIGNUP_CAMPAIGN"],
    "marketing/mailchimp_campaigns.csv": [
        "Title", "Subject", "Send Date", "Total Recipients", "Unique Opens", "Unique Clicks",
        "Delivery Promise (days)"],
    "support/zendesk_tickets.csv": [
        "Id", "Requester", "Requester email", "Requester phone", "Subject", "Order Number", "Category", "Status",
        "Created at", "Solved at", "Satisfaction Score"],
}
SHIPMENT_HEADER = [
    "Order #", "Ship To Name", "Ship To Email", "Ship To Postal Code", "Qty Ordered", "Qty Shipped", "Ship Date",
    "Delivery Date", "Carrier", "Shipping Cost", "Pick & Pack Cost", "Packaging Cost", "Fulfilment Issue",
    "Return Reason", "Return Cost"]
TRUTH_HEADERS = {
    "record_identity.csv": ["source_system", "source_file", "source_row", "person_id"],
    "order_identity.csv": ["source_system", "source_file", "source_row", "order_id"],
    "customers.csv": ["person_id", "start_at", "activated_at", "churned_at", "cohort", "region"],
    "orders.csv": ["order_id", "person_id", "ordered_at", "status", "shipped_at", "delivered_at", "promised_date",
                   "channel", "campaign", "has_error", "fulfilment_cost"],
    "rejected_rows.csv": ["source_file", "source_row", "column_name"],
    "hard_cases.csv": ["hard_case", "source_system", "source_file", "source_row", "person_id"],
    "metrics_order_to_delivery.csv": [
        "period", "dimension", "dimension_value", "orders", "orders_fulfilled", "orders_delivered",
        "cycle_time_median_days", "cycle_time_p90_days", "cycle_time_mean_days",
        "cycle_time_reduction_vs_previous_pct", "cycle_time_reduction_vs_baseline_pct", "accurate_orders",
        "order_accuracy_rate", "cfsat_responses", "cfsat_satisfied", "cfsat_rate", "cfsat_mean_score",
        "fulfilment_cost_total", "cost_per_order", "promise_orders", "promise_kept", "promise_kept_rate",
        "support_tickets", "support_contacts_per_100_orders"],
    "metrics_onboarding.csv": [
        "cohort", "customers", "activated_in_window", "activation_rate", "onboarding_time_median_days",
        "onboarding_time_p90_days", "onboarding_csat_responses", "onboarding_csat_satisfied", "onboarding_csat_rate",
        "onboarding_csat_mean_score", "churned_in_window", "early_churn_rate"],
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(7, SCALE, out)
    return out


def header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def truth(sample: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(sample / "truth" / name, dtype=str, keep_default_na=False)


def landing(sample: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(sample / "landing" / name, dtype=str, keep_default_na=False)


def test_same_seed_gives_byte_identical_files(sample, tmp_path):
    generate(7, SCALE, tmp_path)
    first = sorted(p.relative_to(sample) for p in sample.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert first == second and len(first) == 15
    for rel in first:
        assert (sample / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_csv_headers_match_the_spec(sample):
    for rel, expected in LANDING_HEADERS.items():
        assert header(sample / "landing" / rel) == expected, rel
    for name, expected in TRUTH_HEADERS.items():
        assert header(sample / "truth" / name) == expected, name
    assert b"\r\n" not in (sample / "landing/crm/sales_orders.csv").read_bytes()


def test_shipments_workbook_layout(sample):
    wb = openpyxl.load_workbook(sample / "landing/inventory/shipments.xlsx")
    assert wb.sheetnames == ["Shipments", "Stock"]
    ws = wb["Shipments"]
    assert ws["A1"].value == "Harbour & Hearth — Shipments export"
    assert ws["A2"].value == "Generated 2026-01-15 09:00 UTC"
    assert all(c.value is None for c in ws[3])
    assert [c.value for c in ws[4]] == SHIPMENT_HEADER
    first = [c.value for c in ws[5]]
    assert re.fullmatch(r"#\d+", first[0])
    assert isinstance(first[6], datetime) and first[6].second == 0
    assert isinstance(first[9], float)
    stock = wb["Stock"]
    assert [c.value for c in stock[1]] == ["SKU", "Product", "On Hand", "Reorder Point", "Unit Cost"]
    assert stock.max_row - 1 == 20


def test_metric_rows_exist_and_rates_are_fractions(sample):
    otd = truth(sample, "metrics_order_to_delivery.csv")
    assert set(otd.dimension) == {"all", "channel", "campaign", "region"}
    assert len(otd[(otd.period == "all") & (otd.dimension == "all") & (otd.dimension_value == "all")]) == 1
    assert "(none)" in set(otd[otd.dimension == "campaign"].dimension_value)
    onboarding = truth(sample, "metrics_onboarding.csv")
    assert "all" in set(onboarding.cohort) and len(onboarding) >= 2
    for frame, columns in [(otd, ["order_accuracy_rate", "cfsat_rate", "promise_kept_rate"]),
                           (onboarding, ["activation_rate", "onboarding_csat_rate", "early_churn_rate"])]:
        for column in columns:
            values = pd.to_numeric(frame[column].replace("", None)).dropna()
            assert values.between(0, 1).all(), column


def test_every_sales_order_row_maps_to_a_true_order(sample):
    orders = landing(sample, "crm/sales_orders.csv")
    identity = truth(sample, "order_identity.csv")
    rejected = truth(sample, "rejected_rows.csv")
    true_ids = set(truth(sample, "orders.csv").order_id)
    mapped = identity[identity.source_file == "sales_orders.csv"].set_index("source_row").order_id
    bad = set(rejected[rejected.source_file == "sales_orders.csv"].source_row)
    for row, number in enumerate(orders["Sales Order Number"], start=1):
        if str(row) in bad:
            assert str(row) not in mapped.index
            continue
        assert number == f"SO-{mapped[str(row)]}" and mapped[str(row)] in true_ids
    assert sorted(mapped) == sorted(true_ids)


def test_rejected_rows_are_the_injected_ones(sample):
    rejected = truth(sample, "rejected_rows.csv")
    assert sorted(zip(rejected.source_file, rejected.column_name)) == [
        ("sales_orders.csv", "amount"), ("sales_orders.csv", "ordered_at"),
        ("shipments.xlsx#Shipments", "qty_shipped"), ("zendesk_tickets.csv", "created_at")]
    keys = set(zip(rejected.source_file, rejected.source_row))
    for name in ["record_identity.csv", "order_identity.csv"]:
        frame = truth(sample, name)
        assert not keys & set(zip(frame.source_file, frame.source_row)), name


def test_same_person_normalises_to_one_phone_and_known_emails(sample):
    columns = {"hubspot_contacts.csv": ("crm/hubspot_contacts.csv", "Email", "Phone Number"),
               "mailchimp_audience.csv": ("marketing/mailchimp_audience.csv", "Email Address", "Phone Number"),
               "zendesk_tickets.csv": ("support/zendesk_tickets.csv", "Requester email", "Requester phone"),
               "sales_orders.csv": ("crm/sales_orders.csv", "Contact Email", None)}
    identity = truth(sample, "record_identity.csv")
    emails, phones = {}, {}
    for source_file, (rel, email_col, phone_col) in columns.items():
        frame = landing(sample, rel)
        for _, ref in identity[identity.source_file == source_file].iterrows():
            row = frame.iloc[int(ref.source_row) - 1]
            if row[email_col].strip():
                emails.setdefault(row[email_col].strip().lower(), set()).add(ref.person_id)
            if phone_col and row[phone_col] and row[phone_col] not in PLACEHOLDER_PHONES:
                e164 = phonenumbers.format_number(phonenumbers.parse(row[phone_col], "GB"),
                                                  phonenumbers.PhoneNumberFormat.E164)
                phones.setdefault(ref.person_id, set()).add(e164)
    shared = {e for e, people in emails.items() if len(people) > 1}
    # an email names one person, except a business's shared mailbox (info@, orders@)
    assert all(e.split("@")[0] in {"info", "orders"} for e in shared)
    assert all(len(numbers) == 1 for numbers in phones.values())  # a person has one phone


def test_accuracy_and_monthly_orders_recompute_from_truth_orders(sample):
    orders = pd.read_csv(sample / "truth/orders.csv")
    otd = pd.read_csv(sample / "truth/metrics_order_to_delivery.csv", dtype={"period": str})
    live = orders[orders.status != "cancelled"]
    fulfilled = live[live.shipped_at.notna()]
    overall = otd[(otd.period == "all") & (otd.dimension == "all")].iloc[0]
    assert overall.orders == len(live)
    assert overall.order_accuracy_rate == pytest.approx((~fulfilled.has_error).mean())
    london = ZoneInfo("Europe/London")
    months = pd.to_datetime(live.ordered_at).map(lambda t: t.astimezone(london).strftime("%Y-%m"))
    monthly = otd[(otd.period != "all") & (otd.dimension == "all")].set_index("period").orders
    assert monthly.to_dict() == months.value_counts().sort_index().to_dict()


def test_onboarding_all_row_matches_customers_truth(sample):
    customers = pd.read_csv(sample / "truth/customers.csv")
    onboarding = pd.read_csv(sample / "truth/metrics_onboarding.csv", dtype={"cohort": str})
    days = (pd.to_datetime(customers.activated_at) - pd.to_datetime(customers.start_at)).dt.total_seconds() / 86400
    in_window = days.between(0, 30)
    row = onboarding[onboarding.cohort == "all"].iloc[0]
    assert row.customers == len(customers)
    assert row.activated_in_window == in_window.sum()
    assert row.onboarding_time_median_days == pytest.approx(days[in_window].median())


def test_events_avoid_the_night(sample):
    orders = pd.read_csv(sample / "truth/orders.csv")
    for column in ["ordered_at", "shipped_at", "delivered_at"]:
        hours = pd.to_datetime(orders[column]).dropna().dt.hour
        assert hours.between(6, 21).all(), column
