"""The Dagster instance `crosswalk run` executes in: Dagster's SQLite storage, with one SQLAlchemy
engine kept per database file.

Dagster's SQLite run and event log storages build a new SQLAlchemy engine for every read and
write: 1,084 in a night on the sample, 132 with the subclasses below, and the sample's night from
the command line took 6.54-6.97 s against 6.07-6.30 s (benchmarks/RESULTS.md, Twenty-first round).
They keep an engine per file for the life of the process; every operation still opens its own
SQLite connection (NullPool) and commits alone, so the files are written as Dagster writes them,
and the UI and the daemon, with Dagster's own classes, read them as before.

Only where `dagster.yaml` leaves storage to Dagster's SQLite default; any storage set there is
used as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import (DagsterSqliteStorage, _event_logs_directory, _runs_directory,
                                                  _schedule_directory)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

# dagster.yaml keys that choose storage; with none of them, Dagster uses SQLite under DAGSTER_HOME
STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


class KeptEngineEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one engine per shard (a run's file, the index) for the process."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._kept_engines: dict[str, Engine] = {}  # before: Dagster's __init__ may connect
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # as SqliteEventLogStorage._connect, less the engine built and disposed each time
        with self._db_lock:
            engine = self._kept_engines.get(shard)
            if engine is None:
                engine = self._kept_engines[shard] = create_engine(
                    self.conn_string_for_shard(shard), poolclass=NullPool,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        super().dispose()
        for engine in self._kept_engines.values():
            engine.dispose()
        self._kept_engines.clear()


class KeptEngineRunStorage(SqliteRunStorage):
    """SqliteRunStorage with one engine for the process."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(conn_string, inst_data)
        self._kept_engine = create_engine(conn_string, poolclass=NullPool)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._kept_engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        self._kept_engine.dispose()


class KeptEngineSqliteStorage(DagsterSqliteStorage):
    """DagsterSqliteStorage over the same folders, with the two storages above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self.base_dir = base_dir
        self._run_storage = KeptEngineRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = KeptEngineEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()  # DagsterStorage's; the storages are built above

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value) -> KeptEngineSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)  # Dagster's names its own class


def run_instance(home: Path) -> dg.DagsterInstance:
    """The instance of DAGSTER_HOME (`home`), with engines kept when its storage is Dagster's
    SQLite default."""
    config, _ = dagster_instance_config(str(home))
    if any(config.get(key) for key in STORAGE_KEYS):
        return dg.DagsterInstance.get()
    storage = {"custom": {"module": __name__, "class": KeptEngineSqliteStorage.__name__,
                          "config": {"base_dir": str(home)}}}
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides={"storage": storage}))
