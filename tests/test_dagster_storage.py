"""The instance `crosswalk run` executes in: Dagster's SQLite files, written with engines kept."""

import collections

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite import sqlite_run_storage

from pipelines import dagster_storage


@dg.asset
def first() -> None:
    pass


@dg.asset(deps=[first])
def second() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset_check(asset=second)
def second_has_rows() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _engines_built(monkeypatch, run) -> int:
    """How many SQLAlchemy engines the SQLite storages build while `run` runs."""
    built = collections.Counter()
    for module in (sqlite_event_log, sqlite_run_storage, dagster_storage):
        def counted(*args, _build=module.create_engine, _name=module.__name__, **kwargs):
            built[_name] += 1
            return _build(*args, **kwargs)
        monkeypatch.setattr(module, "create_engine", counted)
    run()
    return sum(built.values())


def _materialize(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([first, second, second_has_rows], instance=instance)
    assert result.success
    return result.run_id


def test_a_run_is_stored_with_an_engine_per_file_instead_of_one_per_write(home, monkeypatch):
    with dagster_storage.run_instance(home) as instance:
        assert isinstance(instance.event_log_storage, dagster_storage.KeptEngineEventLogStorage)
        assert isinstance(instance.run_storage, dagster_storage.KeptEngineRunStorage)
        kept = _engines_built(monkeypatch, lambda: _materialize(instance))
    with dg.DagsterInstance.get() as instance:
        dagsters_own = _engines_built(monkeypatch, lambda: _materialize(instance))
    # the run's own file, and the index's table look-ups (SqliteEventLogStorage.has_table)
    assert kept <= 6
    assert dagsters_own > 40


def test_what_the_run_stored_reads_back_with_dagsters_own_storage(home):
    with dagster_storage.run_instance(home) as instance:
        run_id = _materialize(instance)
        stored = len(instance.all_logs(run_id))
    # as the UI and the daemon open DAGSTER_HOME
    with dg.DagsterInstance.get() as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
        assert len(instance.all_logs(run_id)) == stored
        materialization = instance.get_latest_materialization_event(dg.AssetKey("second"))
        assert materialization.run_id == run_id
        assert materialization.asset_materialization.metadata["rows"].value == 3
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("second"), "second_has_rows")])
        assert list(check.values())[0].run_id == run_id


def test_a_storage_set_in_dagster_yaml_is_used_as_it_is(home):
    (home / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {home / 'elsewhere'}\n")
    with dagster_storage.run_instance(home) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        _materialize(instance)
    assert (home / "elsewhere" / "history" / "runs" / "index.db").exists()
