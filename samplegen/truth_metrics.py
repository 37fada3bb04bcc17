"""The metric definitions of docs/sample-business.md, applied to the true events."""
from __future__ import annotations

from datetime import timedelta

import numpy as np

from .clock import ACTIVATION_WINDOW_DAYS, CHURN_WINDOW_DAYS, GO_LIVE, local_date, local_month
from .records import Business, Ticket

CFSAT_CATEGORIES = {"Wrong item", "Damaged item", "Missing item", "Late delivery"}
DIMENSIONS = ["all", "channel", "campaign", "region"]
DAY = 86400.0


def days(delta: timedelta) -> float:
    return delta.total_seconds() / DAY


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def median(values: list[float]) -> float | None:
    return float(np.percentile(values, 50)) if values else None


def p90(values: list[float]) -> float | None:
    return float(np.percentile(values, 90)) if values else None


def mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def reduction(earlier: float | None, now: float | None) -> float | None:
    if earlier is None or now is None or earlier == 0:
        return None
    return (earlier - now) / earlier * 100


def previous_month(period: str) -> str:
    year, month = int(period[:4]), int(period[5:])
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


# --- order to delivery -----------------------------------------------------------------------

def order_facts(biz: Business, errors: set[int]) -> list[dict]:
    """One record per non-cancelled order with everything the metrics need."""
    region = {p.person_id: p.region for p in biz.people}
    tickets: dict[int, list[Ticket]] = {}
    for ticket in biz.tickets:
        if ticket.order_id is not None:
            tickets.setdefault(ticket.order_id, []).append(ticket)
    facts = []
    for order in biz.orders:
        if order.cancelled:
            continue
        linked = tickets.get(order.order_id, [])
        delivered = order.delivered_at is not None
        facts.append({
            "period": local_month(order.ordered_at),
            "before_go_live": local_date(order.ordered_at) < GO_LIVE,
            "channel": order.channel,
            "campaign": order.campaign or "(none)",
            "region": region[order.person_id],
            "fulfilled": order.shipped_at is not None,
            "cycle_days": days(order.delivered_at - order.ordered_at) if delivered else None,
            "has_error": order.order_id in errors,
            "cost_pence": (order.shipping_pence + order.pick_pack_pence + order.packaging_pence
                           + order.return_pence) if order.shipped_at else 0,
            "promise_kept": (local_date(order.delivered_at) <= order.promised_date) if delivered else None,
            "tickets": len(linked),
            "cfsat_scores": [t.score for t in linked if t.category in CFSAT_CATEGORIES and t.score is not None],
        })
    return facts


def dimension_value(fact: dict, dimension: str) -> str:
    return "all" if dimension == "all" else fact[dimension]


def order_to_delivery_metrics(facts: list[dict]) -> list[dict]:
    groups: dict[tuple[str, str, str], list[dict]] = {}
    baseline_groups: dict[tuple[str, str], list[float]] = {}
    after_groups: dict[tuple[str, str], list[float]] = {}
    for fact in facts:
        for dimension in DIMENSIONS:
            value = dimension_value(fact, dimension)
            for period in (fact["period"], "all"):
                groups.setdefault((period, dimension, value), []).append(fact)
            if fact["cycle_days"] is not None:
                side = baseline_groups if fact["before_go_live"] else after_groups
                side.setdefault((dimension, value), []).append(fact["cycle_days"])
    baselines = {key: median(values) for key, values in baseline_groups.items()}
    medians = {key: median([f["cycle_days"] for f in group if f["cycle_days"] is not None])
               for key, group in groups.items()}
    rows = []
    for key in sorted(groups, key=row_order):
        period, dimension, value = key
        row = group_metrics(groups[key])
        row.update(period=period, dimension=dimension, dimension_value=value)
        if period == "all":
            row["cycle_time_reduction_vs_baseline_pct"] = reduction(
                baselines.get((dimension, value)), median(after_groups.get((dimension, value), [])))
        else:
            row["cycle_time_reduction_vs_previous_pct"] = reduction(
                medians.get((previous_month(period), dimension, value)), row["cycle_time_median_days"])
            row["cycle_time_reduction_vs_baseline_pct"] = reduction(
                baselines.get((dimension, value)), row["cycle_time_median_days"])
        rows.append(row)
    return rows


def row_order(key: tuple[str, str, str]) -> tuple:
    period, dimension, value = key
    return (period == "all", period, DIMENSIONS.index(dimension), value)


def group_metrics(group: list[dict]) -> dict:
    fulfilled = [f for f in group if f["fulfilled"]]
    cycles = [f["cycle_days"] for f in group if f["cycle_days"] is not None]
    promised = [f["promise_kept"] for f in group if f["promise_kept"] is not None]
    scores = [s for f in group for s in f["cfsat_scores"]]
    accurate = sum(1 for f in fulfilled if not f["has_error"])
    satisfied = sum(1 for s in scores if s >= 4)
    cost_total = sum(f["cost_pence"] for f in fulfilled) / 100
    tickets = sum(f["tickets"] for f in group)
    return {
        "orders": len(group), "orders_fulfilled": len(fulfilled), "orders_delivered": len(cycles),
        "cycle_time_median_days": median(cycles), "cycle_time_p90_days": p90(cycles),
        "cycle_time_mean_days": mean(cycles),
        "accurate_orders": accurate, "order_accuracy_rate": ratio(accurate, len(fulfilled)),
        "cfsat_responses": len(scores), "cfsat_satisfied": satisfied, "cfsat_rate": ratio(satisfied, len(scores)),
        "cfsat_mean_score": mean(scores),
        "fulfilment_cost_total": cost_total, "cost_per_order": ratio(cost_total, len(fulfilled)),
        "promise_orders": len(promised), "promise_kept": sum(promised),
        "promise_kept_rate": ratio(sum(promised), len(promised)),
        "support_tickets": tickets, "support_contacts_per_100_orders": ratio(tickets * 100, len(group)),
    }


# --- onboarding ------------------------------------------------------------------------------

def onboarding_metrics(customers: list[dict], tickets: list[Ticket]) -> list[dict]:
    tickets_of: dict[str, list[Ticket]] = {}
    for ticket in tickets:
        tickets_of.setdefault(ticket.person_id, []).append(ticket)
    cohorts: dict[str, list[dict]] = {}
    for customer in customers:
        for cohort in (customer["cohort"], "all"):
            cohorts.setdefault(cohort, []).append(customer)
    rows = []
    for cohort in sorted(cohorts, key=lambda c: (c == "all", c)):
        row = cohort_metrics(cohorts[cohort], tickets_of)
        row["cohort"] = cohort
        rows.append(row)
    return rows


def cohort_metrics(group: list[dict], tickets_of: dict[str, list[Ticket]]) -> dict:
    window = timedelta(days=ACTIVATION_WINDOW_DAYS)
    onboarding_days, scores, churned = [], [], 0
    for c in group:
        start = c["start_at"]
        if c["activated_at"] is not None and timedelta(0) <= c["activated_at"] - start <= window:
            onboarding_days.append(days(c["activated_at"] - start))
        scores += [t.score for t in tickets_of.get(c["person_id"], [])
                   if t.score is not None and start <= t.created_at <= start + window]
        if c["churned_at"] is not None and c["churned_at"] - start <= timedelta(days=CHURN_WINDOW_DAYS):
            churned += 1
    satisfied = sum(1 for s in scores if s >= 4)
    return {
        "customers": len(group), "activated_in_window": len(onboarding_days),
        "activation_rate": ratio(len(onboarding_days), len(group)),
        "onboarding_time_median_days": median(onboarding_days), "onboarding_time_p90_days": p90(onboarding_days),
        "onboarding_csat_responses": len(scores), "onboarding_csat_satisfied": satisfied,
        "onboarding_csat_rate": ratio(satisfied, len(scores)), "onboarding_csat_mean_score": mean(scores),
        "churned_in_window": churned, "early_churn_rate": ratio(churned, len(group)),
    }
