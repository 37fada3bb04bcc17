"""Identity-value normalisation with the standard libraries: email-validator and phonenumbers.

Registered as DuckDB functions so staging SQL can call them, a vector at a time. The libraries
take 20-25 µs a value, which at a million customers is most of the staging time, so the shapes
nearly every export uses (a plain ASCII address; a UK number written +44, 44 or 0 and ten digits)
are answered in Arrow by rules whose answer is the library's own (tests/test_values.py compares
the two on the sample and on edge cases). Anything else goes to the library, once per value.
"""

from __future__ import annotations

import re
from functools import lru_cache

import duckdb
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

# dot-atom local part of the commonest characters; domain labels of letters, digits and inner hyphens
PLAIN_EMAIL = r"[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
UK_NUMBER = r"(?:\+44|0)[1-9]\d{9}"
# an international number whose '+' the export dropped; normalise_phone restores it in its region
UK_BARE_NUMBER = r"44[1-9]\d{9}"


@lru_cache(maxsize=2_000_000)
def normalise_email(value: str | None) -> str | None:
    """Lower-case, trimmed, syntax-checked address (email-validator); None when it is not one.

    The local part is lower-cased too: mailbox providers treat it case-insensitively in
    practice, and the same person types it both ways across tools.
    """
    if value is None or not value.strip():
        return None
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.normalized.lower()


@lru_cache(maxsize=2_000_000)
def normalise_phone(value: str | None, region: str | None) -> str | None:
    """E.164 (`+447911123456`, phonenumbers); None when the text is not a possible number for the region."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    # Exports drop the leading '+' of international numbers ("447911123456").
    if text.isdigit() and region and text.startswith(str(phonenumbers.country_code_for_region(region))):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region or "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Python's str.strip() on ASCII text removes exactly these
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_SPECIAL_DOMAIN = "@(?:.*\\.)?(?:" + "|".join(re.escape(d) for d in SPECIAL_USE_DOMAIN_NAMES) + ")$"


def _answers(fast: pa.Array, answers: pa.Array, slow) -> pa.Array:
    """The fast path's answers where `fast` holds; elsewhere `slow(mask)`, the answers for the
    rows of the mask, in order."""
    others = pc.invert(pc.fill_null(fast, False))
    if not pc.any(others).as_py():
        return answers
    return pc.replace_with_mask(answers, others, pa.array(slow(others), pa.string()))


def _array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _emails(values: pa.Array) -> pa.Array:
    """normalise_email over a vector: plain ASCII addresses are answered in Arrow (lower-cased and
    trimmed, as the library gives them; punycode and special-use domains left to it), the rest by
    normalise_email itself."""
    values = _array(values)
    lowered = pc.utf8_lower(pc.ascii_trim(values, _ASCII_WHITESPACE))
    fast = pc.and_(pc.string_is_ascii(values), pc.match_substring_regex(lowered, f"^(?:{PLAIN_EMAIL})$"))
    fast = pc.and_(fast, pc.and_(pc.less_equal(pc.utf8_length(lowered), 254),
                                 pc.less_equal(pc.find_substring(lowered, "@"), 64)))
    odd_domain = pc.or_(pc.match_substring_regex(lowered, "@.*xn--"), pc.match_substring_regex(lowered, _SPECIAL_DOMAIN))
    return _answers(pc.and_(fast, pc.invert(odd_domain)), lowered,
                    lambda rows: list(map(normalise_email, pc.filter(values, rows).to_pylist())))


def _phones(values: pa.Array, regions: pa.Array) -> pa.Array:
    """normalise_phone over a vector: UK numbers (+44 or 0 and ten digits, with any spaces,
    dashes, dots or brackets; or, for a GB profile, 44 and ten digits and nothing else, an
    export that dropped the '+') are answered in Arrow as +44 and the ten digits, the rest by
    normalise_phone itself."""
    values, regions = _array(values), _array(regions)
    trimmed = pc.ascii_trim(values, _ASCII_WHITESPACE)
    digits = pc.replace_substring_regex(trimmed, r"[ ().\-]", "")
    ascii_text = pc.string_is_ascii(values)
    uk = pc.and_(pc.equal(pc.fill_null(regions, "GB"), "GB"), ascii_text)
    uk = pc.and_(uk, pc.match_substring_regex(digits, f"^(?:{UK_NUMBER})$"))
    bare = pc.and_(pc.fill_null(pc.equal(regions, "GB"), False), ascii_text)
    bare = pc.and_(bare, pc.match_substring_regex(trimmed, f"^{UK_BARE_NUMBER}$"))
    return _answers(pc.or_(uk, bare), pc.binary_join_element_wise("+44", pc.utf8_slice_codeunits(digits, -10), ""),
                    lambda rows: list(map(normalise_phone, pc.filter(values, rows).to_pylist(),
                                          pc.filter(regions, rows).to_pylist())))


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make `cw_email(text)` and `cw_phone(text, region)` available to SQL on this connection;
    they take whole vectors (Arrow), not a Python call per row."""
    # asked of DuckDB, not looked up in duckdb_functions(): listing every function took 10-20 ms
    # of each of a run's 49 connections. Already there: made on this connection ("already
    # created"), or on another connection to the same database ("already exists"; a run holds the
    # build open, pipelines/resources.py).
    for name, function, parameters in (("cw_email", _emails, [str]), ("cw_phone", _phones, [str, str])):
        try:
            con.create_function(name, function, parameters, str, type="arrow", null_handling="special")
        except (duckdb.NotImplementedException, duckdb.CatalogException) as exc:
            if "already created" not in str(exc) and "already exists" not in str(exc):
                raise
