"""Identity-value normalisation with the standard libraries: email-validator and phonenumbers.

Registered as DuckDB functions so staging SQL can call them; each is cached because exports
repeat the same addresses and numbers many times.
"""

from __future__ import annotations

from functools import lru_cache

import duckdb
import phonenumbers
from email_validator import EmailNotValidError, validate_email


@lru_cache(maxsize=1_000_000)
def normalise_email(value: str | None) -> str | None:
    """Lower-case, trimmed, syntax-checked address; None when it is not an address.

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


@lru_cache(maxsize=1_000_000)
def normalise_phone(value: str | None, region: str | None) -> str | None:
    """E.164 (`+447911123456`); None when the text is not a possible number for the region."""
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


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make `cw_email(text)` and `cw_phone(text, region)` available to SQL on this connection."""
    existing = {r[0] for r in con.execute("select function_name from duckdb_functions()").fetchall()}
    if "cw_email" not in existing:
        con.create_function("cw_email", normalise_email, [str], str, null_handling="special")
    if "cw_phone" not in existing:
        con.create_function("cw_phone", normalise_phone, [str, str], str, null_handling="special")
