"""Train the customer linkage model without labels and save it as a reviewable settings file.

    python -m pipelines.identity_model --build data/warehouse/build/crosswalk_build.duckdb \
        [--out schemas/identity_model.json]

Reads core.customer_linkage_input of a finished build. u probabilities come from random
sampling of record pairs (almost all random pairs are different people); m probabilities from
expectation maximisation on blocked pairs, one session blocked on a location (trains the
names, email and phone) and one on the name (trains the location fields). The prior is
re-estimated on every run (pipelines/identity_linkage.py), so it is not tied to this data's size.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from connectors.profiles import SCHEMAS_DIR
from pipelines.identity_linkage import INPUT_VIEW, PRIOR_RECALL, PRIOR_RULES

# Prediction blocking: every rule pins a location, an email or a rare combination, so the
# number of pairs grows about linearly with records. A name alone is no such pin once a business
# has many customers (hundreds of people share a common name, a big town holds dozens of each, and
# email local parts are made of names): names pair within a postcode district, not a town; the
# mailbox-name rule pairs only what the email comparison's slip level can use, the same mailbox
# name at a domain at most two slips away (gmial.com, outlok.com, btinternet.con keep the first
# two letters, which make the join key; Levenshtein is checked here because it is four times
# faster than the comparison's Damerau-Levenshtein and finds the same pairs); and the last rule,
# which reaches records that carry a name only (a ticket without email or phone) and pairs them
# with people of that name, is kept to names that few records share (name_records, counted in
# core/customer_linkage_input.sql).
NAME_ONLY_MAX_RECORDS = 20
# Two records one deterministic key group holds (core/customer_linkage_input.sql) are linked
# whatever the model says: every prediction rule scores only pairs across two groups.
ACROSS_KEY_GROUPS = "l.key_group <> r.key_group"
BLOCKING_RULES = [
    block_on("last_name", "postcode"),
    block_on("first_name_std", "postcode"),
    block_on("first_name_std", "last_name", "postcode_district"),
    "l.email_local = r.email_local AND left(l.email_domain, 2) = left(r.email_domain, 2) AND "
    "l.email_domain <> r.email_domain AND levenshtein(l.email_domain, r.email_domain) <= 2",
    block_on("first_name_std", "last_name", "company"),
    block_on("shared_mailbox"),
    "l.first_name_std = r.first_name_std AND l.last_name = r.last_name AND "
    f"l.name_records <= {NAME_ONLY_MAX_RECORDS} AND "
    "((l.postcode IS NULL AND l.city IS NULL AND l.company IS NULL) OR "
    "(r.postcode IS NULL AND r.city IS NULL AND r.company IS NULL))",
]


def _similar_text(column: str, jaro_winkler: float, *between) -> cl.CustomComparison:
    """Missing, the same, any `between` levels, similar (Jaro-Winkler at or above the threshold), else."""
    return cl.CustomComparison(output_column_name=column, comparison_levels=[
        cll.NullLevel(column), cll.ExactMatchLevel(column), *between, cll.JaroWinklerLevel(column, jaro_winkler),
        cll.ElseLevel(),
    ])


def comparisons() -> list:
    return [
        _similar_text("first_name", 0.88, cll.ExactMatchLevel("first_name_std").configure(
            label_for_charts="nickname of the same name")),
        # no term-frequency adjustment: a rare surname is as often a typo shared by chance
        _similar_text("last_name", 0.9),
        cl.CustomComparison(output_column_name="email", comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email"),
            # a slip in the domain (gmial.com); the same mailbox name at another provider is often
            # someone else (j.smith@ is common), so the domains must be near-identical
            cll.CustomLevel("email_local_l = email_local_r AND "
                            "damerau_levenshtein(email_domain_l, email_domain_r) <= 2",
                            "same mailbox name, domain one slip away"),
            cll.ElseLevel(),
        ]),
        cl.ExactMatch("phone"),
        cl.ExactMatch("shared_mailbox"),
        # One comparison for the whole address: street, postcode and town agree together for
        # people at one address (a household, a café's staff), so scoring them apart would
        # count the same evidence three times.
        cl.CustomComparison(output_column_name="address", comparison_levels=[
            cll.CustomLevel("(street_l IS NULL OR street_r IS NULL) AND (postcode_l IS NULL OR postcode_r IS NULL) "
                            "AND (city_l IS NULL OR city_r IS NULL)").configure(is_null_level=True),
            cll.CustomLevel("street_l = street_r AND postcode_l = postcode_r", "same street and postcode"),
            cll.CustomLevel("postcode_l = postcode_r", "same postcode"),
            cll.CustomLevel("street_l = street_r AND city_l = city_r", "same street and town"),
            cll.CustomLevel("jaro_winkler_similarity(street_l, street_r) >= 0.9 AND postcode_district_l = postcode_district_r",
                            "similar street, same postcode district"),
            cll.CustomLevel("postcode_district_l = postcode_district_r", "same postcode district"),
            cll.CustomLevel("city_l = city_r", "same town"),
            cll.ElseLevel(),
        ]),
        _similar_text("company", 0.9),
    ]


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def train(con: duckdb.DuckDBPyConnection, out: Path, seed: int = 7) -> None:
    con.execute(f"CREATE OR REPLACE TEMP VIEW {INPUT_VIEW} AS SELECT * FROM core.customer_linkage_input")
    linker = Linker(DuckDBAPI(connection=con).register(INPUT_VIEW), settings(), log_level=logging.WARNING)
    try:
        linker.training.estimate_probability_two_random_records_match(PRIOR_RULES, recall=PRIOR_RECALL)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("postcode"), record_sample_proportion=1.0)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("first_name_std", "last_name"), record_sample_proportion=1.0)
        model = linker.misc.save_model_to_json(overwrite=True)
        out.write_text(json.dumps(_across_key_groups(_neutral_untrained_levels(model)), indent=2) + "\n")
    finally:
        linker.table_management.delete_tables_created_by_splink_from_db()
        con.execute(f"DROP VIEW IF EXISTS {INPUT_VIEW}")


M_FLOOR = 0.001


def _neutral_untrained_levels(model: dict) -> dict:
    """A level the data never showed among matches gets m = u: it neither links nor separates.
    No m is below M_FLOOR: a disagreement the sample never showed (a second phone) is strong
    evidence against a match, not proof."""
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            if "m_probability" not in level and "u_probability" in level:
                level["m_probability"] = level["u_probability"]
            if "m_probability" in level:
                level["m_probability"] = max(level["m_probability"], M_FLOOR)
    return model


def _across_key_groups(model: dict) -> dict:
    for rule in model["blocking_rules_to_generate_predictions"]:
        rule["blocking_rule"] = f"({rule['blocking_rule']}) AND {ACROSS_KEY_GROUPS}"
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.identity_model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", required=True, help="a finished build database (crosswalk_build.duckdb)")
    parser.add_argument("--out", default=str(SCHEMAS_DIR / "identity_model.json"))
    args = parser.parse_args(argv)
    con = duckdb.connect(args.build)
    try:
        train(con, Path(args.out))
    finally:
        con.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
