"""Data Docs pages: GX's own renderer, fed results it can render."""

import logging

import duckdb
import great_expectations.expectations as gxe

from pipelines.data_docs import write_data_docs
from pipelines.gx_bridge import validate_table


def test_the_nulls_of_a_nullable_integer_column_are_listed_on_the_page(tmp_path, caplog):
    con = duckdb.connect()
    # every third quantity missing: pandas reads the column as Int64, its nulls as NA
    con.execute("CREATE TABLE shipments AS SELECT i AS shipment_id, "
                "CASE WHEN i % 3 = 0 THEN NULL ELSE i END::INTEGER AS quantity FROM range(10) r(i)")
    outcome = validate_table(con, "shipments", "shipments.blocking",
                             [gxe.ExpectColumnValuesToNotBeNull(column="quantity")])
    assert not outcome.success and outcome.outcomes[0].unexpected_count == 4

    with caplog.at_level(logging.ERROR):
        index = write_data_docs(tmp_path, "run-1", outcome)

    assert not [r for r in caplog.records if "data docs rendering" in r.getMessage()]
    [page] = index.parent.glob("shipments.blocking.FAILED.html")
    text = page.read_text()
    assert "Unexpected Value" in text  # the table of unexpected values, which NA used to lose
    assert "4 unexpected values found" in text
