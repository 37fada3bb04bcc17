"""The floor: the same exports read and the same marts SQL computed by plain DuckDB, with no
orchestration, identity resolution, quarantine or checks. Prints its wall time.

Usage: .venv/bin/python benchmarks/floor.py LANDING_DIR
"""

import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd
import python_calamine

from pipelines.resources import prepare_connection
from pipelines.settings import load_settings
from pipelines import order_to_delivery
from pipelines.sql_assets import read_sql, run_sql

SHIPMENT_COLUMNS = {
    "Order #": "order_ref", "Qty Ordered": "qty_ordered", "Qty Shipped": "qty_shipped", "Ship Date": "shipped_at",
    "Delivery Date": "delivered_at", "Shipping Cost": "shipping_cost", "Pick & Pack Cost": "pick_pack_cost",
    "Packaging Cost": "packaging_cost", "Fulfilment Issue": "fulfilment_issue", "Return Reason": "return_reason",
    "Return Cost": "return_cost",
}


def read_shipments(landing: Path) -> pd.DataFrame:
    rows = python_calamine.CalamineWorkbook.from_path(str(landing / "inventory" / "shipments.xlsx")) \
        .get_sheet_by_name("Shipments").to_python(skip_empty_area=False)
    header_at = next(i for i, r in enumerate(rows) if "Order #" in r)
    frame = pd.DataFrame(rows[header_at + 1:], columns=rows[header_at])[list(SHIPMENT_COLUMNS)]
    frame = frame.rename(columns=SHIPMENT_COLUMNS)
    for column in ("shipped_at", "delivered_at"):
        frame[column] = pd.to_datetime(frame[column].replace("", None), utc=True)
    for column in ("qty_ordered", "qty_shipped", "shipping_cost", "pick_pack_cost", "packaging_cost", "return_cost"):
        frame[column] = pd.to_numeric(frame[column].replace("", None))
    return frame


def main(landing: Path) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        con = duckdb.connect(str(Path(folder) / "floor.duckdb"))
        prepare_connection(con, load_settings())
        con.execute("SET VARIABLE landing = ?", [str(landing)])
        shipments = read_shipments(landing)
        con.execute("CREATE TABLE shipments AS SELECT * FROM shipments")
        con.execute((Path(__file__).parent / "floor.sql").read_text())
        order_to_delivery.set_cycle_end(con)
        run_sql(con, *order_to_delivery.views_sql(), *order_to_delivery.whole_sql(),
                read_sql("marts/onboarding_cohorts_monthly.sql"))
        orders = con.execute("SELECT orders FROM marts.order_to_delivery_monthly "
                             "WHERE period = 'all' AND dimension = 'all'").fetchone()[0]
        con.close()
    print(f"floor: {time.monotonic() - started:.2f} s ({orders} orders)")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
