"""Entity schemas and mapping profiles, loaded from `schemas/` and validated on load.

A profile maps one tool's export columns onto a canonical entity (schemas/entities.yaml).
Which profile a file follows is detected from its headers, never from its folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

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


@dataclass(frozen=True)
class ColumnMap:
    field: str
    header: str
    format: str | None = None
    values: dict[str, str] = field(default_factory=dict)


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

    @property
    def family(self) -> str:
        return self.entity.family

    def header_keys(self) -> set[str]:
        return {normalise_header(c.header) for c in self.columns.values()}

    def format_for(self, column: ColumnMap, type_: str) -> str | None:
        return column.format or self.formats.get(type_)

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
    doc = yaml.safe_load(path.read_text()) or {}
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
        entities[name] = Entity(name, _require(spec, "family", where), spec.get("description", ""), fields)
    return entities


def _column_map(entity: Entity, fname: str, spec, where: str) -> ColumnMap:
    if fname not in entity.fields:
        raise ProfileError(f"{where}: '{fname}' is not a field of entity {entity.name}")
    if isinstance(spec, str):
        return ColumnMap(fname, spec)
    header = _require(spec, "header", where)
    values = {str(k): str(v) for k, v in (spec.get("values") or {}).items()}
    allowed = set(entity.fields[fname].values)
    for tool_word, canonical in values.items():
        if canonical not in allowed:
            raise ProfileError(f"{where}.values.{tool_word}: '{canonical}' is not one of {sorted(allowed)}")
    if entity.fields[fname].type == "enum" and not values:
        raise ProfileError(f"{where}.values: map the tool's words onto {sorted(allowed)}")
    return ColumnMap(fname, str(header), spec.get("format"), values)


def load_profile(path: Path, entities: dict[str, Entity]) -> Profile:
    doc = yaml.safe_load(path.read_text()) or {}
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


def detect_profile(headers: list[str], profiles: tuple[Profile, ...]) -> Profile | None:
    """The profile whose every mapped header is present; the most specific if several are."""
    present = {normalise_header(h) for h in headers if h is not None}
    matches = [p for p in profiles if p.header_keys() <= present]
    return max(matches, key=lambda p: len(p.columns), default=None)
