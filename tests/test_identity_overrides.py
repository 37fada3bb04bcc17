"""Analyst control: the review queue, and must_link / cannot_link decisions fed back as overrides."""

import csv
import dataclasses
import shutil

import duckdb
import pytest

from connectors.profiles import ProfileError
from pipelines.identity import OVERRIDE_COLUMNS, load_identity_settings, read_overrides, resolve_customers
from pipelines.resources import prepare_connection
from pipelines.settings import load_settings


def test_review_queue_lists_borderline_pairs_with_a_reason_per_field(sample_run):
    settings = load_identity_settings().customers
    review = sample_run.query("SELECT * FROM quality.identity_review", published=False)
    assert len(review) > 0
    assert review["match_probability"].between(settings.review_threshold, settings.match_threshold).all()
    assert (review["customer_key_a"] != review["customer_key_b"]).all()
    assert review["why"].str.contains("first_name: ").all() and review["why"].str.contains("last_name: ").all()
    exported = sample_run.build.parent / "identity_review.csv"
    with exported.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(review) and list(rows[0])[:5] == list(OVERRIDE_COLUMNS)


def test_every_model_link_keeps_its_field_agreements(sample_run):
    evidence = sample_run.query("SELECT * FROM core.customer_link_evidence WHERE outcome = 'linked'", published=False)
    assert len(evidence) > 0 and evidence["match_probability"].ge(0.95).all()
    for field in ["first_name", "last_name", "email", "phone", "address", "company"]:
        assert evidence[f"{field}_level"].notna().all() and evidence[f"{field}_agreement"].notna().all()


@pytest.fixture
def build_copy(sample_run, tmp_path):
    """A copy of the sample build, to re-resolve customers with analyst decisions."""
    path = tmp_path / "build.duckdb"
    shutil.copy(sample_run.build, path)
    con = duckdb.connect(str(path))
    prepare_connection(con, load_settings(sample_run.config_path))
    yield con
    con.close()


def decide(path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*OVERRIDE_COLUMNS, "note"])
        writer.writeheader()
        writer.writerows(rows)


def key_of(con, source_file: str, source_row: int) -> str:
    return con.execute("SELECT customer_key FROM core.customer_identity_map WHERE source_file = ? AND source_row = ?",
                       [source_file, source_row]).fetchall()[0][0]


def decisions_on(con, overrides) -> tuple:
    """An analyst's decisions on the sample build in <overrides>/decisions.csv: a borderline pair
    linked, a model link undone, and two records sharing an email (a deterministic link) said to
    be two people. Returns the three pairs."""
    review = con.execute("SELECT source_file_a, source_row_a, source_file_b, source_row_b FROM quality.identity_review "
                         "ORDER BY match_probability DESC LIMIT 1").fetchall()[0]
    linked = con.execute("SELECT source_file_a, source_row_a, source_file_b, source_row_b FROM core.customer_link_evidence "
                         "WHERE outcome = 'linked' ORDER BY match_probability LIMIT 1").fetchall()[0]
    same_email = con.execute("""
        SELECT a.source_file, a.source_row, b.source_file, b.source_row
        FROM core.customer_records a JOIN core.customer_records b ON a.email = b.email AND a.record_id < b.record_id
        WHERE a.entity = 'crm_contacts' AND b.entity = 'support_tickets' ORDER BY a.record_id LIMIT 1""").fetchall()[0]
    overrides.mkdir(exist_ok=True)
    pair = lambda row, decision: dict(zip(OVERRIDE_COLUMNS, [*row, decision]))  # noqa: E731
    decide(overrides / "decisions.csv", [pair(review, "must_link"), pair(linked, "cannot_link"),
                                         pair(same_email, "cannot_link"), {**pair(review, ""), "note": "undecided"}])
    return review, linked, same_email


def test_review_decisions_fed_back_win_over_the_model(build_copy, tmp_path):
    con = build_copy
    overrides = tmp_path / "overrides"
    review, linked, same_email = decisions_on(con, overrides)
    settings = dataclasses.replace(load_identity_settings().customers, overrides_dir=overrides)
    resolve_customers(con, settings, tmp_path / "identity_review.csv")

    assert key_of(con, *review[:2]) == key_of(con, *review[2:])
    assert key_of(con, *linked[:2]) != key_of(con, *linked[2:])
    assert key_of(con, *same_email[:2]) != key_of(con, *same_email[2:])
    left = con.execute("SELECT count(*) FROM quality.identity_review WHERE source_file_a = ? AND source_row_a = ? "
                       "AND source_file_b = ? AND source_row_b = ?", list(review)).fetchall()[0][0]
    assert left == 0
    rules = dict(con.execute("SELECT rule, count(*) FROM core.customer_edges GROUP BY 1").fetchall())
    assert rules["must_link"] == 1


def test_decisions_fed_back_on_a_night_cluster_as_deriving_every_link_again(sample_run, tmp_path):
    """Decisions added between two nights with the same settings: the night finds again only the
    clusters they touch, and ends with the links, clusters and keys of a derivation of every link."""
    identity = load_identity_settings()
    # named as the settings name it: the linkage fingerprint is the same
    overrides = tmp_path / identity.customers.overrides_dir.name
    settings = dataclasses.replace(identity.customers, overrides_dir=overrides)
    builds, counts = {}, {}
    for name in ("night", "again"):
        shutil.copy(sample_run.build, tmp_path / f"{name}.duckdb")
        builds[name] = con = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
        prepare_connection(con, load_settings(sample_run.config_path))
        pairs = decisions_on(con, overrides)
        counts[name] = resolve_customers(con, settings, tmp_path / f"{name}.csv", derive_whole=name == "again",
                                         references=identity.order_references)
    assert counts["night"]["linkage"] == "0 records added, 0 removed"
    clustered = int(counts["night"]["records_clustered"].split()[0])
    assert 0 < clustered < builds["night"].execute("SELECT count(*) FROM core.customer_records").fetchall()[0][0]
    assert counts["again"]["records_clustered"] == "all"
    for table, order in (("core.customer_edges", "record_a, record_b, rule"), ("core.customer_clusters", "record_id"),
                         ("core.customer_cluster_keys", "cluster_id"), ("core.customer_identity_map", "record_id"),
                         # the evidence and the review queue say what the decisions did
                         ("core.customer_link_evidence", "record_a, record_b"),
                         ("quality.identity_review", "source_file_a, source_row_a, source_file_b, source_row_b")):
        night, again = (builds[name].sql(f"SELECT * FROM {table} ORDER BY {order}").df() for name in builds)
        for frame in (night, again):
            if "match_probability" in frame:
                frame["match_probability"] = frame["match_probability"].round(9)
        assert night.equals(again), table
    review, linked, same_email = pairs
    con = builds["night"]
    assert key_of(con, *review[:2]) == key_of(con, *review[2:])
    assert key_of(con, *linked[:2]) != key_of(con, *linked[2:])
    assert key_of(con, *same_email[:2]) != key_of(con, *same_email[2:])
    for con in builds.values():
        con.close()


def test_a_bad_decision_names_file_row_and_column(tmp_path):
    decide(tmp_path / "decisions.csv", [dict(zip(OVERRIDE_COLUMNS, ["a.csv", "1", "b.csv", "2", "maybe"]))])
    with pytest.raises(ProfileError, match=r"decisions.csv: row 1, column decision: 'maybe'"):
        read_overrides(tmp_path)
