"""Publish: write-audit-publish of the BI file.

Every asset writes to the private build; blocking checks audit it; only then does this asset
write a new file beside the published one and `os.replace()` it over `crosswalk.duckdb`.
Readers holding the old file keep their snapshot; new connections see the new one; a failed
build leaves the previous file in place.

The new file starts as a copy of the previous one where the build says which rows changed since
that file was published (pipelines/unpublished.py): only those keys' rows are replaced. The other
tables, and any whose deleted rows have piled up (pipelines/compaction.py), are copied whole.
Anything that could make the previous file differ from what the build last published (another
file in its place, other settings or publish code, a table built whole) copies every table.
"""


import hashlib
import json
import os
import secrets
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import duckdb

from connectors.files import content_fingerprint
from connectors.profiles import load_profiles
from pipelines import bi_views
from pipelines.bi_views import describe_published_file
from pipelines.compaction import needs_rewrite, stored_and_live
from pipelines.core import core_assets
from pipelines.marts import marts_assets
from pipelines.metadata import column_names
from pipelines.resources import SCHEMAS, WarehouseResource
from pipelines.schedules import nightly_job
from pipelines.settings import Settings
from pipelines.sql_assets import run_sql
from pipelines.staging import staging_assets
from pipelines.staging_sql import ident, literal
from pipelines.unpublished import UNPUBLISHED

PUBLISHED = dg.AssetKey(["publish", "crosswalk_duckdb"])
PUBLISHED_TABLES = (
    "core.customers", "core.customer_identity_map", "core.customer_key_history", "core.customer_link_evidence",
    "core.orders", "core.order_identity_map",
    "core.fulfilments", "core.tickets", "core.campaigns",
    "marts.order_to_delivery_monthly", "marts.onboarding_cohorts_monthly", "marts.customer_360",
    "marts.metric_catalog",
    "quality.rejected_rows", "quality.check_results", "quality.unmatched_order_refs",
    "raw.landing_files",
)
PERSONAL_COLUMNS = {"email", "phone", "street", "address"}
# the new BI file's name while the build has it attached
PUBLISHING = "cw_publishing"


def pseudonym_key(settings: Settings) -> str:
    """$CROSSWALK_PSEUDONYM_KEY, else a random key kept (owner-only) beside the private build."""
    if os.environ.get("CROSSWALK_PSEUDONYM_KEY"):
        return os.environ["CROSSWALK_PSEUDONYM_KEY"]
    path = settings.build_path.parent / "pseudonym.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def _column_expr(column: str, policy: str) -> str | None:
    if column not in PERSONAL_COLUMNS or policy == "keep":
        return ident(column)
    if policy == "drop":
        return None
    return f"CASE WHEN {ident(column)} IS NOT NULL THEN 'pii:' || substr(sha256(getvariable('pseudonym_key') || " \
           f"CAST({ident(column)} AS VARCHAR)), 1, 16) END AS {ident(column)}"


def _personal_headers() -> dict[str, set[str]]:
    """Per profile, the delivered headers that hold personal data."""
    return {
        p.name: {h for f, c in p.columns.items() if p.entity.fields[f].personal for h in c.headers}
        for p in load_profiles()
    }


def _scrub_raw_records(con: duckdb.DuckDBPyConnection) -> None:
    """Blank personal values inside quarantined raw records of the published copy."""
    personal = _personal_headers()

    def scrub(profile: str, raw_record: str | None) -> str:
        record = json.loads(raw_record) if raw_record else {}
        return json.dumps({k: ("(personal data withheld)" if k in personal.get(profile, set()) and v else v)
                           for k, v in record.items()}, ensure_ascii=False)

    rejected = con.execute("SELECT * FROM quality.rejected_rows").df()
    if rejected.empty:
        return
    rejected["raw_record"] = [scrub(p, r) for p, r in zip(rejected["profile"], rejected["raw_record"])]
    # one write for the table, not one UPDATE per row
    con.execute("CREATE OR REPLACE TABLE quality.rejected_rows AS SELECT * FROM rejected")


def _unpublished_keys(cursor, build: str, table: str) -> str | None:
    """The build's queue of the keys whose rows changed since the previous file, or None when every
    row must be copied (the table was built whole, or the build keeps no queue)."""
    rows = UNPUBLISHED.get(table)
    if rows is None or not column_names(cursor, *rows.queue.split("."), database=build):
        return None
    first = next(iter(rows.key))
    queue = f"{ident(build)}.{rows.queue}"
    [(everything,)] = cursor.execute(f"SELECT count(*) FROM {queue} WHERE {first} IS NULL").fetchall()
    return None if everything else queue


def _published_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A connection to the build's database whose unqualified names are the new file's."""
    cursor = con.cursor()
    cursor.execute(f"USE {PUBLISHING}")
    return cursor


def _copy_table(con: duckdb.DuckDBPyConnection, build: str, table: str, policy: str, key: str,
                reuse: bool) -> tuple[int, str] | None:
    """Publish one contract table of the build (catalog `build`) into the attached new file, on its
    own connection: its row count and how it was written, or None when the build has no such
    table. With `reuse`, the file already holds the table as last published: only the rows of the
    keys changed since are replaced."""
    cursor = _published_cursor(con)
    source = f"{ident(build)}.{table}"
    try:
        cursor.execute("SET VARIABLE pseudonym_key = ?", [key])
        columns = column_names(cursor, *table.split("."), database=build)
        if not columns:
            return None
        published = [c for c in columns if _column_expr(c, policy)]
        exprs = [_column_expr(c, policy) for c in published]
        keys = _unpublished_keys(cursor, build, table) if reuse else None
        if (keys is not None and published == column_names(cursor, *table.split("."))
                and not needs_rewrite(*stored_and_live(cursor, table))):
            rows = UNPUBLISHED[table]
            cursor.execute("BEGIN")
            cursor.execute(f"DELETE FROM {table} WHERE {rows.row_in_queue(keys)}")
            replaced = cursor.execute(f"INSERT INTO {table} SELECT {', '.join(exprs)} FROM {source} "
                                      f"WHERE {rows.rows_of_queue(cursor, keys, source)}").fetchall()[0][0]
            cursor.execute("COMMIT")
            how = f"{replaced} rows replaced"
        else:
            cursor.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(exprs)} FROM {source}")
            how = "copied"
        return cursor.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0], how
    finally:
        cursor.close()


def _flush(path: Path) -> None:
    """Write a file's pages to the disk, beside the work that follows. The copy of the previous
    file (300 MB at 1M orders) otherwise reached the disk in the closing checkpoint's sync: the
    checkpoint took 0.31-0.32 s, against 0.14-0.15 s with the copy synced first."""
    fd = os.open(path, os.O_RDONLY)
    try:
        getattr(os, "fdatasync", os.fsync)(fd)  # (macOS has no fdatasync)
    finally:
        os.close(fd)


def _copy_file(source: Path, target: Path) -> None:
    """A copy of `source` at `target`, written to the disk by a thread of its own (_flush)."""
    shutil.copyfile(source, target)
    threading.Thread(target=_flush, args=(target,), name="flush-copy").start()


class PreviousCopy:
    """The published file copied to a run's new file (`path`) from the run's start, while the
    first steps read the landing files (copy_previous_ahead): at 1M orders the copy (300 MB)
    took 0.12-0.23 s at the start of publishing."""

    def __init__(self, source: Path, path: Path):
        self.source, self.path = source, path
        self._failed = False
        self._thread = threading.Thread(target=self._copy, name="copy-published", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        try:
            # at the lowest priority: the copy takes the cores the steps leave idle
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):  # (a thread's own priority: Linux)
            pass
        try:
            _copy_file(self.source, self.path)
        except OSError:
            self._failed = True  # publishing copies the file itself

    def taken(self, previous: Path | None) -> bool:
        """Whether the copy is whole and of `previous`, the file publishing starts from."""
        self._thread.join()
        return not self._failed and previous == self.source

    def discard(self) -> None:
        self._thread.join()
        self.path.unlink(missing_ok=True)


def staging_path(target: Path, run_id: str) -> Path:
    """Where a run writes its new file, beside the published one."""
    return target.with_name(f".{target.name}.{run_id}.publishing")


def copy_previous_ahead(con: duckdb.DuckDBPyConnection, settings: Settings, run: dg.DagsterRun | None
                        ) -> PreviousCopy | None:
    """Begin copying the published file to the run's new file, if the run is the nightly job and
    publishes (the whole job, or a selection holding PUBLISHED) and the build last published
    that file (as published_warehouse would start from it)."""
    publishes = run is not None and run.job_name == nightly_job.name and (
        not run.asset_selection or PUBLISHED in run.asset_selection)
    target = settings.published_path
    if not publishes or not target.exists():
        return None
    previous = _previous_file(con, target, publish_fingerprint(settings))
    return PreviousCopy(previous, staging_path(target, run.run_id)) if previous is not None else None


def write_published_copy(con: duckdb.DuckDBPyConnection, target: Path, settings: Settings,
                         previous: Path | None = None, copied: bool = False) -> dict[str, tuple[int, str]]:
    """Write the contract tables from the build (`con`, a connection to it) into a new file at
    `target`: a copy of `previous` (the file as last published; `copied`: already at `target`)
    with the changed rows replaced, or else every table copied. Returns each table's row count
    and how it was written.

    The build attaches the new file, not the other way round: a run holds the build open
    (pipelines/resources.py), and another database in the process cannot attach that file."""
    if previous is not None and not copied:
        _copy_file(previous, target)
    [(build,)] = con.execute("SELECT current_database()").fetchall()
    con.execute(f"ATTACH {literal(str(target))} AS {PUBLISHING}")
    try:
        for schema in SCHEMAS:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {PUBLISHING}.{schema}")
        key = pseudonym_key(settings)
        # two tables at a time: 8.8 s against 9.6 s one at a time at 1M orders (medians of seven runs)
        with ThreadPoolExecutor(2) as pool:
            written = pool.map(lambda table: _copy_table(con, build, table, settings.personal_data, key,
                                                         previous is not None), PUBLISHED_TABLES)
            tables = {table: w for table, w in zip(PUBLISHED_TABLES, written) if w is not None}
        cursor = _published_cursor(con)
        try:
            if settings.personal_data != "keep":
                _scrub_raw_records(cursor)
            describe_published_file(cursor, settings)
        finally:
            cursor.close()
        con.execute(f"CHECKPOINT {PUBLISHING}")  # the file whole, with no log beside it
    finally:
        con.execute(f"DETACH {PUBLISHING}")
    return tables


def publish_fingerprint(settings: Settings) -> str:
    """What the published file's contents depend on besides the build: this code, the views and
    comments, the personal-data policy and the pseudonym key (hashed, never stored)."""
    key = hashlib.sha256(pseudonym_key(settings).encode()).hexdigest()
    return content_fingerprint([Path(__file__), Path(bi_views.__file__)], settings.personal_data, key,
                               duckdb.__version__)


def _file_identity(path: Path) -> str:
    """The published file as this build left it: another file in its place differs."""
    stat = path.stat()
    return f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"


PUBLISH_STATE = "quality.publish_state"


def _previous_file(con: duckdb.DuckDBPyConnection, target: Path, fingerprint: str) -> Path | None:
    """The published file, when the build last published it, with the same fingerprint."""
    if not target.exists() or "file_identity" not in column_names(con, *PUBLISH_STATE.split(".")):
        return None
    [(same,)] = con.execute(f"SELECT count(*) FROM {PUBLISH_STATE} WHERE fingerprint = ? AND file_identity = ?",
                            [fingerprint, _file_identity(target)]).fetchall()
    return target if same else None


def _mark_published(con: duckdb.DuckDBPyConnection, target: Path, fingerprint: str) -> None:
    """Record the file now published and empty the queues it took in, in one transaction. Runs one
    at a time on a build, so nothing queued keys between the copy and this."""
    present = {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
    run_sql(con, f"CREATE OR REPLACE TABLE {PUBLISH_STATE} AS SELECT {literal(fingerprint)} AS fingerprint, "
                 f"{literal(_file_identity(target))} AS file_identity",
            *(f"DELETE FROM {rows.queue}" for rows in UNPUBLISHED.values() if rows.queue in present))


def _replace_freeing_later(new: Path, target: Path) -> None:
    """os.replace(new, target), the file replaced freed beside the next steps: freeing a 300 MB
    file's blocks took 0.08-0.2 s of waiting on the disk, not of CPU. A second name keeps the old
    file's blocks through the replace; dropping that name frees them (the process waits for it
    before it exits; a name left by a killed run goes with the other left-overs)."""
    kept = new.with_name(f"{new.name}.replaced")
    try:
        os.link(target, kept)
    except OSError:  # no file yet, or no hard links here: the replace frees it
        kept = None
    os.replace(new, target)
    if kept is not None:
        threading.Thread(target=kept.unlink, kwargs={"missing_ok": True}, name="free-replaced").start()


def _upstream_keys() -> list[dg.AssetKey]:
    return [key for assets in (staging_assets, core_assets, marts_assets) for a in assets for key in a.keys]


@dg.asset(
    key=PUBLISHED,
    deps=_upstream_keys(),
    group_name="publish",
    kinds={"duckdb"},
    owners=["team:data"],
    description="The BI file <warehouse>/crosswalk.duckdb: the contract's core, marts and quality tables, "
    "personal data pseudonymised by default. Replaced atomically, and only when the build's blocking "
    "checks have passed; a failed build leaves the previous file in place.",
)
def published_warehouse(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    target = settings.published_path
    ahead = warehouse.take_previous_copy()
    # Left-overs of runs killed while publishing; never the published file itself.
    for stale in target.parent.glob(f".{target.name}.*.publishing*"):
        if ahead is None or stale != ahead.path:
            stale.unlink(missing_ok=True)
    staging = staging_path(target, context.run.run_id)
    fingerprint = publish_fingerprint(settings)
    # the night's writes are done: the build's checkpoint (0.5 s at 1M orders) goes on beside
    # publishing, which only reads the build until it marks what it published, not after the report
    warehouse.checkpoint_ahead()
    with warehouse.connect() as con:
        previous = _previous_file(con, target, fingerprint)
        copied = ahead is not None and ahead.taken(previous)
        if ahead is not None and not copied:
            ahead.discard()
        try:
            tables = write_published_copy(con, staging, settings, previous, copied)
            os.chmod(staging, 0o600 if settings.personal_data == "keep" else 0o644)
            _replace_freeing_later(staging, target)
        finally:
            staging.unlink(missing_ok=True)
            Path(str(staging) + ".wal").unlink(missing_ok=True)
        _mark_published(con, target, fingerprint)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(target)),
        "personal_data": settings.personal_data,
        "tables": dg.MetadataValue.json({k: int(n) for k, (n, _) in tables.items()}),
        "update": dg.MetadataValue.json({k: how for k, (_, how) in tables.items() if k in UNPUBLISHED}),
    })
