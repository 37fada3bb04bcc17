"""Draft a mapping profile for an export no profile recognises: read its headers and a sample of
values, guess the canonical entity and the field each column holds, and say why (or that it
could not). The draft is YAML for a person to review, never loaded as it is.

Guesses come from two sources: the headers the existing profiles already map (a column named
like another tool's column for the same field), and the values (emails, phone numbers, dates
in one consistent form, amounts, whole numbers).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from connectors.files import (
    FileRefused, HEADER_SEARCH_ROWS, csv_rows, sheet_rows, open_workbook, csv_format,
)
from connectors.profiles import Entity, Profile, load_entities, load_profiles, normalise_header

SAMPLE_ROWS = 200
NAME_MATCH = 0.75  # header similarity needed when no profile has used the header yet
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
    "%Y-%m-%d", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
    "%m/%d/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%b %d, %Y %I:%M %p", "%d %b %Y",
)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
MONEY = re.compile(r"^\(?-?\s*(?:[£$€]|GBP|EUR|USD)?\s*-?\d{1,3}(?:[,.\s]?\d{3})*(?:[.,]\d{1,2})?\)?$")
INTEGER = re.compile(r"^-?\d+(?:\.0+)?$")
# words people use for a field that no profile has used yet
SYNONYMS = {
    "email": ["email", "e-mail", "email address", "customer email", "mail"],
    "phone": ["phone", "telephone", "mobile", "phone number", "tel"],
    "first_name": ["first name", "given name", "forename"],
    "last_name": ["last name", "surname", "family name"],
    "postcode": ["postcode", "post code", "zip", "postal code", "zip code"],
    "order_ref": ["order", "order number", "order #", "order no", "order id", "order ref"],
    "ordered_at": ["order date", "ordered", "date ordered", "purchase date"],
    "amount": ["total", "order total", "grand total", "amount"],
    "quantity": ["qty", "quantity", "units"],
    "created_at": ["created", "created at", "date created", "created date"],
    "shipped_at": ["shipped", "ship date", "shipped at", "dispatch date"],
    "delivered_at": ["delivered", "delivery date", "delivered at"],
    "ticket_id": ["ticket", "ticket id", "ticket number", "case number"],
    "sku": ["sku", "item code", "product code"],
}


@dataclass
class Guess:
    header: str
    field: str | None
    reason: str
    score: float
    format: str | None = None


def _header_row(rows: list[list[str]]) -> int:
    """The first of the top rows that looks like a header: several filled cells, mostly words."""
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        cells = [c for c in row if c.strip()]
        if len(cells) >= 2 and sum(not INTEGER.match(c) and not MONEY.match(c) for c in cells) >= 0.8 * len(cells):
            return i
    return 0


def read_sample(path: Path) -> tuple[list[str], list[list[str]], dict]:
    """(headers, sample rows, how the file was read)."""
    if path.suffix.lower() == ".xlsx":
        workbook = open_workbook(path)
        sheet = workbook.sheet_names[0]
        rows = sheet_rows(path, sheet)
        read = {"sheet": sheet}
    else:
        fmt = csv_format(path)
        rows = []
        for row in csv_rows(path, fmt):
            rows.append(row)
            if len(rows) >= HEADER_SEARCH_ROWS + SAMPLE_ROWS:
                break
        read = {"encoding": fmt.encoding, "delimiter": fmt.delimiter}
    if not rows:
        raise FileRefused(f"{path.name}: the file is empty")
    index = _header_row(rows)
    headers = [h.strip() for h in rows[index]]
    read["header_row"] = index + 1
    return headers, rows[index + 1: index + 1 + SAMPLE_ROWS], read


def _values(rows: list[list[str]], i: int) -> list[str]:
    return [r[i].strip() for r in rows if i < len(r) and r[i].strip()]


def date_format(values: list[str]) -> tuple[str | None, bool]:
    """The first form that reads every sample value, and whether day/month order is ambiguous."""
    def reads(fmt):
        try:
            for v in values:
                dt.datetime.strptime(v, fmt)
            return True
        except ValueError:
            return False
    found = [f for f in DATE_FORMATS if values and reads(f)]
    if not found:
        return None, False
    swapped = found[0].replace("%d", "%D").replace("%m", "%d").replace("%D", "%m")
    return found[0], swapped != found[0] and swapped in found


def value_kind(values: list[str]) -> tuple[str | None, str | None, str]:
    """(field type, format, description) from sample values."""
    if not values:
        return None, None, "no values in the sample"
    share = lambda pattern: sum(bool(pattern.match(v)) for v in values) / len(values)  # noqa: E731
    if share(EMAIL) >= 0.9:
        return "email", None, "values are email addresses"
    fmt, ambiguous = date_format(values)
    if fmt:
        note = "; day/month order is ambiguous in the sample, check it" if ambiguous else ""
        kind = "date" if not any(c in fmt for c in "HIM") else "timestamp"
        return kind, fmt, f"values are dates in the form {fmt}{note}"
    phone_like = sum(bool(PHONE.match(v)) and v.lstrip("(").startswith(("+", "0")) and
                     sum(c.isdigit() for c in v) >= 9 for v in values) / len(values)
    if phone_like >= 0.9 and not share(re.compile(r"^0\d{0,3}$")):
        return "phone", None, "values are phone numbers"
    if share(INTEGER) >= 0.95:
        return "integer", None, "values are whole numbers"
    if share(MONEY) >= 0.95:
        decimal = "," if sum(bool(re.search(r",\d{1,2}\)?$", v)) for v in values) > len(values) / 2 else "."
        return "money", decimal, f"values are amounts (decimal '{decimal}')"
    return "text", None, "values are text"


def _known_headers(profiles: tuple[Profile, ...]) -> dict[str, dict[str, set[str]]]:
    """entity -> normalised header -> fields it was mapped to by an existing profile."""
    known: dict[str, dict[str, set[str]]] = {}
    for p in profiles:
        for column in p.columns.values():
            for h in column.headers:
                known.setdefault(p.entity.name, {}).setdefault(normalise_header(h), set()).add(column.field)
    return known


def _compatible(field_type: str, kind: str | None) -> bool:
    if kind is None or field_type in ("text", "enum"):
        return True
    if field_type in ("timestamp", "date"):
        return kind in ("timestamp", "date")
    if field_type == "money":
        return kind in ("money", "integer")
    if field_type == "phone":
        return kind in ("phone", "integer")
    return field_type == kind


def guess_columns(entity: Entity, headers: list[str], rows: list[list[str]], known: dict) -> list[Guess]:
    guesses = []
    taken: set[str] = set()
    candidates = []
    for i, header in enumerate(headers):
        if not header:
            continue
        key = normalise_header(header)
        kind, fmt, described = value_kind(_values(rows, i))
        for field in entity.fields.values():
            if not _compatible(field.type, kind):
                continue
            if field.name in known.get(entity.name, {}).get(key, set()):
                score, why = 1.0, f"another {entity.name} profile maps a column named '{header}' to {field.name}"
            else:
                names = [field.name.replace("_", " "), *SYNONYMS.get(field.name, [])]
                # "Total (EUR)" reads as "total"
                plain = " ".join(re.sub(r"\(.*?\)|[^\w# ]", " ", key).split())
                ratio = max(difflib.SequenceMatcher(None, plain, n).ratio() for n in names)
                if ratio < NAME_MATCH:
                    continue
                score, why = ratio * 0.9, f"the header resembles '{field.name}' ({ratio:.0%})"
            if kind == field.type and kind != "text":
                score += 0.15
            if score >= 0.6:
                candidates.append((score, header, field.name, f"{why}; {described}", fmt))
    for score, header, field, why, fmt in sorted(candidates, key=lambda c: -c[0]):
        if header in {g.header for g in guesses} or field in taken:
            continue
        taken.add(field)
        guesses.append(Guess(header, field, why, score, fmt))
    for i, header in enumerate(headers):
        if header and header not in {g.header for g in guesses}:
            guesses.append(Guess(header, None, value_kind(_values(rows, i))[2], 0.0))
    return guesses


def _closest(word: str, canonical: tuple[str, ...]) -> str:
    key = word.casefold().replace(" ", "_")
    return max(canonical, key=lambda c: difflib.SequenceMatcher(None, key, c).ratio())


def suggest(path: Path) -> str:
    """A draft profile (YAML text with comments) for the export at `path`."""
    headers, rows, read = read_sample(path)
    entities = load_entities()
    known = _known_headers(load_profiles())
    best = None
    for entity in entities.values():
        guesses = guess_columns(entity, headers, rows, known)
        mapped = [g for g in guesses if g.field]
        required = [f.name for f in entity.fields.values() if f.required]
        covered = all(r in {g.field for g in mapped} for r in required)
        score = sum(g.score for g in mapped) + (2 if covered else 0)
        if best is None or score > best[0]:
            best = (score, entity, guesses, covered)
    _, entity, guesses, covered = best
    formats = Counter(g.format for g in guesses if g.field and entities[entity.name].fields[g.field].type == "timestamp" and g.format)
    timestamp_format = formats.most_common(1)[0][0] if formats else None
    name = re.sub(r"[^a-z0-9]+", "_", path.stem.lower()).strip("_") or "new_export"
    columns = {}
    comments = {}
    for g in guesses:
        if not g.field:
            continue
        spec = entity.fields[g.field]
        value: object = g.header
        if spec.type == "enum":
            words = sorted(set(_values(rows, headers.index(g.header))))[:30]
            value = {"header": g.header, "values": {w: _closest(w, spec.values) for w in words} or
                     {"TOOL WORD": spec.values[0]}}
            g.reason += f"; map each word onto one of {list(spec.values)}"
        elif spec.type in ("timestamp", "date") and g.format and g.format != timestamp_format:
            value = {"header": g.header, "format": g.format}
        columns[g.field] = value
        comments[g.field] = g.reason
    doc = {
        "profile": name,
        "tool": "TOOL NAME",
        "entity": entity.name,
        "description": f"Drafted by `crosswalk profile suggest` from {path.name}; review every mapping.",
        "verified": ["SAY WHERE the column names, formats and time zone were checked"],
        "timezone": "UTC",
        "formats": {k: v for k, v in {"timestamp": timestamp_format}.items() if v},
        "columns": columns,
    }
    if any(g.field and entity.fields[g.field].type == "money" and g.format == "," for g in guesses):
        doc["formats"]["money"] = {"decimal": ",", "thousands": "."}
    if not doc["formats"]:
        del doc["formats"]
    lines = [
        f"# Draft profile for {path.name}; copy it to schemas/profiles/{entity.family}/{name}.yaml after review.",
        "# Read as: " + ", ".join(f"{k} {v!r}" for k, v in read.items()),
        f"# Entity guessed: {entity.name} ({entity.description})",
    ]
    if not covered:
        missing = [f.name for f in entity.fields.values() if f.required and f.name not in columns]
        lines.append(f"# NOT READY: the required field(s) {', '.join(missing)} could not be mapped.")
    lines.append("# Why each column was mapped:")
    lines += [f"#   {field}: {why}" for field, why in comments.items()]
    unmapped = [g for g in guesses if not g.field]
    if unmapped:
        lines.append("# Not mapped (kept in unmapped_cells when loaded):")
        lines += [f"#   {g.header!r}: {g.reason}" for g in unmapped]
    lines.append("# Set tool, timezone and verified, and map any enum's words (values:).")
    return "\n".join(lines) + "\n" + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
