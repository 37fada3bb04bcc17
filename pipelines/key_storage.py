"""The key columns of the build's large core tables, stored uncompressed.

A night reads few rows of these tables by their keys (a customer key, a record key, an order
number), and those rows lie in every row group. DuckDB decompresses a compressed string column
(DICT_FSST) for every row it scans before the join drops most of them, so each such read cost
the whole column: at 1M orders, reading 1% of the key registry by record_key took 0.071 s, and
0.020-0.031 s with both its string columns stored uncompressed. Stored so, these columns cost about
0.4 GB more on disk at 1M orders (benchmarks/RESULTS.md, Twentieth round).

DuckDB takes that choice only in a column's definition, not in CREATE TABLE ... AS. So a
`CREATE OR REPLACE TABLE ... AS` of one of these tables run by `sql_assets.run_sql` creates the
table from its query's columns, keys uncompressed, then fills it; `convert_kept_tables` rewrites
the tables a build made before keeps compressed.
"""

import re

import duckdb

from pipelines.staging_sql import ident

KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "core.customer_records": ("source_record_id", "crm_contact_id", "order_number", "usable_email", "usable_phone"),
    "core.customer_identity_map": ("customer_key", "source_record_id"),
    "core.customer_key_registry": ("record_key", "customer_key"),
    "core.customer_cluster_keys": ("customer_key",),
    "core.customers": ("customer_key",),
    "marts.customer_360": ("customer_key",),
    "core.order_references": ("order_number",),
    "core.order_numbers": ("order_number",),
    "core.order_identity_map": ("order_key", "order_number"),
    "core.orders": ("customer_key", "order_key", "order_number"),
}
UNCOMPRESSED = "USING COMPRESSION uncompressed"

_CREATED_AS = re.compile(r"CREATE\s+OR\s+REPLACE\s+TABLE\s+([\w.]+)\s+AS\s+(.*)", re.IGNORECASE | re.DOTALL)
_LEADING_COMMENTS = re.compile(r"\A(?:\s*--[^\n]*\n)*\s*")


def creates_key_table(sql: str) -> bool:
    """Whether `sql` (one statement or several) may create a table of KEY_COLUMNS from a query."""
    return any(f"{table} AS" in sql for table in KEY_COLUMNS) and _CREATED_AS.search(sql) is not None


def execute(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Execute `sql` statement by statement; one that creates a table of KEY_COLUMNS from a query
    creates it with its key columns uncompressed and fills it, as CREATE OR REPLACE ... AS would."""
    for statement in duckdb.extract_statements(sql):
        created = _CREATED_AS.fullmatch(_LEADING_COMMENTS.sub("", statement.query).rstrip().rstrip(";"))
        if created and created.group(1).lower() in KEY_COLUMNS:
            create_as(con, created.group(1).lower(), created.group(2))
        else:
            con.execute(statement.query)


def _definitions(table: str, columns: list[tuple[str, str, bool]]) -> str:
    """Column definitions with the table's key columns uncompressed; `columns` are (name, type,
    nullable)."""
    keys = KEY_COLUMNS.get(table, ())
    return ", ".join(f"{ident(name)} {kind}" + (f" {UNCOMPRESSED}" if name in keys else "")
                     + ("" if nullable else " NOT NULL") for name, kind, nullable in columns)


def _replace_sql(table: str, definitions: str, rows_sql: str) -> list[str]:
    """The statements that replace `table` by a table of `definitions` holding the rows of
    `rows_sql`, which may read the table it replaces."""
    schema, name = table.split(".")
    fresh = f"{ident(schema)}.{ident(name + '__keyed')}"
    return [f"DROP TABLE IF EXISTS {fresh}", f"CREATE TABLE {fresh} ({definitions})",
            f"INSERT INTO {fresh} {rows_sql}", f"DROP TABLE IF EXISTS {ident(schema)}.{ident(name)}",
            f"ALTER TABLE {fresh} RENAME TO {ident(name)}"]


def create_as(con: duckdb.DuckDBPyConnection, table: str, query: str) -> None:
    """CREATE OR REPLACE TABLE `table` AS `query`, with the table's key columns uncompressed."""
    columns = [(name, kind, True) for name, kind, *_ in con.execute(f"DESCRIBE {query}").fetchall()]
    for statement in _replace_sql(table, _definitions(table, columns), query):
        con.execute(statement)


def _kept_compressed(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables of KEY_COLUMNS in the build whose definition leaves a key column compressed."""
    found = con.execute("SELECT schema_name || '.' || table_name, sql FROM duckdb_tables() "
                        "WHERE database_name = current_database() AND NOT temporary").fetchall()
    def uncompressed(sql: str, column: str) -> bool:
        return re.search(rf'[(,]\s*"?{re.escape(column)}"?\s+[^,]*USING COMPRESSION Uncompressed', sql) is not None

    return sorted(table for table, sql in found
                  if table in KEY_COLUMNS and not all(uncompressed(sql, column) for column in KEY_COLUMNS[table]))


def convert_kept_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Rewrite, rows and order unchanged, the tables a build made before keeps with a key column
    compressed (once: a few seconds at 1M orders). Returns those tables."""
    from pipelines.sql_assets import run_sql  # (which imports this module)

    converted = _kept_compressed(con)
    for table in converted:
        schema, name = table.split(".")
        columns = con.execute("SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
                              "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
                              "ORDER BY column_index", [schema, name]).fetchall()
        run_sql(con, *_replace_sql(table, _definitions(table, columns), f"SELECT * FROM {ident(schema)}.{ident(name)}"))
    return converted
