"""Per-customer tables built for the customers a night changed."""

import duckdb
import pytest

from pipelines.per_customer import _without_compaction


def test_a_per_customer_checkpoint_leaves_compaction_on_for_the_rest_of_the_run(tmp_path):
    """Compaction is the database's setting, shared by every step of a run: the per-customer tables
    turn it off for their own checkpoint only."""
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    before = con.execute("SELECT current_setting('max_vacuum_tasks')").fetchall()
    _without_compaction(con, ["CREATE TABLE t AS SELECT range AS k FROM range(10)", "DELETE FROM t WHERE k < 5"])
    assert con.execute("SELECT current_setting('max_vacuum_tasks')").fetchall() == before != [(0,)]
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(5,)]
    with pytest.raises(duckdb.Error):
        _without_compaction(con, ["SELECT * FROM no_such_table"])
    assert con.execute("SELECT current_setting('max_vacuum_tasks')").fetchall() == before
