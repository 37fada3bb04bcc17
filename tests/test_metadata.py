"""column_names and table_metadata: what a step asks of a table before it reads or writes it, and
what it tells Dagster of the tables it wrote."""

import duckdb

from pipelines.metadata import column_names, table_exists, table_metadata


def _database() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    con.execute('CREATE TABLE core.orders (order_key VARCHAR, "amount ""net""" DOUBLE, placed_at TIMESTAMP)')
    con.execute("CREATE VIEW core.order_keys AS SELECT order_key FROM core.orders")
    return con


def test_columns_in_order_for_tables_and_views_and_none_for_what_is_not_there():
    con = _database()
    assert column_names(con, "core", "orders") == ["order_key", 'amount "net"', "placed_at"]
    assert column_names(con, "core", "order_keys") == ["order_key"]
    assert column_names(con, "core", "customers") == []
    assert column_names(con, "marts", "orders") == []
    assert table_exists(con, "core.orders") and not table_exists(con, "core.customers")


def test_an_attached_database_is_asked_by_name_and_a_temporary_table_is_not_the_schemas():
    con = _database()
    con.execute("ATTACH ':memory:' AS published")
    con.execute("CREATE SCHEMA published.core")
    con.execute("CREATE TABLE published.core.orders (order_key VARCHAR)")
    con.execute("CREATE TEMP TABLE customers (customer_key VARCHAR)")
    assert column_names(con, "core", "orders", database="published") == ["order_key"]
    assert column_names(con, "core", "orders", database="nowhere") == []
    assert column_names(con, "core", "customers") == []


def test_a_written_tables_metadata_has_its_rows_and_its_columns_with_their_types():
    con = _database()
    con.execute("INSERT INTO core.orders VALUES ('SO-1', 9.5, '2025-03-01 10:00'), ('SO-2', NULL, NULL)")
    metadata = table_metadata(con, "core", "orders")
    assert metadata["dagster/row_count"].value == 2
    assert [(c.name, c.type) for c in metadata["dagster/column_schema"].columns] == [
        ("order_key", "VARCHAR"), ('amount "net"', "DOUBLE"), ("placed_at", "TIMESTAMP")]
    assert metadata["dagster/table_name"] == "core.orders"


def test_metadata_is_read_while_the_connection_holds_an_unfinished_result():
    # as a step's connection does after a statement it did not fetch: a relation run then would
    # fail (ResourceInUseException), a statement replaces the result
    con = _database()
    con.execute("INSERT INTO core.orders VALUES ('SO-1', 9.5, '2025-03-01 10:00')")
    con.execute("SELECT * FROM core.orders")
    assert table_metadata(con, "core", "orders")["dagster/row_count"].value == 1
    assert column_names(con, "core", "orders")[0] == "order_key"
