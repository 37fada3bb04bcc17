"""How people's details get mangled on their way into each tool."""
from __future__ import annotations

import random
import string

from .reference import NICKNAMES

PHONE_STYLES = ("intl_spaced", "national", "bracketed", "intl_digits")


def format_phone(e164: str, style: str) -> str:
    """'+447911123456' -> one of the ways people type a UK mobile."""
    n = e164[3:]  # national number without the leading 0, e.g. '7911123456'
    if style == "intl_spaced":
        return f"+44 {n[:4]} {n[4:]}"
    if style == "national":
        return f"0{n[:4]} {n[4:]}"
    if style == "bracketed":
        return f"(0){n[:4]}-{n[4:7]}-{n[7:]}"
    return f"44{n}"


def random_phone(e164: str, rng: random.Random, avoid: str | None = None) -> str:
    styles = [s for s in PHONE_STYLES if format_phone(e164, s) != avoid]
    return format_phone(e164, rng.choice(styles))


def recase(email: str, rng: random.Random) -> str:
    local, _, domain = email.partition("@")
    style = rng.randrange(3)
    if style == 0:
        return email.upper()
    if style == 1:
        return "@".join([".".join(p.capitalize() for p in local.split(".")), domain.capitalize()])
    return "".join(c.upper() if c.isalpha() and rng.random() < 0.3 else c for c in email)


def pad(text: str, rng: random.Random) -> str:
    """Stray spaces (never tabs: SQL trim() only strips spaces) on one side or both."""
    side = rng.randrange(3)
    return (rng.choice([" ", "  "]) if side != 1 else "") + text + (rng.choice([" ", "  "]) if side != 0 else "")


def messy_email(email: str, rng: random.Random, p_case: float = 0.25, p_space: float = 0.1) -> str:
    if rng.random() < p_case:
        email = recase(email, rng)
    if rng.random() < p_space:
        email = pad(email, rng)
    return email


def other_spelling(email: str, avoid: str, rng: random.Random) -> str:
    """The same address written differently from `avoid` (case and/or whitespace only)."""
    for _ in range(20):
        candidate = pad(recase(email, rng), rng) if rng.random() < 0.5 else recase(email, rng)
        if candidate != avoid:
            return candidate
    return " " + avoid.upper() + " "


def typo(name: str, rng: random.Random) -> str:
    """One slip of the finger, never on the first letter."""
    if len(name) < 3:
        return name
    for _ in range(10):
        i = rng.randrange(1, len(name))
        op = rng.randrange(4)
        if op == 0:
            out = name[:i] + rng.choice(string.ascii_lowercase) + name[i + 1:]
        elif op == 1:
            out = name[:i] + name[i + 1:]
        elif op == 2:
            out = name[:i] + name[i] + name[i:]
        else:
            out = name[:i - 1] + name[i] + name[i - 1] + name[i + 1:] if i > 1 else name
        if out != name:
            return out
    return name


def first_name_as_given(first: str, rng: random.Random, p_nick: float = 0.3, p_typo: float = 0.04) -> str:
    if first in NICKNAMES and rng.random() < p_nick:
        return NICKNAMES[first]
    return typo(first, rng) if rng.random() < p_typo else first


def last_name_as_given(last: str, rng: random.Random, p_typo: float = 0.04) -> str:
    return typo(last, rng) if rng.random() < p_typo else last


def postcode_as_given(postcode: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.08:
        return postcode.replace(" ", "")
    if r < 0.12:
        return postcode.lower()
    return postcode
