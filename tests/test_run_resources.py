"""What the warehouse resource does for the length of a run, and undoes when it ends."""

import gc

import dagster as dg

from pipelines.collector import RUN_THRESHOLD
from pipelines.resources import WarehouseResource
from tests.conftest import SAMPLE_LANDING, write_config


def _collector_in_a_run(tmp_path) -> dict:
    seen = {}

    @dg.asset
    def during_the_run(warehouse: WarehouseResource) -> None:
        seen["threshold"], seen["frozen"] = gc.get_threshold(), gc.get_freeze_count()
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


def test_objects_the_process_froze_itself_stay_frozen_after_a_run(tmp_path):
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        _collector_in_a_run(tmp_path)
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()
