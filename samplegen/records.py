"""Plain records of the simulated business. All datetimes are naive UTC at whole minutes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass
class Person:
    person_id: str
    kind: str  # 'customer', 'lead' or 'other'
    first_name: str
    last_name: str
    email: str  # canonical: lower-case, unique across people
    phone: str | None  # canonical E.164, e.g. '+447911123456'
    street: str
    city: str
    region: str
    postcode: str
    created_at: datetime  # first known to the business (CRM create / lead capture)
    is_cafe: bool = False
    company: str | None = None
    alt_email: str | None = None  # another personal address used outside the CRM
    source: str = "Direct Traffic"
    in_crm: bool = True
    optin_at: datetime | None = None  # Mailchimp subscription, None if not subscribed
    member_rating: int = 2
    signup_campaign: str = ""
    # Customers only.
    start_at: datetime | None = None  # true sign-up moment
    became_recorded: bool = False  # CRM holds start_at as Became a Customer Date
    onboarded_at: datetime | None = None  # CRM Onboarding Completed Date (None if not recorded)
    churned_at: datetime | None = None  # CRM Churn Date
    duplicate: str | None = None  # 'email' or 'phone': how the second CRM record matches
    # Hard cases for identity resolution (samplegen/hardcases.py).
    shared_mailbox: str | None = None  # info@/orders@ of a business, used by several people there
    new_last_name: str | None = None  # surname changed at surname_changed_at
    surname_changed_at: datetime | None = None
    new_address: tuple[str, str, str] | None = None  # (street, city, postcode) from moved_at
    moved_at: datetime | None = None
    typo_email: str | None = None  # the canonical address with a slip in the domain (gmial.com)
    has_namesake: bool = False  # another person has the same name in the same town

    def last_name_at(self, t: datetime) -> str:
        changed = self.surname_changed_at is not None and t >= self.surname_changed_at
        return self.new_last_name if changed else self.last_name

    def address_at(self, t: datetime) -> tuple[str, str, str]:
        if self.moved_at is not None and t >= self.moved_at:
            return self.new_address
        return self.street, self.city, self.postcode


@dataclass
class Campaign:
    title: str
    subject: str
    sent_at: datetime
    promise_days: int | None = None
    recipients: int = 0
    opens: int = 0
    clicks: int = 0


@dataclass
class Order:
    person_id: str
    ordered_at: datetime
    quantity: int
    total_pence: int
    channel: str  # 'Web', 'Phone' or 'Wholesale rep'
    product: str
    campaign: str | None = None
    promise_days: int = 5
    order_id: int = 0  # assigned once all orders are known (sequential by time)
    cancelled: bool = False
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    carrier: str | None = None
    qty_shipped: int | None = None
    shipping_pence: int = 0
    pick_pack_pence: int = 0
    packaging_pence: int = 0
    return_pence: int = 0
    issue: str | None = None  # 'Wrong item', 'Damaged', 'Missing item'
    return_reason: str | None = None  # 'Wrong item', 'Damaged', 'Changed mind'
    promised_date: date | None = None  # local order date + promise days


@dataclass
class Ticket:
    person_id: str
    created_at: datetime
    category: str
    order_id: int | None = None
    status: str = "Solved"
    solved_at: datetime | None = None
    score: int | None = None
    ticket_id: int = 0


@dataclass
class Business:
    seed: int
    scale: float
    people: list[Person] = field(default_factory=list)
    campaigns: list[Campaign] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    stock: list[tuple[str, str, int, int, int]] = field(default_factory=list)  # sku, product, on hand, reorder, unit pence


@dataclass
class RowRef:
    """What one exported data row really is; bad rows name their broken column.

    email and phone are the canonical values the row carries (before any mess), so the truth
    can tell which rows share an identifier; hard_cases names the identity traps in the row.
    """
    person_id: str | None = None
    order_id: int | None = None
    bad_column: str | None = None
    email: str | None = None
    phone: str | None = None
    hard_cases: tuple[str, ...] = ()


@dataclass
class Export:
    system: str
    file: str  # as delivered; a sheet is 'book.xlsx#Sheet'
    refs: list[RowRef] = field(default_factory=list)
