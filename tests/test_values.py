"""Email and phone normalisation: the Arrow path for common shapes gives the library's own answer."""

import csv

import phonenumbers
import pyarrow as pa
import pytest
from email_validator import EmailNotValidError, validate_email

from connectors.values import _emails, _phones, normalise_email, normalise_phone
from tests.conftest import SAMPLE_LANDING

EDGE_EMAILS = [
    "Jane.Doe@Example.co.uk", " bob@gmail.com ", "a@b.c", "x@localhost", "x@host.local", "x@site.test",
    "me@123.com", "me@domain.123", "first..last@gmail.com", ".lead@gmail.com", "trail.@gmail.com",
    "a-b_c+d%e@sub.domain-x.org", "dash@-bad.com", "dash@bad-.com", "o'brien@gmail.com", "josé@correo.es",
    "user@xn--bcher-kva.de", "user@bücher.de", "a" * 65 + "@gmail.com", "b@" + "c" * 64 + ".com",
    "no-at-sign", "two@@gmail.com", "sp ace@gmail.com", "info@cafe.co.uk", "UPPER@CASE.COM", "",
]
EDGE_PHONES = [
    "07911 123456", "+44 7911 123456", "+44 (0)7911 123456", "(020) 7946 0018", "020-7946-0018",
    "447911123456", "0044 7911 123456", "7911 123456", "079111234567", "0791112345", "+1 415 555 0100",
    "+353 1 234 5678", "01632 960 001", "0800 123 4567", "not a number", "0000000000", "+440000000000", "",
    "44 7911 123456", " 447911123456 ", "440911123456", "4479111234567", "44791112345", "44-7911-123456",
]


def _library_email(value):
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower() if value.strip() else None
    except EmailNotValidError:
        return None


def _library_phone(value, region):
    text = value.strip()
    if not text:
        return None
    if text.isdigit() and text.startswith(str(phonenumbers.country_code_for_region(region))):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _sample_values(*columns: str) -> set[str]:
    values = set()
    for path in SAMPLE_LANDING.rglob("*.csv"):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                values.update(v for c in columns if (v := row.get(c)))
    return values


def cw_email(values: list) -> list:
    """What the DuckDB function answers: the Arrow path, the library for the rest."""
    return _emails(pa.array(values, pa.string())).to_pylist()


def cw_phone(values: list, region: str | None = "GB") -> list:
    return _phones(pa.array(values, pa.string()), pa.array([region] * len(values), pa.string())).to_pylist()


@pytest.mark.parametrize("value", EDGE_EMAILS)
def test_email_edge_cases_agree_with_email_validator(value):
    assert cw_email([value]) == [_library_email(value)]


@pytest.mark.parametrize("value", EDGE_PHONES)
def test_phone_edge_cases_agree_with_phonenumbers(value):
    assert cw_phone([value]) == [_library_phone(value, "GB")]


def test_every_sample_email_and_phone_agrees_with_the_libraries():
    emails = sorted(_sample_values("Email", "Email Address", "Requester email", "Contact Email"))
    phones = sorted(_sample_values("Phone Number", "Requester phone"))
    assert len(emails) > 500 and len(phones) > 200
    assert cw_email(emails) == [_library_email(e) for e in emails]
    assert cw_phone(phones) == [_library_phone(p, "GB") for p in phones]


def test_vectorised_functions_answer_as_the_per_value_ones():
    """cw_email and cw_phone answer plain shapes in Arrow: the library's answers, NULLs, blanks,
    non-ASCII text and other regions included."""
    emails = [*EDGE_EMAILS, None, "  ", "Ünï@exämple.com", "x@sub.onion", "x@xn--p1ai.com", "a@b.co\u00a0",
              *sorted(_sample_values("Email", "Email Address", "Requester email", "Contact Email"))]
    phones = [*EDGE_PHONES, None, "  ", "+44\u00a07911 123456", "07911.123.456", "+44 (7911) 123-456",
              *sorted(_sample_values("Phone Number", "Requester phone"))]
    assert cw_email(emails) == [normalise_email(v) for v in emails]
    for region in ("GB", "US", None):
        assert cw_phone(phones, region) == [normalise_phone(v, region) for v in phones], region
