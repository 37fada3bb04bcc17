"""Ground truth, computed straight from the simulated events (never from the exports or a pipeline)."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from .clock import (ACTIVATION_WINDOW_DAYS, AS_OF, CHURN_WINDOW_DAYS, GO_LIVE, LONDON, STANDARD_PROMISE_DAYS,
                    iso_utc, local_month)
from .exports import write_csv
from .records import Business, Export, Order, Person
from .truth_metrics import onboarding_metrics, order_facts, order_to_delivery_metrics

ERROR_TICKETS = {"Wrong item", "Damaged item", "Missing item"}
ERROR_RETURNS = {"Wrong item", "Damaged", "Missing item"}

ORDER_METRIC_COLUMNS = [
    "period", "dimension", "dimension_value", "orders", "orders_fulfilled", "orders_delivered",
    "cycle_time_median_days", "cycle_time_p90_days", "cycle_time_mean_days", "cycle_time_reduction_vs_previous_pct",
    "cycle_time_reduction_vs_baseline_pct", "accurate_orders", "order_accuracy_rate", "cfsat_responses",
    "cfsat_satisfied", "cfsat_rate", "cfsat_mean_score", "fulfilment_cost_total", "cost_per_order",
    "promise_orders", "promise_kept", "promise_kept_rate", "support_tickets", "support_contacts_per_100_orders"]
ONBOARDING_COLUMNS = [
    "cohort", "customers", "activated_in_window", "activation_rate", "onboarding_time_median_days",
    "onboarding_time_p90_days", "onboarding_csat_responses", "onboarding_csat_satisfied", "onboarding_csat_rate",
    "onboarding_csat_mean_score", "churned_in_window", "early_churn_rate"]


def write_truth(biz: Business, exports: list[Export], out: Path) -> None:
    truth = out / "truth"
    write_params(biz, truth / "params.json")
    write_identities(exports, truth)
    write_hard_cases(biz, exports, truth / "hard_cases.csv")
    customers = true_customers(biz)
    errors = error_orders(biz)
    write_csv(truth / "customers.csv", ["person_id", "start_at", "activated_at", "churned_at", "cohort", "region"],
              [[c["person_id"], iso_utc(c["start_at"]), iso_utc(c["activated_at"]), iso_utc(c["churned_at"]),
                c["cohort"], c["region"]] for c in customers])
    write_csv(truth / "orders.csv", ["order_id", "person_id", "ordered_at", "status", "shipped_at", "delivered_at",
                                     "promised_date", "channel", "campaign", "has_error", "fulfilment_cost"],
              [order_row(o, o.order_id in errors) for o in biz.orders])
    facts = order_facts(biz, errors)
    write_csv(truth / "metrics_order_to_delivery.csv", ORDER_METRIC_COLUMNS,
              [[row.get(c) for c in ORDER_METRIC_COLUMNS] for row in order_to_delivery_metrics(facts)])
    write_csv(truth / "metrics_onboarding.csv", ONBOARDING_COLUMNS,
              [[row.get(c) for c in ONBOARDING_COLUMNS] for row in onboarding_metrics(customers, biz.tickets)])


def write_params(biz: Business, path: Path) -> None:
    params = {
        "seed": biz.seed,
        "scale": biz.scale,
        "as_of": iso_utc(AS_OF),
        "company_timezone": str(LONDON),
        "activation_window_days": ACTIVATION_WINDOW_DAYS,
        "churn_window_days": CHURN_WINDOW_DAYS,
        "go_live_date": GO_LIVE.isoformat(),
        "standard_promise_days": STANDARD_PROMISE_DAYS,
        "currency": "GBP",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")


def write_identities(exports: list[Export], truth: Path) -> None:
    people, orders, rejected = [], [], []
    for export in exports:
        for row, ref in enumerate(export.refs, start=1):
            if ref.bad_column:
                rejected.append([export.file, row, ref.bad_column])
                continue
            if ref.person_id:
                people.append([export.system, export.file, row, ref.person_id])
            if ref.order_id is not None:
                orders.append([export.system, export.file, row, ref.order_id])
    write_csv(truth / "record_identity.csv", ["source_system", "source_file", "source_row", "person_id"], people)
    write_csv(truth / "order_identity.csv", ["source_system", "source_file", "source_row", "order_id"], orders)
    write_csv(truth / "rejected_rows.csv", ["source_file", "source_row", "column_name"], rejected)


def write_hard_cases(biz: Business, exports: list[Export], path: Path) -> None:
    """Each exported person record that carries an identity trap, one row per trap.

    no_email_or_phone: the record carries neither an email nor a phone (placeholders do not count).
    same_name_same_town: every record of two different people who share a name and a town.
    """
    namesakes = {p.person_id for p in biz.people if p.has_namesake}
    rows = []
    for export in exports:
        for row, ref in enumerate(export.refs, start=1):
            if not ref.person_id:
                continue
            cases = list(ref.hard_cases)
            if ref.email is None and ref.phone is None:
                cases.append("no_email_or_phone")
            if ref.person_id in namesakes:
                cases.append("same_name_same_town")
            rows += [[case, export.system, export.file, row, ref.person_id] for case in cases]
    write_csv(path, ["hard_case", "source_system", "source_file", "source_row", "person_id"], sorted(rows))


def error_orders(biz: Business) -> set[int]:
    """Order ids with an error as the metric defines it (warehouse record or a customer's ticket)."""
    errors = {o.order_id for o in biz.orders if o.shipped_at and (
        o.qty_shipped != o.quantity or o.issue or o.return_reason in ERROR_RETURNS)}
    errors |= {t.order_id for t in biz.tickets if t.order_id is not None and t.category in ERROR_TICKETS}
    return errors


def true_customers(biz: Business) -> list[dict]:
    first_order: dict[str, datetime] = {}
    first_delivery: dict[str, datetime] = {}
    for order in biz.orders:
        if not order.cancelled:
            first_order[order.person_id] = min(first_order.get(order.person_id, order.ordered_at), order.ordered_at)
        if order.delivered_at:
            first_delivery[order.person_id] = min(first_delivery.get(order.person_id, order.delivered_at),
                                                  order.delivered_at)
    return [customer_truth(p, first_order.get(p.person_id), first_delivery.get(p.person_id))
            for p in biz.people if p.kind == "customer"]


def customer_truth(person: Person, first_order: datetime | None, first_delivery: datetime | None) -> dict:
    start = person.start_at if person.became_recorded else first_order
    return {"person_id": person.person_id, "start_at": start,
            "activated_at": person.onboarded_at or first_delivery,
            "churned_at": person.churned_at, "cohort": local_month(start), "region": person.region}


def order_row(order: Order, has_error: bool) -> list:
    # The CRM's vocabulary (Approved/Delivered/Cancelled); shipped_at tells in transit from unshipped.
    status = "cancelled" if order.cancelled else "delivered" if order.delivered_at else "open"
    cost = None
    if order.shipped_at:
        cost = (order.shipping_pence + order.pick_pack_pence + order.packaging_pence + order.return_pence) / 100
    return [order.order_id, order.person_id, iso_utc(order.ordered_at), status, iso_utc(order.shipped_at),
            iso_utc(order.delivered_at), order.promised_date.isoformat(), order.channel, order.campaign or "",
            "true" if has_error else "false", cost]
