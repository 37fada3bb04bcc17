"""The Crosswalk code location: assets by layer, their checks, the nightly job, its schedule and sensor."""


import dagster as dg

from pipelines.checks import build_checks
from pipelines.core import core_assets
from pipelines.marts import marts_assets
from pipelines.publish import published_warehouse
from pipelines.raw import landing_files, raw_assets
from pipelines.report import run_report
from pipelines.resources import WarehouseResource
from pipelines.schedules import nightly_job, nightly_schedule
from pipelines.sensors import landing_folder_sensor
from pipelines.staging import staging_assets

all_assets = [landing_files, *raw_assets, *staging_assets, *core_assets, *marts_assets, published_warehouse,
              run_report]
all_checks = build_checks({key for asset in all_assets for key in asset.keys})


def build_definitions(config_path: str = "", full_rebuild: bool = False) -> dg.Definitions:
    return dg.Definitions(
        assets=all_assets,
        asset_checks=all_checks,
        jobs=[nightly_job],
        schedules=[nightly_schedule()],
        sensors=[landing_folder_sensor],
        resources={"warehouse": WarehouseResource(config_path=config_path, full_rebuild=full_rebuild)},
    )


defs = build_definitions()
