"""Bad rows in the sample go to quarantine with file, row, column and reason; nothing else is lost."""

import json

from tests.conftest import read_truth


def test_rejected_rows_are_exactly_the_injected_bad_rows(sample_run):
    truth = read_truth("rejected_rows.csv")
    rejected = sample_run.query("SELECT source_file, source_row, column_name, reason, raw_record FROM quality.rejected_rows",
                                published=False)
    got = set(map(tuple, rejected[["source_file", "source_row", "column_name"]].values.tolist()))
    expected = set(map(tuple, truth[["source_file", "source_row", "column_name"]].values.tolist()))
    assert got == expected


def test_rejection_reason_quotes_the_bad_value_from_the_raw_record(sample_run):
    rejected = sample_run.query("SELECT * FROM quality.rejected_rows", published=False)
    assert len(rejected) > 0
    for row in rejected.itertuples():
        record = json.loads(row.raw_record)
        value = record[row.source_column]
        assert value and value in row.reason, (row.reason, value)


def test_rows_conserved_for_every_file(sample_run):
    counts = sample_run.query(
        """WITH raw AS (
               SELECT source_file, count(*) AS landed FROM raw.crm_contacts GROUP BY 1 UNION ALL
               SELECT source_file, count(*) FROM raw.crm_sales_orders GROUP BY 1 UNION ALL
               SELECT source_file, count(*) FROM raw.marketing_subscribers GROUP BY 1 UNION ALL
               SELECT source_file, count(*) FROM raw.marketing_campaigns GROUP BY 1 UNION ALL
               SELECT source_file, count(*) FROM raw.support_tickets GROUP BY 1 UNION ALL
               SELECT source_file, count(*) FROM raw.inventory_shipments GROUP BY 1 UNION ALL
               SELECT source_file, count(*) FROM raw.inventory_stock GROUP BY 1),
           staged AS (
               SELECT source_file, sum(source_rows) AS staged FROM staging.crm_contacts_history GROUP BY 1 UNION ALL
               SELECT source_file, sum(source_rows) FROM staging.crm_sales_orders_history GROUP BY 1 UNION ALL
               SELECT source_file, sum(source_rows) FROM staging.marketing_subscribers_history GROUP BY 1 UNION ALL
               SELECT source_file, sum(source_rows) FROM staging.marketing_campaigns_history GROUP BY 1 UNION ALL
               SELECT source_file, sum(source_rows) FROM staging.support_tickets_history GROUP BY 1 UNION ALL
               SELECT source_file, sum(source_rows) FROM staging.inventory_shipments_history GROUP BY 1 UNION ALL
               SELECT source_file, sum(source_rows) FROM staging.inventory_stock_history GROUP BY 1),
           rejected AS (SELECT source_file, count(DISTINCT source_row) AS rejected FROM quality.rejected_rows GROUP BY 1)
           SELECT * FROM raw LEFT JOIN staged USING (source_file) LEFT JOIN rejected USING (source_file)""",
        published=False,
    ).fillna(0)
    assert len(counts) == 7
    assert (counts["landed"] == counts["staged"] + counts["rejected"]).all(), counts.to_string()


def test_conservation_checks_passed_and_were_recorded(sample_run):
    results = sample_run.query("SELECT * FROM quality.check_results WHERE check_name = 'rows_conserved'")
    assert len(results) == 7 and results["passed"].all()
