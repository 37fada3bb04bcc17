"""Deleted rows cleared out of a table by writing it again, once they are a quarter of what it stores.

A night replaces a few rows of large tables (delete, then insert). DuckDB's checkpoint would merge
the row groups holding deleted rows ("vacuum"), rewriting much of each such table every night: at
1M orders it made the build's closing checkpoint 2.7 s against 0.8 s, and the published file's
1.7 s against 0.3 s. Both run with vacuum off (`VACUUM_OFF`), which still drops a row group whose
rows are all deleted; the rest wait here until they are worth one rewrite.
"""

import duckdb

from pipelines.staging_sql import ident

VACUUM_OFF = "SET max_vacuum_tasks = 0"
# a table whose deleted rows reach this share of its stored rows is written again
DELETED_SHARE = 0.25
# at the end of a run, tables of fewer stored rows are passed over: less than a row group holds
# too few deleted rows to matter
MIN_ROWS = 122_880


def stored_and_live(con: duckdb.DuckDBPyConnection, table: str, database: str | None = None) -> tuple[int, int]:
    """A table's rows as stored (deleted ones included) and as read."""
    schema, name = table.split(".")
    [(stored,)] = con.execute(
        "SELECT estimated_size FROM duckdb_tables() WHERE database_name = coalesce(?, current_database()) "
        "AND schema_name = ? AND table_name = ?", [database, schema, name]).fetchall()
    prefix = f"{ident(database)}." if database else ""
    [(live,)] = con.execute(f"SELECT count(*) FROM {prefix}{ident(schema)}.{ident(name)}").fetchall()
    return stored, live


def needs_rewrite(stored: int, live: int) -> bool:
    return stored - live >= DELETED_SHARE * stored > 0


def compact(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Write again, with its definition and rows unchanged, every table of the connection's
    database of at least MIN_ROWS stored rows that `needs_rewrite`. Returns those tables."""
    tables = [f"{s}.{t}" for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND NOT temporary AND estimated_size >= ? "
        "ORDER BY ALL", [MIN_ROWS]).fetchall()]
    rewritten = [table for table in tables if needs_rewrite(*stored_and_live(con, table))]
    for table in rewritten:
        quoted = ".".join(ident(part) for part in table.split("."))
        # emptied and filled again in one transaction: its old row groups, all rows deleted, are
        # dropped at the checkpoint, and the table keeps its constraints (CREATE OR REPLACE would not)
        con.execute("BEGIN")
        con.execute(f"CREATE OR REPLACE TEMP TABLE cw_compacted AS SELECT * FROM {quoted}")
        con.execute(f"DELETE FROM {quoted}")
        con.execute(f"INSERT INTO {quoted} SELECT * FROM cw_compacted")
        con.execute("DROP TABLE cw_compacted")
        con.execute("COMMIT")
    return rewritten
