"""Entity schemas and mapping profiles, loaded from `schemas/` and validated on load.

A profile maps one tool's export columns onto a canonical entity (schemas/entities.yaml).
Which profile a file follows is detected from its headers, never from its folder.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from connectors.yaml_files import read_yaml

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
FIELD_TYPES = {"text", "email", "phone", "timestamp", "date", "integer", "money", "enum"}
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


class ProfileError(ValueError):
    """A schema or profile file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    personal: bool = False
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entity:
    name: str
    family: str
    description: str
    fields: dict[str, FieldSpec]
    # The natural key: the fields that name one record across exports, so that the same order or
    # ticket exported night after night is kept once, in its latest version.
    key: tuple[str, ...] = ()


AGGREGATES = {"first", "sum"}


@dataclass(frozen=True)
class ColumnMap:
    field: str
    headers: tuple[str, ...]  # the header and its aliases (a column renamed between exports)
    format: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    aggregate: str = "first"  # how line rows combine when the profile declares a record_key

    @property
    def header(self) -> str:
        return self.headers[0]

    def keys(self) -> set[str]:
        return {normalise_header(h) for h in self.headers}

    def position(self, headers: list[str]) -> int | None:
        """Index of this column among a file's headers (the first alias present), else None."""
        found = [normalise_header(h) for h in headers]
        for name in self.headers:
            key = normalise_header(name)
            if key in found:
                return found.index(key)
        return None


@dataclass(frozen=True)
class Profile:
    name: str
    tool: str
    entity: Entity
    description: str
    path: Path
    timezone: str
    phone_region: str
    formats: dict
    columns: dict[str, ColumnMap]
    record_key: str | None = None  # several rows per record (Shopify line items): rows collapse on this field
    null_values: tuple[str, ...] = ()  # words that mean "no value" in this tool ("Not stocked")
    verified: tuple[str, ...] = ()
    # "rolling": each file holds recent records only; "snapshot": each file holds every record, so
    # a record missing from the newest file has been deleted in the tool.
    export: str = "rolling"

    @property
    def family(self) -> str:
        return self.entity.family

    def header_keys(self) -> set[str]:
        return set().union(*(c.keys() for c in self.columns.values()))

    def missing_columns(self, headers: list[str]) -> list[ColumnMap]:
        return [c for c in self.columns.values() if c.position(headers) is None]

    def missing_required(self, headers: list[str]) -> list[ColumnMap]:
        return [c for c in self.missing_columns(headers) if self.entity.fields[c.field].required]

    def unmapped_headers(self, headers: list[str]) -> list[str]:
        known = self.header_keys()
        return [h for h in headers if h and normalise_header(h) not in known]

    def format_for(self, column: ColumnMap, type_: str) -> str | None:
        return (column.format if column else None) or self.formats.get(type_)

    def money_format(self) -> tuple[str, str]:
        money = self.formats.get("money") or {}
        return money.get("decimal", "."), money.get("thousands", ",")


def normalise_header(header: str) -> str:
    return " ".join(str(header).replace("\ufeff", "").split()).casefold()


def _require(mapping: dict, key: str, where: str):
    if key not in mapping or mapping[key] in (None, ""):
        raise ProfileError(f"{where}: missing key '{key}'")
    return mapping[key]


@cache
def load_entities(schemas_dir: Path = SCHEMAS_DIR) -> dict[str, Entity]:
    path = schemas_dir / "entities.yaml"
    doc = read_yaml(path) or {}
    entities = {}
    for name, spec in _require(doc, "entities", str(path)).items():
        where = f"{path}: entities.{name}"
        if not _IDENTIFIER.match(name):
            raise ProfileError(f"{where}: entity names are lower_snake_case")
        fields = {}
        for fname, fspec in _require(spec, "fields", where).items():
            fwhere = f"{where}.fields.{fname}"
            if not _IDENTIFIER.match(fname):
                raise ProfileError(f"{fwhere}: field names are lower_snake_case")
            ftype = _require(fspec, "type", fwhere)
            if ftype not in FIELD_TYPES:
                raise ProfileError(f"{fwhere}.type: '{ftype}' is not one of {sorted(FIELD_TYPES)}")
            if ftype == "enum" and not fspec.get("values"):
                raise ProfileError(f"{fwhere}.values: an enum lists its canonical values")
            fields[fname] = FieldSpec(
                name=fname,
                type=ftype,
                required=bool(fspec.get("required", False)),
                personal=bool(fspec.get("personal", False)),
                min=fspec.get("min"),
                max=fspec.get("max"),
                values=tuple(fspec.get("values") or ()),
            )
        key = tuple(spec.get("key") or ())
        for kname in key:
            if kname not in fields:
                raise ProfileError(f"{where}.key: '{kname}' is not a field of {name}")
        entities[name] = Entity(name, _require(spec, "family", where), spec.get("description", ""), fields, key)
    return entities


def _column_map(entity: Entity, fname: str, spec, where: str) -> ColumnMap:
    if fname not in entity.fields:
        raise ProfileError(f"{where}: '{fname}' is not a field of entity {entity.name}")
    if isinstance(spec, (str, list)):
        spec = {"header": spec}
    if not isinstance(spec, dict):
        raise ProfileError(f"{where}: expected a header name or a mapping with 'header'")
    header = _require(spec, "header", where)
    headers = tuple(str(h) for h in (header if isinstance(header, list) else [header]))
    if not headers or any(not h.strip() for h in headers):
        raise ProfileError(f"{where}.header: a header name or a list of names (aliases)")
    aggregate = spec.get("aggregate", "first")
    if aggregate not in AGGREGATES:
        raise ProfileError(f"{where}.aggregate: '{aggregate}' is not one of {sorted(AGGREGATES)}")
    values = {str(k): str(v) for k, v in (spec.get("values") or {}).items()}
    allowed = set(entity.fields[fname].values)
    for tool_word, canonical in values.items():
        if canonical not in allowed:
            raise ProfileError(f"{where}.values.{tool_word}: '{canonical}' is not one of {sorted(allowed)}")
    if entity.fields[fname].type == "enum" and not values:
        raise ProfileError(f"{where}.values: map the tool's words onto {sorted(allowed)}")
    return ColumnMap(fname, headers, spec.get("format"), values, aggregate)


def load_profile(path: Path, entities: dict[str, Entity]) -> Profile:
    doc = read_yaml(path) or {}
    where = str(path)
    entity_name = _require(doc, "entity", where)
    if entity_name not in entities:
        raise ProfileError(f"{where}: entity '{entity_name}' is not in schemas/entities.yaml")
    entity = entities[entity_name]
    columns = {
        fname: _column_map(entity, fname, spec, f"{where}: columns.{fname}")
        for fname, spec in _require(doc, "columns", where).items()
    }
    for spec in entity.fields.values():
        if spec.required and spec.name not in columns:
            raise ProfileError(f"{where}: columns: the required field '{spec.name}' of {entity.name} is not mapped")
        if spec.type == "enum" and spec.name in columns and not columns[spec.name].values:
            raise ProfileError(f"{where}: columns.{spec.name}: map the tool's words onto {list(spec.values)}")
    record_key = doc.get("record_key")
    if record_key is not None and record_key not in columns:
        raise ProfileError(f"{where}: record_key: '{record_key}' is not one of the mapped columns")
    export = doc.get("export", "rolling")
    if export not in ("rolling", "snapshot"):
        raise ProfileError(f"{where}: export: '{export}' is not rolling or snapshot")
    if export == "snapshot" and not entity.key:
        raise ProfileError(f"{where}: export: snapshot needs a key for entity {entity.name} in schemas/entities.yaml")
    verified = doc.get("verified") or []
    if isinstance(verified, str):
        verified = [verified]
    return Profile(
        name=_require(doc, "profile", where),
        tool=doc.get("tool", ""),
        entity=entity,
        description=doc.get("description", ""),
        path=path,
        timezone=doc.get("timezone", "UTC"),
        phone_region=doc.get("phone_region", "GB"),
        formats=doc.get("formats") or {},
        columns=columns,
        record_key=record_key,
        null_values=tuple(str(v) for v in (doc.get("null_values") or ())),
        verified=tuple(str(v) for v in verified),
        export=export,
    )


@cache
def load_profiles(schemas_dir: Path = SCHEMAS_DIR) -> tuple[Profile, ...]:
    entities = load_entities(schemas_dir)
    profiles = tuple(load_profile(p, entities) for p in sorted((schemas_dir / "profiles").rglob("*.yaml")))
    seen: dict[str, Path] = {}
    for p in profiles:
        if p.name in seen:
            raise ProfileError(f"{p.path}: profile name '{p.name}' is also used by {seen[p.name]}")
        seen[p.name] = p.path
    return profiles


# A file still follows a profile when most of its columns are there: the rest is schema drift
# (a column dropped or renamed), reported, and refused only where the column is required.
DRIFT_MIN_SHARE = 0.6
DRIFT_MIN_COLUMNS = 3


def detect_profile(headers: list[str], profiles: tuple[Profile, ...]) -> Profile | None:
    """The profile whose every mapped column is present, the most specific if several are;
    else the one with most columns present, when they are most of its columns (drift)."""
    scored = []
    for p in profiles:
        found = len(p.columns) - len(p.missing_columns(headers))
        scored.append((found == len(p.columns), found, found / len(p.columns), p))
    complete = [s for s in scored if s[0]]
    if complete:
        return max(complete, key=lambda s: s[1])[3]
    partial = [s for s in scored if s[1] >= DRIFT_MIN_COLUMNS and s[2] >= DRIFT_MIN_SHARE]
    return max(partial, key=lambda s: (s[1], s[2]))[3] if partial else None


@dataclass(frozen=True)
class Override:
    pattern: str
    profile: Profile
    sheet: str | None = None
    delimiter: str | None = None
    encoding: str | None = None


OVERRIDE_KEYS = {"files", "profile", "sheet", "delimiter", "encoding"}


@cache
def load_overrides(schemas_dir: Path = SCHEMAS_DIR) -> tuple[Override, ...]:
    """User-forced profiles (and sheet, delimiter, encoding) for file-name globs, from
    schemas/profile_overrides.yaml; the first matching entry wins."""
    path = schemas_dir / "profile_overrides.yaml"
    if not path.exists():
        return ()
    doc = read_yaml(path) or {}
    entries = doc.get("overrides") or []
    if not isinstance(entries, list):
        raise ProfileError(f"{path}: overrides: expected a list of {{files, profile}} entries")
    profiles = {p.name: p for p in load_profiles(schemas_dir)}
    out = []
    for i, entry in enumerate(entries):
        where = f"{path}: overrides[{i}]"
        if not isinstance(entry, dict):
            raise ProfileError(f"{where}: expected a mapping with 'files' and 'profile'")
        unknown = sorted(set(entry) - OVERRIDE_KEYS)
        if unknown:
            raise ProfileError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(OVERRIDE_KEYS))}")
        pattern, name = _require(entry, "files", where), _require(entry, "profile", where)
        if name not in profiles:
            raise ProfileError(f"{where}.profile: no profile named '{name}' under {schemas_dir / 'profiles'}")
        delimiter = entry.get("delimiter")
        if delimiter is not None and len(str(delimiter)) != 1:
            raise ProfileError(f"{where}.delimiter: one character such as ';' or '\\t'")
        out.append(Override(str(pattern), profiles[name], entry.get("sheet"), delimiter, entry.get("encoding")))
    return tuple(out)


def override_for(file_name: str, overrides: tuple[Override, ...]) -> Override | None:
    return next((o for o in overrides if fnmatch.fnmatch(file_name, o.pattern)), None)
