"""The published file as a BI tool sees it: reflected through SQLAlchemy (duckdb-engine), as Superset does."""

import sqlalchemy as sa

from pipelines.bi_views import BI_VIEWS
from pipelines.marts import marts_assets
from tests.conftest import read_truth

MARTS = {"order_to_delivery_monthly", "onboarding_cohorts_monthly", "customer_360", "metric_catalog"}


def _engine(sample_run):
    return sa.create_engine(f"duckdb:///{sample_run.published}?access_mode=read_only")


def test_marts_are_listed_with_their_comments(sample_run):
    engine = _engine(sample_run)
    try:
        inspector = sa.inspect(engine)
        assert MARTS <= set(inspector.get_table_names(schema="marts"))
        descriptions = {a.key.path[-1]: a.descriptions_by_key[a.key] for a in marts_assets}
        for table in MARTS:
            comment = inspector.get_table_comment(table, schema="marts")["text"]
            assert comment == " ".join(descriptions[table].split()), table
    finally:
        engine.dispose()


def test_friendly_views_are_reflected_and_agree_with_the_marts(sample_run):
    engine = _engine(sample_run)
    try:
        inspector = sa.inspect(engine)
        assert set(BI_VIEWS) <= set(inspector.get_view_names(schema="bi"))
        assert inspector.get_table_comment("onboarding_cohorts", schema="bi")["text"].startswith("Onboarding metrics")
        with engine.connect() as con:
            monthly = con.execute(sa.text("SELECT count(*) FROM bi.monthly_order_metrics")).scalar()
            months = con.execute(sa.text("SELECT count(*) FROM marts.order_to_delivery_monthly "
                                         "WHERE dimension = 'all' AND period <> 'all'")).scalar()
            campaigns = con.execute(sa.text("SELECT count(DISTINCT campaign) FROM bi.order_metrics_by_campaign")).scalar()
    finally:
        engine.dispose()
    assert monthly == months == 12  # the sample business covers 2025
    truth = read_truth("metrics_order_to_delivery.csv")
    assert campaigns == truth[truth["dimension"] == "campaign"]["dimension_value"].nunique()  # '(none)' included


def test_metric_columns_carry_the_catalog_definition(sample_run):
    # Column comments through the same SQLAlchemy connection; the inspector's get_columns needs
    # SQLAlchemy < 2.0.45 with duckdb-engine 0.17 (duckdb_engine issue 1391), see docs/bi.md.
    engine = _engine(sample_run)
    try:
        with engine.connect() as con:
            comments = dict(con.execute(sa.text(
                "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts' "
                "AND table_name = 'order_to_delivery_monthly'")).fetchall())
            email = con.execute(sa.text("SELECT comment FROM duckdb_columns() WHERE schema_name = 'core' "
                                        "AND table_name = 'customers' AND column_name = 'email'")).scalar()
    finally:
        engine.dispose()
    assert comments["order_accuracy_rate"].startswith("Order accuracy rate (")
    assert comments["period"].startswith("Order month in the company time zone")
    assert "Pseudonymised" in email
