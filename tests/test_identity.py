"""Customer and order links against the generator's truth."""

import logging
import shutil

import duckdb
import pandas as pd
from splink import DuckDBAPI, Linker

from connectors.profiles import SCHEMAS_DIR
from pipelines.identity_linkage import (INPUT_VIEW, PRIOR_RECALL, PRIOR_RULES, _model_settings, estimate_prior,
                                        symmetric)
from tests.conftest import read_truth

RECORD_KEYS = ["source_system", "source_file", "source_row"]


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(links: pd.DataFrame) -> tuple[float, float]:
    """Precision and recall over all record pairs: same customer_key vs same true person."""
    predicted = _pairs(links.groupby("customer_key").size())
    true = _pairs(links.groupby("person_id").size())
    both = _pairs(links.groupby(["customer_key", "person_id"]).size())
    return both / predicted, both / true


def test_every_person_record_is_in_the_identity_map(sample_run):
    truth = read_truth("record_identity.csv")
    links = sample_run.query("SELECT * FROM core.customer_identity_map")
    merged = truth.merge(links, on=RECORD_KEYS, how="left")
    assert merged["customer_key"].notna().all(), merged.loc[merged["customer_key"].isna(), RECORD_KEYS].head()
    assert links["match_rule"].notna().all() and links["match_probability"].between(0, 1).all()


def test_customer_links_precise_and_recall_high(sample_run):
    truth = read_truth("record_identity.csv")
    links = sample_run.query("SELECT source_system, source_file, source_row, customer_key FROM core.customer_identity_map")
    precision, recall = pairwise_scores(truth.merge(links, on=RECORD_KEYS))
    # Shared mailboxes and placeholders are no key and the model links only above 0.95, so no two
    # people are joined; it misses records that carry only a name (a ticket by phone with no
    # number), which are as likely to be a namesake.
    assert precision == 1.0
    assert recall >= 0.99
    assert 2 * precision * recall / (precision + recall) >= 0.98


def test_every_link_says_how_it_was_made(sample_run):
    links = sample_run.query("SELECT match_rule, match_probability FROM core.customer_identity_map")
    assert set(links["match_rule"]) == {"crm_id", "email", "phone", "order_ref", "mailbox_name", "probabilistic",
                                        "singleton"}
    model = links[links["match_rule"] == "probabilistic"]
    assert len(model) > 0 and model["match_probability"].between(0.95, 1).all()
    assert links.loc[links["match_rule"] != "probabilistic", "match_probability"].eq(1.0).all()


def test_shipments_without_a_usable_reference_fall_back_to_customer_date_and_quantity(sample_run):
    missing = read_truth("hard_cases.csv").query("hard_case == 'missing_order_ref'")
    orders = read_truth("order_identity.csv").merge(missing[RECORD_KEYS], on=RECORD_KEYS)
    links = sample_run.query("SELECT source_system, source_file, source_row, order_key, match_rule "
                             "FROM core.order_identity_map").merge(orders, on=RECORD_KEYS)
    assert len(links) == len(missing) >= 2
    assert (links["order_key"] == "ORD-" + links["order_id"].astype(str)).all()
    assert (links["match_rule"] == "customer + date + quantity").all()
    unmatched = sample_run.query("SELECT source_file, source_row FROM quality.unmatched_order_refs")
    assert unmatched.merge(missing, on=["source_file", "source_row"]).empty


def test_every_order_reference_reconciled_to_the_true_order(sample_run):
    truth = read_truth("order_identity.csv")
    links = sample_run.query("SELECT source_system, source_file, source_row, order_key FROM core.order_identity_map")
    merged = truth.merge(links, on=RECORD_KEYS, how="left")
    expected = "ORD-" + merged["order_id"].astype(str)
    wrong = merged[merged["order_key"] != expected]
    assert wrong.empty, wrong.head(10).to_string()
    linked = links[links["order_key"].notna()].merge(truth, on=RECORD_KEYS, how="left", indicator=True)
    assert linked["_merge"].eq("both").all(), "a record was linked to an order the truth does not know"


def test_one_order_row_per_true_order(sample_run):
    truth = read_truth("orders.csv")
    orders = sample_run.query("SELECT order_key FROM core.orders")
    assert sorted(orders["order_key"]) == sorted("ORD-" + truth["order_id"].astype(str))


def test_the_model_scores_only_pairs_across_key_groups(sample_run):
    """Records one deterministic key group holds are linked anyway; the model file's blocking rules
    say so (schemas/identity_model.json), and no scored pair lies within one group."""
    pairs = sample_run.query(
        "SELECT count(*) AS scored, count(*) FILTER (WHERE a.key_group = b.key_group) AS within "
        "FROM core.customer_link_scores s "
        "JOIN core.customer_linkage_input a ON a.unique_id = s.node_a "
        "JOIN core.customer_linkage_input b ON b.unique_id = s.node_b", published=False).iloc[0]
    assert pairs["scored"] > 100 and pairs["within"] == 0


def _splink_prior(con, nodes: str) -> float:
    """What Splink estimates for the prior on `nodes`, as the pipeline asked it before it counted."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW {INPUT_VIEW} AS SELECT * FROM {nodes}")
    linker = Linker(DuckDBAPI(connection=con).register(INPUT_VIEW), _model_settings(SCHEMAS_DIR / "identity_model.json"),
                    log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(PRIOR_RULES, recall=PRIOR_RECALL)
    return linker._settings_obj._probability_two_random_records_match


def test_the_prior_is_splinks_estimate_to_the_last_bit(sample_run, tmp_path):
    shutil.copy(sample_run.build, tmp_path / "build.duckdb")
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    # the sample's nodes, and the same nodes with emails and phones shared in overlapping groups
    # (a third of the emails one address, every fifth phone one number, NULLs left as they are)
    con.execute("""CREATE TABLE crowded AS SELECT * REPLACE (
                       CASE WHEN unique_id % 3 = 0 AND email IS NOT NULL THEN 'shared@example.com' ELSE email END AS email,
                       CASE WHEN unique_id % 5 = 0 AND phone IS NOT NULL THEN '+441632960000' ELSE phone END AS phone)
                   FROM core.customer_linkage_input""")
    for nodes in ("core.customer_linkage_input", "crowded"):
        assert estimate_prior(con, nodes).probability == _splink_prior(con, nodes)
    assert estimate_prior(con, "crowded").probability > 10 * estimate_prior(con, "core.customer_linkage_input").probability


def test_a_rule_read_as_symmetric_admits_each_pair_either_way_round(sample_run):
    """The neighbourhood of a night's nodes joins a symmetric rule once instead of once per side."""
    rules = [r["blocking_rule"] for r in _model_settings(SCHEMAS_DIR / "identity_model.json")
             ["blocking_rules_to_generate_predictions"]]
    # equal columns, a prefix, a distance; the shared-name rule tests one side's count and columns
    assert [symmetric(rule) for rule in rules] == [True] * 6 + [False]
    assert symmetric("levenshtein(l.a, r.a) <= 2 AND (r.b = l.b OR l.c = r.c)")
    assert not symmetric("l.a = r.b") and not symmetric("l.a < r.a") and not symmetric("l.a = r.a AND l.n <= 20")
    with duckdb.connect(str(sample_run.build), read_only=True) as con:
        for rule in rules[:6]:
            pairs = set(con.execute(f"SELECT l.unique_id, r.unique_id FROM core.customer_linkage_input l "
                                    f"JOIN core.customer_linkage_input r ON ({rule}) AND l.unique_id <> r.unique_id"
                                    ).fetchall())
            assert pairs and pairs == {(b, a) for a, b in pairs}, rule
