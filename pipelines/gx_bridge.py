"""Run Great Expectations 1.x expectations against a DuckDB table.

Why this module exists
----------------------
* ``dagster-ge`` pins GX < 1.0 and builds ops, so it does not fit this project.
* GX 1.x's SQL engine fails on DuckDB through duckdb-engine (MetricResolutionError
  "list index out of range"; GX issues 10738 and 11579).
* GX 1.x on pandas batches works. So we read the table (only the columns the
  expectations need) out of DuckDB into pandas and validate the dataframe.

Public API
----------
``validate_table(con, table, suite_name, expectations, columns=None, *, batch_rows=1_000_000,
sample_size=5) -> SuiteOutcome`` and ``outcome_metadata(outcome) -> dict`` (JSON-serialisable,
for Dagster ``MaterializeResult(metadata=...)`` / ``AssetCheckResult(metadata=...)``).

How GX is driven (GX 1.24.1)
----------------------------
One module-level ephemeral context (``gx.get_context(mode="ephemeral", project_config=...)``),
created lazily on first use, holding one pandas data source / dataframe asset /
whole-dataframe batch definition that every call reuses: the dataframe is passed per call
via ``batch_definition.get_batch(batch_parameters={"dataframe": df})`` and validated with
``batch.validate(ExpectationSuite, result_format=...)``. Nothing is registered per call
(no suite or ValidationDefinition is added to the context), so repeated calls do not grow
the context, and after each validation the execution engine's batch caches are cleared so
GX does not keep the last dataframe alive. A lock serialises validations because the shared
execution engine keeps an "active batch".

The context is in-memory only: no GX project folder is created, no data-docs temp
directory is created (``init_temp_docs_sites=False``), progress bars are off, and no network
call is made (GX 1.24.1 no longer ships its analytics client; ``GX_ANALYTICS_ENABLED`` is
still set to ``False`` as a harmless safeguard, ``setdefault`` so an explicit setting wins).

Chunking (tables with more than ``batch_rows`` rows)
----------------------------------------------------
To keep memory bounded, a table with more than ``batch_rows`` rows is streamed out of DuckDB
(Arrow record batches re-sliced to exactly ``batch_rows`` rows) and each chunk is validated on
its own. Outcomes are combined: unexpected counts are summed, samples are concatenated up to
``sample_size``, and an expectation succeeds only if every chunk succeeds (when ``mostly``
< 1 the ratio is recomputed over the summed counts with GX's own formula instead).

That is only correct for row-wise expectations. Expectations that need the whole table at
once -- uniqueness (``ExpectColumnValuesToBeUnique``, ``ExpectCompoundColumnsToBeUnique``,
``ExpectMulticolumnValuesToBeUnique``), ordering across rows (``...ToBeIncreasing`` /
``...ToBeDecreasing``), whole-column statistics (z-scores, outliers) and all aggregate /
table-level expectations (row count, mean, min/max, distinct values, ...) -- raise a
``ValueError`` when the table is larger than ``batch_rows``. Check those with DuckDB queries
instead, e.g. ``SELECT key, count(*) FROM t GROUP BY key HAVING count(*) > 1``. Schema-level
expectations (column exists / column set / column count / column type) are chunk-invariant
and allowed; their observed value is taken from the first chunk.

Pandas dtypes
-------------
Values are checked as the pandas dtypes DuckDB's ``.df()`` produces (duckdb 2.0.1 + pandas
3.1.1): an INTEGER column is ``int64`` without NULLs but ``Int64`` (nullable, ``pd.NA``) with
NULLs, VARCHAR is pandas ``str``, DECIMAL becomes ``float64``, DATE becomes
``datetime64[us]``. Type expectations therefore see data-dependent dtypes; prefer checking
declared types with DuckDB ``DESCRIBE``.

Measured cost (2-vCPU dev box shared with other jobs; GX 1.24.1, pandas 3.1.1, duckdb 2.0.1,
Python 3.11; 5 fresh processes, 30-50 warm calls each)
-----------------------------------------------------------------------------------------
* ``import great_expectations``: 2.8-4.7 s, once per process. This module imports GX lazily,
  so importing ``pipelines.gx_bridge`` costs only duckdb + pandas (~0.4-0.6 s); callers that
  build expectations import GX themselves anyway.
* First ``validate_table`` call after the import (context + data source creation, which is
  ~5 ms, plus the first validation): 0.06-0.16 s.
* Warm ``validate_table`` call, 5 expectations (unique, not-null, between, in-set, column
  pair A > B) on a 2,000-row, 5-column table, DuckDB read included: median 39-46 ms in
  three processes, 72-74 ms in two taken while the box was busier; fastest call ~33 ms.
  GX's metric resolution dominates; the DuckDB read into pandas is ~2 ms.
* Chunking, 5,000,000 rows x 3 columns, 3 row-wise expectations: 3.0 s with
  ``batch_rows=1_000_000`` (5 chunks) vs 2.2 s as one batch; peak RSS grew by ~255 MB vs
  ~375 MB. GX makes working copies per batch, so budget a few times the chunk's pandas size.
* ``core.customer_identity_map`` at 1M orders (3.48M rows, 3 columns, 3 expectations): 3.6 s
  with ``fetch_df_chunk`` and GX's batch fingerprint; 0.4 s reading Arrow batches with the
  fingerprint off (``HASH_THRESHOLD``, see ``_gx_batch_definition``).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.gx_import import import_great_expectations

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

if TYPE_CHECKING:  # pragma: no cover - typing only
    import great_expectations as gx

__all__ = [
    "ExpectationOutcome",
    "SuiteOutcome",
    "validate_table",
    "outcome_metadata",
    "quote_table",
]

DEFAULT_BATCH_ROWS = 1_000_000
_META_KEY = "_gx_bridge_index"

# Expectation class names (GX 1.x) grouped by how they behave under chunking / projection.
# Map (row-wise) expectations that nevertheless need every row of the table at once.
# (ExpectSelectColumnValuesToBeUniqueWithinRecord compares values within one row, so it is
# chunk-safe and deliberately not listed.)
_WHOLE_TABLE_MAP = frozenset(
    {
        "ExpectColumnValuesToBeUnique",
        "ExpectCompoundColumnsToBeUnique",
        "ExpectMulticolumnValuesToBeUnique",
        "ExpectColumnValuesToBeIncreasing",
        "ExpectColumnValuesToBeDecreasing",
        "ExpectColumnValueZScoresToBeLessThan",
        "ExpectColumnValuesToNotBeOutliers",
    }
)

# Expectations about the table's set of columns: they need every column of the table read.
_NEEDS_ALL_COLUMNS = frozenset(
    {
        "ExpectColumnToExist",
        "ExpectTableColumnsToMatchSet",
        "ExpectTableColumnsToMatchOrderedList",
        "ExpectTableColumnCountToEqual",
        "ExpectTableColumnCountToBeBetween",
    }
)
# Table-level expectations whose result is the same for every chunk.
_CHUNK_INVARIANT = _NEEDS_ALL_COLUMNS | frozenset({"ExpectColumnTypeToBe"})


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ExpectationOutcome:
    """Plain result of one expectation.

    ``expectation`` is a label such as ``"expect_column_values_to_be_unique(customer_key)"``.
    ``unexpected_count`` is None for expectations that are not row-wise (aggregates, schema).
    ``unexpected_sample`` holds up to ``sample_size`` offending values (JSON-serialisable;
    column-pair expectations give ``[a, b]`` pairs, NULLs become ``None``).
    ``observed`` is GX's ``observed_value`` where it gives one (aggregates, row counts, ...).
    ``error`` is set when GX raised while evaluating the expectation (``success`` is then
    False); it distinguishes a broken check from bad data.
    """

    expectation: str
    success: bool
    unexpected_count: int | None
    unexpected_sample: list
    observed: object | None
    error: str | None = None


@dataclass(frozen=True)
class SuiteOutcome:
    table: str
    suite: str
    success: bool
    rows_checked: int
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    # GX's own validation results, one per chunk, for rendering Data Docs pages.
    gx_results: list = field(default_factory=list, compare=False, repr=False)
    # with key_columns: the rows some expectation found unexpected, by key, with a bit per
    # expectation in `failed` (bit i: the i-th expectation); and the columns each expectation reads
    failing: Any = field(default=None, compare=False, repr=False)
    sample_columns: list = field(default_factory=list, compare=False, repr=False)


# --------------------------------------------------------------------------- quoting


def _quote_ident(name: str) -> str:
    if not isinstance(name, str) or name == "":
        raise ValueError(f"invalid identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def quote_table(table: str | Sequence[str]) -> str:
    """Quote a table reference for DuckDB.

    A string is split on ``.`` into ``[catalog.][schema.]table`` parts, each quoted with
    double quotes (embedded quotes doubled). For a name that itself contains a dot, pass
    the parts as a tuple, e.g. ``("main", "odd.name")``.
    """
    parts = table.split(".") if isinstance(table, str) else list(table)
    if not 1 <= len(parts) <= 3 or any(not isinstance(p, str) or p == "" for p in parts):
        raise ValueError(f"invalid table reference: {table!r}")
    return ".".join(_quote_ident(p) for p in parts)


# --------------------------------------------------------------------------- GX context

_lock = threading.RLock()
_gx_state: dict[str, Any] = {}


def _gx_batch_definition():
    """Module-level ephemeral context + one reusable whole-dataframe batch definition."""
    with _lock:
        if not _gx_state:
            gx = import_great_expectations()
            from great_expectations.execution_engine import pandas_execution_engine

            # GX fingerprints every batch under this many bytes (an md5 over hash_pandas_object),
            # a batch marker nothing here reads; it was a third of a large table's validation.
            pandas_execution_engine.HASH_THRESHOLD = 0
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                InMemoryStoreBackendDefaults,
                ProgressBarsConfig,
            )

            config = DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
                analytics_enabled=False,
            )
            context = gx.get_context(mode="ephemeral", project_config=config)
            datasource = context.data_sources.add_pandas(f"gx_bridge_{uuid.uuid4().hex[:8]}")
            asset = datasource.add_dataframe_asset("dataframe")
            _gx_state.update(
                context=context,
                datasource=datasource,
                batch_definition=asset.add_batch_definition_whole_dataframe("whole"),
            )
        return _gx_state["datasource"], _gx_state["batch_definition"]


# --------------------------------------------------------------------------- helpers


def _is_kind(exp: Any, names: frozenset[str]) -> bool:
    """True if the expectation's class (or a base class, for custom subclasses) is listed."""
    return any(cls.__name__ in names for cls in type(exp).__mro__)


def _expectation_columns(exp: Any) -> list[str]:
    """Data columns an expectation reads (none for the "all columns" schema checks)."""
    return [] if _is_kind(exp, _NEEDS_ALL_COLUMNS) else _domain_columns(exp)


def _domain_columns(exp: Any) -> list[str]:
    cols: list[str] = []
    for attr in ("column", "column_A", "column_B"):
        value = getattr(exp, attr, None)
        if isinstance(value, str):
            cols.append(value)
    value = getattr(exp, "column_list", None)
    if isinstance(value, (list, tuple)):
        cols.extend(v for v in value if isinstance(v, str))
    return cols


def _label(exp: Any) -> str:
    return f"{exp.expectation_type}({', '.join(_domain_columns(exp))})"


def _is_map(exp: Any) -> bool:
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    return isinstance(exp, (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation))


def _chunk_safe(exp: Any) -> bool:
    if _is_kind(exp, _CHUNK_INVARIANT):
        return True
    return _is_map(exp) and not _is_kind(exp, _WHOLE_TABLE_MAP)


def _jsonable(value: Any) -> Any:
    """Convert GX / pandas / numpy values into plain JSON-serialisable Python values."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):  # np.float64 is a float subclass: normalise
        value = float(value)
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Series)):
        return [_jsonable(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, np.timedelta64):
        return None if np.isnat(value) else str(pd.Timedelta(value))
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _pandas(table: pa.Table) -> pd.DataFrame:
    """A frame with the dtypes DuckDB's ``.df()`` gives: DECIMAL as ``float64``, integers and
    booleans that hold NULLs as pandas' nullable ``Int64`` and ``boolean``, dates as ``datetime64``."""
    columns = {}
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        elif pa.types.is_date(column.type):
            column = column.cast(pa.timestamp("us"))
        if column.null_count and (pa.types.is_integer(column.type) or pa.types.is_boolean(column.type)):
            dtype = pd.BooleanDtype() if pa.types.is_boolean(column.type) else pd.Int64Dtype()
            columns[name] = column.to_pandas(types_mapper={column.type: dtype}.get)
        else:
            columns[name] = column.to_pandas(date_as_object=False)
    return pd.DataFrame(columns)


def _iter_frames(con: duckdb.DuckDBPyConnection, sql: str, batch_rows: int) -> Iterator[pd.DataFrame]:
    """Stream a query as dataframes of exactly ``batch_rows`` rows (the last may be shorter; an
    empty result gives one empty frame), through Arrow record batches: several times faster
    than ``fetch_df_chunk``."""
    reader = con.sql(sql).to_arrow_reader(batch_rows)
    pending = pa.Table.from_batches([], schema=reader.schema)
    yielded = False
    for batch in reader:
        pending = pa.concat_tables([pending, pa.Table.from_batches([batch])])
        while pending.num_rows >= batch_rows:
            yield _pandas(pending.slice(0, batch_rows))
            pending, yielded = pending.slice(batch_rows), True
    if pending.num_rows or not yielded:
        yield _pandas(pending)


def _exception_messages(info: Any) -> list[str]:
    """Messages from a GX ``exception_info``.

    GX 1.24 uses two shapes: ``{"raised_exception": ..., "exception_message": ...}`` for the
    expectation itself, and ``{MetricConfigurationID(...): {same keys}}`` when a metric
    failed to resolve (e.g. a numeric range check on a string column).
    """
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info:
        entries = [info]
    else:
        entries = [v for v in info.values() if isinstance(v, dict)]
    return [
        str(e.get("exception_message") or "GX raised an exception")
        for e in entries
        if e.get("raised_exception") not in (None, False, "False", "false", "")
    ]


@dataclass
class _Acc:
    """Accumulates one expectation's results across chunks."""

    label: str
    mostly: Any
    successes: list[bool] = field(default_factory=list)
    unexpected: int | None = None
    elements: int = 0
    missing: int = 0
    sample: list = field(default_factory=list)
    observed: Any = None
    have_observed: bool = False
    errors: list[str] = field(default_factory=list)

    def add(self, r: Any, sample_size: int) -> None:
        self.successes.append(bool(r.success))
        for msg in _exception_messages(r.exception_info):
            if msg not in self.errors:
                self.errors.append(msg)
        res = r.result or {}
        if res.get("unexpected_count") is not None:
            self.unexpected = (self.unexpected or 0) + int(res["unexpected_count"])
            self.elements += int(res.get("element_count") or 0)
            self.missing += int(res.get("missing_count") or 0)
        room = sample_size - len(self.sample)
        if room > 0 and res.get("partial_unexpected_list"):
            self.sample.extend(_jsonable(list(res["partial_unexpected_list"])[:room]))
        if not self.have_observed and "observed_value" in res:
            self.observed, self.have_observed = _jsonable(res["observed_value"]), True

    def outcome(self) -> ExpectationOutcome:
        success = bool(self.successes) and all(self.successes)
        mostly = self.mostly
        if (
            len(self.successes) > 1
            and not self.errors
            and self.unexpected is not None
            and isinstance(mostly, (int, float))
            and mostly < 1
        ):
            # Same formula GX uses per batch (expectation._mostly_success), over all chunks.
            considered = self.elements - self.missing
            success = considered == 0 or (considered - self.unexpected) / considered >= mostly
        return ExpectationOutcome(
            expectation=self.label,
            success=bool(success),
            unexpected_count=self.unexpected,
            unexpected_sample=self.sample,
            observed=self.observed,
            error="; ".join(self.errors) or None,
        )


# --------------------------------------------------------------------------- API


def validate_table(
    con: duckdb.DuckDBPyConnection,
    table: str | Sequence[str],
    suite_name: str,
    expectations: list[gx.expectations.Expectation],
    columns: list[str] | None = None,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    sample_size: int = 5,
    where: str | None = None,
    key_columns: list[str] | None = None,
) -> SuiteOutcome:
    """Validate a DuckDB table (or view) with GX 1.x expectations run on pandas.

    Args:
        con: DuckDB connection that can see ``table`` (temp tables included; the connection
            itself is used, not a cursor).
        table: ``"table"``, ``"schema.table"`` or ``"catalog.schema.table"``; every part is
            quoted. Pass a tuple of parts if a name contains a dot.
        suite_name: name used for the GX ExpectationSuite and reported back.
        expectations: GX 1.x Expectation instances (e.g. ``gx.expectations.
            ExpectColumnValuesToNotBeNull(column="id")``). They are copied, never mutated or
            bound to a suite, so the same list can be reused across calls.
        columns: read exactly these columns instead of the ones the expectations need.
            By default only the columns named by the expectations are read (all columns
            if a schema expectation such as ``ExpectTableColumnsToMatchSet`` is present).
        batch_rows: tables with more rows than this are validated chunk by chunk (see the
            module docstring); expectations needing the whole table then raise ValueError.
        sample_size: at most this many offending values are kept per expectation.
        where: an SQL condition on the table's rows: only those are validated.
        key_columns: the table's key; the outcome then lists the failing rows by key
            (SuiteOutcome.failing), from GX's COMPLETE result format.

    Returns:
        SuiteOutcome with one ExpectationOutcome per input expectation, in input order.

    Raises:
        ValueError: empty expectation list, bad table reference, a column that the table
            does not have, or a whole-table expectation on a table above ``batch_rows``.
        duckdb.Error: the table cannot be read.
    """
    if not expectations:
        raise ValueError("validate_table needs at least one expectation")
    if batch_rows < 1:
        raise ValueError("batch_rows must be >= 1")
    if sample_size < 0:
        raise ValueError("sample_size must be >= 0")

    gx = import_great_expectations()
    from great_expectations.expectations.expectation import Expectation

    bad = [e for e in expectations if not isinstance(e, Expectation)]
    if bad:
        raise TypeError(f"not GX 1.x Expectation instances: {bad!r}")

    qualified = quote_table(table)
    table_label = table if isinstance(table, str) else ".".join(table)

    # Columns of the table (works for views too) -> fail fast on typos.
    table_columns = con.sql(f"SELECT * FROM {qualified} LIMIT 0").columns
    needed = list(dict.fromkeys(c for e in expectations for c in _expectation_columns(e)))
    if columns is not None:
        select_cols = list(dict.fromkeys(columns))
        unknown = [c for c in select_cols if c not in table_columns]
        if unknown:
            raise ValueError(f"{table_label}: columns {unknown} not in table (has {table_columns})")
        outside = [c for c in needed if c not in select_cols]
        if outside:
            raise ValueError(f"{table_label}: expectations need columns {outside} not in `columns`")
    else:
        unknown = [c for c in needed if c not in table_columns]
        if unknown:
            raise ValueError(f"{table_label}: columns {unknown} not in table (has {table_columns})")
        if any(_is_kind(e, _NEEDS_ALL_COLUMNS) for e in expectations):
            select_cols = table_columns
        else:
            select_cols = needed
    if key_columns:
        select_cols = list(dict.fromkeys([*key_columns, *select_cols]))
    if select_cols:
        projection = ", ".join(_quote_ident(c) for c in select_cols)
    else:
        # Only table-level checks such as row count: read no real column.
        projection = 'NULL AS "__gx_bridge_row__"'
    condition = f" WHERE {where}" if where else ""
    sql = f"SELECT {projection} FROM {qualified}{condition}"

    total_rows = con.execute(f"SELECT count(*) FROM {qualified}{condition}").fetchall()[0][0]
    chunked = total_rows > batch_rows
    if chunked:
        unsafe = [_label(e) for e in expectations if not _chunk_safe(e)]
        if unsafe:
            raise ValueError(
                f"{table_label} has {total_rows} rows > batch_rows={batch_rows}, so it is "
                f"validated in chunks, but these expectations need the whole table at once: "
                f"{unsafe}. Check uniqueness/aggregates with a DuckDB query instead (e.g. "
                f"SELECT key, count(*) FROM t GROUP BY key HAVING count(*) > 1), or raise "
                f"batch_rows."
            )

    # Copies tagged with their input position, so results map back 1:1 and in order
    # (GX may reorder results within a suite).
    copies = []
    for i, exp in enumerate(expectations):
        meta = dict(exp.meta or {})
        meta[_META_KEY] = i
        copies.append(exp.copy(update={"meta": meta, "id": None}, deep=True))
    suite = gx.ExpectationSuite(name=suite_name, expectations=copies)
    if len(suite.expectations) != len(expectations):
        raise ValueError("GX rejected some expectations (see the GX log for the reason)")
    result_format = {"result_format": "COMPLETE" if key_columns else "BASIC",
                     "partial_unexpected_count": max(sample_size, 1)}
    failing = []

    accs = [_Acc(label=_label(e), mostly=getattr(e, "mostly", None)) for e in expectations]
    frames = _iter_frames(con, sql, batch_rows)
    rows_checked = 0
    gx_results = []
    datasource, batch_definition = _gx_batch_definition()
    for frame in frames:
        rows_checked += len(frame)
        with _lock:
            try:
                batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
                suite_result = batch.validate(suite, result_format=result_format)
            finally:
                manager = datasource.get_execution_engine().batch_manager
                manager.reset_batch_cache()
                manager.batch_data_cache.clear()
        gx_results.append(suite_result)
        seen = set()
        failed = np.zeros(len(frame), dtype=np.int64) if key_columns else None
        for r in suite_result.results:
            index = (r.expectation_config.meta or {}).get(_META_KEY)
            if index is None or index in seen:
                raise RuntimeError(f"cannot map GX result back to an expectation: {r.expectation_config}")
            seen.add(index)
            accs[index].add(r, sample_size)
            if failed is not None:
                # positions in the frame (its index is 0..n-1); the lists of every unexpected
                # row and value go, leaving what BASIC gives (and Data Docs shows)
                for listed in ("unexpected_list", "partial_unexpected_index_list"):
                    (r.result or {}).pop(listed, None)
                positions = (r.result or {}).pop("unexpected_index_list", None) or []
                failed[np.asarray(positions, dtype=np.int64)] |= 1 << index
        if len(seen) != len(accs):
            raise RuntimeError("GX returned fewer results than expectations")
        if failed is not None:
            failing.append(frame.loc[failed > 0, key_columns].assign(failed=failed[failed > 0]))
        del frame

    outcomes = [a.outcome() for a in accs]
    return SuiteOutcome(
        table=table_label,
        suite=suite_name,
        success=all(o.success for o in outcomes),
        rows_checked=rows_checked,
        outcomes=outcomes,
        gx_results=gx_results,
        failing=pd.concat(failing, ignore_index=True) if failing else None,
        sample_columns=[_domain_columns(e) for e in expectations],
    )


def outcome_metadata(outcome: SuiteOutcome) -> dict:
    """JSON-serialisable summary for Dagster metadata.

    ``{"table", "suite", "success", "rows_checked", "expectations", "passed", "failed",
    "failures": [{"expectation", "unexpected_count", "unexpected_sample"[, "observed"]
    [, "error"]}, ...]}``
    """
    failures = []
    for o in outcome.outcomes:
        if o.success:
            continue
        item: dict[str, Any] = {
            "expectation": o.expectation,
            "unexpected_count": o.unexpected_count,
            "unexpected_sample": _jsonable(list(o.unexpected_sample)),
        }
        if o.observed is not None:
            item["observed"] = _jsonable(o.observed)
        if o.error:
            item["error"] = o.error
        failures.append(item)
    return {
        "table": outcome.table,
        "suite": outcome.suite,
        "success": bool(outcome.success),
        "rows_checked": int(outcome.rows_checked),
        "expectations": len(outcome.outcomes),
        "passed": len(outcome.outcomes) - len(failures),
        "failed": len(failures),
        "failures": failures,
    }
