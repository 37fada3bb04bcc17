"""Over-merge protection: values that name no one are no key, and oversized clusters are reported."""

import dataclasses
import shutil

import duckdb
import pytest

from pipelines.identity import load_identity_settings, prepare_customer_matching, resolve_customers
from pipelines.resources import prepare_connection
from pipelines.settings import load_settings


@pytest.fixture
def con():
    connection = duckdb.connect()
    prepare_customer_matching(connection, load_identity_settings().customers)
    yield connection
    connection.close()


@pytest.mark.parametrize("email, usable", [
    ("info@saltbeankitchen.co.uk", False), ("orders@cafe.co.uk", False), ("orders2@cafe.co.uk", False),
    ("sales-team@cafe.co.uk", True), ("n/a@example.net", False), ("test@shop.com", False),
    ("ann.lee@example.net", False), ("ann.lee@mail.net", True), ("george@saltmug.co.uk", True),
])
def test_shared_mailboxes_and_placeholder_emails_are_no_key(con, email, usable):
    assert (con.execute("SELECT cw_usable_email(?)", [email]).fetchall()[0][0] is not None) == usable


@pytest.mark.parametrize("phone, usable", [
    ("+44000000000", False), ("+440000000000", False), ("+441234567890", False), ("+447911123456", True),
])
def test_placeholder_phones_are_no_key(con, phone, usable):
    assert (con.execute("SELECT cw_usable_phone(?)", [phone]).fetchall()[0][0] is not None) == usable


def test_placeholder_names_are_not_compared(con):
    assert con.execute("SELECT cw_usable_name('N/A'), cw_usable_name(' unknown '), cw_usable_name('Ann')"
                       ).fetchall()[0] == (None, None, "Ann")


def test_clusters_above_the_cap_lose_their_model_links_and_are_reported(sample_run, tmp_path):
    path = tmp_path / "build.duckdb"
    shutil.copy(sample_run.build, path)
    build = duckdb.connect(str(path))
    prepare_connection(build, load_settings(sample_run.config_path))
    # a cap just below the largest cluster a model link helped build, so that cluster is oversized
    largest = build.execute("SELECT max(records) FROM (SELECT count(*) AS records FROM core.customer_identity_map "
                            "GROUP BY customer_key HAVING bool_or(match_rule = 'probabilistic'))").fetchall()[0][0]
    assert largest > 2
    settings = dataclasses.replace(load_identity_settings().customers, max_cluster_size=largest - 1)
    counts = resolve_customers(build, settings, tmp_path / "identity_review.csv")
    reported = build.execute("SELECT customer_key, records FROM quality.identity_oversized_clusters").df()
    assert counts["oversized_clusters"] > 0 and len(reported) > 0
    kept_model_links = build.execute("""
        SELECT count(*) FROM core.customer_edges e
        JOIN core.customer_clusters c ON c.record_id = e.record_a
        WHERE e.rule = 'probabilistic' AND e.dropped_reason IS NULL AND c.oversized""").fetchall()[0][0]
    assert kept_model_links == 0
    dropped = build.execute("SELECT DISTINCT dropped_reason FROM core.customer_edges WHERE dropped_reason IS NOT NULL"
                            ).fetchall()
    assert dropped == [("cluster above max_cluster_size",)]
    build.close()
