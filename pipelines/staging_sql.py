"""SQL that types one entity's raw rows, built from its schema and the profiles that fed it.

Raw columns are all text and named by canonical field (names validated as identifiers when the
schema loads). Formats, time zones and value maps come from the profile files and enter the SQL
only as quoted literals; nothing from a landing file's content is spliced into SQL text.

For each row the query yields the typed fields plus two lists: `errors` (reasons to reject the
row) and `issues` (identity values set to NULL). Both carry the canonical column, the header as
delivered and a sentence that says what was wrong.
"""

from __future__ import annotations

from connectors.profiles import ColumnMap, Entity, FieldSpec, Profile

LINEAGE_COLUMNS = ("load_id", "source_file", "source_sheet", "source_row", "file_hash", "profile")
PROBLEM_TYPE = "STRUCT(column_name VARCHAR, source_column VARCHAR, reason VARCHAR)"
SQL_TYPES = {
    "text": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR", "enum": "VARCHAR",
    "timestamp": "TIMESTAMPTZ", "date": "DATE", "integer": "BIGINT", "money": "DECIMAL(18, 2)",
}


def literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quoted_value(v: str) -> str:
    return f"'''' || {v} || ''''"


def _typed(spec: FieldSpec, column: ColumnMap | None, profile: Profile, v: str) -> tuple[str, str | None]:
    """(typed expression, description of the expected form used in error messages)."""
    t = spec.type
    if t in ("text",):
        return v, None
    if t == "email":
        return f"cw_email({v})", "an email address"
    if t == "phone":
        return f"cw_phone({v}, {literal(profile.phone_region)})", f"a phone number ({profile.phone_region})"
    if t == "timestamp":
        fmt = profile.format_for(column, "timestamp") or "%Y-%m-%d %H:%M:%S"
        expr = f"timezone({literal(profile.timezone)}, try_strptime({v}, {literal(fmt)}))"
        return expr, f"a date-time in the form {fmt} ({profile.timezone})"
    if t == "date":
        fmt = profile.format_for(column, "date") or "%Y-%m-%d"
        return f"CAST(try_strptime({v}, {literal(fmt)}) AS DATE)", f"a date in the form {fmt}"
    if t == "integer":
        return f"TRY_CAST({v} AS BIGINT)", "a whole number"
    if t == "money":
        decimal, thousands = profile.money_format()
        text = f"regexp_replace({v}, '[£$€\\s]|GBP|EUR|USD', '', 'g')"
        if thousands:
            text = f"replace({text}, {literal(thousands)}, '')"
        if decimal != ".":
            text = f"replace({text}, {literal(decimal)}, '.')"
        return f"TRY_CAST({text} AS DECIMAL(18, 2))", "an amount of money"
    if t == "enum":
        words = column.values if column else {}
        cases = " ".join(f"WHEN {literal(k.casefold())} THEN {literal(val)}" for k, val in words.items())
        listed = ", ".join(words)
        return f"CASE lower({v}) {cases} ELSE NULL END", f"one of: {listed} (profile {profile.name})"
    raise ValueError(f"unknown field type {t}")


def _problem(field: str, header: str | None, condition: str, reason_sql: str) -> str:
    source = literal(header) if header else "NULL"
    return (
        f"CAST(CASE WHEN {condition} THEN {{'column_name': {literal(field)}, 'source_column': {source}, "
        f"'reason': {reason_sql}}} END AS {PROBLEM_TYPE})"
    )


def profile_select(entity: Entity, profile: Profile, raw_table: str) -> str:
    """SELECT typing the rows of one profile in the raw table."""
    selects, errors, issues = [], [], []
    errors.append(_problem("*", None, "row_problem IS NOT NULL", "row_problem"))
    for spec in entity.fields.values():
        column = profile.columns.get(spec.name)
        header = column.header if column else None
        v = f"nullif(trim({ident(spec.name)}), '')"
        expr, expected = _typed(spec, column, profile, v)
        selects.append(f"CAST({expr} AS {SQL_TYPES[spec.type]}) AS {ident(spec.name)}")
        if spec.required:
            errors.append(_problem(spec.name, header, f"{v} IS NULL", "'required value is missing'"))
        if expected:
            unreadable = f"{v} IS NOT NULL AND ({expr}) IS NULL"
            reason = f"'cannot read ' || {_quoted_value(v)} || ' as {expected.replace(chr(39), chr(39) * 2)}'"
            (issues if spec.type in ("email", "phone") else errors).append(
                _problem(spec.name, header, unreadable, reason)
            )
        if spec.min is not None:
            errors.append(_problem(spec.name, header, f"({expr}) < {spec.min}",
                                   f"'value ' || {v} || ' is below the minimum {spec.min}'"))
        if spec.max is not None:
            errors.append(_problem(spec.name, header, f"({expr}) > {spec.max}",
                                   f"'value ' || {v} || ' is above the maximum {spec.max}'"))
    lineage = ", ".join(ident(c) for c in LINEAGE_COLUMNS)
    return (
        f"SELECT {lineage}, raw_record, {', '.join(selects)},\n"
        f"  list_filter([{', '.join(errors)}], lambda e: e IS NOT NULL) AS errors,\n"
        f"  list_filter([{', '.join(issues) or f'CAST(NULL AS {PROBLEM_TYPE})'}], lambda e: e IS NOT NULL) AS issues\n"
        f"FROM {raw_table} WHERE profile = {literal(profile.name)}"
    )


def typed_rows_sql(entity: Entity, profiles: list[Profile], raw_table: str) -> str:
    """All rows of the entity, typed, with their errors and issues (one SELECT per profile)."""
    if not profiles:
        lineage = ", ".join(
            f"CAST(NULL AS {'BIGINT' if c == 'source_row' else 'VARCHAR'}) AS {ident(c)}"
            for c in (*LINEAGE_COLUMNS, "raw_record")
        )
        fields = ", ".join(f"CAST(NULL AS {SQL_TYPES[s.type]}) AS {ident(s.name)}" for s in entity.fields.values())
        empty = f"CAST([] AS {PROBLEM_TYPE}[])"
        return f"SELECT {lineage}, {fields}, {empty} AS errors, {empty} AS issues WHERE false"
    return "\nUNION ALL BY NAME\n".join(profile_select(entity, p, raw_table) for p in profiles)
