"""Dagster metadata built from warehouse tables: row counts, column schemas, small markdown tables."""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd

from pipelines.staging_sql import ident


def markdown_table(frame: pd.DataFrame, max_rows: int = 50) -> dg.MetadataValue:
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    shown = frame.head(max_rows).astype(object).where(frame.head(max_rows).notna(), "")
    lines = ["| " + " | ".join(map(str, shown.columns)) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return dg.MetadataValue.md("\n".join(lines))


def _table(con: duckdb.DuckDBPyConnection, schema: str, table: str, database: str | None = None) -> duckdb.DuckDBPyRelation:
    """The table (or view) looked up by name: duckdb_columns() filtered lists every column of every
    table first (0.57 ms against 0.12 at 1M orders), and a run asks about two hundred times."""
    return con.table(".".join(ident(part) for part in (database, schema, table) if part is not None))


def column_names(con: duckdb.DuckDBPyConnection, schema: str, table: str, database: str | None = None) -> list[str]:
    """A table's columns in order, in the connection's own database or an attached one; none when
    the table does not exist (yet)."""
    try:
        return _table(con, schema, table, database).columns
    except duckdb.CatalogException:
        return []


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `schema.table` exists in the connection's own database."""
    return bool(column_names(con, *table.split(".")))


def replace_with_view(con: duckdb.DuckDBPyConnection, schema: str, name: str, select_sql: str) -> None:
    """The view schema.name AS select_sql, in place of a table of that name left by a build made
    before the view."""
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                   [schema, name]).fetchone()[0]:
        con.execute(f'DROP TABLE "{schema}"."{name}"')
    con.execute(f'CREATE OR REPLACE VIEW "{schema}"."{name}" AS {select_sql}')


def table_metadata(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict:
    """Row count and column schema of a warehouse table, in Dagster's standard metadata keys."""
    relation = _table(con, schema, table)
    columns = zip(relation.columns, (str(t) for t in relation.types))
    rows = con.execute(f"SELECT count(*) FROM {ident(schema)}.{ident(table)}").fetchone()[0]
    return {
        "dagster/row_count": dg.MetadataValue.int(int(rows)),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=name, type=dtype) for name, dtype in columns]
        ),
        "dagster/table_name": f"{schema}.{table}",
    }
