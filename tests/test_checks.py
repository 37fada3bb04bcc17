"""The uniqueness checks: the key values held by more than one row, found in DuckDB."""

import duckdb

from pipelines.checks import duplicate_keys_sql


def test_duplicate_keys_are_every_key_value_held_twice_and_only_those():
    con = duckdb.connect()
    con.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
        ('crm', 'a.csv', 1, 'x'), ('crm', 'a.csv', 1, 'x'), ('crm', 'a.csv', 1, 'x'),
        ('crm', 'a.csv', 2, 'x'), ('crm', 'b.csv', 1, 'x'), ('shop', 'a.csv', 1, 'x'),
        (NULL, 'a.csv', 3, 'x'), (NULL, 'a.csv', 3, 'x'), ('crm', 'a.csv', 4, 'y')
    ) AS v(source_system, source_file, source_row, entity)""")
    found = con.execute(duplicate_keys_sql("t", ["source_system", "source_file", "source_row", "entity"])).fetchall()
    # NULL keys count as equal, as GROUP BY groups them
    assert found == [("crm", "a.csv", 1, "x", 3), (None, "a.csv", 3, "x", 2)]
    assert con.execute(duplicate_keys_sql("t", ["source_file", "source_row", "entity"])).fetchall() == [
        ("a.csv", 1, "x", 4), ("a.csv", 3, "x", 2)]
    assert con.execute(duplicate_keys_sql("t", ["entity"])).fetchall() == [("x", 8)]
    con.execute("DELETE FROM t WHERE source_row IN (1, 3)")
    assert con.execute(duplicate_keys_sql("t", ["source_system", "source_file", "source_row"])).fetchall() == []
