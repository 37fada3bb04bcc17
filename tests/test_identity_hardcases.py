"""Each identity trap the generator plants (truth/hard_cases.csv) is resolved as the truth says."""

import pandas as pd
import pytest

from tests.conftest import read_truth

RECORD_KEYS = ["source_system", "source_file", "source_row"]
HARD_CASES = ["shared_mailbox", "changed_surname", "moved_address", "email_typo", "same_name_same_town",
              "no_email_or_phone", "placeholder"]


@pytest.fixture(scope="module")
def records(sample_run) -> pd.DataFrame:
    """Every person record with its true person and the customer_key the pipeline gave it."""
    links = sample_run.query(
        "SELECT source_system, source_file, source_row, entity, customer_key, match_rule, match_probability "
        "FROM core.customer_identity_map")
    return read_truth("record_identity.csv").merge(links, on=RECORD_KEYS, how="left")


@pytest.fixture(scope="module")
def hard_cases(records) -> pd.DataFrame:
    return read_truth("hard_cases.csv").merge(records, on=[*RECORD_KEYS, "person_id"], how="left")


def crm_key(records: pd.DataFrame) -> pd.Series:
    """Each person's customer_key as their CRM contact record has it."""
    crm = records[records["entity"] == "crm_contacts"]
    return crm.groupby("person_id")["customer_key"].agg(lambda keys: keys.mode().iloc[0])


def people_per_key(records: pd.DataFrame) -> pd.Series:
    return records.groupby("customer_key")["person_id"].nunique()


def test_every_hard_case_is_planted(hard_cases):
    counts = hard_cases["hard_case"].value_counts()
    for case in HARD_CASES:
        assert counts.get(case, 0) >= 2, case


def test_shared_mailbox_never_merges_the_people_behind_it(records, hard_cases):
    shared = hard_cases[hard_cases["hard_case"] == "shared_mailbox"]
    assert shared["person_id"].nunique() >= 4  # the mailbox of a café is used by its customer and a colleague
    mixed = people_per_key(records).loc[shared["customer_key"].unique()]
    assert (mixed == 1).all(), mixed[mixed > 1]


def test_shared_mailbox_records_still_reach_their_person(records, hard_cases):
    shared = hard_cases[hard_cases["hard_case"] == "shared_mailbox"]
    expected = shared["person_id"].map(crm_key(records))
    assert (shared["customer_key"] == expected).mean() >= 0.95


@pytest.mark.parametrize("case", ["changed_surname", "moved_address", "email_typo"])
def test_changed_details_stay_with_their_customer(records, hard_cases, case):
    rows = hard_cases[hard_cases["hard_case"] == case]
    expected = rows["person_id"].map(crm_key(records))
    wrong = rows[rows["customer_key"] != expected]
    assert wrong.empty, wrong[[*RECORD_KEYS, "person_id", "customer_key", "match_rule"]].to_string()


def test_email_typo_is_linked_by_the_model(sample_run, hard_cases):
    typo = hard_cases[hard_cases["hard_case"] == "email_typo"]
    evidence = sample_run.query(
        "SELECT source_file_a, source_row_a, source_file_b, source_row_b FROM core.customer_link_evidence "
        "WHERE outcome = 'linked' AND email_agreement = 'same mailbox name, domain one slip away'", published=False)
    ends = pd.concat([evidence.iloc[:, :2].set_axis(["source_file", "source_row"], axis=1),
                      evidence.iloc[:, 2:].set_axis(["source_file", "source_row"], axis=1)])
    via_model = typo.merge(ends.drop_duplicates(), on=["source_file", "source_row"])
    # every mistyped record no key reaches is reached through the model's near-miss email level
    # (the model scores only pairs the keys leave apart; test_changed_details_stay_with_their_customer
    # checks that every mistyped record lands with its person)
    by_model = typo[typo["match_rule"] == "probabilistic"]
    assert len(by_model) >= 2 and set(via_model["person_id"]) >= set(by_model["person_id"])


def test_namesakes_in_one_town_stay_apart(records, hard_cases):
    namesakes = hard_cases[hard_cases["hard_case"] == "same_name_same_town"]
    assert namesakes["person_id"].nunique() >= 4
    assert (people_per_key(records).loc[namesakes["customer_key"].unique()] == 1).all()
    keys = crm_key(records).loc[namesakes["person_id"].unique()]
    assert keys.is_unique


@pytest.mark.parametrize("case", ["no_email_or_phone", "placeholder"])
def test_records_without_identifiers_are_never_linked_to_someone_else(records, hard_cases, case):
    rows = hard_cases[hard_cases["hard_case"] == case]
    assert (people_per_key(records).loc[rows["customer_key"].unique()] == 1).all()
    # a placeholder phone is no key: the records that carry one do not share a customer
    if case == "placeholder":
        assert rows["customer_key"].nunique() == rows["person_id"].nunique()
