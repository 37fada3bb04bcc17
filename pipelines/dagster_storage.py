"""The Dagster instance `crosswalk run` executes in: Dagster's SQLite storage, with one SQLAlchemy
engine kept per database file.

Dagster's SQLite run and event log storages build a new SQLAlchemy engine for every read and
write: 2,168 in a night on the sample, 264 with the subclasses below, and the sample's night from
the command line took 6.54-6.97 s against 6.07-6.30 s (benchmarks/RESULTS.md, Twenty-first round).
They keep an engine per file for the life of the process; every operation still opens its own
SQLite connection (NullPool) and commits alone, so the files are written as Dagster writes them,
and the UI and the daemon, with Dagster's own classes, read them as before.

Only where `dagster.yaml` leaves storage to Dagster's SQLite default; any storage set there is
used as it is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

# dagster.yaml keys that choose storage; with none of them, Dagster uses SQLite under DAGSTER_HOME
STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


class KeptEngineEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one engine per shard (a run's file, the index) for the process."""

    def _engine(self, shard: str) -> Engine:
        engines: dict[str, Engine] = self.__dict__.setdefault("_kept_engines", {})
        if shard not in engines:
            engines[shard] = create_engine(self.conn_string_for_shard(shard), poolclass=NullPool,
                                           connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        return engines[shard]

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # as SqliteEventLogStorage._connect, less the engine built and disposed each time
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        super().dispose()
        for engine in self.__dict__.pop("_kept_engines", {}).values():
            engine.dispose()


class KeptEngineRunStorage(SqliteRunStorage):
    """SqliteRunStorage with one engine for the process."""

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        engine = self.__dict__.get("_kept_engine")
        if engine is None:  # two threads may both build one: either serves
            engine = self.__dict__["_kept_engine"] = create_engine(self._conn_string, poolclass=NullPool)
        with engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        engine = self.__dict__.pop("_kept_engine", None)
        if engine is not None:
            engine.dispose()


class KeptEngineSqliteStorage(DagsterSqliteStorage):
    """DagsterSqliteStorage over the same folders, with the two storages above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self.base_dir = base_dir
        # the folders of dagster._core.storage.sqlite_storage
        self._run_storage = KeptEngineRunStorage.from_local(os.path.join(base_dir, "history", ""))
        self._event_log_storage = KeptEngineEventLogStorage(os.path.join(base_dir, "history", "runs", ""))
        self._schedule_storage = SqliteScheduleStorage.from_local(os.path.join(base_dir, "schedules"))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value) -> KeptEngineSqliteStorage:
        os.makedirs(config_value["base_dir"], exist_ok=True)
        return cls(inst_data=inst_data, **config_value)


def run_instance(home: Path) -> dg.DagsterInstance:
    """The instance of DAGSTER_HOME (`home`), with engines kept when its storage is Dagster's
    SQLite default."""
    config, _ = dagster_instance_config(str(home))
    if any(config.get(key) for key in STORAGE_KEYS):
        return dg.DagsterInstance.get()
    storage = {"custom": {"module": __name__, "class": KeptEngineSqliteStorage.__name__,
                          "config": {"base_dir": str(home)}}}
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides={"storage": storage}))
