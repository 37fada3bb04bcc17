"""Tests for pipelines.gx_bridge (GX 1.x expectations on DuckDB tables via pandas)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import great_expectations.expectations as gxe  # noqa: E402

from pipelines import gx_bridge  # noqa: E402
from pipelines.gx_bridge import (  # noqa: E402
    ExpectationOutcome,
    SuiteOutcome,
    outcome_metadata,
    quote_table,
    validate_table,
)

CUSTOMERS_SQL = """
CREATE TABLE customers AS SELECT * FROM (VALUES
    (1, 'a@x.io', 0.10, DATE '2024-01-01', DATE '2024-02-01', 'n/a'),
    (2, NULL,     0.20, DATE '2024-01-01', DATE '2024-03-01', 'n/a'),
    (3, 'c@x.io', 1.50, DATE '2024-01-01', DATE '2024-04-01', 'n/a'),
    (3, 'd@x.io', 0.30, DATE '2024-01-01', DATE '2024-05-01', 'n/a'),
    (5, 'e@x.io', 0.00, DATE '2024-06-01', DATE '2024-05-15', 'n/a'),
    (6, 'f@x.io', 1.00, DATE '2024-01-01', DATE '2024-07-01', 'n/a')
) v(customer_key, email, rate, start_date, end_date, unused)
"""


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute(CUSTOMERS_SQL)
    yield c
    c.close()


def customer_expectations():
    return [
        gxe.ExpectColumnValuesToBeUnique(column="customer_key"),
        gxe.ExpectColumnValuesToNotBeNull(column="email"),
        gxe.ExpectColumnValuesToBeBetween(column="rate", min_value=0, max_value=1),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end_date", column_B="start_date"),
        gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value=10),
        gxe.ExpectColumnValuesToMatchRegex(column="email", regex=r"^[a-z]@x\.io$"),
        gxe.ExpectColumnMaxToBeBetween(column="rate", max_value=1),
    ]


class RecordingConnection:
    """Pass-through DuckDB connection that records the SQL sent to it."""

    def __init__(self, con):
        self._con = con
        self.queries: list[str] = []

    def execute(self, sql, *args, **kwargs):
        self.queries.append(sql)
        return self._con.execute(sql, *args, **kwargs)

    def sql(self, query):
        self.queries.append(query)
        return self._con.sql(query)


# --------------------------------------------------------------------------- core behaviour


def test_known_bad_values_exact_outcomes(con):
    out = validate_table(con, "customers", "customers_suite", customer_expectations())

    assert isinstance(out, SuiteOutcome)
    assert (out.table, out.suite, out.success, out.rows_checked) == (
        "customers",
        "customers_suite",
        False,
        6,
    )
    assert out.outcomes == [
        ExpectationOutcome("expect_column_values_to_be_unique(customer_key)", False, 2, [3, 3], None),
        ExpectationOutcome("expect_column_values_to_not_be_null(email)", False, 1, [None], None),
        ExpectationOutcome("expect_column_values_to_be_between(rate)", False, 1, [1.5], None),
        ExpectationOutcome(
            "expect_column_pair_values_a_to_be_greater_than_b(end_date, start_date)",
            False,
            1,
            [["2024-05-15T00:00:00", "2024-06-01T00:00:00"]],
            None,
        ),
        ExpectationOutcome("expect_table_row_count_to_be_between()", True, None, [], 6),
        ExpectationOutcome("expect_column_values_to_match_regex(email)", True, 0, [], None),
        ExpectationOutcome("expect_column_max_to_be_between(rate)", False, None, [], 1.5),
    ]
    # plain Python types, not numpy scalars
    assert type(out.outcomes[0].unexpected_sample[0]) is int
    assert type(out.outcomes[6].observed) is float


def test_all_passing_suite(con):
    out = validate_table(
        con,
        "customers",
        "ok",
        [
            gxe.ExpectColumnValuesToNotBeNull(column="customer_key"),
            gxe.ExpectColumnValuesToBeInSet(column="unused", value_set=["n/a"]),
            gxe.ExpectColumnValuesToBeBetween(column="rate", min_value=0, max_value=2),
        ],
    )
    assert out.success is True
    assert [o.success for o in out.outcomes] == [True, True, True]
    assert [o.unexpected_count for o in out.outcomes] == [0, 0, 0]


def test_outcome_metadata_is_json_and_lists_failures(con):
    out = validate_table(con, "customers", "customers_suite", customer_expectations())
    meta = outcome_metadata(out)
    json.dumps(meta, allow_nan=False)  # strict JSON: no NaN, no numpy types
    assert meta["success"] is False
    assert (meta["expectations"], meta["passed"], meta["failed"]) == (7, 2, 5)
    assert meta["rows_checked"] == 6
    failures = {f["expectation"]: f for f in meta["failures"]}
    assert failures["expect_column_values_to_be_unique(customer_key)"] == {
        "expectation": "expect_column_values_to_be_unique(customer_key)",
        "unexpected_count": 2,
        "unexpected_sample": [3, 3],
    }
    assert failures["expect_column_values_to_not_be_null(email)"]["unexpected_sample"] == [None]
    assert failures["expect_column_max_to_be_between(rate)"]["observed"] == 1.5
    assert failures["expect_column_max_to_be_between(rate)"]["unexpected_count"] is None


def test_reads_only_needed_columns(con):
    rec = RecordingConnection(con)
    validate_table(rec, "customers", "s", customer_expectations()[:3])
    data_sql = [s for s in rec.queries if "count(*)" not in s and "LIMIT 0" not in s]
    assert data_sql == ['SELECT "customer_key", "email", "rate" FROM "customers"']


def test_columns_argument_and_schema_expectations(con):
    rec = RecordingConnection(con)
    out = validate_table(
        rec,
        "customers",
        "s",
        [gxe.ExpectTableColumnsToMatchSet(column_set=["customer_key", "email"])],
        columns=["customer_key", "email"],
    )
    assert out.success is True
    assert 'SELECT "customer_key", "email" FROM "customers"' in rec.queries

    # without `columns`, a column-set expectation sees every column of the table
    out = validate_table(
        con, "customers", "s", [gxe.ExpectTableColumnsToMatchSet(column_set=["customer_key", "email"])]
    )
    assert out.success is False
    assert out.outcomes[0].observed == ["customer_key", "email", "end_date", "rate", "start_date", "unused"]


def test_row_count_only_reads_no_real_column(con):
    rec = RecordingConnection(con)
    out = validate_table(rec, "customers", "s", [gxe.ExpectTableRowCountToEqual(value=6)])
    assert out.success is True and out.outcomes[0].observed == 6
    assert 'SELECT NULL AS "__gx_bridge_row__" FROM "customers"' in rec.queries


def test_unknown_column_raises(con):
    with pytest.raises(ValueError, match="nope"):
        validate_table(con, "customers", "s", [gxe.ExpectColumnValuesToNotBeNull(column="nope")])
    with pytest.raises(ValueError, match="not in `columns`"):
        validate_table(
            con, "customers", "s", [gxe.ExpectColumnValuesToNotBeNull(column="email")], columns=["rate"]
        )
    with pytest.raises(ValueError, match="at least one expectation"):
        validate_table(con, "customers", "s", [])


def test_gx_evaluation_error_is_reported(con):
    out = validate_table(
        con, "customers", "s", [gxe.ExpectColumnValuesToBeBetween(column="email", min_value=0, max_value=1)]
    )
    (o,) = out.outcomes
    assert o.success is False and out.success is False
    assert o.error and "same type" in o.error
    assert outcome_metadata(out)["failures"][0]["error"] == o.error


def test_empty_table(con):
    con.execute("CREATE TABLE empty AS SELECT * FROM customers WHERE false")
    out = validate_table(con, "empty", "s", customer_expectations()[:4])
    assert out.success is True and out.rows_checked == 0
    assert [o.unexpected_count for o in out.outcomes] == [0, 0, 0, 0]


def test_repeated_calls_reuse_expectations_without_mutating_them(con):
    exps = customer_expectations()
    first = validate_table(con, "customers", "s", exps)
    for _ in range(3):
        assert validate_table(con, "customers", "s", exps) == first
    assert all(e.id is None for e in exps)
    assert all(not e.meta for e in exps)
    # one shared data source, not one per call
    context = gx_bridge._gx_state["context"]
    assert len(context.data_sources.all()) == 1


def test_duplicate_expectations_each_get_an_outcome(con):
    e = gxe.ExpectColumnValuesToNotBeNull(column="email")
    out = validate_table(con, "customers", "s", [e, e])
    assert [o.unexpected_count for o in out.outcomes] == [1, 1]


# --------------------------------------------------------------------------- quoting


def test_quote_table():
    assert quote_table("t") == '"t"'
    assert quote_table("main.t") == '"main"."t"'
    assert quote_table('my schema.odd "name"') == '"my schema"."odd ""name"""'
    assert quote_table(("main", "dotted.name")) == '"main"."dotted.name"'
    for bad in ("", "a..b", "a.b.c.d", ()):
        with pytest.raises(ValueError):
            quote_table(bad)


def test_table_and_column_names_with_spaces_and_quotes():
    c = duckdb.connect()
    c.execute('CREATE SCHEMA "my schema"')
    c.execute(
        'CREATE TABLE "my schema"."odd ""name"" tbl" AS '
        'SELECT * FROM (VALUES (1, \'x\'), (2, NULL)) v("the key", "it\'s ""quoted""")'
    )
    exps = [
        gxe.ExpectColumnValuesToNotBeNull(column='it\'s "quoted"'),
        gxe.ExpectColumnValuesToBeUnique(column="the key"),
    ]
    out = validate_table(c, 'my schema.odd "name" tbl', "s", exps)
    assert out.table == 'my schema.odd "name" tbl'
    assert [(o.success, o.unexpected_count, o.unexpected_sample) for o in out.outcomes] == [
        (False, 1, [None]),
        (True, 0, []),
    ]

    c.execute('CREATE TABLE main."dotted.name" AS SELECT 1 AS k')
    out = validate_table(c, ("main", "dotted.name"), "s", [gxe.ExpectColumnValuesToNotBeNull(column="k")])
    assert out.success and out.table == "main.dotted.name"


def test_hostile_table_name_is_not_executed(con):
    with pytest.raises(duckdb.CatalogException):
        validate_table(
            con, "customers; DROP TABLE customers", "s", [gxe.ExpectTableRowCountToEqual(value=6)]
        )
    assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 6


# --------------------------------------------------------------------------- chunking


@pytest.fixture
def big():
    """5,000 rows with bad values spread across the table."""
    c = duckdb.connect()
    c.execute(
        """
        CREATE TABLE facts AS
        SELECT
            i AS id,
            CASE WHEN i % 997 = 0 THEN NULL ELSE 'v' || i END AS label,
            CASE WHEN i % 613 = 5 THEN 1.5 ELSE (i % 100) / 100.0 END AS rate,
            DATE '2024-01-01' + (i % 300)::INT AS start_date,
            CASE WHEN i % 1201 = 7 THEN DATE '2023-01-01'
                 ELSE DATE '2024-01-01' + (i % 300)::INT + 1 END AS end_date,
            CASE WHEN i < 400 THEN -1 ELSE i END AS mostly_ok
        FROM range(5000) r(i)
        ORDER BY i
        """
    )
    yield c
    c.close()


def row_wise_expectations():
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="label"),
        gxe.ExpectColumnValuesToBeBetween(column="rate", min_value=0, max_value=1),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end_date", column_B="start_date"),
        gxe.ExpectColumnValuesToMatchRegex(column="label", regex=r"^v\d+$"),
        gxe.ExpectColumnToExist(column="id"),
    ]


@pytest.mark.parametrize("batch_rows", [700, 2048, 2500, 4999])
def test_chunked_matches_single_batch(big, batch_rows):
    exps = row_wise_expectations()
    single = validate_table(big, "facts", "s", exps)
    chunked = validate_table(big, "facts", "s", exps, batch_rows=batch_rows)

    assert single.rows_checked == chunked.rows_checked == 5000
    # known bad values: nulls at i%997==0 (6), rate 1.5 at i%613==5 (9), end<start at i%1201==7 (5)
    assert [o.unexpected_count for o in single.outcomes] == [6, 9, 5, 0, None]
    assert [o.unexpected_count for o in chunked.outcomes] == [6, 9, 5, 0, None]
    assert [o.success for o in chunked.outcomes] == [o.success for o in single.outcomes]
    assert [o.success for o in single.outcomes] == [False, False, False, True, True]
    assert [o.unexpected_sample for o in chunked.outcomes] == [o.unexpected_sample for o in single.outcomes]
    assert single.outcomes[1].unexpected_sample == [1.5] * 5
    assert chunked == single
    assert chunked.outcomes[4].expectation == "expect_column_to_exist(id)"


def test_chunked_mostly_is_recomputed_over_all_rows(big):
    # 400 of 5000 rows (8%) are bad, all of them in the first chunk of 1000 (40% there).
    exp = [gxe.ExpectColumnValuesToBeBetween(column="mostly_ok", min_value=0, mostly=0.9)]
    single = validate_table(big, "facts", "s", exp)
    chunked = validate_table(big, "facts", "s", exp, batch_rows=1000)
    assert single.outcomes[0].success is True
    assert chunked.outcomes[0].success is True
    assert chunked.outcomes[0].unexpected_count == single.outcomes[0].unexpected_count == 400

    strict = [gxe.ExpectColumnValuesToBeBetween(column="mostly_ok", min_value=0, mostly=0.95)]
    assert validate_table(big, "facts", "s", strict).success is False
    assert validate_table(big, "facts", "s", strict, batch_rows=1000).success is False


@pytest.mark.parametrize(
    "exp",
    [
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["id", "label"]),
        gxe.ExpectTableRowCountToEqual(value=5000),
        gxe.ExpectColumnMeanToBeBetween(column="rate", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeIncreasing(column="id"),
    ],
)
def test_chunked_rejects_whole_table_expectations(big, exp):
    with pytest.raises(ValueError, match="need the whole table"):
        validate_table(big, "facts", "s", [gxe.ExpectColumnValuesToNotBeNull(column="id"), exp], batch_rows=1000)
    # the same expectation is fine when the table fits in one batch
    assert validate_table(big, "facts", "s", [exp]).rows_checked == 5000


def test_iter_frames_exact_sizes(big):
    sizes = [len(f) for f in gx_bridge._iter_frames(big, 'SELECT "id" FROM "facts"', 700)]
    assert sizes == [700] * 7 + [100]
    ids = [int(x) for f in gx_bridge._iter_frames(big, 'SELECT "id" FROM "facts"', 3000) for x in f["id"]]
    assert ids == list(range(5000))


# --------------------------------------------------------------------------- side effects


def test_no_network_and_no_files_written(tmp_path):
    """Fresh interpreter: importing GX, creating the context and validating (single batch and
    chunked) opens no socket and writes/creates no file or directory anywhere."""
    script = textwrap.dedent(
        f"""
        import os, sys
        events = []
        WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT
        def hook(event, args):
            # outbound traffic only: urllib3 (imported by GX) binds a throwaway socket to
            # ::1 at import time to probe IPv6 support, which sends nothing.
            if event in ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
                         "socket.gethostbyname", "urllib.Request", "os.mkdir", "os.rename",
                         "os.remove", "shutil.rmtree"):
                events.append((event, repr(args[:2])))
            elif event == "open":
                path, mode, flags = args
                if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                    isinstance(flags, int) and flags & WRITE
                ):
                    events.append((event, repr(path)))
        sys.addaudithook(hook)
        sys.path.insert(0, {str(ROOT)!r})
        import duckdb
        import great_expectations.expectations as gxe
        from pipelines.gx_bridge import validate_table
        con = duckdb.connect()
        con.execute("CREATE TABLE t AS SELECT i AS k FROM range(100) r(i)")
        for _ in range(2):
            a = validate_table(con, "t", "s", [gxe.ExpectColumnValuesToBeUnique(column="k")])
            b = validate_table(con, "t", "s", [gxe.ExpectColumnValuesToNotBeNull(column="k")], batch_rows=30)
        assert a.success and b.success and b.rows_checked == 100
        print("EVENTS", events)
        """
    )
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("GX_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "EVENTS []" in proc.stdout, proc.stdout
    assert list(tmp_path.iterdir()) == []
    assert "Calculating Metrics" not in proc.stderr  # progress bars are off


def test_concurrent_calls_from_threads(big):
    from concurrent.futures import ThreadPoolExecutor

    exps = row_wise_expectations()
    expected = validate_table(big, "facts", "s", exps)

    def run(i):
        cur = big.cursor()  # one DuckDB connection per thread, same database
        try:
            return validate_table(cur, "facts", "s", exps, batch_rows=1000 if i % 2 else 10_000)
        finally:
            cur.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, range(8)))
    assert all(r == expected for r in results)


def test_frames_carry_the_dtypes_duckdb_df_gives():
    """Expectations see the same dtypes whether a frame comes from .df() or the Arrow batches."""
    from pipelines.gx_bridge import _iter_frames

    db = duckdb.connect()
    db.execute("""CREATE TABLE t AS SELECT i, CASE WHEN i % 3 = 0 THEN NULL ELSE i END AS n, i % 2 = 0 AS b,
                  CASE WHEN i % 5 = 0 THEN NULL ELSE i % 2 = 0 END AS bn, (i / 7)::DECIMAL(18, 2) AS d,
                  DATE '2024-01-01' + i::INT AS day, TIMESTAMPTZ '2024-01-01 10:00:00+00' AS at,
                  CASE WHEN i = 2 THEN NULL ELSE 'x' || i END AS s FROM range(10) r(i)""")
    expected = db.execute("SELECT * FROM t").df()
    frames = list(_iter_frames(db, "SELECT * FROM t", 4))
    assert [len(f) for f in frames] == [4, 4, 2]
    got = pd.concat(frames, ignore_index=True)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(got, expected)
    assert [len(f) for f in _iter_frames(db, "SELECT * FROM t WHERE false", 4)] == [0]


def test_great_expectations_leaves_scipy_stats_and_altair_to_the_expectation_that_uses_them():
    """GX's import leaves the two modules only its KL divergence expectation needs standing in
    (pipelines/gx_import.py); that expectation still validates, and loads them. A fresh process:
    this one imported GX whole."""
    code = textwrap.dedent("""
        import sys, duckdb
        from pipelines.gx_import import import_great_expectations
        gx = import_great_expectations()
        print(type(sys.modules["scipy.stats"]).__name__, type(sys.modules["altair"]).__name__)
        from pipelines.gx_bridge import validate_table
        con = duckdb.connect()
        con.execute("CREATE TABLE t AS SELECT (i % 4)::VARCHAR AS c FROM range(400) r(i)")
        for weights in ([0.25] * 4, [0.7, 0.1, 0.1, 0.1]):
            kl = gx.expectations.ExpectColumnKLDivergenceToBeLessThan(
                column="c", partition_object={"values": ["0", "1", "2", "3"], "weights": weights}, threshold=0.1)
            print(validate_table(con, "t", "s", [kl]).success)
        print(type(sys.modules["scipy.stats"]).__name__, sys.modules["scipy.stats"].entropy([0.5, 0.5], base=2))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:4] == ["DeferredModule DeferredModule", "True", "False", "module 1.0"]
