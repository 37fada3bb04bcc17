"""A customer_key, once issued, survives later runs; merges and splits are recorded."""

import shutil

import duckdb
import pandas as pd
import pytest

from pipelines.identity import issue_customer_keys, load_identity_settings, prepare_customer_matching
from tests.conftest import SAMPLE_LANDING, nightly_run_in

RECORD = ["source_file", "source_row"]


def keys(run) -> pd.DataFrame:
    return run.query("SELECT source_file, source_row, entity, customer_key FROM core.customer_identity_map",
                     published=False)


def history(run) -> pd.DataFrame:
    return run.query("SELECT customer_key, surviving_key, change, records FROM core.customer_key_history",
                     published=False)


def test_same_files_give_the_same_keys_in_a_fresh_build(tmp_path, sample_run):
    # (a re-run on the same build is covered below and in test_rerun.py)
    fresh = nightly_run_in(tmp_path)
    assert fresh.result.success
    ordered = [keys(run).sort_values(RECORD).reset_index(drop=True) for run in (sample_run, fresh)]
    assert ordered[0].equals(ordered[1])
    assert history(fresh).empty


def test_added_files_keep_existing_keys_and_attach_new_records(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    tickets = landing / "support" / "zendesk_tickets.csv"
    held_back = tmp_path / "zendesk_tickets.csv"
    shutil.move(tickets, held_back)
    night1 = nightly_run_in(tmp_path, landing)
    assert night1.result.success
    before = keys(night1)

    shutil.move(held_back, tickets)
    night2 = nightly_run_in(tmp_path, landing)
    assert night2.result.success
    after = keys(night2)
    changes = history(night2)

    both = before.merge(after, on=[*RECORD, "entity"], suffixes=("_before", "_after"))
    assert len(both) == len(before)
    moved = both[both["customer_key_before"] != both["customer_key_after"]]
    # a record changes key only when its customer merged with another, and the history says so
    merged = set(zip(changes.loc[changes["change"] == "merged", "customer_key"],
                     changes.loc[changes["change"] == "merged", "surviving_key"]))
    assert set(zip(moved["customer_key_before"], moved["customer_key_after"])) <= merged
    assert len(moved) < 0.01 * len(both)
    new_tickets = after[after["entity"] == "support_tickets"]
    attached = new_tickets["customer_key"].isin(before["customer_key"]).mean()
    assert attached >= 0.9


@pytest.fixture
def registry_db(tmp_path):
    """A build with five person records whose clusters the test sets, run after run."""
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    con.execute("CREATE SCHEMA core")
    prepare_customer_matching(con, load_identity_settings().customers)
    con.execute("""
        CREATE TABLE core.customer_records AS
        SELECT *, cw_usable_email(email) AS usable_email, cw_usable_phone(phone) AS usable_phone FROM (VALUES
            (1, 'crm_contacts', 'contacts.csv', 1, '101', '101', 'ann@example.net', NULL),
            (2, 'crm_contacts', 'contacts.csv', 2, '102', '102', 'bob@example.net', NULL),
            (3, 'marketing_subscribers', 'audience.csv', 1, 'ann.lee@mail.net', NULL, 'ann.lee@mail.net', NULL),
            (4, 'crm_contacts', 'contacts.csv', 3, '103', '103', 'cat@example.net', NULL),
            (5, 'support_tickets', 'tickets.csv', 1, '9001', NULL, 'cat@example.net', NULL)
        ) AS t(record_id, entity, source_file, source_row, source_record_id, crm_contact_id, email, phone)""")
    yield con
    con.close()


def assign(con, clusters: list[set[int]]) -> dict[int, str]:
    rows = [(record, i, False) for i, members in enumerate(clusters) for record in members]
    con.execute("CREATE OR REPLACE TABLE core.customer_clusters (record_id BIGINT, cluster_id BIGINT, oversized BOOLEAN)")
    con.executemany("INSERT INTO core.customer_clusters VALUES (?, ?, ?)", rows)
    issue_customer_keys(con)
    return dict(con.execute("SELECT c.record_id, k.customer_key FROM core.customer_clusters c "
                            "JOIN core.customer_cluster_keys k USING (cluster_id)").fetchall())


def test_merge_keeps_the_earliest_key_and_records_the_retired_one(registry_db):
    first = assign(registry_db, [{1, 2}, {3}, {4, 5}])
    assert len({first[1], first[3], first[4]}) == 3 and first[1] == first[2]
    merged = assign(registry_db, [{1, 2, 3}, {4, 5}])
    assert merged[1] == merged[2] == merged[3] == first[1] and merged[4] == first[4]
    rows = registry_db.execute("SELECT customer_key, surviving_key, change, records FROM core.customer_key_history").fetchall()
    assert rows == [(first[3], first[1], "merged", 1)]
    assert assign(registry_db, [{1, 2, 3}, {4, 5}]) == merged  # nothing new, nothing recorded
    assert registry_db.execute("SELECT count(*) FROM core.customer_key_history").fetchall() == [(1,)]


def test_split_keeps_the_key_with_the_larger_part_and_records_the_new_one(registry_db):
    first = assign(registry_db, [{1, 2, 3}, {4, 5}])
    split = assign(registry_db, [{1, 3}, {2}, {4, 5}])
    assert split[1] == split[3] == first[1] and split[4] == first[4]
    assert split[2] not in {first[1], first[4]}
    rows = registry_db.execute("SELECT customer_key, surviving_key, change FROM core.customer_key_history").fetchall()
    assert rows == [(first[1], split[2], "split")]


def night(con, clusters: list[set[int]], arrived=(), gone=()) -> dict[int, str]:
    """A night that changed some records: `gone` record ids leave, `arrived` rows (record_id,
    entity, source_file, source_row, source_record_id) join, and only the clusters that are not
    exactly a customer of the night before are keyed. The identity map of the night before is
    the previous assignment. Every cluster is in the night's scope (found again)."""
    con.execute("CREATE OR REPLACE TABLE core.customer_identity_map AS SELECT c.record_id, k.customer_key "
                "FROM core.customer_clusters c JOIN core.customer_cluster_keys k USING (cluster_id)")
    con.execute("CREATE OR REPLACE TEMP TABLE cw_clusters_left AS SELECT DISTINCT cluster_id FROM core.customer_clusters")
    con.execute("CREATE OR REPLACE TEMP TABLE cw_records_gone AS SELECT record_id, entity, "
                "CAST(source_record_id AS VARCHAR) AS source_id FROM core.customer_records WHERE list_contains(?, record_id)",
                [list(gone)])
    con.execute("DELETE FROM core.customer_records WHERE record_id IN (SELECT record_id FROM cw_records_gone)")
    con.execute("CREATE OR REPLACE TEMP TABLE cw_records_arrived AS SELECT * FROM core.customer_records LIMIT 0")
    for record_id, entity, source_file, source_row, source_record_id in arrived:
        con.execute("INSERT INTO cw_records_arrived BY NAME SELECT ? AS record_id, ? AS entity, ? AS source_file, "
                    "? AS source_row, ? AS source_record_id", [record_id, entity, source_file, source_row, source_record_id])
    con.execute("INSERT INTO core.customer_records SELECT * FROM cw_records_arrived")
    rows = [(record, i, False) for i, members in enumerate(clusters) for record in members]
    con.execute("CREATE OR REPLACE TABLE core.customer_clusters (record_id BIGINT, cluster_id BIGINT, oversized BOOLEAN)")
    con.executemany("INSERT INTO core.customer_clusters VALUES (?, ?, ?)", rows)
    con.execute("CREATE OR REPLACE TEMP TABLE cw_cluster_scope AS SELECT record_id FROM core.customer_clusters")
    issue_customer_keys(con, changed_only=True)
    return dict(con.execute("SELECT c.record_id, k.customer_key FROM core.customer_clusters c "
                            "JOIN core.customer_cluster_keys k USING (cluster_id)").fetchall())


def test_a_night_keeps_a_customer_whose_key_a_returning_record_claims_as_deriving_all_would(registry_db):
    first = assign(registry_db, [{1, 2}, {3}, {4, 5}])
    # ticket 9001 leaves: cat's customer keeps its key
    second = night(registry_db, [{1, 2}, {3}, {4}], gone=[5])
    assert second[4] == first[4]
    # it comes back, now joined to ann.lee: the registry still files it under cat's key, which
    # cat's unchanged customer (the smaller cluster id) keeps, as deriving every key would
    third = night(registry_db, [{4}, {1, 2}, {3, 6}], arrived=[(6, "support_tickets", "tickets.csv", 1, "9001")])
    assert third[4] == first[4] and third[1] == first[1] and third[3] == third[6] == first[3]
    rows = registry_db.execute("SELECT customer_key, surviving_key, change FROM core.customer_key_history "
                               "ORDER BY changed_at").fetchall()
    assert rows[-1] == (first[4], first[3], "split"), "the returning ticket moved; no key was retired"


def test_a_night_keys_again_a_customer_whose_record_now_shares_its_tool_id(registry_db):
    first = assign(registry_db, [{1, 2}, {3}, {4, 5}])
    # a second ticket numbered 9001 arrives: both are now known by file and row, and cat's
    # otherwise unchanged customer files its ticket under the new record key
    second = night(registry_db, [{1, 2}, {3}, {4, 5}, {6}], arrived=[(6, "support_tickets", "tickets.csv", 2, "9001")])
    assert second[4] == second[5] == first[4] and second[6] not in first.values()
    keys = dict(registry_db.execute("SELECT record_key, customer_key FROM core.customer_key_registry").fetchall())
    assert keys["support_tickets:row:tickets.csv#1"] == first[4]
    assert keys["support_tickets:row:tickets.csv#2"] == second[6]


def test_a_key_derived_twice_stops_the_keying_instead_of_being_issued_again(registry_db):
    first = assign(registry_db, [{1, 2}, {3}, {4, 5}])
    # contact 102 splits off and needs a key of its own: derived from its CRM id, or, that key
    # being issued, numbered by the keys issued; both are taken here as if by chance
    [(issued,)] = registry_db.execute("SELECT count(*) FROM core.customer_keys_issued").fetchall()
    registry_db.execute("INSERT INTO core.customer_keys_issued SELECT 'C' || upper(substr(md5(seed), 1, 10)), now(), 'x' "
                        "FROM (VALUES ('crm:102'), (?)) t(seed)", [f"crm:102:{issued + 2}:1"])
    with pytest.raises(duckdb.Error, match="would be issued twice"):
        assign(registry_db, [{1}, {2}, {3}, {4, 5}])
    # no key was issued, and the keys are those of the run before
    assert registry_db.execute("SELECT count(*) FROM core.customer_keys_issued").fetchall() == [(issued + 2,)]
    assert set(registry_db.execute("SELECT customer_key FROM core.customer_cluster_keys").fetchall()) == {
        (key,) for key in first.values()}


def test_keys_issued_before_the_check_keep_their_rows_without_the_primary_key(registry_db):
    registry_db.execute("CREATE TABLE core.customer_keys_issued (customer_key VARCHAR PRIMARY KEY, "
                        "issued_at TIMESTAMPTZ, anchor VARCHAR)")
    registry_db.execute("INSERT INTO core.customer_keys_issued VALUES ('CEARLIER001', now(), 'crm:1')")
    assign(registry_db, [{1, 2}, {3}, {4, 5}])
    assert registry_db.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'customer_keys_issued' "
                               "AND constraint_type = 'PRIMARY KEY'").fetchall() == [(0,)]
    assert registry_db.execute("SELECT count(*), count(*) FILTER (customer_key = 'CEARLIER001') "
                               "FROM core.customer_keys_issued").fetchall() == [(4, 1)]
