"""Asset checks: the Great Expectations suites of schemas/quality_suites.yaml, uniqueness and
conservation checks that DuckDB answers in one query, and a few cross-table invariants.

Blocking checks stop the publish; warn checks are reported. Every result is written to
quality.check_results with the run id, and each GX suite's Data Docs page to
<warehouse>/quality/data_docs/<run id>/. A staged or core table's suites and uniqueness checks
read only the rows written since they last ran (pipelines/check_rows.py); another suite or
uniqueness check whose table's checked columns are as they were when it last read them reports
that result again, marked reused_from_run (pipelines/check_memory.py).
"""

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import dagster as dg

from connectors.files import content_fingerprint
from connectors.profiles import SCHEMAS_DIR, ProfileError
from connectors.yaml_files import read_yaml
from pipelines import check_memory, check_rows, staging, staging_sql
from pipelines.data_docs import write_data_docs
from pipelines.gx_bridge import outcome_metadata, validate_table
from pipelines.gx_import import import_great_expectations
from pipelines.marts import CUSTOMER_360, ORDER_TO_DELIVERY
from pipelines.resources import WarehouseResource
from pipelines.staging import staging_assets
from pipelines.staging_sql import ident

SEVERITIES = ("blocking", "warn")
ROWS_CONSERVED = "rows_conserved"
CUSTOMER_360_COMPLETE = "one_row_per_customer"
ORDERS_RECONCILE = "order_totals_match_core"

CHECK_RESULTS_COLUMNS = """run_id VARCHAR, check_name VARCHAR, asset_key VARCHAR, severity VARCHAR,
    passed BOOLEAN, engine VARCHAR, details VARCHAR, checked_at TIMESTAMPTZ"""
_EXPECTATION_NAME = re.compile(r"^expect_[a-z0-9_]+$")


def record_result(con, run_id: str, check: str, asset_key: dg.AssetKey, blocking: bool, passed: bool,
                  engine: str, details: dict) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS quality.check_results ({CHECK_RESULTS_COLUMNS})")
    key = asset_key.to_user_string()
    con.execute("DELETE FROM quality.check_results WHERE run_id = ? AND check_name = ? AND asset_key = ?",
                [run_id, check, key])
    con.execute("INSERT INTO quality.check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, check, key, "blocking" if blocking else "warn", passed, engine,
                 json.dumps(details, default=str), dt.datetime.now(dt.timezone.utc)])


def quoted(asset: dg.AssetKey) -> str:
    return ".".join(ident(p) for p in asset.path)


def _severity(blocking: bool) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN


def build_expectation(spec: dict):
    """A GX expectation object from its YAML form, e.g. {type: expect_column_values_to_not_be_null, column: x}."""
    gx = import_great_expectations()  # imported on first check: the import takes seconds

    class_name = "".join(part.capitalize() for part in spec["type"].split("_"))
    cls = getattr(gx.expectations, class_name, None)
    if cls is None:
        raise ProfileError(f"schemas/quality_suites.yaml: '{spec['type']}' is not a Great Expectations expectation")
    return cls(**{k: v for k, v in spec.items() if k not in ("type", "severity")})


# One check: its spec, and what computes its result on a connection to the build.
# The last arguments: the hash of the table's checked columns (check_memory.table_hash), for a
# check that remembers its result; the keys written since the table's checks last ran
# (check_rows.changed_scope; None: every row), for a check that reads only those rows.
CheckRun = Callable[[dg.AssetCheckExecutionContext, object, WarehouseResource, str | None, str | None],
                    dg.AssetCheckResult]


@dataclass(frozen=True)
class Check:
    spec: dg.AssetCheckSpec
    run: CheckRun
    # the columns of its table a check that remembers its result reads (() when every column);
    # None for a check that reads other tables too and runs every night, or reads by rows
    reads: tuple[str, ...] | None = None


def _row_wise(specs: list[dict]) -> bool:
    """Whether each expectation judges a row by its own values (no `mostly` over the table)."""
    return all(s["type"] in ROW_WISE and s.get("mostly", 1) == 1 for s in specs)


ROW_WISE = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
            "expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set",
            "expect_column_values_to_be_between", "expect_column_values_to_match_regex",
            "expect_column_values_to_not_match_regex", "expect_column_pair_values_a_to_be_greater_than_b",
            "expect_column_pair_values_to_be_equal", "expect_column_value_lengths_to_be_between"}


def _definition(*parts) -> str:
    """A check read by rows: its definition and the code that checks or stages the rows."""
    return content_fingerprint([*check_memory.CODE, *STAGING_CODE], *parts)


STAGING_CODE = [Path(staging.__file__), Path(staging_sql.__file__)]


def gx_check(asset: dg.AssetKey, severity: str, specs: list[dict]) -> Check:
    """The table's GX expectations of one severity."""
    blocking = severity == "blocking"
    table = ".".join(asset.path)
    name = f"gx_{severity}"
    listed = "; ".join(f"{s['type']}({s.get('column') or s.get('column_A', '')})" for s in specs)

    suite = f"{table}.{severity}"
    columns = tuple(sorted({s[k] for s in specs for k in ("column", "column_A", "column_B") if k in s}))
    if any(not any(k in s for k in ("column", "column_A", "column_B")) for s in specs):
        columns = ()  # an expectation of the whole table: every column is read
    key = asset.to_user_string()
    rows = check_rows.checked_rows(table) if _row_wise(specs) else None

    def run(context, con, warehouse, table_hash, scope) -> dg.AssetCheckResult:
        run_id, docs = context.run.run_id, warehouse.settings().warehouse_dir
        scope = None if warehouse.full_rebuild else scope
        if rows is not None:  # read by rows: the result stands while no row was written
            read = _definition(repr(specs))
            earlier = check_rows.unchanged_result(con, key, name, read, scope)
        else:  # the result stands while the checked columns are as they were
            read = check_memory.fingerprint(table_hash, repr(specs))
            earlier = None if warehouse.full_rebuild else check_memory.recall(con, key, name, read)
        page = earlier and check_memory.reuse_data_docs(docs, earlier[2], run_id, suite)
        if earlier and page:
            passed, metadata = earlier[0], {**earlier[1], "reused_from_run": earlier[2]}
        else:
            expectations = [build_expectation(s) for s in specs]
            if rows is not None:
                outcome, how = check_rows.validate_suite(
                    con, rows, key, name, read, scope,
                    lambda where: validate_table(con, table, suite, expectations, where=where,
                                                 key_columns=list(rows.key)))
                metadata = {**outcome_metadata(outcome), "rows_read": how}
            else:
                outcome = validate_table(con, table, suite, expectations)
                metadata = outcome_metadata(outcome)
            passed = outcome.success
            page = write_data_docs(docs, run_id, outcome)
            check_memory.remember(con, key, name, read, passed, metadata, run_id)
        record_result(con, run_id, name, asset, blocking, passed, "great_expectations", metadata)
        return dg.AssetCheckResult(
            asset_key=asset, check_name=name, passed=passed, severity=_severity(blocking),
            metadata={**metadata, "data_docs": dg.MetadataValue.path(str(page))},
        )

    return Check(dg.AssetCheckSpec(name, asset=asset, blocking=blocking,
                                   description=f"Great Expectations suite ({severity}) on {table}: {listed}"), run,
                 reads=None if rows is not None else columns)


def sql_check(asset: dg.AssetKey, name: str, description: str, query: str, blocking: bool = True,
              reads: tuple[str, ...] | None = None, scoped_query: Callable[[str], str] | None = None) -> Check:
    """A check that passes when `query` returns no rows; the rows it returns are the failures.
    With `reads`, the only columns of the asset's table the query reads: a night that left them as
    they were reports the result again (pipelines/check_memory.py). With `scoped_query`, the query
    that finds the failures among the rows written since the check last passed (given their
    keys, check_rows.changed_scope), asked instead while it passed."""
    key = asset.to_user_string()

    def run(context, con, warehouse, table_hash, scope) -> dg.AssetCheckResult:
        # what the result stands on: the checked columns' hash, or (read by rows) the definition
        read = (check_memory.fingerprint(table_hash, query) if reads is not None
                else _definition(query) if scoped_query else None)
        earlier = check_memory.recall(con, key, name, read) if read and not warehouse.full_rebuild else None
        if earlier and reads is not None:
            passed, details = earlier[0], {**earlier[1], "reused_from_run": earlier[2]}
        else:
            scoped = scoped_query is not None and check_rows.unique_scoped(earlier, scope)
            failures = con.execute(scoped_query(scope) if scoped else query).df()
            passed = failures.empty
            details = {"failures": int(len(failures)),
                       "sample": json.loads(failures.head(10).to_json(orient="records", date_format="iso"))}
            if scoped_query:
                details["rows_read"] = "the key values of the rows written since it passed" if scoped else "every row"
            if read:
                check_memory.remember(con, key, name, read, passed, details, context.run.run_id)
        record_result(con, context.run.run_id, name, asset, blocking, passed, "duckdb", details)
        return dg.AssetCheckResult(asset_key=asset, check_name=name, passed=passed,
                                   severity=_severity(blocking),
                                   metadata={"failures": details["failures"],
                                             "sample": dg.MetadataValue.json(details["sample"]),
                                             **{k: details[k] for k in ("reused_from_run", "rows_read") if k in details}})

    return Check(dg.AssetCheckSpec(name, asset=asset, blocking=blocking, description=description), run, reads)


def duplicate_keys_sql(table: str, columns: list[str]) -> str:
    """The key values that more than one row of `table` holds, with how many rows hold each.
    Rows are grouped by one hash of the key first, and by the key itself only where a hash
    repeats: 0.16 s against 0.26-0.37 s for 3.5M identity-map rows and a four-column key."""
    keys = ", ".join(ident(c) for c in columns)
    return f"""SELECT {keys}, count(*) AS copies FROM {table}
               WHERE hash({keys}) IN (SELECT hash({keys}) FROM {table} GROUP BY ALL HAVING count(*) > 1)
               GROUP BY ALL HAVING count(*) > 1 ORDER BY copies DESC, {keys}"""


def unique_check(asset: dg.AssetKey, columns: list[str], severity: str) -> Check:
    rows = check_rows.checked_rows(".".join(asset.path))
    return sql_check(
        asset, f"unique_{'_'.join(columns)}",
        f"({severity}) No two rows of {'.'.join(asset.path)} share ({', '.join(columns)}); checked in DuckDB.",
        duplicate_keys_sql(quoted(asset), columns),
        blocking=severity == "blocking", reads=None if rows else tuple(columns),
        scoped_query=(lambda scope: check_rows.unique_scope_sql(quoted(asset), columns, rows, scope)) if rows else None,
    )


def table_checks(asset: dg.AssetKey, checks: list[Check]) -> dg.AssetChecksDefinition:
    """Every check of one table in one step, on one connection: a step costs a connection and
    Dagster's bookkeeping, and a table has up to five checks. A core table's queue of the keys
    written since its checks last ran is emptied once they all have (pipelines/check_rows.py)."""
    remembering = [c.reads for c in checks if c.reads is not None]
    # one hash of the columns they read between them (every column if one reads them all)
    columns = [] if () in remembering else sorted({c for reads in remembering for c in reads})
    rows = check_rows.checked_rows(".".join(asset.path))

    @dg.multi_asset_check(specs=[c.spec for c in checks], name=f"{'_'.join(asset.path)}_checks",
                          description=f"Quality checks of {'.'.join(asset.path)}")
    def _checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect() as con:
            scope = check_rows.changed_scope(con, rows, warehouse.full_rebuild) if rows else None
            table_hash = check_memory.table_hash(con, quoted(asset), columns) if remembering else None
            for check in checks:
                yield check.run(context, con, warehouse, table_hash, scope)
            if rows:
                con.execute(check_rows.checked_sql(rows))

    return _checks


@cache
def load_suites(path=SCHEMAS_DIR / "quality_suites.yaml") -> dict[str, dict]:
    doc = read_yaml(path) or {}
    tables = doc.get("tables") or {}
    for table, suite in tables.items():
        where = f"{path}: tables.{table}"
        if len(table.split(".")) != 2:
            raise ProfileError(f"{where}: name tables as schema.table")
        for i, spec in enumerate(suite.get("expectations") or []):
            if not _EXPECTATION_NAME.match(str(spec.get("type", ""))):
                raise ProfileError(f"{where}.expectations[{i}].type: a GX expectation name such as expect_column_values_to_not_be_null")
            if spec.get("severity") not in SEVERITIES:
                raise ProfileError(f"{where}.expectations[{i}].severity: one of {', '.join(SEVERITIES)}")
        for i, spec in enumerate(suite.get("unique") or []):
            if spec.get("severity") not in SEVERITIES or not spec.get("columns"):
                raise ProfileError(f"{where}.unique[{i}]: needs columns and a severity ({', '.join(SEVERITIES)})")
    return tables


def suite_checks(known_assets: set[dg.AssetKey]) -> list[Check]:
    checks = []
    for table, suite in load_suites().items():
        asset = dg.AssetKey(table.split("."))
        if asset not in known_assets:
            raise ProfileError(f"schemas/quality_suites.yaml: tables.{table} is not a table the pipeline builds")
        for severity in SEVERITIES:
            specs = [s for s in suite.get("expectations") or [] if s["severity"] == severity]
            if specs:
                checks.append(gx_check(asset, severity, specs))
        checks += [unique_check(asset, s["columns"], s["severity"]) for s in suite.get("unique") or []]
    return checks


def customers_in_360_sql(scope: str | None = None) -> str:
    """The customer keys not held exactly once by each of core.customers and marts.customer_360;
    with `scope`, among its keys only: the 360's keys written since the check last passed, which
    hold every customer core.customers wrote since (the 360 builds those again). 0.026 s against
    0.075 s in a 1M-order night."""
    within = "" if scope is None else f" WHERE customer_key IN (SELECT customer_key FROM {scope})"
    return f"""SELECT customer_key, sum(in_customers) AS in_customers, sum(in_360) AS in_customer_360
               FROM (SELECT customer_key, 1 AS in_customers, 0 AS in_360 FROM core.customers{within}
                     UNION ALL SELECT customer_key, 0, 1 FROM marts.customer_360{within})
               GROUP BY customer_key HAVING sum(in_customers) <> 1 OR sum(in_360) <> 1"""


def conservation_query(entity: str) -> str:
    """Files where rows landed differ from rows staged plus rows rejected."""
    return f"""
        WITH landed AS (SELECT source_file, count(*) AS n FROM raw.{entity} GROUP BY ALL),
             -- a staged record may stand for several landed rows (line items collapsed into one order)
             staged AS (SELECT source_file, sum(source_rows) AS n FROM staging.{entity}_history GROUP BY ALL),
             rejected AS (SELECT source_file, count(DISTINCT source_row) AS n FROM quality.rejected_rows
                          WHERE entity = '{entity}' GROUP BY ALL)
        SELECT l.source_file, l.n AS landed, coalesce(s.n, 0) AS staged, coalesce(r.n, 0) AS rejected
        FROM landed l LEFT JOIN staged s USING (source_file) LEFT JOIN rejected r USING (source_file)
        WHERE l.n <> coalesce(s.n, 0) + coalesce(r.n, 0)"""


def invariant_checks() -> list[Check]:
    conservation = [
        sql_check(asset.key, ROWS_CONSERVED,
                  "For every file: rows landed = rows staged (every version, staging.<entity>_history) + rows rejected. "
                  "Nothing is silently dropped.",
                  conservation_query(asset.key.path[-1]))
        for asset in staging_assets
    ]
    return [
        *conservation,
        sql_check(
            CUSTOMER_360, CUSTOMER_360_COMPLETE, "Exactly one row per customer of core.customers.",
            customers_in_360_sql(), scoped_query=customers_in_360_sql,
        ),
        sql_check(
            ORDER_TO_DELIVERY, ORDERS_RECONCILE,
            "The mart's overall order count, fulfilled count and cost equal core.orders': no order lost or counted twice.",
            """WITH mart AS (SELECT orders, orders_fulfilled, fulfilment_cost_total FROM marts.order_to_delivery_monthly
                             WHERE period = 'all' AND dimension = 'all'),
                    core AS (SELECT count(*) AS orders, count(*) FILTER (WHERE is_fulfilled) AS orders_fulfilled,
                                    coalesce(sum(fulfilment_cost) FILTER (WHERE is_fulfilled), 0) AS fulfilment_cost_total
                             FROM core.orders WHERE status <> 'cancelled' AND ordered_at IS NOT NULL)
               SELECT c.orders AS core_orders, m.orders AS mart_orders,
                      c.orders_fulfilled AS core_fulfilled, m.orders_fulfilled AS mart_fulfilled,
                      c.fulfilment_cost_total AS core_cost, m.fulfilment_cost_total AS mart_cost
               FROM core c LEFT JOIN mart m ON true
               WHERE coalesce(m.orders, 0) <> c.orders OR coalesce(m.orders_fulfilled, 0) <> c.orders_fulfilled
                  OR coalesce(m.fulfilment_cost_total, 0) <> c.fulfilment_cost_total""",
        ),
    ]


def build_checks(known_assets: set[dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    """One multi-asset check (one step) per table, holding all of the table's checks."""
    per_table: dict[dg.AssetKey, list[Check]] = {}
    for check in [*suite_checks(known_assets), *invariant_checks()]:
        per_table.setdefault(check.spec.asset_key, []).append(check)
    return [table_checks(asset, checks) for asset, checks in per_table.items()]
