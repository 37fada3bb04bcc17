"""Identity traps planted among the simulated people, each one a way real exports mislead a matcher:
a mailbox shared by several people of one business (info@, orders@), a surname changed part-way,
a move to a new address, a slip in an email domain (gmial.com), two different people with the
same name in the same town. Records with no email or phone arise in the exports themselves."""
from __future__ import annotations

import random
from datetime import datetime

from . import reference as ref
from .clock import AS_OF, after
from .people import Registry, address, make_person, personal_email_local, slug
from .records import Person

GENERIC_MAILBOXES = ("info", "orders")
DOMAIN_TYPOS = {"gmail.com": "gmial.com", "hotmail.co.uk": "hotmial.co.uk", "outlook.com": "outlok.com",
                "yahoo.co.uk": "yahooo.co.uk", "icloud.com": "iclould.com", "btinternet.com": "btinternet.con"}
# Written instead of a phone number by whoever keyed a ticket in; they name nobody.
PLACEHOLDER_PHONES = ("000-000-0000", "n/a", "00000 000000")


def add_namesakes(customers: list[Person], count: int, make_customer, registry: Registry,
                  rng: random.Random) -> list[Person]:
    """New customers who share an existing customer's first name, surname and town, nothing else."""
    namesakes = []
    candidates = [p for p in customers if not p.is_cafe]
    for original in rng.sample(candidates, min(count, len(candidates))):
        twin = make_customer(registry, rng)
        twin.is_cafe, twin.company = False, None
        twin.first_name, twin.last_name, twin.region = original.first_name, original.last_name, original.region
        for _ in range(50):
            street, city, postcode = address(original.region, rng)
            if city == original.city and street != original.street:
                break
        twin.street, twin.city, twin.postcode = street, original.city, postcode
        twin.email = registry.email(personal_email_local(twin.first_name, twin.last_name, rng),
                                    rng.choice(ref.EMAIL_DOMAINS))
        twin.has_namesake = original.has_namesake = True
        namesakes.append(twin)
    return namesakes


def add_shared_mailboxes(customers: list[Person], share: float, registry: Registry,
                         rng: random.Random) -> list[Person]:
    """Some cafés order from info@/orders@; a colleague there (not a customer) uses it too."""
    colleagues = []
    for person in customers:
        if not person.is_cafe or rng.random() >= share:
            continue
        domain = slug(person.company) + ".co.uk"
        free = [f"{box}@{domain}" for box in GENERIC_MAILBOXES if f"{box}@{domain}" not in registry.emails]
        if not free:
            continue  # another café of the same name took both mailboxes
        mailbox = rng.choice(free)
        registry.emails.add(mailbox)
        created = min(after(person.created_at, rng.uniform(1, 60), rng), after(AS_OF, -30, rng))
        colleague = make_person("", "other", created, False, registry, rng)
        colleague.company = person.company
        colleague.street, colleague.city, colleague.region, colleague.postcode = (
            person.street, person.city, person.region, person.postcode)
        colleague.email = registry.email(slug(colleague.first_name), domain)
        colleague.source = "Offline Sources"
        person.shared_mailbox = colleague.shared_mailbox = mailbox
        colleagues.append(colleague)
    return colleagues


def _life_events(customers: list[Person], share: float, days: tuple[int, int], rng: random.Random):
    """(person, when) for a `share` of private customers: an event some `days` after they started,
    if it happened before the export date."""
    for person in customers:
        if person.is_cafe or rng.random() >= share:
            continue
        when = after(person.start_at, rng.uniform(*days), rng)
        if when < AS_OF:
            yield person, when


def change_surnames(customers: list[Person], share: float, rng: random.Random) -> None:
    for person, changed in _life_events(customers, share, (20, 200), rng):
        person.new_last_name = rng.choice([n for n in ref.LAST_NAMES if n != person.last_name])
        person.surname_changed_at = changed


def move_house(customers: list[Person], share: float, rng: random.Random) -> None:
    for person, moved in _life_events(customers, share, (15, 250), rng):
        person.new_address = address(person.region, rng)
        person.moved_at = moved


def mistype_email_domains(customers: list[Person], share: float, registry: Registry, rng: random.Random) -> None:
    for person in customers:
        local, _, domain = person.email.partition("@")
        if domain not in DOMAIN_TYPOS or rng.random() >= share:
            continue
        typo = f"{local}@{DOMAIN_TYPOS[domain]}"
        if typo not in registry.emails:
            registry.emails.add(typo)
            person.typo_email = typo


def colleague_ticket_times(colleague: Person, rng: random.Random) -> list[datetime]:
    """A colleague at a café writes in now and then (billing, deliveries) from the shared mailbox."""
    times = []
    for _ in range(rng.choice([1, 1, 2])):
        created = after(colleague.created_at, rng.uniform(0, 120), rng)
        if created < AS_OF:
            times.append(created)
    return times
