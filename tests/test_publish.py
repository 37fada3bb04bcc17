"""The published BI file: contract tables, readable read-only by another process, personal data pseudonymised."""

import shutil
import subprocess
import sys

import duckdb

from pipelines.publish import write_published_copy
from pipelines.settings import load_settings


CONTRACT_TABLES = {
    ("core", "customers"), ("core", "customer_identity_map"), ("core", "orders"), ("core", "order_identity_map"),
    ("marts", "order_to_delivery_monthly"), ("marts", "onboarding_cohorts_monthly"), ("marts", "customer_360"),
    ("marts", "metric_catalog"), ("quality", "rejected_rows"), ("quality", "check_results"),
}
CONTRACT_COLUMNS = {
    ("core", "customer_identity_map"): {"source_system", "source_file", "source_row", "source_record_id",
                                        "customer_key", "match_rule", "match_probability"},
    ("core", "orders"): {"order_key", "customer_key", "ordered_at", "delivered_at"},
    ("core", "order_identity_map"): {"source_system", "source_file", "source_row", "source_order_ref", "order_key"},
    ("quality", "rejected_rows"): {"source_file", "source_row", "column_name", "reason", "raw_record"},
}


def test_published_file_opens_read_only_from_another_process(sample_run):
    code = (
        "import duckdb, sys\n"
        f"con = duckdb.connect({str(sample_run.published)!r}, read_only=True)\n"
        "for t in ('order_to_delivery_monthly', 'onboarding_cohorts_monthly', 'customer_360', 'metric_catalog'):\n"
        "    n = con.execute(f'SELECT count(*) FROM marts.{t}').fetchone()[0]\n"
        "    print(t, n)\n"
        "    assert n > 0, t\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "customer_360" in done.stdout


def test_contract_tables_and_columns_are_published(sample_run):
    columns = sample_run.query("SELECT table_schema, table_name, column_name FROM information_schema.columns")
    tables = set(zip(columns["table_schema"], columns["table_name"]))
    assert CONTRACT_TABLES <= tables
    for table, required in CONTRACT_COLUMNS.items():
        have = set(columns[(columns["table_schema"] == table[0]) & (columns["table_name"] == table[1])]["column_name"])
        assert required <= have, (table, required - have)


def test_personal_data_pseudonymised_in_published_file_only(sample_run):
    published = sample_run.query("SELECT email, phone, street FROM core.customers WHERE email IS NOT NULL")
    assert len(published) > 100
    for column in ("email", "phone", "street"):
        values = published[column].dropna()
        assert values.str.startswith("pii:").all(), column
    assert not sample_run.query("SELECT * FROM quality.rejected_rows")["raw_record"].str.contains("@").any()
    private = sample_run.query("SELECT email FROM core.customers WHERE email IS NOT NULL", published=False)
    assert private["email"].str.contains("@").all()
    # the same email gives the same pseudonym, so BI tools can still count and join on it
    assert published["email"].nunique() == private["email"].nunique()


def test_customer_360_one_row_per_customer_with_systems(sample_run):
    c360 = sample_run.query("SELECT * FROM marts.customer_360")
    customers = sample_run.query("SELECT customer_key FROM core.customers")
    assert sorted(c360["customer_key"]) == sorted(customers["customer_key"])
    buyers = c360[c360["orders"] > 0]
    assert (buyers["lifetime_value"] > 0).all()
    assert buyers["in_crm"].all()
    assert c360["in_marketing"].any() and c360["in_support"].any() and c360["in_inventory"].any()


def test_check_results_recorded_with_run_id(sample_run):
    results = sample_run.query("SELECT * FROM quality.check_results", published=False)
    assert set(results["run_id"]) == {sample_run.result.run_id}
    assert results["passed"].all(), results[~results["passed"]].to_string()
    assert {"great_expectations", "duckdb"} <= set(results["engine"])


def test_build_file_is_not_held_open_after_the_run(sample_run):
    # From another process: within this one DuckDB would hand back a database still open.
    code = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"
    done = subprocess.run([sys.executable, "-c", code, str(sample_run.build)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_run_leaves_the_build_closed_and_written_whole(sample_run):
    """A run holds the build open for all of its steps (pipelines/resources.py) and attaches the
    new BI file to it to publish: when the run ends the build is closed, its log written into the
    file, and the published file stands alone."""
    assert not sample_run.build.with_name(sample_run.build.name + ".wal").exists()
    assert not any(sample_run.published.parent.glob(".crosswalk.duckdb.*")), "no file left from publishing"
    views = sample_run.query("SELECT view_name FROM duckdb_views() WHERE schema_name = 'bi' AND NOT internal")
    assert len(views) > 0
    for view in views["view_name"]:
        sample_run.query(f"SELECT * FROM bi.{view} LIMIT 1")  # binds in the published file alone


def test_rows_queued_for_the_file_reach_it_wherever_the_build_holds_them(sample_run, tmp_path):
    """A night replaces the queued keys' rows in a copy of the last file, reading the build from the
    first row a queued key holds: a row the night appended lies at the table's end, a row written in
    place may lie anywhere."""
    build, previous = tmp_path / "build.duckdb", tmp_path / "previous.duckdb"
    shutil.copy(sample_run.build, build)
    shutil.copy(sample_run.published, previous)
    con = duckdb.connect(str(build))
    [(in_place,)] = con.execute("SELECT customer_key FROM core.customers WHERE rowid = 1").fetchall()
    [(appended,)] = con.execute("SELECT customer_key FROM core.customers WHERE rowid = 2").fetchall()
    con.execute("UPDATE core.customers SET source_records = 901 WHERE customer_key = ?", [in_place])
    con.execute("CREATE TEMP TABLE moved AS SELECT * REPLACE (902 AS source_records) FROM core.customers "
                "WHERE customer_key = ?", [appended])
    con.execute("DELETE FROM core.customers WHERE customer_key = ?", [appended])
    con.execute("INSERT INTO core.customers SELECT * FROM moved")
    con.execute("INSERT INTO core.customers_unpublished VALUES (?), (?)", [in_place, appended])
    tables = write_published_copy(con, tmp_path / "new.duckdb", load_settings(sample_run.config_path), previous)
    con.close()
    assert tables["core.customers"][1] == "2 rows replaced"
    with duckdb.connect(str(tmp_path / "new.duckdb"), read_only=True) as published:
        assert published.execute("SELECT customer_key, source_records FROM core.customers WHERE source_records > 900 "
                                 "ORDER BY 2").fetchall() == [(in_place, 901), (appended, 902)]
        assert published.execute("SELECT count(*) FROM core.customers").fetchall() == \
            duckdb.connect(str(previous), read_only=True).execute("SELECT count(*) FROM core.customers").fetchall()
