"""Schema drift: a new column is kept and reported; a missing required column refuses that file
only, naming the column and the profile file to edit; a renamed column is mapped by an alias."""

import json
from pathlib import Path

from connectors.files import discover_tables
from connectors.profiles import load_entities, load_profile, load_profiles
from pipelines.raw import _table_row
from tests.fixtures.loading import stage

HEADER = ["order_id", "order_number", "order_date", "status", "order_total", "order_currency", "customer_email"]
ROW = ["4993", "1501", "3/30/2025 0:37:00", "completed", "33.95", "GBP", "ruth@example.co.uk"]
PROFILE_FILE = "schemas/profiles/crm/woocommerce_orders.yaml"


def write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")


def test_drift_in_one_folder(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    write(landing / "new_column.csv", [*HEADER, "coupon_code"], [[*ROW, "SPRING5"]])
    missing = [h for h in HEADER if h != "order_date"]
    write(landing / "missing_required.csv", missing, [[v for h, v in zip(HEADER, ROW) if h != "order_date"]])
    optional_gone = [h for h in HEADER if h != "order_currency"]
    write(landing / "missing_optional.csv", optional_gone, [[v for h, v in zip(HEADER, ROW) if h != "order_currency"]])
    staged = stage(tmp_path, landing)

    new = staged.landing("new_column.csv")
    assert new["status"] == "ready"
    assert json.loads(new["unmapped_headers"]) == ["order_id", "coupon_code"]
    assert "new columns kept in unmapped_cells, not mapped: ['order_id', 'coupon_code']" in new["message"]
    [raw] = staged.records("SELECT unmapped_cells['coupon_code'] AS coupon FROM raw.crm_sales_orders "
                           "WHERE source_file = 'new_column.csv'")
    assert raw["coupon"] == "SPRING5"

    refused = staged.landing("missing_required.csv")
    assert refused["status"] == "refused"
    assert refused["message"] == (
        "missing_required.csv: the required column 'order_date' (field ordered_at) of profile woocommerce_orders "
        f"is missing; if it was renamed, add the new name to `header:` of ordered_at in {PROFILE_FILE} "
        "(e.g. header: [order_date, New Name])")
    assert staged.query("SELECT count(*) AS n FROM raw.crm_sales_orders "
                        "WHERE source_file = 'missing_required.csv'")["n"][0] == 0

    optional = staged.landing("missing_optional.csv")
    assert optional["status"] == "ready" and json.loads(optional["missing_headers"]) == ["order_currency"]
    assert "columns missing (values left empty): ['order_currency']" in optional["message"]
    # the other files still load
    got = staged.records("SELECT source_file, order_ref, currency FROM staging.crm_sales_orders_history ORDER BY source_file")
    assert [tuple(r.values()) for r in got] == [("missing_optional.csv", "1501", None), ("new_column.csv", "1501", "GBP")]


def test_a_renamed_column_maps_through_an_alias(tmp_path):
    renamed = [("date_created" if h == "order_date" else h) for h in HEADER]
    write(tmp_path / "renamed.csv", renamed, [ROW])
    profiles = load_profiles()
    [table] = discover_tables(tmp_path / "renamed.csv", profiles)
    assert _table_row(table)["status"] == "refused"

    # the fix the message asks for: the new name as an alias of the old
    source = (Path(__file__).parent.parent / PROFILE_FILE).read_text()
    edited = tmp_path / "woocommerce_orders.yaml"
    edited.write_text(source.replace("  ordered_at: order_date", "  ordered_at: {header: [order_date, date_created]}"))
    profile = load_profile(edited, load_entities())
    assert profile.columns["ordered_at"].headers == ("order_date", "date_created")
    [table] = discover_tables(tmp_path / "renamed.csv", (profile,))
    row = _table_row(table)
    assert (row["status"], row["missing_headers"]) == ("ready", "[]")
    assert profile.columns["ordered_at"].position(table.headers) == 2
