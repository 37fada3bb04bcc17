"""Shared fixtures: the nightly job run once on the bundled sample, through the public path."""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

PROJECT = Path(__file__).resolve().parent.parent
SAMPLE = PROJECT / "data" / "sample"
SAMPLE_LANDING = SAMPLE / "landing"
TRUTH = SAMPLE / "truth"


@dataclass
class NightlyRun:
    result: dg.ExecuteInProcessResult
    config_path: Path
    landing: Path
    warehouse: Path

    @property
    def build(self) -> Path:
        return self.warehouse / "build" / "crosswalk_build.duckdb"

    @property
    def published(self) -> Path:
        return self.warehouse / "crosswalk.duckdb"

    def publish_copy(self, target: Path, settings) -> None:
        """The build's contract tables written into a new file at `target` under `settings`, as
        publishing writes them."""
        from pipelines.publish import write_published_copy
        from pipelines.resources import WarehouseResource

        with WarehouseResource(config_path=str(self.config_path)).connect() as con:
            write_published_copy(con, target, settings)

    def query(self, sql: str, params=None, published: bool = True) -> pd.DataFrame:
        con = duckdb.connect(str(self.published if published else self.build), read_only=True)
        try:
            return con.execute(sql, params or []).df()
        finally:
            con.close()


def write_config(directory: Path, landing: Path, warehouse: Path, **overrides) -> Path:
    config = {"landing_dir": str(landing), "warehouse_dir": str(warehouse), **overrides}
    path = directory / "crosswalk.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_nightly(config_path: Path, full_rebuild: bool = False) -> dg.ExecuteInProcessResult:
    from pipelines.definitions import build_definitions

    defs = build_definitions(str(config_path), full_rebuild=full_rebuild)
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("nightly").execute_in_process(instance=instance, raise_on_error=False)
    print_step_failures(result)
    return result


def print_step_failures(result: dg.ExecuteInProcessResult) -> None:
    """Each failed step's error, so that a test whose run fails unexpectedly shows why (pytest
    prints a failing test's captured output); tests that fail a run on purpose print it too."""
    for event in result.all_events:
        if event.is_step_failure:
            print(f"step {event.step_key} failed:\n{event.event_specific_data.error.to_string()}")


def nightly_run_in(directory: Path, landing: Path = SAMPLE_LANDING, full_rebuild: bool = False,
                   **overrides) -> NightlyRun:
    warehouse = directory / "warehouse"
    config = write_config(directory, landing, warehouse, **overrides)
    return NightlyRun(run_nightly(config, full_rebuild), config, landing, warehouse)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> NightlyRun:
    run = nightly_run_in(tmp_path_factory.mktemp("sample_run"))
    assert run.result.success, "the nightly job failed on the sample data"
    return run


def truth_quarantined_rows() -> int:
    """Rows the generator planted as bad (truth/rejected_rows.csv), each counted once."""
    return len(read_truth("rejected_rows.csv")[["source_file", "source_row"]].drop_duplicates())


def truth_overall_orders() -> int:
    truth = read_truth("metrics_order_to_delivery.csv")
    return int(truth[(truth["period"] == "all") & (truth["dimension"] == "all")]["orders"].iloc[0])


def read_truth(name: str) -> pd.DataFrame:
    return pd.read_csv(TRUTH / name, keep_default_na=False, na_values=[""], dtype_backend="numpy_nullable")
