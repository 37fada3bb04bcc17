"""Make true people: names, one canonical email and phone each, a UK address."""
from __future__ import annotations

import random
import re
import unicodedata
from datetime import datetime

from . import reference as ref
from .records import Person


class Registry:
    """Hands out canonical emails and phones that are unique across all people."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.emails: set[str] = set()
        self.phones: set[str] = set()

    def email(self, local: str, domain: str) -> str:
        candidate, n = f"{local}@{domain}", 1
        while candidate in self.emails:
            n += 1
            candidate = f"{local}{n}@{domain}"
        self.emails.add(candidate)
        return candidate

    def mobile(self) -> str:
        # UK mobile ranges 071-075 and 077-079; 076 is pagers.
        while True:
            number = "+447" + self.rng.choice("12345789") + "".join(self.rng.choice("0123456789") for _ in range(8))
            if number not in self.phones:
                self.phones.add(number)
                return number


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_text.lower())


def personal_email_local(first: str, last: str, rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"{slug(first)}.{slug(last)}"
    if style == 1:
        return f"{slug(first)[0]}{slug(last)}"
    if style == 2:
        return f"{slug(first)}{slug(last)}{rng.randrange(10, 99)}"
    return f"{slug(last)}.{slug(first)}"


def pick_region(rng: random.Random) -> str:
    names = list(ref.REGIONS)
    return rng.choices(names, weights=[ref.REGIONS[n][0] for n in names])[0]


def address(region: str, rng: random.Random) -> tuple[str, str, str]:
    cities = ref.REGIONS[region][1]
    city = rng.choice(sorted(cities))
    district = rng.choice(cities[city])
    postcode = f"{district} {rng.randrange(1, 10)}{rng.choice(ref.POSTCODE_LETTERS)}{rng.choice(ref.POSTCODE_LETTERS)}"
    street = f"{rng.randrange(1, 180)} {rng.choice(ref.STREET_NAMES)} {rng.choice(ref.STREET_TYPES)}"
    return street, city, postcode


def cafe_name(rng: random.Random) -> str:
    return f"{rng.choice(ref.CAFE_WORDS_A)} {rng.choice(ref.CAFE_WORDS_B)} {rng.choice(ref.CAFE_SUFFIX)}"


def make_person(person_id: str, kind: str, created_at: datetime, is_cafe: bool,
                registry: Registry, rng: random.Random) -> Person:
    first, last = rng.choice(ref.FIRST_NAMES), rng.choice(ref.LAST_NAMES)
    region = pick_region(rng)
    street, city, postcode = address(region, rng)
    company = cafe_name(rng) if is_cafe else None
    if company and rng.random() < 0.6:
        email = registry.email(slug(first), slug(company) + ".co.uk")
    else:
        email = registry.email(personal_email_local(first, last, rng), rng.choice(ref.EMAIL_DOMAINS))
    phone = registry.mobile() if rng.random() < 0.8 else None
    return Person(
        person_id=person_id, kind=kind, first_name=first, last_name=last, email=email, phone=phone,
        street=street, city=city, region=region, postcode=postcode, created_at=created_at,
        is_cafe=is_cafe, company=company, source=rng.choice(ref.ORIGINAL_SOURCES),
    )


def give_alt_email(person: Person, registry: Registry, rng: random.Random) -> None:
    """A second personal address, used for newsletters or support instead of the CRM one."""
    local = f"{slug(person.first_name)}{slug(person.last_name)}{rng.randrange(100, 999)}"
    person.alt_email = registry.email(local, rng.choice(["gmail.com", "outlook.com", "icloud.com"]))
