"""What a BI tool sees in the published file: table and column comments (COMMENT ON, which
SQLAlchemy-based tools show as descriptions) and a `bi` schema of views with friendly names.

Table comments are the assets' own descriptions (the same words as the Dagster UI); metric
column comments come from the metric catalog; the rest are below.
"""

import duckdb

from pipelines.settings import Settings

# Columns that mean the same wherever they appear.
COLUMN_COMMENTS = {
    "customer_key": "Stable Crosswalk customer id; once issued it survives later runs.",
    "order_key": "Stable Crosswalk order id.",
    "source_system": "Source family the record came from: crm, marketing, support or inventory.",
    "source_file": "File name as delivered (plus #sheet for a workbook).",
    "source_row": "1-based index of the data record in its file or sheet (the first record under the header is 1).",
    "source_sheet": "Workbook sheet the row came from; empty for CSV.",
    "source_record_id": "The record's id in its source tool, where it has one.",
    "source_order_ref": "Order reference as the source wrote it (e.g. #1001, SO-1001, a ticket subject).",
    "match_rule": "Rule that linked the record: crm_id, email, phone, order_ref, mailbox_name (shared mailbox and same name), probabilistic (Splink model), must_link (analyst override) or singleton.",
    "match_probability": "Confidence of the link, 0 to 1 (1 for deterministic rules).",
    "profile": "Mapping profile (schemas/profiles/) that read the file.",
    "period": "Order month in the company time zone (YYYY-MM), or 'all' for every month together.",
    "period_start": "First day of the order month.",
    "dimension": "What the row is cut by: all, channel, campaign or region.",
    "dimension_value": "Value of the dimension ('all' when dimension = 'all').",
    "cohort": "Customer start month in the company time zone (YYYY-MM), or 'all'.",
    "cohort_start": "First day of the cohort month.",
    "orders": "Orders that are not cancelled.",
    "ordered_at": "When the order was placed (UTC).",
    "shipped_at": "When the parcel left (UTC).",
    "delivered_at": "When the parcel arrived (UTC); empty where no source knows it.",
    "promised_date": "Delivery date promised by sales or the marketing campaign (company time zone).",
    "start_at": "Customer start: CRM 'became customer' date, else first order (UTC).",
    "activated_at": "Activation: CRM onboarding-complete date, else first delivered order (UTC).",
    "churned_at": "CRM churn or cancellation date (UTC).",
    "reason": "Why the row was quarantined, in words.",
    "raw_record": "The row as delivered, as JSON (personal values withheld in this file).",
    "column_name": "Canonical column whose value was refused.",
    "check_name": "Name of the check, as shown on its asset in the Dagster UI.",
    "passed": "Whether the check passed.",
    "severity": "blocking: a failure stops the publish; warn: reported only.",
}
PERSONAL_NOTE = {
    "pseudonymise": " Pseudonymised here: 'pii:' plus a keyed hash, stable across runs so counts and joins work.",
    "keep": "",
}
PERSONAL_COLUMNS = {"email": "Email address.", "phone": "Phone number (E.164).", "street": "Street address."}

# The `bi` schema: views with the names an analyst would look for.
BI_VIEWS = {
    "monthly_order_metrics": (
        "Order-to-delivery metrics for the whole business, one row per order month.",
        "SELECT * EXCLUDE (dimension, dimension_value) FROM marts.order_to_delivery_monthly "
        "WHERE dimension = 'all' AND period <> 'all'"),
    "order_metrics_by_channel": (
        "Order-to-delivery metrics by sales channel and order month ('all' = every month).",
        "SELECT * EXCLUDE (dimension) RENAME (dimension_value AS channel) FROM marts.order_to_delivery_monthly "
        "WHERE dimension = 'channel'"),
    "order_metrics_by_campaign": (
        "Order-to-delivery metrics, including promise kept, by marketing campaign and order month.",
        "SELECT * EXCLUDE (dimension) RENAME (dimension_value AS campaign) FROM marts.order_to_delivery_monthly "
        "WHERE dimension = 'campaign'"),
    "order_metrics_by_region": (
        "Order-to-delivery metrics by customer region and order month.",
        "SELECT * EXCLUDE (dimension) RENAME (dimension_value AS region) FROM marts.order_to_delivery_monthly "
        "WHERE dimension = 'region'"),
    "headline_order_metrics": (
        "Order-to-delivery metrics over every month together: one row.",
        "SELECT * EXCLUDE (period, period_start, dimension, dimension_value) FROM marts.order_to_delivery_monthly "
        "WHERE dimension = 'all' AND period = 'all'"),
    "onboarding_cohorts": (
        "Onboarding metrics by customer start month; activation_final and churn_final say whether the window "
        "has fully elapsed.",
        "SELECT * FROM marts.onboarding_cohorts_monthly WHERE cohort <> 'all'"),
    "headline_onboarding_metrics": (
        "Onboarding metrics over every cohort together: one row.",
        "SELECT * EXCLUDE (cohort, cohort_start) FROM marts.onboarding_cohorts_monthly WHERE cohort = 'all'"),
    "customers": ("One row per customer: golden record, systems, orders, value, tickets.",
                  "SELECT * FROM marts.customer_360"),
    "metric_definitions": ("Each metric's definition, unit, grain, columns and departments.",
                           "SELECT * FROM marts.metric_catalog"),
    "quarantined_rows": ("Rows refused by the run, with file, row, column and reason.",
                         "SELECT * FROM quality.rejected_rows"),
    "check_results": ("The run's data-quality checks and whether each passed.", "SELECT * FROM quality.check_results"),
}


def _literal(text: str) -> str:
    return "'" + " ".join(str(text).split()).replace("'", "''") + "'"


def table_descriptions() -> dict[str, str]:
    """'schema.table' -> the description of the asset that builds it."""
    from pipelines.core import core_assets
    from pipelines.marts import marts_assets
    from pipelines.raw import landing_files
    from pipelines.staging import staging_assets

    out = {}
    for asset in (landing_files, *staging_assets, *core_assets, *marts_assets):
        for key in asset.keys:
            if len(key.path) == 2 and asset.descriptions_by_key.get(key):
                out[".".join(key.path)] = asset.descriptions_by_key[key]
    out.setdefault("quality.rejected_rows", "Every row a run refused: file, sheet, row, column, reason and the "
                   "record as delivered. Rows landed = rows staged + rows rejected, per file.")
    out.setdefault("quality.check_results", "Every data-quality check of the run: name, asset, severity, "
                   "whether it passed, engine (Great Expectations or DuckDB) and details.")
    out.setdefault("quality.unmatched_order_refs", "Order references in tickets and shipments that match no order.")
    return out


def metric_column_comments() -> dict[tuple[str, str], str]:
    from pipelines.marts import load_metric_catalog

    out = {}
    for metric in load_metric_catalog():
        for column in metric["columns"]:
            out.setdefault((metric["table"], column),
                           f"{metric['name']} ({metric['unit']}): {' '.join(metric['definition'].split())}")
    return out


def describe_published_file(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Comment every published table and its known columns, and (re)create the `bi` views."""
    tables = {f"{s}.{t}" for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
    metric_comments = metric_column_comments()
    for table, description in table_descriptions().items():
        if table in tables:
            con.execute(f"COMMENT ON TABLE {table} IS {_literal(description)}")
    columns = con.execute("SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() "
                          "WHERE database_name = current_database() AND NOT internal").fetchall()
    for table, column in columns:
        comment = metric_comments.get((table, column)) or COLUMN_COMMENTS.get(column)
        if column in PERSONAL_COLUMNS:
            comment = PERSONAL_COLUMNS[column] + PERSONAL_NOTE.get(settings.personal_data, "")
        if comment:
            con.execute(f'COMMENT ON COLUMN {table}."{column}" IS {_literal(comment)}')
    con.execute("CREATE SCHEMA IF NOT EXISTS bi")
    for name, (description, query) in BI_VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW bi.{name} AS {query}")
        con.execute(f"COMMENT ON VIEW bi.{name} IS {_literal(description)}")
