"""Deleted rows are cleared by writing a table again once they are a quarter of what it stores:
in the build when a run ends, in the BI file by copying the table whole instead of replacing rows."""

import os
import shutil

import duckdb

from pipelines import compaction
from pipelines.compaction import VACUUM_OFF, compact, stored_and_live
from tests.conftest import SAMPLE_LANDING, nightly_run_in
from tests.test_incremental import step_metadata


def _replace_rows(con, table: str, share: float, database: str | None = None, night: int = 1) -> None:
    """Delete a share of the table's rows and insert them again, as a night that changed them does."""
    name = f"{database}.{table}" if database else table
    chosen = f"hash(rowid, {night}) % 1000 < {int(share * 1000)}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE cw_again AS SELECT * FROM {name} WHERE {chosen}")
    con.execute(f"DELETE FROM {name} WHERE {chosen}")
    con.execute(f"INSERT INTO {name} SELECT * FROM cw_again")
    con.execute(f"CHECKPOINT {database or ''}")


def _rows(con, table: str) -> list[tuple]:
    return sorted(con.execute(f"SELECT * FROM {table}").fetchall())


def test_a_table_is_written_again_once_a_quarter_of_its_stored_rows_are_deleted(tmp_path, monkeypatch):
    monkeypatch.setattr(compaction, "MIN_ROWS", 0)
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    con.execute(VACUUM_OFF)
    con.execute("CREATE SCHEMA core")
    con.execute("CREATE TABLE core.t (id INTEGER NOT NULL, label VARCHAR)")
    con.execute("INSERT INTO core.t SELECT range, 'row ' || range FROM range(300000)")
    con.execute("CREATE TABLE core.small (id INTEGER)")
    con.execute("INSERT INTO core.small SELECT range FROM range(10)")
    con.execute("CHECKPOINT")
    before = _rows(con, "core.t")

    _replace_rows(con, "core.t", 0.2)  # 60k deleted of 360k stored: 17%, kept as it is
    stored, live = stored_and_live(con, "core.t")
    assert live == 300_000 and stored > 340_000
    assert compact(con) == []

    _replace_rows(con, "core.t", 0.2, night=2)  # 120k deleted of 420k stored: 29%
    assert compact(con) == ["core.t"]
    con.execute("CHECKPOINT")
    assert stored_and_live(con, "core.t") == (300_000, 300_000)
    assert _rows(con, "core.t") == before
    assert stored_and_live(con, "core.small") == (10, 10)
    monkeypatch.setattr(compaction, "MIN_ROWS", 122_880)
    _replace_rows(con, "core.small", 0.5)
    assert compact(con) == []  # too small to matter
    # the table keeps its definition
    assert con.execute("SELECT is_nullable FROM information_schema.columns "
                       "WHERE table_name = 't' AND column_name = 'id'").fetchone() == ("NO",)
    con.close()


def test_a_run_clears_the_deleted_rows_of_the_build_and_copies_a_published_table_that_holds_many(tmp_path, monkeypatch):
    monkeypatch.setattr(compaction, "MIN_ROWS", 0)  # the sample's tables are smaller than a row group
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    first = nightly_run_in(tmp_path, landing)
    assert first.result.success
    whole = first.query("SELECT * FROM core.orders ORDER BY order_key")

    # earlier nights' changes left deleted rows in core.orders, in the build and in the BI file
    for path, database in ((first.build, None), (first.published, "published")):
        con = duckdb.connect(str(first.build) if database else str(path))
        con.execute(VACUUM_OFF)
        if database:
            con.execute(f"ATTACH '{path}' AS published")
        _replace_rows(con, "core.orders", 0.5, database)
        stored, live = stored_and_live(con, "core.orders", database)
        assert compaction.needs_rewrite(stored, live), (stored, live)
        if database:  # the BI file is still the one the build published
            stat = os.stat(path)
            con.execute("UPDATE quality.publish_state SET file_identity = ?",
                        [f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"])
        con.close()

    night = nightly_run_in(tmp_path, landing)
    assert night.result.success
    updates = step_metadata(night, "publish", "update")["crosswalk_duckdb"]
    assert updates.pop("core.orders") == "copied"
    assert set(updates.values()) == {"0 rows replaced"}, updates
    for path in (night.build, night.published):
        con = duckdb.connect(str(path), read_only=True)
        stored, live = stored_and_live(con, "core.orders")
        con.close()
        assert stored == live == len(whole)
    assert night.query("SELECT * FROM core.orders ORDER BY order_key").equals(whole)
