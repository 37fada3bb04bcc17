"""What the warehouse resource does for the length of a run, and undoes when it ends."""

import gc
import os
import subprocess
import sys

import dagster as dg
import duckdb

from pipelines.collector import RUN_THRESHOLD
from pipelines.resources import WarehouseResource
from tests.conftest import SAMPLE_LANDING, write_config


def _collector_in_a_run(tmp_path) -> dict:
    seen = {}

    @dg.asset
    def during_the_run(warehouse: WarehouseResource) -> None:
        seen["threshold"], seen["frozen"], seen["enabled"] = gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()
        with warehouse.connect() as con:
            con.execute("SELECT 1").fetchall()

    config = write_config(tmp_path, SAMPLE_LANDING, tmp_path / "warehouse")
    assert dg.materialize([during_the_run], resources={"warehouse": WarehouseResource(config_path=str(config))}).success
    return seen


def test_a_run_spaces_out_garbage_collection_and_restores_it_when_it_ends(tmp_path):
    before = gc.get_threshold()
    seen = _collector_in_a_run(tmp_path)
    assert seen["threshold"] == RUN_THRESHOLD
    assert seen["frozen"] > 1000  # the objects alive when the run began: left out of collections
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_process_that_started_with_collection_off_collects_during_the_run_only(tmp_path):
    gc.disable()  # as crosswalk run does while it imports (collector.quiet_imports)
    try:
        seen = _collector_in_a_run(tmp_path)
        assert seen["enabled"] and seen["threshold"] == RUN_THRESHOLD
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_objects_the_process_froze_itself_stay_frozen_after_a_run(tmp_path):
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        _collector_in_a_run(tmp_path)
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()


def _threads_after_blas(env: dict) -> int:
    """Threads of a fresh process that imported the pipelines, then numpy and scipy, and ran a BLAS call."""
    code = ("import os, pipelines, numpy, scipy.stats; numpy.ones((300, 300)) @ numpy.ones((300, 300)); "
            "print(len(os.listdir('/proc/self/task')))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_blas_keeps_to_one_thread_unless_told_otherwise():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert _threads_after_blas(env) == 1
    # a value set outside wins: numpy's and scipy's OpenBLAS each start a thread beside the caller
    # (OpenBLAS takes no more threads than there are cores)
    helpers = min(2, len(os.sched_getaffinity(0))) - 1
    assert _threads_after_blas({**env, "OPENBLAS_NUM_THREADS": "2"}) == 1 + 2 * helpers


def test_the_background_imports_hand_the_interpreter_over_often_and_restore_its_interval(monkeypatch):
    """While the landing step's thread imports what later steps need, the interpreter's lock goes
    between threads every IMPORT_SWITCH_INTERVAL; the interval is as it was once they are done."""
    import importlib

    from pipelines import raw

    seen = []
    module = type(sys)("stand_in")
    module.use = lambda backend: None
    monkeypatch.setattr(importlib, "import_module", lambda name: seen.append(sys.getswitchinterval()) or module)
    monkeypatch.setattr(raw, "import_great_expectations", lambda: seen.append(sys.getswitchinterval()))
    before = sys.getswitchinterval()
    raw._import_for_later_steps(True)
    assert seen and set(seen) == {raw.IMPORT_SWITCH_INTERVAL} != {before}
    assert sys.getswitchinterval() == before


def test_a_checkpoint_begun_ahead_holds_the_writes_before_it_and_a_second_takes_the_rest(tmp_path):
    """Publishing begins the build's checkpoint while it copies rows out; a later write waits for
    it, and the report's checkpoint, begun after that write, takes the rest by the run's end."""
    wal = {}
    config = write_config(tmp_path, SAMPLE_LANDING, tmp_path / "warehouse")
    build = WarehouseResource(config_path=str(config)).settings().build_path
    log = build.with_name(build.name + ".wal")

    @dg.asset
    def night_writes(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as con:
            con.execute("CREATE TABLE core.night (n BIGINT, s VARCHAR)")
            # a night's few rows go to the log, not straight to the file as a large insert would
            for start in range(0, 20000, 2000):
                con.execute("INSERT INTO core.night SELECT range, md5(range::VARCHAR) FROM range(?, ?)",
                            [start, start + 2000])
        wal["after the night"] = log.stat().st_size

    @dg.asset(deps=[night_writes])
    def publishes(warehouse: WarehouseResource) -> None:
        warehouse.checkpoint_ahead()
        with warehouse.connect() as con:
            con.execute("CREATE TABLE quality.marked AS SELECT 1 AS published")  # waits for the checkpoint
        wal["after the mark"] = log.stat().st_size

    @dg.asset(deps=[publishes])
    def reports(warehouse: WarehouseResource) -> None:
        warehouse.checkpoint_ahead()
        warehouse._checkpointing.join()
        wal["after the report"] = log.stat().st_size if log.exists() else 0

    assert dg.materialize([night_writes, publishes, reports],
                          resources={"warehouse": WarehouseResource(config_path=str(config))}).success
    assert wal["after the mark"] < wal["after the night"] / 20  # the night's rows went to the file
    assert wal["after the report"] == 0  # the mark too, before the run's end
    with duckdb.connect(str(build), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM core.night").fetchone()[0] == 20000
        assert con.execute("SELECT published FROM quality.marked").fetchall() == [(1,)]


def test_the_orm_that_great_expectations_imports_is_whole_before_the_background_imports_start():
    """SQLAlchemy's ORM registers itself with SQLAlchemy's core as it imports; Dagster's storage
    uses the core between steps, so the ORM must not be half imported by the background thread."""
    code = ("import sys, threading\n"
            "from pipelines import raw\n"
            "seen = []\n"
            "raw._import_for_later_steps = lambda moved: seen.append('sqlalchemy.orm' in sys.modules)\n"
            "assert 'sqlalchemy.orm' not in sys.modules\n"
            "raw.start_imports_for_later_steps(True)\n"
            "[t.join() for t in threading.enumerate() if t is not threading.current_thread()]\n"
            "print(seen)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[True]"


def test_only_a_nightly_run_that_publishes_copies_the_published_file_ahead(tmp_path, monkeypatch):
    """The copy of the published file begun at a run's start is for the nightly job's publishing:
    a run of another job, or a selection without the published file, copies nothing."""
    from pipelines import publish

    config = write_config(tmp_path, SAMPLE_LANDING, tmp_path / "warehouse")
    settings = WarehouseResource(config_path=str(config)).settings()
    settings.build_path.parent.mkdir(parents=True)
    settings.published_path.write_bytes(b"")
    con = duckdb.connect()
    asked = []
    # whether it would look for the file to copy (here there is none that the build published)
    monkeypatch.setattr(publish, "_previous_file", lambda con, target, fingerprint: asked.append(target))
    for job, selection, publishes in (("nightly", None, True), ("nightly", frozenset(), True),
                                      ("nightly", frozenset({publish.PUBLISHED}), True),
                                      ("nightly", frozenset({dg.AssetKey(["raw", "landing_files"])}), False),
                                      ("__ephemeral_asset_job__", None, False)):
        asked.clear()
        run = dg.DagsterRun(job_name=job, asset_selection=selection)
        assert publish.copy_previous_ahead(con, settings, run) is None
        assert bool(asked) == publishes, (job, selection)
