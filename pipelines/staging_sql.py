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
# A file exported again leaves its unchanged rows in the load that first delivered them (raw rows
# and typed rows alike, pipelines/raw.py): this table names the load and file carrying them now.
CARRIED_LOADS = "raw.carried_loads"
CARRIED_LOADS_COLUMNS = """entity VARCHAR, load_id VARCHAR, file_hash VARCHAR, source_sheet VARCHAR,
    carrier_load_id VARCHAR, carrier_file_hash VARCHAR"""
PROBLEM_TYPE = "STRUCT(column_name VARCHAR, source_column VARCHAR, reason VARCHAR)"
SQL_TYPES = {
    "text": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR", "enum": "VARCHAR",
    "timestamp": "TIMESTAMPTZ", "date": "DATE", "integer": "BIGINT", "money": "DECIMAL(18, 2)",
}


def literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def stored_rows(entity_name: str) -> str:
    """The table holding an entity's raw rows as stored, each in the load that first delivered it;
    raw.<entity> is the view of them in the loads carrying them now (carried_sql)."""
    return f"raw.{entity_name}_rows"


def same_load_sql(a: str, b: str) -> str:
    """Rows `a` and `b` of the same load (load id, file hash, sheet)."""
    return (f"{a}.load_id = {b}.load_id AND {a}.file_hash = {b}.file_hash "
            f"AND {a}.source_sheet IS NOT DISTINCT FROM {b}.source_sheet")


def carried_sql(table: str) -> str:
    """The rows of `table` (stored raw rows, or typed rows) with the load id and file hash of the
    load carrying them now."""
    return (f"SELECT t.* REPLACE (coalesce(c.carrier_load_id, t.load_id) AS load_id, "
            f"coalesce(c.carrier_file_hash, t.file_hash) AS file_hash)\n"
            f"FROM {table} t LEFT JOIN {CARRIED_LOADS} c ON {same_load_sql('c', 't')}")


def _quoted_value(v: str) -> str:
    return f"'''' || {v} || ''''"


# Excel cells holding dates as plain numbers (serial days since 1899-12-30), and the ISO text
# that real Excel date cells are read as, are accepted besides the profile's own format.
EXCEL_SERIAL = r"^\d{5}(\.\d+)?$"
ISO_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def _excel_serial(v: str) -> str:
    return (f"CASE WHEN regexp_matches({v}, {literal(EXCEL_SERIAL)}) THEN "
            f"TIMESTAMP '1899-12-30' + to_microseconds(CAST(round(TRY_CAST({v} AS DOUBLE) * 86400e6) AS BIGINT)) END")


def _formats(fmt: str) -> str:
    listed = [fmt, *(f for f in ISO_FORMATS if f != fmt)]
    return "[" + ", ".join(literal(f) for f in listed) + "]"


def _money(profile: Profile, v: str) -> str:
    """Money text to a decimal. A profile may declare its separators; otherwise a comma followed
    by one or two final digits is a decimal comma (12,50 or 1.234,50), any other comma groups
    thousands (1,234.50)."""
    text = f"regexp_replace({v}, '[£$€\\s\u00a0]|GBP|EUR|USD', '', 'g')"
    declared = profile.formats.get("money")
    if declared:
        decimal, thousands = profile.money_format()
        if thousands:
            text = f"replace({text}, {literal(thousands)}, '')"
        if decimal != ".":
            text = f"replace({text}, {literal(decimal)}, '.')"
    else:
        text = (f"CASE WHEN regexp_matches({text}, ',\\d{{1,2}}$') "
                f"THEN replace(replace({text}, '.', ''), ',', '.') ELSE replace({text}, ',', '') END")
    # accounting negatives "(12.50)"
    text = f"regexp_replace({text}, '^\\((.*)\\)$', '-\\1')"
    return f"TRY_CAST({text} AS DECIMAL(18, 2))"


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
        local = f"coalesce(try_strptime({v}, {_formats(fmt)}), {_excel_serial(v)})"
        if "%z" in fmt or "%Z" in fmt:
            # the text carries its own offset; naive fallbacks are in the profile's zone
            naive = f"coalesce(try_strptime({v}, {_formats(ISO_FORMATS[0])}), {_excel_serial(v)})"
            expr = f"coalesce(try_strptime({v}, {literal(fmt)}), timezone({literal(profile.timezone)}, {naive}))"
            return expr, f"a date-time in the form {fmt}"
        expr = f"timezone({literal(profile.timezone)}, {local})"
        return expr, f"a date-time in the form {fmt} ({profile.timezone})"
    if t == "date":
        fmt = profile.format_for(column, "date") or "%Y-%m-%d"
        return (f"CAST(coalesce(try_strptime({v}, {_formats(fmt)}), {_excel_serial(v)}) AS DATE)",
                f"a date in the form {fmt}")
    if t == "integer":
        return f"TRY_CAST(regexp_replace(replace({v}, ' ', ''), '\\.0+$', '') AS BIGINT)", "a whole number"
    if t == "money":
        return _money(profile, v), "an amount of money"
    if t == "enum":
        words = column.values if column else {}
        if not words:  # the profile does not map this field
            return "CAST(NULL AS VARCHAR)", None
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


# A timestamp more than a day ahead of the run is kept (a clock or time-zone slip should not
# drop a real order) but listed in quality.value_issues.
FUTURE_SLACK = "INTERVAL 1 DAY"
FUTURE_ISSUE = " is in the future; kept"


def issue_still_holds_sql(entity: Entity, issue: str = "i") -> str:
    """Whether a typed row's issue `issue` holds on this run: typed rows are kept from night to
    night, and a date that was in the future when its row was typed may since have passed."""
    timestamps = [name for name, spec in entity.fields.items() if spec.type == "timestamp"]
    if not timestamps:
        return "true"
    now_future = " ".join(f"WHEN {literal(name)} THEN {ident(name)} > now() + {FUTURE_SLACK}" for name in timestamps)
    return (f"(NOT ends_with({issue}.reason, {literal(FUTURE_ISSUE)}) "
            f"OR coalesce(CASE {issue}.column_name {now_future} END, true))")


def _source(entity: Entity, profile: Profile, raw_table: str) -> str:
    """The profile's raw rows; where several rows make one record (record_key), one row per
    record: each field's first non-empty value in row order, or the sum of the line values."""
    lineage = ", ".join(ident(c) for c in LINEAGE_COLUMNS)
    where = f"profile = {literal(profile.name)}"
    if not profile.record_key:
        fields = ", ".join(ident(f) for f in entity.fields)
        return f"(SELECT {lineage}, row_problem, [source_row] AS source_rows, {fields} FROM {raw_table} WHERE {where})"
    key = ident(profile.record_key)
    fields = []
    for name in entity.fields:
        column = profile.columns.get(name)
        v = f"nullif(trim({ident(name)}), '')"
        if column and column.aggregate == "sum":
            # a line value that is not a number is passed on as it is, so typing rejects the record
            number = f"TRY_CAST(regexp_replace({v}, '[^0-9.\\-]', '', 'g') AS DECIMAL(18, 2))"
            fields.append(f"CASE WHEN count(*) FILTER (WHERE {v} IS NOT NULL AND {number} IS NULL) > 0 "
                          f"THEN first({v} ORDER BY source_row) FILTER (WHERE {v} IS NOT NULL AND {number} IS NULL) "
                          f"ELSE CAST(sum({number}) AS VARCHAR) END AS {ident(name)}")
        else:
            fields.append(f"first({v} ORDER BY source_row) FILTER (WHERE {v} IS NOT NULL) AS {ident(name)}")
    return (
        f"(SELECT load_id, source_file, source_sheet, min(source_row) AS source_row, file_hash, profile,\n"
        f"   string_agg(row_problem, '; ' ORDER BY source_row) AS row_problem,\n"
        f"   list(source_row ORDER BY source_row) AS source_rows,\n"
        f"   {', '.join(fields)}\n"
        f" FROM {raw_table} WHERE {where}\n"
        # a row without the key cannot be placed in a record: it stands alone (and is rejected)
        f" GROUP BY load_id, source_file, source_sheet, file_hash, profile,\n"
        f"   coalesce(nullif(trim({key}), ''), '#row ' || source_row))"
    )


def _text_column(name: str) -> str:
    """The inner query's column holding a field's cleaned text."""
    return ident(f"{name}__text")


def profile_select(entity: Entity, profile: Profile, raw_table: str) -> str:
    """SELECT typing the rows of one profile in the raw table. Three layers, so each value is
    cleaned once and typed once, however many checks read it: cleaned text, typed values, and
    the errors and issues read from both."""
    cleaned, typed, errors, issues = [], [], [], []
    errors.append(_problem("*", None, "row_problem IS NOT NULL", "row_problem"))
    nulls = [n.casefold() for n in profile.null_values]
    for spec in entity.fields.values():
        column = profile.columns.get(spec.name)
        header = column.header if column else None
        raw_value = f"nullif(trim({ident(spec.name)}), '')"
        if nulls:
            raw_value = (f"CASE WHEN lower(trim({ident(spec.name)})) IN ({', '.join(literal(n) for n in nulls)}) "
                         f"THEN NULL ELSE {raw_value} END")
        cleaned.append(f"{raw_value} AS {_text_column(spec.name)}")
        v, value = _text_column(spec.name), ident(spec.name)
        expr, expected = _typed(spec, column, profile, v)
        typed.append(f"CAST({expr} AS {SQL_TYPES[spec.type]}) AS {value}")
        if spec.required:
            errors.append(_problem(spec.name, header, f"{v} IS NULL", "'required value is missing'"))
        if expected:
            unreadable = f"{v} IS NOT NULL AND {value} IS NULL"
            reason = f"'cannot read ' || {_quoted_value(v)} || ' as {expected.replace(chr(39), chr(39) * 2)}'"
            (issues if spec.type in ("email", "phone") else errors).append(
                _problem(spec.name, header, unreadable, reason)
            )
        if spec.type == "timestamp":
            issues.append(_problem(spec.name, header, f"{value} > now() + {FUTURE_SLACK}",
                                   f"'the date ' || {_quoted_value(v)} || {literal(FUTURE_ISSUE)}"))
        if spec.min is not None:
            errors.append(_problem(spec.name, header, f"{value} < {spec.min}",
                                   f"'value ' || {v} || ' is below the minimum {spec.min}'"))
        if spec.max is not None:
            errors.append(_problem(spec.name, header, f"{value} > {spec.max}",
                                   f"'value ' || {v} || ' is above the maximum {spec.max}'"))
    lineage = ", ".join(ident(c) for c in LINEAGE_COLUMNS)
    fields = ", ".join(ident(f) for f in entity.fields)
    return (
        f"SELECT {lineage}, source_rows, {fields},\n"
        f"  list_filter([{', '.join(errors)}], lambda e: e IS NOT NULL) AS errors,\n"
        f"  list_filter([{', '.join(issues) or f'CAST(NULL AS {PROBLEM_TYPE})'}], lambda e: e IS NOT NULL) AS issues\n"
        f"FROM (SELECT *, {', '.join(typed)}\n"
        f"      FROM (SELECT {lineage}, source_rows, row_problem, {', '.join(cleaned)}\n"
        f"            FROM {_source(entity, profile, raw_table)}))"
    )


def typed_rows_sql(entity: Entity, profiles: list[Profile], raw_table: str) -> str:
    """All rows of the entity, typed, with their errors and issues (one SELECT per profile)."""
    if not profiles:
        lineage = ", ".join(
            f"CAST(NULL AS {'BIGINT' if c == 'source_row' else 'VARCHAR'}) AS {ident(c)}"
            for c in LINEAGE_COLUMNS
        ) + ", CAST([] AS BIGINT[]) AS source_rows"
        fields = ", ".join(f"CAST(NULL AS {SQL_TYPES[s.type]}) AS {ident(s.name)}" for s in entity.fields.values())
        empty = f"CAST([] AS {PROBLEM_TYPE}[])"
        return f"SELECT {lineage}, {fields}, {empty} AS errors, {empty} AS issues WHERE false"
    return "\nUNION ALL BY NAME\n".join(profile_select(entity, p, raw_table) for p in profiles)
