"""The key columns a night looks rows up by are stored uncompressed in the build, however the table
was written: created whole, kept from a build made before, or written again by a night."""

import duckdb
import pytest

from pipelines import key_storage
from pipelines.sql_assets import run_sql


def _compression(con, table: str) -> dict[str, set[str]]:
    """Each key column's compression over the table's stored segments."""
    rows = con.execute(f"SELECT column_name, compression FROM pragma_storage_info('{table}') "
                       "WHERE segment_type = 'VARCHAR'").fetchall()
    found: dict[str, set[str]] = {}
    for column, compression in rows:
        if column in key_storage.KEY_COLUMNS[table]:
            found.setdefault(column, set()).add(compression)
    return found


def test_every_key_column_of_a_build_is_stored_uncompressed(sample_run):
    con = duckdb.connect(str(sample_run.build), read_only=True)
    try:
        assert key_storage._kept_compressed(con) == []
        for table, columns in key_storage.KEY_COLUMNS.items():
            assert _compression(con, table) == {column: {"Uncompressed"} for column in columns}, table
    finally:
        con.close()


def test_a_table_created_from_a_query_keeps_its_rows_and_may_read_the_table_it_replaces():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    con.execute("CREATE TABLE core.order_numbers AS SELECT CAST(range AS VARCHAR) AS order_number, range AS n "
                "FROM range(5000)")
    run_sql(con, "-- every other number, read from the table itself\n"
                 "CREATE OR REPLACE TABLE core.order_numbers AS\n"
                 "SELECT order_number, n FROM core.order_numbers WHERE n % 2 = 0;\n"
                 "CREATE OR REPLACE TEMP TABLE later AS SELECT count(*) AS c FROM core.order_numbers")
    con.execute("CHECKPOINT")
    assert con.execute("SELECT c FROM later").fetchall() == [(2500,)]
    assert con.execute("SELECT min(n), max(n), count(*) FROM core.order_numbers").fetchall() == [(0, 4998, 2500)]
    [(definition,)] = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'order_numbers'").fetchall()
    assert "order_number VARCHAR USING COMPRESSION Uncompressed" in definition
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%keyed%'").fetchall() == [(0,)]


def test_a_failed_statement_leaves_the_table_as_it_was():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    con.execute("CREATE TABLE core.orders AS SELECT 'ORD-' || range AS order_key FROM range(10)")
    with pytest.raises(duckdb.Error):
        run_sql(con, "CREATE OR REPLACE TABLE core.orders AS SELECT order_key FROM core.orders",
                "SELECT error('stop')")
    assert con.execute("SELECT count(*) FROM core.orders").fetchall() == [(10,)]
    [(definition,)] = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'orders'").fetchall()
    assert "USING COMPRESSION" not in definition


def test_a_build_made_before_is_converted_once_with_rows_order_and_not_null_kept(tmp_path):
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    con.execute("CREATE SCHEMA core")
    con.execute("CREATE TABLE core.customer_key_registry (record_key VARCHAR, customer_key VARCHAR NOT NULL, "
                "first_seen_at TIMESTAMPTZ, keyed_at TIMESTAMPTZ)")
    con.execute("INSERT INTO core.customer_key_registry SELECT 'crm_contacts:id:' || (range * 7919 % 200000), "
                "'C' || upper(substr(md5(range::VARCHAR), 1, 10)), NULL, NULL FROM range(200000)")
    con.execute("CREATE TABLE core.unrelated AS SELECT 'x' || range AS label FROM range(10)")
    con.execute("CHECKPOINT")
    before = con.execute("SELECT * FROM core.customer_key_registry").fetchall()

    assert key_storage.convert_kept_tables(con) == ["core.customer_key_registry"]
    con.execute("CHECKPOINT")

    assert con.execute("SELECT * FROM core.customer_key_registry").fetchall() == before  # in the same order
    assert _compression(con, "core.customer_key_registry") == {"record_key": {"Uncompressed"},
                                                               "customer_key": {"Uncompressed"}}
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO core.customer_key_registry VALUES ('x', NULL, NULL, NULL)")
    [(definition,)] = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'unrelated'").fetchall()
    assert "USING COMPRESSION" not in definition
    assert key_storage.convert_kept_tables(con) == []


def test_a_run_opening_a_build_made_before_converts_it(sample_run, tmp_path):
    from pipelines.resources import prepare_database
    from pipelines.settings import load_settings

    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    con.execute("CREATE SCHEMA core")
    con.execute("CREATE TABLE core.orders AS SELECT 'ORD-' || range AS order_key, 'C' || range AS customer_key, "
                "CAST(range AS VARCHAR) AS order_number, range AS quantity FROM range(1000)")
    assert prepare_database(con, load_settings(sample_run.config_path)) == ["core.orders"]
    con.execute("CHECKPOINT")  # before it, new rows sit in memory uncompressed whatever the definition
    assert _compression(con, "core.orders") == {"order_key": {"Uncompressed"}, "customer_key": {"Uncompressed"},
                                                "order_number": {"Uncompressed"}}
    assert prepare_database(con, load_settings(sample_run.config_path)) == []
