"""Simulate Harbour & Hearth Coffee Co. as true events (naive UTC, whole minutes, 06:00-21:59)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from . import reference as ref
from .clock import (AS_OF, CUSTOMERS_FROM, CUSTOMERS_TO, GO_LIVE, LEADS_FROM, ORDERS_UNTIL,
                    STANDARD_PROMISE_DAYS, after, into_hours, local_date, random_day, time_of_day)
from .hardcases import (add_namesakes, add_shared_mailboxes, change_surnames, colleague_ticket_times,
                        mistype_email_domains, move_house)
from .people import Registry, give_alt_email, make_person
from .records import Business, Campaign, Order, Person, Ticket

ERROR_CATEGORY = {"Wrong item": "Wrong item", "Damaged": "Damaged item", "Missing item": "Missing item"}
PROBLEM_CATEGORIES = {"Wrong item", "Damaged item", "Missing item", "Late delivery"}
HOLIDAY_RUSH = datetime(2025, 12, 12, 0, 0)
UNIT_PRICE = {name: int(round(cost * 2.8 / 50.0)) * 50 - 5 for _, name, cost in ref.PRODUCTS}


def simulate(seed: int, scale: float) -> Business:
    rng = random.Random(f"harbour-hearth:{seed}:simulate")
    registry = Registry(rng)
    biz = Business(seed=seed, scale=scale)
    customers = [make_customer(registry, rng) for _ in range(max(1, round(400 * scale)))]
    customers += add_namesakes(customers, max(2, round(4 * scale)), make_customer, registry, rng)
    leads = [make_lead(registry, rng) for _ in range(max(1, round(640 * scale)))]
    others = [make_other(registry, rng) for _ in range(max(1, round(12 * scale)))]
    colleagues = add_shared_mailboxes(customers, 0.3, registry, rng)
    biz.people = number_people(customers + leads + others + colleagues)
    give_alt_emails(customers, registry, rng)
    change_surnames(customers, 0.04, rng)
    move_house(customers, 0.04, rng)
    mistype_email_domains(customers, 0.04, registry, rng)
    subscribe(customers, leads, rng)
    biz.campaigns = make_campaigns(rng)
    orders = [o for c in customers for o in customer_orders(c, rng)]
    orders += campaign_orders(customers, biz.campaigns, rng)
    attribute_to_campaigns(orders, {p.person_id: p for p in customers}, biz.campaigns, rng)
    biz.orders = number_orders(orders)
    cancel_some(biz.orders, rng)
    by_id = {p.person_id: p for p in biz.people}
    for order in biz.orders:
        if not order.cancelled:
            fulfil(order, by_id[order.person_id], rng)
    error_tickets = add_errors(biz.orders, rng)
    record_onboarding(customers, biz.orders, rng)
    biz.tickets = make_tickets(customers, leads + colleagues, biz.orders, error_tickets, rng)
    count_campaign_audience(biz.campaigns, biz.people, rng)
    biz.stock = make_stock(rng)
    return biz


# --- people -------------------------------------------------------------------------------

def make_customer(registry: Registry, rng: random.Random) -> Person:
    # Slightly more sign-ups later in the year: the business is growing.
    offset = int((CUSTOMERS_TO - CUSTOMERS_FROM).days * rng.random() ** 0.9)
    start = time_of_day(CUSTOMERS_FROM + timedelta(days=offset), rng)
    lead_days = rng.uniform(0, 90) if rng.random() < 0.6 else rng.uniform(0, 1)
    created = min(start, max(LEADS_FROM, into_hours(start - timedelta(days=lead_days), rng)))
    person = make_person("", "customer", created, rng.random() < 0.15, registry, rng)
    person.start_at = start
    person.became_recorded = rng.random() < 0.85
    person.churned_at = churn_time(start, rng)
    person.duplicate = duplicate_kind(person, rng)
    return person


def churn_time(start: datetime, rng: random.Random) -> datetime | None:
    r = rng.random()
    if r < 0.10:
        churned = after(start, rng.uniform(20, 88), rng)
    elif r < 0.18:
        churned = after(start, rng.uniform(95, 330), rng)
    else:
        return None
    return churned if churned < AS_OF else None


def duplicate_kind(person: Person, rng: random.Random) -> str | None:
    if rng.random() >= 0.03:
        return None
    return "phone" if person.phone and rng.random() < 0.5 else "email"


def make_lead(registry: Registry, rng: random.Random) -> Person:
    created = time_of_day(random_day(LEADS_FROM.date(), CUSTOMERS_TO, rng), rng)
    person = make_person("", "lead", created, rng.random() < 0.08, registry, rng)
    person.in_crm = rng.random() < 0.4
    return person


def make_other(registry: Registry, rng: random.Random) -> Person:
    """Suppliers and press contacts: CRM records that are neither leads nor customers."""
    created = time_of_day(random_day(LEADS_FROM.date(), CUSTOMERS_TO, rng), rng)
    return make_person("", "other", created, False, registry, rng)


def number_people(people: list[Person]) -> list[Person]:
    # Ids follow creation time so they say nothing about who became a customer.
    ordered = sorted(enumerate(people), key=lambda ip: (ip[1].created_at, ip[0]))
    for n, (_, person) in enumerate(ordered, start=1):
        person.person_id = f"P{n:06d}"
    return [p for _, p in ordered]


def give_alt_emails(customers: list[Person], registry: Registry, rng: random.Random) -> None:
    for person in customers:
        if rng.random() < 0.10:
            give_alt_email(person, registry, rng)


def subscribe(customers: list[Person], leads: list[Person], rng: random.Random) -> None:
    for person in customers:
        if rng.random() < 0.72:
            optin = after(person.created_at, rng.uniform(0, 30), rng)
            person.optin_at = optin if optin < AS_OF else None
    for person in leads:
        # Every lead is known somewhere: the CRM, the newsletter, or both.
        if rng.random() < 0.88 or not person.in_crm:
            person.optin_at = person.created_at
    for person in customers + leads:
        if person.optin_at:
            person.member_rating = rng.choices([1, 2, 3, 4, 5], weights=[10, 40, 25, 15, 10])[0]
            person.signup_campaign = rng.choice(ref.SIGNUP_SOURCES)


# --- campaigns and orders --------------------------------------------------------------------

def make_campaigns(rng: random.Random) -> list[Campaign]:
    campaigns = []
    for title, subject, (month, day), promise in ref.CAMPAIGNS:
        sent = datetime(2025, month, day, rng.randrange(7, 11), rng.randrange(60))
        campaigns.append(Campaign(title=title, subject=subject, sent_at=sent, promise_days=promise))
    return campaigns


def customer_orders(person: Person, rng: random.Random) -> list[Order]:
    if person.became_recorded and rng.random() < 0.03:
        return []  # signed up, never ordered
    first = first_order_time(person, rng)
    if person.churned_at and person.churned_at < first + timedelta(days=10):
        churned = after(first, rng.uniform(10, 25), rng)
        person.churned_at = churned if churned < AS_OF else None
    end = min(person.churned_at or ORDERS_UNTIL, ORDERS_UNTIL)
    mean_gap = 19.0 if person.is_cafe else 72.0
    orders, t = [], first
    while t <= end:
        orders.append(new_order(person, t, rng))
        t = after(t, max(3.0, rng.gammavariate(2.0, mean_gap / 2.0)), rng)
    return orders


def first_order_time(person: Person, rng: random.Random) -> datetime:
    lag = rng.uniform(0, 2) if rng.random() < 0.7 else rng.uniform(3, 45)
    first = after(person.start_at, lag, rng)
    if first > ORDERS_UNTIL:
        # Late-December sign-ups still order before the year ends.
        first = time_of_day(random_day(person.start_at.date(), ORDERS_UNTIL.date(), rng), rng)
        first = min(max(first, person.start_at), ORDERS_UNTIL)
    return first


def new_order(person: Person, at: datetime, rng: random.Random, campaign: Campaign | None = None) -> Order:
    if person.is_cafe:
        quantity = max(5, min(40, int(rng.gammavariate(3.0, 4.5))))
        product = rng.choice(ref.CAFE_PRODUCTS)
        unit = int(UNIT_PRICE[product] * 0.85)  # wholesale discount
        channel = rng.choices(["Wholesale rep", "Phone", "Web"], weights=[70, 20, 10])[0]
        delivery = 0
    else:
        quantity = rng.choices([1, 2, 3, 4, 6], weights=[35, 38, 15, 9, 3])[0]
        product = rng.choice(ref.HOME_PRODUCTS)
        unit = UNIT_PRICE[product]
        channel = rng.choices(["Web", "Phone"], weights=[85, 15])[0]
        delivery = 395 if quantity < 3 else 0
    order = Order(person_id=person.person_id, ordered_at=at, quantity=quantity,
                  total_pence=quantity * unit + delivery, channel=channel, product=product)
    if campaign:
        tag_campaign(order, campaign)
    return order


def tag_campaign(order: Order, campaign: Campaign) -> None:
    order.campaign = campaign.title
    order.promise_days = campaign.promise_days or STANDARD_PROMISE_DAYS


def is_active(person: Person, at: datetime) -> bool:
    return (person.optin_at is not None and person.optin_at <= at and person.start_at <= at
            and (person.churned_at is None or person.churned_at > at))


def campaign_orders(customers: list[Person], campaigns: list[Campaign], rng: random.Random) -> list[Order]:
    """Some subscribed, active customers order because of a campaign."""
    orders = []
    for campaign in campaigns:
        chance = 0.22 if campaign.promise_days else 0.10
        for person in customers:
            if not is_active(person, campaign.sent_at) or rng.random() >= chance:
                continue
            at = after(campaign.sent_at, rng.uniform(0.02, 6.0), rng)
            if at <= ORDERS_UNTIL and (person.churned_at is None or at < person.churned_at):
                orders.append(new_order(person, at, rng, campaign))
    return orders


def attribute_to_campaigns(orders: list[Order], customers: dict[str, Person],
                           campaigns: list[Campaign], rng: random.Random) -> None:
    """Orders a subscriber places within a week of a send may carry that campaign."""
    for order in orders:
        if order.campaign:
            continue
        person = customers[order.person_id]
        recent = [c for c in campaigns if c.sent_at <= order.ordered_at < c.sent_at + timedelta(days=7)
                  and person.optin_at is not None and person.optin_at <= c.sent_at]
        if recent and rng.random() < 0.3:
            tag_campaign(order, recent[-1])


def number_orders(orders: list[Order]) -> list[Order]:
    ordered = sorted(enumerate(orders), key=lambda io: (io[1].ordered_at, io[1].person_id, io[0]))
    result = []
    for n, (_, order) in enumerate(ordered):
        order.order_id = 1001 + n
        order.promised_date = local_date(order.ordered_at) + timedelta(days=order.promise_days)
        result.append(order)
    return result


def cancel_some(orders: list[Order], rng: random.Random) -> None:
    seen: set[str] = set()
    for order in orders:
        # A customer's first order is never cancelled, so every buyer has a start date.
        if order.person_id in seen and rng.random() < 0.02:
            order.cancelled = True
        seen.add(order.person_id)


# --- fulfilment ------------------------------------------------------------------------------

def fulfil(order: Order, person: Person, rng: random.Random) -> None:
    processing, transit = lead_times(order, person, rng)
    shipped = after(order.ordered_at, processing, rng)
    if shipped >= AS_OF:
        return  # still waiting for stock
    order.shipped_at = shipped
    delivered = after(shipped, transit, rng)
    order.delivered_at = delivered if delivered < AS_OF else None
    order.qty_shipped = order.quantity
    before = local_date(order.ordered_at) < GO_LIVE
    choices = ref.CARRIERS_BEFORE if before else ref.CARRIERS_AFTER
    order.carrier = "DPD" if order.quantity > 6 else rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]
    add_costs(order, before, rng)


def lead_times(order: Order, person: Person, rng: random.Random) -> tuple[float, float]:
    """Days from order to dispatch, and in transit. Go-live made both shorter."""
    if order.promise_days == 2:
        processing, transit = rng.uniform(0.05, 0.35), rng.uniform(0.6, 1.9)
    elif local_date(order.ordered_at) < GO_LIVE:
        processing, transit = rng.uniform(0.4, 2.4), rng.uniform(1.3, 4.2)
    else:
        processing, transit = rng.uniform(0.1, 0.8), rng.uniform(0.9, 2.7)
    if person.region in ref.SLOW_REGIONS:
        transit += rng.uniform(*ref.SLOW_REGIONS[person.region])
    if rng.random() < 0.04:
        transit += rng.uniform(1.5, 5.0)  # carrier hiccup
    if order.ordered_at >= HOLIDAY_RUSH:
        transit += rng.uniform(0.3, 2.5)
        if order.ordered_at >= datetime(2025, 12, 20) and rng.random() < 0.15:
            transit += rng.uniform(6.0, 24.0)  # lost in the Christmas backlog
        if order.ordered_at >= datetime(2025, 12, 22) and rng.random() < 0.08:
            processing += 25.0  # back-ordered: not shipped by as_of
    return processing, transit


def add_costs(order: Order, before: bool, rng: random.Random) -> None:
    low, high = ref.CARRIER_COST[order.carrier]
    order.shipping_pence = rng.randint(low, high) + 25 * max(0, order.quantity - 4)
    order.pick_pack_pence = (120 + 15 * order.quantity) if before else (95 + 12 * order.quantity)
    order.packaging_pence = rng.randint(60, 150) + 30 * (order.quantity // 6)


def add_errors(orders: list[Order], rng: random.Random) -> list[tuple[Order, str]]:
    """Fulfilment errors and changed-mind returns; returns the errors a customer must report."""
    must_report: list[tuple[Order, str]] = []
    for order in orders:
        if order.delivered_at is None or order.delivered_at > AS_OF - timedelta(days=5):
            continue
        rate = 0.09 if local_date(order.ordered_at) < GO_LIVE else 0.07
        if rng.random() < rate:
            kind = rng.choices(["Missing item", "Damaged", "Wrong item"], weights=[35, 35, 30])[0]
            if rng.random() < 0.2:
                must_report.append((order, ERROR_CATEGORY[kind]))  # only the customer's ticket shows it
                continue
            show_error(order, kind, rng)
            if rng.random() < 0.55:
                must_report.append((order, ERROR_CATEGORY[kind]))
        elif rng.random() < 0.015:
            order.return_reason = "Changed mind"
            order.return_pence = rng.randint(450, 800)
    return must_report


def show_error(order: Order, kind: str, rng: random.Random) -> None:
    """Put at least one trace of the error into the warehouse record."""
    if kind == "Missing item":
        if order.quantity > 1 and rng.random() < 0.7:
            order.qty_shipped = order.quantity - rng.randint(1, min(2, order.quantity - 1))
            order.issue = "Missing item" if rng.random() < 0.4 else None
        else:
            order.issue = "Missing item"
        return
    flagged, returned = rng.random() < 0.55, rng.random() < 0.55
    if not (flagged or returned):
        flagged = True
    order.issue = kind if flagged else None
    if returned:
        order.return_reason = kind
        order.return_pence = rng.randint(450, 800)


def record_onboarding(customers: list[Person], orders: list[Order], rng: random.Random) -> None:
    """Onboarding completes just after the first delivery; the CRM records ~75% of them."""
    first_delivery: dict[str, datetime] = {}
    for order in orders:
        if order.delivered_at and (order.person_id not in first_delivery
                                   or order.delivered_at < first_delivery[order.person_id]):
            first_delivery[order.person_id] = order.delivered_at
    for person in customers:
        delivered = first_delivery.get(person.person_id)
        if delivered is None or rng.random() >= 0.9:
            continue
        onboarded = after(delivered, rng.uniform(0, 2), rng)
        if onboarded < AS_OF and rng.random() < 0.75:
            person.onboarded_at = onboarded


# --- tickets ---------------------------------------------------------------------------------

def make_tickets(customers: list[Person], leads: list[Person], orders: list[Order],
                 error_reports: list[tuple[Order, str]], rng: random.Random) -> list[Ticket]:
    tickets = [error_ticket(order, category, rng) for order, category in error_reports]
    tickets += late_tickets(orders, rng)
    tickets += onboarding_tickets(customers, rng)
    tickets += everyday_tickets(customers, orders, rng)
    tickets += lead_tickets(leads, rng)
    for ticket in tickets:
        close(ticket, rng)
    tickets.sort(key=lambda t: (t.created_at, t.person_id, t.category, t.order_id or 0))
    for n, ticket in enumerate(tickets):
        ticket.ticket_id = 5001 + n
    return tickets


def error_ticket(order: Order, category: str, rng: random.Random) -> Ticket:
    created = after(order.delivered_at, rng.uniform(0.05, 4.0), rng)
    return Ticket(person_id=order.person_id, created_at=created, category=category, order_id=order.order_id)


def late_tickets(orders: list[Order], rng: random.Random) -> list[Ticket]:
    tickets = []
    for order in orders:
        if order.cancelled:
            continue
        chase = time_of_day(order.promised_date + timedelta(days=rng.randint(1, 3)), rng)
        if order.delivered_at is not None:
            late = local_date(order.delivered_at) > order.promised_date
            if not late or rng.random() >= 0.45:
                continue
            created = chase if chase < order.delivered_at and rng.random() < 0.5 \
                else after(order.delivered_at, rng.uniform(0.05, 1.5), rng)
        else:
            if chase >= AS_OF or rng.random() >= 0.6:
                continue
            created = chase
        if created < AS_OF:
            tickets.append(Ticket(person_id=order.person_id, created_at=created,
                                  category="Late delivery", order_id=order.order_id))
    return tickets


def onboarding_tickets(customers: list[Person], rng: random.Random) -> list[Ticket]:
    tickets = []
    for person in customers:
        if rng.random() < 0.4:
            created = after(person.start_at, rng.uniform(0.1, 27.0), rng)
            if created < AS_OF:
                tickets.append(Ticket(person_id=person.person_id, created_at=created, category="Onboarding help"))
    return tickets


def everyday_tickets(customers: list[Person], orders: list[Order], rng: random.Random) -> list[Ticket]:
    """Billing questions and everything else; some billing questions name an order."""
    orders_of: dict[str, list[Order]] = {}
    for order in orders:
        if not order.cancelled:
            orders_of.setdefault(order.person_id, []).append(order)
    tickets = []
    for person in customers:
        count = rng.choices([0, 1, 2], weights=[66, 28, 6])[0]
        end = min(person.churned_at or AS_OF, AS_OF)
        span_days = (end - person.start_at).total_seconds() / 86400
        for _ in range(count):
            created = after(person.start_at, rng.uniform(0, max(span_days - 1, 0.1)), rng)
            if created >= AS_OF:
                continue
            category = "Billing" if rng.random() < 0.55 else "Other"
            ticket = Ticket(person_id=person.person_id, created_at=created, category=category)
            earlier = [o for o in orders_of.get(person.person_id, []) if o.ordered_at < created]
            if category == "Billing" and earlier and rng.random() < 0.3:
                ticket.order_id = rng.choice(earlier).order_id
            tickets.append(ticket)
    return tickets


def lead_tickets(leads: list[Person], rng: random.Random) -> list[Ticket]:
    """Leads now and then ask something; colleagues at a café write in from its shared mailbox."""
    tickets = []
    for person in leads:
        if person.kind == "other":
            tickets += [Ticket(person_id=person.person_id, created_at=t, category=rng.choice(["Billing", "Other"]))
                        for t in colleague_ticket_times(person, rng)]
            continue
        if rng.random() < 0.03:
            created = after(person.created_at, rng.uniform(0, 40), rng)
            if created < AS_OF:
                category = "Other" if rng.random() < 0.8 else "Billing"
                tickets.append(Ticket(person_id=person.person_id, created_at=created, category=category))
    return tickets


def close(ticket: Ticket, rng: random.Random) -> None:
    """Status, solve time and an optional 1-5 satisfaction score (lower for problems)."""
    if AS_OF - ticket.created_at < timedelta(days=7) and rng.random() < 0.5:
        ticket.status, ticket.solved_at = rng.choice(["Open", "Pending"]), None
        return
    solved = after(ticket.created_at, rng.uniform(0.02, 3.0), rng)
    if solved >= AS_OF:
        ticket.status, ticket.solved_at = "Open", None
        return
    ticket.solved_at = solved
    ticket.status = "Closed" if solved < AS_OF - timedelta(days=28) else "Solved"
    if rng.random() < 0.66:
        if ticket.category in PROBLEM_CATEGORIES:
            weights = [22, 22, 22, 20, 14]
        elif ticket.category == "Onboarding help":
            weights = [3, 7, 15, 35, 40]
        else:
            weights = [8, 12, 20, 30, 30]
        ticket.score = rng.choices([1, 2, 3, 4, 5], weights=weights)[0]


# --- marketing reach and stock --------------------------------------------------------------

def count_campaign_audience(campaigns: list[Campaign], people: list[Person], rng: random.Random) -> None:
    optins = sorted(p.optin_at for p in people if p.optin_at is not None)
    for campaign in campaigns:
        campaign.recipients = sum(1 for t in optins if t <= campaign.sent_at)
        campaign.opens = int(campaign.recipients * rng.uniform(0.32, 0.52))
        campaign.clicks = int(campaign.opens * rng.uniform(0.15, 0.35))


def make_stock(rng: random.Random) -> list[tuple[str, str, int, int, int]]:
    return [(sku, name, rng.randint(0, 400), rng.choice([20, 40, 60, 80]), cost) for sku, name, cost in ref.PRODUCTS]
