"""A core table's checks read only the rows written since they last ran, and come out as reading
every row would (pipelines/check_rows.py)."""

import duckdb
import great_expectations as gx
import pytest

from pipelines import check_memory, check_rows
from pipelines.checks import duplicate_keys_sql
from pipelines.gx_bridge import validate_table
from pipelines.unpublished import UnpublishedRows

ROWS = UnpublishedRows("core.t", {"k": "VARCHAR"})
EXPECTATIONS = [
    gx.expectations.ExpectColumnValuesToBeBetween(column="a", min_value=0),
    gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(column_A="a", column_B="b", or_equal=True,
                                                           ignore_row_if="either_value_is_missing"),
    gx.expectations.ExpectColumnValuesToNotBeNull(column="b"),
]


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core; CREATE SCHEMA quality")
    # every 7th row below zero, every 11th with b above a, every 13th without b
    con.execute("""CREATE TABLE core.t AS
        SELECT 'k' || i AS k, CASE WHEN i % 7 = 0 THEN -i ELSE i END AS a,
               CASE WHEN i % 13 = 0 THEN NULL WHEN i % 11 = 0 THEN i + 5 ELSE i - 1 END AS b
        FROM range(1, 3001) r(i)""")
    yield con
    con.close()


def validate(con):
    return lambda where: validate_table(con, "core.t", "core.t.blocking", EXPECTATIONS, where=where, key_columns=["k"])


def suite(con, scope, definition="definition"):
    """The suite read as the check step reads it: its outcome remembered with the definition."""
    outcome, how = check_rows.validate_suite(con, ROWS, "core/t", "gx_blocking", definition, scope, validate(con))
    check_memory.remember(con, "core/t", "gx_blocking", definition, outcome.success, {}, "run")
    return outcome, how


def test_a_suite_reads_the_rows_written_since_and_recalls_the_failures_of_the_others(con):
    first, how = suite(con, check_rows.changed_scope(con, ROWS, rebuild=False))
    assert how == "every row" and not first.success
    con.execute(check_rows.checked_sql(ROWS))
    # rows written: failures mended, new failures, a failing row gone, new rows
    con.execute("""
        UPDATE core.t SET a = abs(a) WHERE k IN ('k7', 'k14');
        UPDATE core.t SET b = a + 1 WHERE k IN ('k1', 'k2');
        DELETE FROM core.t WHERE k = 'k21';
        INSERT INTO core.t VALUES ('new1', -4, 0), ('new2', 3, NULL), ('new3', 8, 2);
        INSERT INTO quality.core_t_unchecked VALUES ('k7'), ('k14'), ('k1'), ('k2'), ('k21'), ('new1'), ('new2'), ('new3')""")
    scope = check_rows.changed_scope(con, ROWS, rebuild=False)
    night, how = suite(con, scope)
    assert how.startswith("7 rows written since the last check read")
    whole = validate_table(con, "core.t", "whole", EXPECTATIONS)
    assert [(o.success, o.unexpected_count) for o in night.outcomes] == [
        (o.success, o.unexpected_count) for o in whole.outcomes]
    assert night.rows_checked == 3002 and night.success is False
    # unchanged rows that failed before are among the counts (k28 is below zero, never written)
    assert night.outcomes[0].unexpected_count == len([i for i in range(1, 3001) if i % 7 == 0]) - 3 + 1
    assert all(len(o.unexpected_sample) == 5 for o in night.outcomes)
    # the failures kept are those a whole read finds
    kept = con.execute("SELECT k, failed FROM quality.core_t_gx_blocking_failing ORDER BY k").fetchall()
    again = validate_table(con, "core.t", "again", EXPECTATIONS, key_columns=["k"]).failing
    assert kept == sorted(map(tuple, again[["k", "failed"]].itertuples(index=False)))
    # GX's page shows the whole table's counts
    [page] = night.gx_results
    counts = {r.expectation_config.type: r.result["unexpected_count"] for r in page.results}
    assert counts["expect_column_values_to_be_between"] == night.outcomes[0].unexpected_count
    assert all(r.result["element_count"] == 3002 for r in page.results)


def test_a_queue_naming_every_row_or_another_definition_reads_every_row(con):
    suite(con, None)
    con.execute(check_rows.checked_sql(ROWS))
    con.execute("INSERT INTO quality.core_t_unchecked VALUES (NULL)")
    assert check_rows.changed_scope(con, ROWS, rebuild=False) is None
    con.execute(check_rows.checked_sql(ROWS))
    con.execute("INSERT INTO quality.core_t_unchecked VALUES ('k1')")
    scope = check_rows.changed_scope(con, ROWS, rebuild=False)
    assert check_rows.changed_scope(con, ROWS, rebuild=True) is None
    _, how = suite(con, scope, definition="another definition")
    assert how == "every row"


def test_a_uniqueness_check_that_passed_finds_a_new_duplicate_among_the_rows_written(con):
    query = duplicate_keys_sql("core.t", ["a"])
    assert con.execute(query).fetchall() == []
    check_memory.remember(con, "core/t", "unique_a", "definition", True, {}, "run")
    con.execute(check_rows.checked_sql(ROWS))
    con.execute("INSERT INTO core.t VALUES ('dup', 5, 4); INSERT INTO quality.core_t_unchecked VALUES ('dup')")
    scope = check_rows.changed_scope(con, ROWS, rebuild=False)
    assert check_rows.unique_scoped(check_memory.recall(con, "core/t", "unique_a", "definition"), scope)
    assert (con.execute(check_rows.unique_scope_sql("core.t", ["a"], ROWS, scope)).fetchall()
            == con.execute(query).fetchall() == [(5, 2)])
    check_memory.remember(con, "core/t", "unique_a", "definition", False, {}, "run")
    assert not check_rows.unique_scoped(check_memory.recall(con, "core/t", "unique_a", "definition"), scope)


def test_the_360_check_scoped_to_the_keys_written_finds_what_reading_every_row_finds():
    """one_row_per_customer reads only the 360's keys written since it passed (the 360 builds
    again every customer core.customers wrote): a customer doubled or dropped there is found."""
    from pipelines.checks import customers_in_360_sql

    con = duckdb.connect()
    con.execute("CREATE SCHEMA core; CREATE SCHEMA marts")
    con.execute("CREATE TABLE core.customers AS SELECT 'c' || i AS customer_key FROM range(1000) r(i)")
    con.execute("CREATE TABLE marts.customer_360 AS SELECT * FROM core.customers")
    assert con.execute(customers_in_360_sql()).fetchall() == []
    # a night: c5 written twice into the 360, c9 built again in core.customers but lost from the 360
    con.execute("INSERT INTO marts.customer_360 VALUES ('c5'); DELETE FROM marts.customer_360 WHERE customer_key = 'c9'")
    con.execute("CREATE TEMP TABLE cw_unchecked AS SELECT * FROM (VALUES ('c5'), ('c9'), ('c11')) v(customer_key)")
    found = sorted(con.execute(customers_in_360_sql("cw_unchecked")).fetchall())
    assert found == sorted(con.execute(customers_in_360_sql()).fetchall()) == [("c5", 1, 2), ("c9", 1, 0)]
    # the scoped query reads the queued keys only: a row no writer queued (here, one removed by
    # hand) is left to the full read, which the check falls back to when it last failed
    con.execute("DELETE FROM marts.customer_360 WHERE customer_key = 'c20'")
    assert sorted(con.execute(customers_in_360_sql("cw_unchecked")).fetchall()) == found
    assert ("c20", 1, 0) in con.execute(customers_in_360_sql()).fetchall()
