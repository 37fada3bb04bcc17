"""The warehouse resource: connections to the private build database, set up alike every time."""


import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from connectors.values import register_functions
from pipelines import collector, compaction, key_storage
from pipelines.settings import Settings, load_settings
from pipelines.staging_sql import literal

SCHEMAS = ("raw", "staging", "core", "marts", "quality")


class WarehouseResource(dg.ConfigurableResource):
    """Where the landing files are and where the build and the published file live."""

    config_path: str = ""
    # Re-read every landing file instead of reusing the raw rows of files loaded before.
    full_rebuild: bool = False
    # A connection held open for the whole run. While one is open, DuckDB gives every connection
    # to the file in this process the same database: each step finds the catalog read and its
    # buffers warm, and closing its connection writes no checkpoint. Checkpoints come when the
    # log passes checkpoint_threshold and when the run ends, not once per step.
    _held: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    # the garbage collector's settings before the run (pipelines/collector.py)
    _collector_before: collector.Before | None = PrivateAttr(default=None)
    # the build's checkpoint, begun by publishing and again by the last step (checkpoint_ahead)
    _checkpointing: threading.Thread | None = PrivateAttr(default=None)
    # the published file being copied for this run's publishing (pipelines/publish.py PreviousCopy)
    _previous_copy: Any = PrivateAttr(default=None)

    def settings(self) -> Settings:
        return load_settings(Path(self.config_path) if self.config_path else None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        settings = self.settings()
        self._held = self._open(settings)
        converted = prepare_database(self._held, settings)
        if converted and context.log:
            context.log.info(f"Written again once with their key columns uncompressed: {', '.join(converted)}")
        from pipelines.publish import copy_previous_ahead  # (publish imports this module)

        self._previous_copy = copy_previous_ahead(self._held, settings, context.run)
        self._collector_before = collector.relax()

    def checkpoint_ahead(self) -> None:
        """Begin a checkpoint of the build beside the caller's work outside it, once every step
        that writes the night's rows is done: publishing, which reads the build and writes another
        file, and the last step. A write to the build waits for the checkpoint; a second call
        waits for the first, then takes what was written since. The run's end waits for the last."""
        if self._held is None:
            return
        if self._checkpointing is not None:
            self._checkpointing.join()
        cursor = self._held.cursor()

        def checkpoint() -> None:
            try:
                cursor.execute("CHECKPOINT")
            except duckdb.Error:
                pass  # (another step's transaction open): closing the build checkpoints
            finally:
                cursor.close()

        self._checkpointing = threading.Thread(target=checkpoint, name="checkpoint", daemon=True)
        self._checkpointing.start()

    def take_previous_copy(self):
        """The copy of the published file begun when the run started, for publishing to finish; or None."""
        copy, self._previous_copy = self._previous_copy, None
        return copy

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        try:
            if self._previous_copy is not None:  # the run did not publish
                self._previous_copy.discard()
                self._previous_copy = None
            if self._checkpointing is not None:
                self._checkpointing.join()
                self._checkpointing = None
            if self._held is not None:
                try:
                    rewritten = compaction.compact(self._held)
                    if rewritten and context.log:
                        context.log.info(f"Written again to clear their deleted rows: {', '.join(rewritten)}")
                finally:
                    self._held.close()
                    self._held = None
        finally:
            if self._collector_before is not None:
                collector.restore(self._collector_before)
                self._collector_before = None

    @staticmethod
    def _open(settings: Settings) -> duckdb.DuckDBPyConnection:
        settings.build_path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(settings.build_path.parent, 0o700)  # the build keeps personal data
        return duckdb.connect(str(settings.build_path))

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        settings = self.settings()
        con = self._open(settings)
        try:
            # while the run holds the build, its database settings and schemas are in place: a step's
            # connection needs only its session (SET memory_limit alone took 6 ms a step)
            (prepare_session if self._held is not None else prepare_connection)(con, settings)
            yield con
        finally:
            con.close()


def prepare_connection(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """The database's settings and schemas, then the connection's session."""
    prepare_database(con, settings)
    prepare_session(con, settings)


def prepare_database(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    """Settings of the whole database (every connection to it in this process) and its schemas;
    the tables a build made before keeps with their key columns compressed are written again
    (pipelines/key_storage.py), and returned."""
    # one checkpoint when the run ends (WarehouseResource holds the build open), not one per 16 MB
    # of log: a night's steps change a few rows of large tables, and each checkpoint rewrites the
    # row groups they touch
    con.execute("SET checkpoint_threshold = '1GB'")
    # and at that checkpoint no rewrite of the row groups holding deleted rows (pipelines/compaction.py)
    con.execute(compaction.VACUUM_OFF)
    # DuckDB's cache is otherwise 80% of RAM; above the limit it spills to disk
    con.execute("SET memory_limit = ?", [settings.memory_limit])
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    return key_storage.convert_kept_tables(con)


def prepare_session(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """UTC session, normalisation functions and the metric settings as SQL variables."""
    register_functions(con)
    variables = {
        "company_tz": literal(settings.company_timezone),
        "activation_window_days": f"{int(settings.activation_window_days)}::INTEGER",
        "churn_window_days": f"{int(settings.churn_window_days)}::INTEGER",
        "go_live_date": literal(settings.go_live_date.isoformat()),
        "satisfied_min_score": f"{int(settings.satisfied_min_score)}::INTEGER",
    }
    # one call, not six: a run opens about fifty connections
    con.execute("SET TimeZone = 'UTC';" + "".join(f"SET VARIABLE {name} = {value};" for name, value in variables.items()))
