"""Write what each department's tool exports from the simulated business, messiness included."""
from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

from .clock import AS_OF, after, iso_utc, mailchimp_send_date, to_local
from .excel import write_workbook
from .hardcases import PLACEHOLDER_PHONES
from .messy import (first_name_as_given, last_name_as_given, messy_email, other_spelling, postcode_as_given,
                    random_phone)
from .records import Business, Export, Order, Person, RowRef, Ticket

HUBSPOT_COLUMNS = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Company Name",
                   "Street Address", "City", "State/Region", "Postal Code", "Country/Region", "Lifecycle Stage",
                   "Became a Customer Date", "Onboarding Completed Date", "Churn Date", "Original Source",
                   "Create Date"]
SALES_ORDER_COLUMNS = ["Sales Order Number", "Subject", "Contact ID", "Contact Email", "Order Date", "Status",
                       "Quantity", "Grand Total", "Sales Channel", "Campaign", "Promised Delivery Date"]
AUDIENCE_COLUMNS = ["Email Address", "First Name", "Last Name", "Address", "Phone Number", "MEMBER_RATING",
                    "OPTIN_TIME", "CONFIRM_TIME", "LAST_CHANGED", "TAGS", "SIGNUP_CAMPAIGN"]
CAMPAIGN_COLUMNS = ["Title", "Subject", "Send Date", "Total Recipients", "Unique Opens", "Unique Clicks",
                    "Delivery Promise (days)"]
TICKET_COLUMNS = ["Id", "Requester", "Requester email", "Requester phone", "Subject", "Order Number", "Category",
                  "Status", "Created at", "Solved at", "Satisfaction Score"]
SHIPMENT_COLUMNS = ["Order #", "Ship To Name", "Ship To Email", "Ship To Postal Code", "Qty Ordered",
                    "Qty Shipped", "Ship Date", "Delivery Date", "Carrier", "Shipping Cost", "Pick & Pack Cost",
                    "Packaging Cost", "Fulfilment Issue", "Return Reason", "Return Cost"]
HANDWRITTEN_REFERENCES = ["Web order", "Manual entry", "see email", "phone order"]
STOCK_COLUMNS = ["SKU", "Product", "On Hand", "Reorder Point", "Unit Cost"]
SHIPMENTS_TITLE = "Harbour & Hearth — Shipments export"
SHIPMENTS_GENERATED = f"Generated {AS_OF:%Y-%m-%d %H:%M} UTC"

ORDER_SUBJECTS = {
    "Damaged item": ["Order #{n} arrived damaged", "Problem with order {n}", "SO-{n} bag split open"],
    "Wrong item": ["Wrong beans in order #{n}", "Problem with order {n}", "SO-{n} wrong item"],
    "Missing item": ["Order #{n} missing a bag", "Problem with order {n}", "SO-{n} missing bag"],
    "Late delivery": ["Where is order #{n}?", "Problem with order {n}", "SO-{n} still not here"],
    "Billing": ["Invoice for order #{n}", "Refund for order {n}", "SO-{n} charged twice"],
}
PLAIN_SUBJECTS = {
    "Damaged item": ["Parcel arrived damaged", "Bag split in the box"],
    "Wrong item": ["Wrong coffee sent", "Not what I ordered"],
    "Missing item": ["A bag is missing", "Short delivery"],
    "Late delivery": ["Delivery is late", "Still waiting for my coffee"],
    "Billing": ["Question about my invoice", "Charged twice?", "Update card details", "VAT invoice request"],
    "Onboarding help": ["Setting up my subscription", "Which grind for a cafetiere?", "Help with my first order",
                        "Can't log in to my account", "Brewing guide for espresso"],
    "Other": ["Do you sell decaf in bigger bags?", "Wholesale pricing enquiry", "Change of address",
              "Feedback on the new roast", "Gift card question"],
}


def file_rng(biz: Business, name: str) -> random.Random:
    # One stream per file: changing one export's messiness never shifts another's.
    return random.Random(f"harbour-hearth:{biz.seed}:exports:{name}")


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def crm_time(t: datetime | None) -> str:
    return "" if t is None else to_local(t).strftime("%Y-%m-%d %H:%M")


def money(pence: int) -> str:
    return f"£{pence // 100:,}.{pence % 100:02d}"


def write_exports(biz: Business, out: Path) -> list[Export]:
    landing = out / "landing"
    people = {p.person_id: p for p in biz.people}
    contacts, record_ids = hubspot_contacts(biz, landing / "crm" / "hubspot_contacts.csv")
    return [
        contacts,
        sales_orders(biz, people, record_ids, landing / "crm" / "sales_orders.csv"),
        mailchimp_audience(biz, landing / "marketing" / "mailchimp_audience.csv"),
        mailchimp_campaigns(biz, landing / "marketing" / "mailchimp_campaigns.csv"),
        zendesk_tickets(biz, people, landing / "support" / "zendesk_tickets.csv"),
        shipments(biz, people, landing / "inventory" / "shipments.xlsx"),
    ]


# --- CRM -------------------------------------------------------------------------------------

def hubspot_contacts(biz: Business, path: Path) -> tuple[Export, dict[str, int]]:
    rng = file_rng(biz, "hubspot_contacts")
    records = []  # (created_at, person_id, is_duplicate, person): sorts into creation order
    for person in biz.people:
        if person.in_crm or person.kind == "customer":
            records.append((person.created_at, person.person_id, 0, person))
            if person.duplicate:
                created = after(person.created_at, rng.uniform(5, 200), rng)
                records.append((min(created, AS_OF - timedelta(days=1)), person.person_id, 1, person))
    records.sort(key=lambda r: r[:3])
    rows, export, record_ids, primary_row = [], Export("crm", "hubspot_contacts.csv"), {}, {}
    record_id = 40100000
    for created, person_id, is_dup, person in records:
        record_id += rng.randint(1, 37)
        if is_dup:
            row, ref = duplicate_contact_row(record_id, person, created, primary_row[person_id], rng)
        else:
            record_ids[person_id] = record_id
            row, ref = contact_row(record_id, person, rng)
            primary_row[person_id] = row
        rows.append(row)
        export.refs.append(ref)
    write_csv(path, HUBSPOT_COLUMNS, rows)
    return export, record_ids


def contact_row(record_id: int, person: Person, rng: random.Random) -> tuple[list, RowRef]:
    """The CRM keeps what it was told first: the old surname and address, a colleague's shared mailbox."""
    stage = {"customer": "Customer", "lead": "Lead", "other": "Other"}[person.kind]
    shows_phone = person.phone and rng.random() < 0.9
    phone = random_phone(person.phone, rng) if shows_phone else ""
    email = person.shared_mailbox if person.kind == "other" and person.shared_mailbox else person.email
    row = [record_id, person.first_name, person.last_name, messy_email(email, rng, 0.1, 0.05), phone,
           person.company or "", person.street, person.city, person.region, person.postcode, "United Kingdom",
           stage, crm_time(person.start_at if person.became_recorded else None), crm_time(person.onboarded_at),
           crm_time(person.churned_at), person.source, crm_time(person.created_at)]
    cases = ("shared_mailbox",) if email == person.shared_mailbox else ()
    return row, RowRef(person_id=person.person_id, email=email, phone=person.phone if shows_phone else None,
                       hard_cases=cases)


def duplicate_contact_row(record_id: int, person: Person, created: datetime, primary: list,
                          rng: random.Random) -> tuple[list, RowRef]:
    """A second record for the same person, re-keyed by a rep: a lead with no dates."""
    email, phone = "", ""
    if person.duplicate == "phone":
        phone = random_phone(person.phone, rng, avoid=primary[4] or None)
    else:
        email = other_spelling(person.email, primary[3], rng)
        if person.phone and rng.random() < 0.4:
            phone = random_phone(person.phone, rng)
    first = first_name_as_given(person.first_name, rng, p_nick=0.5, p_typo=0.0)
    row = [record_id, first, person.last_name, email, phone, person.company or "", "", person.city,
           person.region, "", "United Kingdom", "Lead", "", "", "", "Offline Sources", crm_time(created)]
    return row, RowRef(person_id=person.person_id, email=person.email if email else None,
                       phone=person.phone if phone else None)


def sales_orders(biz: Business, people: dict[str, Person], record_ids: dict[str, int], path: Path) -> Export:
    rng = file_rng(biz, "sales_orders")
    export, rows = Export("crm", "sales_orders.csv"), []
    for order in biz.orders:
        person = people[order.person_id]
        rows.append(sales_order_row(order, person, record_ids[person.person_id], rng))
        export.refs.append(RowRef(person_id=person.person_id, order_id=order.order_id, email=person.email))
    rows.append(["SO-99901", "House Blend 250g x2", "", "test.order@harbourhearth.co.uk", "31/02/2025 10:00",
                 "Approved", 2, "£17.90", "Web", "", "05/03/2025"])
    export.refs.append(RowRef(bad_column="ordered_at"))
    rows.append(["SO-99902", "Harbour Espresso 1kg x6", "", "test.order@harbourhearth.co.uk", "14/05/2025 11:20",
                 "Approved", 6, "N/A", "Phone", "", "19/05/2025"])
    export.refs.append(RowRef(bad_column="amount"))
    write_csv(path, SALES_ORDER_COLUMNS, rows)
    return export


def sales_order_row(order: Order, person: Person, record_id: int, rng: random.Random) -> list:
    status = "Cancelled" if order.cancelled else "Delivered" if order.delivered_at else "Approved"
    subject = f"{order.product} x{order.quantity}"
    if person.company:
        subject = f"{person.company} — {subject}"
    return [f"SO-{order.order_id}", subject, record_id, messy_email(person.email, rng, 0.2, 0.08),
            to_local(order.ordered_at).strftime("%d/%m/%Y %H:%M"), status, order.quantity,
            money(order.total_pence), order.channel, order.campaign or "",
            order.promised_date.strftime("%d/%m/%Y")]


# --- marketing -------------------------------------------------------------------------------

def mailchimp_audience(biz: Business, path: Path) -> Export:
    rng = file_rng(biz, "mailchimp_audience")
    members = sorted((p for p in biz.people if p.optin_at), key=lambda p: (p.optin_at, p.person_id))
    export, rows = Export("marketing", "mailchimp_audience.csv"), []
    for person in members:
        row, ref = audience_row(person, rng)
        rows.append(row)
        export.refs.append(ref)
    write_csv(path, AUDIENCE_COLUMNS, rows)
    return export


def audience_row(person: Person, rng: random.Random) -> tuple[list, RowRef]:
    """The subscriber as last updated: a new surname or address shows here; a typo'd address stays.
    Someone who moved updates the subscription they already had under their main address."""
    email = person.alt_email if person.alt_email and rng.random() < 0.7 and not person.moved_at else person.email
    confirmed = min(after(person.optin_at, rng.randint(1, 40) / 1440, rng), AS_OF)
    changed = after(confirmed, rng.uniform(0, 200), rng)
    changed = changed if changed < AS_OF else confirmed
    cases = []
    if person.typo_email:
        email = person.typo_email
        cases.append("email_typo")
    if person.surname_changed_at:
        changed = max(changed, min(person.surname_changed_at, AS_OF))
    if person.moved_at:
        changed = max(changed, min(person.moved_at, AS_OF))
    street, city, postcode = person.address_at(changed)
    last_name = person.last_name_at(changed)
    # A changed name or a move is what the subscriber came back to update: the address is there.
    has_address = rng.random() < 0.6 or person.surname_changed_at or person.moved_at or person.typo_email
    address = "  ".join([street, city, person.region, postcode, "GB"]) if has_address else ""
    shows_phone = person.phone and not person.typo_email and rng.random() < 0.35
    phone = random_phone(person.phone, rng) if shows_phone else ""
    if last_name != person.last_name:
        cases.append("changed_surname")
    if has_address and postcode != person.postcode:
        cases.append("moved_address")
    tags = ['"Customer"' if person.kind == "customer" else '"Lead"']
    if person.is_cafe:
        tags.append('"Wholesale"')
    stamp = "%Y-%m-%d %H:%M:%S"
    row = [messy_email(email, rng, 0.3, 0.12), first_name_as_given(person.first_name, rng),
           last_name_as_given(last_name, rng), address, phone, person.member_rating,
           person.optin_at.strftime(stamp), confirmed.strftime(stamp), changed.strftime(stamp), ",".join(tags),
           person.signup_campaign]
    return row, RowRef(person_id=person.person_id, email=email, phone=person.phone if shows_phone else None,
                       hard_cases=tuple(cases))


def mailchimp_campaigns(biz: Business, path: Path) -> Export:
    rows = [[c.title, c.subject, mailchimp_send_date(c.sent_at), c.recipients, c.opens, c.clicks,
             c.promise_days if c.promise_days else ""] for c in sorted(biz.campaigns, key=lambda c: c.sent_at)]
    write_csv(path, CAMPAIGN_COLUMNS, rows)
    return Export("marketing", "mailchimp_campaigns.csv")


# --- support ---------------------------------------------------------------------------------

def zendesk_tickets(biz: Business, people: dict[str, Person], path: Path) -> Export:
    rng = file_rng(biz, "zendesk_tickets")
    export, rows = Export("support", "zendesk_tickets.csv"), []
    for ticket in sorted(biz.tickets, key=lambda t: t.ticket_id):
        row, ref = ticket_row(ticket, people[ticket.person_id], rng)
        rows.append(row)
        export.refs.append(ref)
    bad_id = (max(t.ticket_id for t in biz.tickets) if biz.tickets else 5000) + 1
    rows.append([bad_id, "Test User", "qa@harbourhearth.co.uk", "", "Test ticket please ignore", "", "Other",
                 "Closed", "not a date", "", ""])
    export.refs.append(RowRef(bad_column="created_at"))
    write_csv(path, TICKET_COLUMNS, rows)
    return export


def ticket_row(ticket: Ticket, person: Person, rng: random.Random) -> tuple[list, RowRef]:
    last_name = person.last_name_at(ticket.created_at)
    name = f"{first_name_as_given(person.first_name, rng)} {last_name_as_given(last_name, rng)}"
    email, phone, cases = requester_contact(person, rng)
    subject, order_number = ticket_subject(ticket, rng)
    row = [ticket.ticket_id, name, messy_email(email, rng, 0.3, 0.12) if email else "",
           random_phone(phone, rng) if phone else "", subject, order_number, ticket.category, ticket.status,
           iso_utc(ticket.created_at), iso_utc(ticket.solved_at), ticket.score if ticket.score else ""]
    if not email and not phone and rng.random() < 0.25:
        row[3] = rng.choice(PLACEHOLDER_PHONES)
        cases.append("placeholder")
    if last_name != person.last_name:
        cases.append("changed_surname")
    return row, RowRef(person_id=person.person_id, order_id=ticket.order_id, email=email, phone=phone,
                       hard_cases=tuple(cases))


def requester_contact(person: Person, rng: random.Random) -> tuple[str | None, str | None, list[str]]:
    """Canonical email and phone a ticket carries. ~20% of tickets come in by phone or chat without
    an email; most of those leave a phone. A café's people often write from its shared mailbox."""
    if person.kind == "other" and person.shared_mailbox:
        return person.shared_mailbox, None, ["shared_mailbox"]
    if rng.random() < (0.21 if person.phone else 0.07):
        return None, person.phone if person.phone and rng.random() < 0.9 else None, []
    if person.shared_mailbox and rng.random() < 0.5:
        return person.shared_mailbox, None, ["shared_mailbox"]
    if person.typo_email and rng.random() < 0.4:
        return person.typo_email, None, ["email_typo"]
    email = person.alt_email if person.alt_email and rng.random() < 0.7 else person.email
    phone = person.phone if person.phone and rng.random() < 0.1 else None
    return email, phone, []


def ticket_subject(ticket: Ticket, rng: random.Random) -> tuple[str, str]:
    """Order tickets name the order in the subject, in Order Number, or both."""
    if ticket.order_id is None:
        return rng.choice(PLAIN_SUBJECTS[ticket.category]), ""
    if rng.random() < 0.25:
        return rng.choice(PLAIN_SUBJECTS[ticket.category]), str(ticket.order_id)
    subject = rng.choice(ORDER_SUBJECTS[ticket.category]).format(n=ticket.order_id)
    return subject, str(ticket.order_id) if rng.random() < 0.4 else ""


# --- inventory -------------------------------------------------------------------------------

def shipments(biz: Business, people: dict[str, Person], path: Path) -> Export:
    rng = file_rng(biz, "shipments")
    shipped = sorted((o for o in biz.orders if o.shipped_at), key=lambda o: (o.shipped_at, o.order_id))
    export, rows = Export("inventory", "shipments.xlsx#Shipments"), []
    for order in shipped:
        row, ref = shipment_row(order, people[order.person_id], rng)
        rows.append(row)
        export.refs.append(ref)
    rows.append(["#99903", "Warehouse Test", "warehouse-test@harbourhearth.co.uk", "BN1 1AA", 2, -2,
                 datetime(2025, 8, 12, 10, 30), None, "Royal Mail", 3.2, 1.19, 0.8, None, None, None])
    export.refs.append(RowRef(bad_column="qty_shipped"))
    header_block = [[SHIPMENTS_TITLE], [SHIPMENTS_GENERATED], [], SHIPMENT_COLUMNS]
    stock = [STOCK_COLUMNS] + [[sku, name, on_hand, reorder, pence / 100]
                               for sku, name, on_hand, reorder, pence in biz.stock]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_workbook(path, [("Shipments", header_block + rows), ("Stock", stock)])
    return export


def shipment_row(order: Order, person: Person, rng: random.Random) -> tuple[list, RowRef]:
    """Shipped to the name and address of the day; a café's orders often go out under its mailbox."""
    last_name = person.last_name_at(order.shipped_at)
    _, _, postcode = person.address_at(order.shipped_at)
    name = f"{first_name_as_given(person.first_name, rng, 0.2, 0.03)} {last_name_as_given(last_name, rng, 0.03)}"
    email = person.shared_mailbox if person.shared_mailbox and rng.random() < 0.7 else person.email
    # now and then the order number is not typed in at the packing bench
    reference = rng.choice(HANDWRITTEN_REFERENCES) if rng.random() < 0.01 else f"#{order.order_id}"
    row = [reference, name, messy_email(email, rng, 0.25, 0.1),
           postcode_as_given(postcode, rng), order.quantity, order.qty_shipped, order.shipped_at,
           order.delivered_at, order.carrier, order.shipping_pence / 100, order.pick_pack_pence / 100,
           order.packaging_pence / 100, order.issue, order.return_reason,
           order.return_pence / 100 if order.return_reason else None]
    cases = [case for case, applies in [("shared_mailbox", email == person.shared_mailbox),
                                        ("missing_order_ref", not reference.startswith("#")),
                                        ("changed_surname", last_name != person.last_name),
                                        ("moved_address", postcode != person.postcode)] if applies]
    return row, RowRef(person_id=person.person_id, order_id=order.order_id, email=email, hard_cases=tuple(cases))
