"""A staged or core table's checks read only the rows written since they last ran.

The core tables written by the rows that changed (pipelines/unpublished.py) queue the keys they
write in `quality.<schema>_<table>_unchecked`, and staging queues the places (file, row) whose
current record changed in `quality.staging_<entity>_unchecked` (pipelines/record_places.py); the
table's check step empties the queue. With that queue (and no NULL key in it, which says the
table was written whole), a check that keeps what it needs reads only those keys' rows:
- a GX suite whose expectations each judge a row by its own values keeps the rows that failed,
  by key, with one bit per expectation (`quality.<schema>_<table>_<check>_failing`); the night
  validates the queued keys' rows and recalls the failures of the others, or reports its last
  result again (marked reused_from_run) when no row was written;
- a uniqueness check that passed looks for duplicates only among the queued rows' key values: two
  rows left as they were did not share a key before.
A first build, a full rebuild, another definition or a table written whole reads every row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb

from connectors.profiles import load_entities
from pipelines import check_memory
from pipelines.gx_bridge import _META_KEY, ExpectationOutcome, SuiteOutcome
from pipelines.metadata import table_exists
from pipelines.record_places import QUEUE_COLUMNS
from pipelines.staging_sql import ident
from pipelines.unpublished import UNPUBLISHED, UnpublishedRows


@dataclass(frozen=True)
class StagedRows(UnpublishedRows):
    """staging.<entity>: its current records by place. Its checks' queue is one of the place queues
    (pipelines/record_places.py), which name the entity too."""

    @property
    def queue_columns(self) -> str:
        return QUEUE_COLUMNS

    def rows_of_queue(self, con, queue: str | None = None, source: str | None = None) -> str:
        return self.row_in_queue(queue)  # a view: no rowid, and its rows are read from the versions


def checked_rows(table: str) -> UnpublishedRows | None:
    """How the table's checks find the rows written since they last ran, if they can."""
    schema, name = table.split(".")
    if schema == "staging" and name in load_entities():
        return StagedRows(table, {"source_file": "VARCHAR", "source_row": "BIGINT"})
    return UNPUBLISHED.get(table)


SCOPE = "cw_unchecked"


def changed_scope(con: duckdb.DuckDBPyConnection, rows: UnpublishedRows, rebuild: bool) -> str | None:
    """cw_unchecked: the keys written since the checks last ran; None when every row must be read."""
    if rebuild or not table_exists(con, rows.unchecked):
        return None
    first = next(iter(rows.key))
    [(whole,)] = con.execute(f"SELECT count(*) FROM {rows.unchecked} WHERE {first} IS NULL").fetchall()
    if whole:
        return None
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SCOPE} AS SELECT DISTINCT {rows.columns} FROM {rows.unchecked}")
    return SCOPE


def checked_sql(rows: UnpublishedRows) -> str:
    """The queue emptied (created on a build without it) once the table's checks have run."""
    return f"CREATE OR REPLACE TABLE {rows.unchecked} ({rows.queue_columns})"


def unchanged_result(con: duckdb.DuckDBPyConnection, asset_key: str, check: str, definition: str,
                     scope: str | None) -> tuple[bool, dict, str] | None:
    """The suite's last result (passed, details, the run that read the rows) when no row of the
    table was written since: it is the table's result still."""
    if scope is None or con.execute(f"SELECT count(*) FROM {scope}").fetchall()[0][0]:
        return None
    return check_memory.recall(con, asset_key, check, definition)


def _failing_table(rows: UnpublishedRows, check: str) -> str:
    return f"quality.{rows.table.replace('.', '_')}_{check}_failing"


def validate_suite(con: duckdb.DuckDBPyConnection, rows: UnpublishedRows, asset_key: str, check: str,
                   definition: str, scope: str | None, validate) -> tuple[SuiteOutcome, str]:
    """The suite's outcome over the whole table, and which rows were read. `validate(where)`
    runs the suite on the rows `where` selects (None: every row) and returns its SuiteOutcome with
    the failing rows' keys and bits (SuiteOutcome.failing)."""
    failing = _failing_table(rows, check)
    scoped = (scope is not None and table_exists(con, failing)
              and check_memory.recall(con, asset_key, check, definition) is not None)
    if not scoped:
        outcome = validate(None)
        _keep_failing(con, failing, outcome.failing, None)
        return outcome, "every row"
    in_scope = rows.row_in_queue(scope)
    read = validate(rows.rows_of_queue(con, scope))
    bits = len(read.outcomes)
    [recalled] = con.execute(
        "SELECT [" + ", ".join(f"count(*) FILTER (WHERE failed & {1 << i} <> 0)" for i in range(bits)) + "] "
        f"FROM {failing} WHERE NOT {in_scope}").fetchall()
    [(total,)] = con.execute(f"SELECT count(*) FROM {rows.table}").fetchall()
    outcomes = []
    for i, (outcome, more) in enumerate(zip(read.outcomes, recalled[0])):
        unexpected = (outcome.unexpected_count or 0) + more
        sample = list(outcome.unexpected_sample)
        if more and len(sample) < SAMPLE:
            sample += _recalled_sample(con, rows, failing, in_scope, i, read.sample_columns[i], SAMPLE - len(sample))
        outcomes.append(replace(outcome, unexpected_count=unexpected, unexpected_sample=sample,
                                success=outcome.error is None and unexpected == 0))
    _keep_failing(con, failing, read.failing, in_scope)
    combined = replace(read, success=all(o.success for o in outcomes), outcomes=outcomes, rows_checked=total,
                       gx_results=[_as_whole(r, outcomes, total) for r in read.gx_results])
    return combined, f"{read.rows_checked} rows written since the last check read; the others' failures recalled"


def _keep_failing(con: duckdb.DuckDBPyConnection, failing: str, found, read: str | None) -> None:
    """The failing rows `found` kept in place of those of the rows read (`read`; None: every row)."""
    con.register("cw_failing_found", found)
    if read is None:
        con.execute(f"CREATE OR REPLACE TABLE {failing} AS SELECT * FROM cw_failing_found")
    else:
        con.execute(f"DELETE FROM {failing} WHERE {read}")
        con.execute(f"INSERT INTO {failing} SELECT * FROM cw_failing_found")
    con.unregister("cw_failing_found")


SAMPLE = 5


def _recalled_sample(con, rows: UnpublishedRows, failing: str, in_scope: str, bit: int, columns: list[str],
                     room: int) -> list:
    """Values of rows that failed before and were not written since, as GX lists them."""
    if not columns:
        return []
    keys = ", ".join(f"t.{ident(c)}" for c in rows.key)
    values = con.execute(
        f"SELECT {', '.join(f't.{ident(c)}' for c in columns)} FROM {rows.table} t "
        f"SEMI JOIN (SELECT * FROM {failing} WHERE failed & {1 << bit} <> 0 AND NOT {in_scope}) f "
        f"ON ({keys}) = ({', '.join(f'f.{ident(c)}' for c in rows.key)}) LIMIT {room}").fetchall()
    return [list(v) if len(columns) > 1 else v[0] for v in values]


def _as_whole(result, outcomes: list[ExpectationOutcome], total: int):
    """GX's result for the rows read, given the whole table's counts, for the Data Docs page."""
    for r in result.results:
        outcome = outcomes[(r.expectation_config.meta or {})[_META_KEY]]
        r.success = outcome.success
        counts = dict(r.result or {})
        counts["element_count"] = total
        counts["unexpected_count"] = outcome.unexpected_count
        if total:
            counts["unexpected_percent"] = counts["unexpected_percent_total"] = (
                100.0 * (outcome.unexpected_count or 0) / total)
        counts["partial_unexpected_list"] = outcome.unexpected_sample
        for partial in ("partial_unexpected_counts", "unexpected_percent_nonmissing", "missing_count",
                        "missing_percent"):
            counts.pop(partial, None)  # of the rows read only
        r.result = counts
    passed = sum(o.success for o in outcomes)
    result.success = passed == len(outcomes)
    result.statistics = {**(result.statistics or {}), "successful_expectations": passed,
                         "unsuccessful_expectations": len(outcomes) - passed,
                         "success_percent": 100.0 * passed / len(outcomes) if outcomes else None}
    return result


def unique_scope_sql(table: str, columns: list[str], rows: UnpublishedRows, scope: str) -> str:
    """The duplicate key values among the rows of the queued keys' key values."""
    keys = ", ".join(ident(c) for c in columns)
    return f"""SELECT {keys}, count(*) AS copies FROM {table}
               WHERE ({keys}) IN (SELECT {keys} FROM {table} WHERE {rows.row_in_queue(scope)})
               GROUP BY ALL HAVING count(*) > 1 ORDER BY copies DESC, {keys}"""


def unique_scoped(earlier: tuple[bool, dict, str] | None, scope: str | None) -> bool:
    """Whether a uniqueness check may read only the queued rows: it passed when it last read
    (`earlier`, its result recalled: check_memory.recall)."""
    return scope is not None and earlier is not None and earlier[0] is True
