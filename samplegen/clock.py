"""Calendar constants and time helpers shared by the simulation, the exports and the truth."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
AS_OF = datetime(2026, 1, 15, 9, 0)
LEADS_FROM = datetime(2024, 10, 1, 6, 0)
CUSTOMERS_FROM = date(2025, 1, 1)
CUSTOMERS_TO = date(2025, 12, 31)
ORDERS_UNTIL = datetime(2025, 12, 31, 21, 59)
GO_LIVE = date(2025, 7, 1)
STANDARD_PROMISE_DAYS = 5
ACTIVATION_WINDOW_DAYS = 30
CHURN_WINDOW_DAYS = 90
FIRST_HOUR, LAST_HOUR = 6, 21  # events only 06:00-21:59 UTC: never in a local DST gap/overlap

# Busier in the morning and early evening; index 0 is 06:00 UTC.
_HOUR_WEIGHTS = [2, 5, 8, 9, 9, 8, 8, 7, 7, 7, 7, 8, 8, 6, 4, 2]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def to_local(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc).astimezone(LONDON)



def local_date(t: datetime) -> date:
    return to_local(t).date()


def local_month(t: datetime) -> str:
    return to_local(t).strftime("%Y-%m")


def iso_utc(t: datetime | None) -> str:
    return "" if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def mailchimp_send_date(t: datetime) -> str:
    """'Mar 14, 2025 09:12 AM' without relying on the process locale."""
    hour12 = t.hour % 12 or 12
    ampm = "AM" if t.hour < 12 else "PM"
    return f"{_MONTHS[t.month - 1]} {t.day:02d}, {t.year} {hour12:02d}:{t.minute:02d} {ampm}"


def time_of_day(day: date, rng: random.Random) -> datetime:
    hour = FIRST_HOUR + rng.choices(range(len(_HOUR_WEIGHTS)), weights=_HOUR_WEIGHTS)[0]
    return datetime(day.year, day.month, day.day, hour, rng.randrange(60))


def into_hours(t: datetime, rng: random.Random) -> datetime:
    """Whole minutes; anything at night moves to the next 06:00-07:29 UTC."""
    t = t.replace(second=0, microsecond=0)
    if t.hour < FIRST_HOUR:
        return t.replace(hour=FIRST_HOUR, minute=0) + timedelta(minutes=rng.randrange(90))
    if t.hour > LAST_HOUR:
        return (t + timedelta(days=1)).replace(hour=FIRST_HOUR, minute=0) + timedelta(minutes=rng.randrange(90))
    return t


def after(t: datetime, days: float, rng: random.Random) -> datetime:
    return into_hours(t + timedelta(days=days), rng)


def random_day(first: date, last: date, rng: random.Random) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))
