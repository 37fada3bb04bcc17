"""Running the SQL files that build a warehouse table, as one transaction."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines import key_storage

SQL_DIR = Path(__file__).resolve().parent / "sql"


def read_sql(relative: str) -> str:
    return (SQL_DIR / relative).read_text()


def run_sql(con: duckdb.DuckDBPyConnection, *statements: str) -> None:
    """Execute the statements in order inside one transaction: all or nothing. A table with key
    columns stored uncompressed is created by pipelines/key_storage.py."""
    con.execute("BEGIN")
    try:
        for statement in statements:
            if key_storage.creates_key_table(statement):
                key_storage.execute(con, statement)
            else:
                con.execute(statement)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def run_sql_files(con: duckdb.DuckDBPyConnection, *relative_paths: str) -> None:
    """Execute each file's statements in order inside one transaction: all or nothing."""
    run_sql(con, *(read_sql(relative) for relative in relative_paths))
