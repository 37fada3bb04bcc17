"""What the warehouse resource does for the length of a run, and undoes when it ends."""

import gc

import dagster as dg

from pipelines.collector import RUN_THRESHOLD
from pipelines.resources import WarehouseResource
from tests.conftest import SAMPLE_LANDING, write_config


def test_a_run_spaces_out_garbage_collection_and_restores_it_when_it_ends(tmp_path):
    seen = {}

    @dg.asset
    def during_the_run(warehouse: WarehouseResource) -> None:
        seen["threshold"], seen["frozen"] = gc.get_threshold(), gc.get_freeze_count()
        with warehouse.connect() as con:
            con.execute("SELECT 1").fetchall()

    before = gc.get_threshold()
    config = write_config(tmp_path, SAMPLE_LANDING, tmp_path / "warehouse")
    result = dg.materialize([during_the_run], resources={"warehouse": WarehouseResource(config_path=str(config))})
    assert result.success
    assert seen["threshold"] == RUN_THRESHOLD
    assert seen["frozen"] > 1000  # the objects alive when the run began: left out of collections
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
