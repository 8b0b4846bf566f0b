"""Great Expectations 1.x audit of a *build* DuckDB file, run before the marts are published.

`validate_build(db_path)` opens the build file read-only, validates each audited table
against a suite defined here in code, and returns a `ValidationReport`. The nightly job
publishes the marts only when `report.passed`.

Suspect-row pre-filter: GX never sees a whole table. `raw.llm_calls` and
`marts.fct_llm_calls` get ~10M rows a night; reading them into pandas took 14 s and
well over a GiB of RAM at 1M rows and would need many GB at 10M (the nightly run must peak
under 3 GiB). So every check carries a DuckDB predicate (`_Check.suspect`) that is TRUE for
every row that *could* fail it, mirroring GX's own semantics (e.g. `col < 0` for
"between, min 0", where NULLs are ignored like GX ignores them; `col IS NULL` for "not
null"; for uniqueness, every row whose key occurs more than once, via a `GROUP BY key HAVING
count(*) > 1`). DuckDB scans the table and hands pandas only the rows
matching the OR of a suite's predicates (`_suspect_sql`), usually none; GX then really runs
every unchanged expectation on that frame. This is exact, not a sample: every row GX would
flag on the whole table is in the frame with all the rows that make it fail (all rows of a
duplicated key), and a row that is suspect for one check but fine for another is simply
passed by GX. A predicate may be broader than its expectation (the extra rows pass), never
narrower; a check without one (`suspect="TRUE"`) would get every row. The "N of M rows
unexpected" totals come from `count(*)` of the audited rows (the table, or on a patching night
the calls about to be published, see validate_build's `only`), not from the frame, and
`ValidationReport.frame_rows` records how many rows GX received per table.

Two GX pitfalls (the style guide's "Pitfalls" section) are guarded explicitly:
- GX never raises on a failed expectation: every result with `success=False` (including
  expectations that errored, e.g. on a missing column) becomes a failed `CheckResult`.
- An empty batch passes every column expectation: an empty `marts.fct_llm_calls` while
  `raw.llm_calls` has rows is a critical failure of its own.

Money is exact: every money comparison is done in DuckDB on DECIMALs, and only the exact
difference is cast to DOUBLE for GX, so a difference of 1e-14 USD stays visible.
GX is imported inside `validate_build` (it takes seconds to import; the CLI stays fast),
with analytics off, an ephemeral context (no files written) and no progress bars.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ingest.schema import TOKEN_CLASSES, sql_literal

if TYPE_CHECKING:
    from tokenpnl.publish import Moved

SAMPLE_ROWS = 5

CLASS_COSTS = (
    "cost_input_uncached_usd",
    "cost_input_cache_read_usd",
    "cost_input_cache_write_usd",
    "cost_output_visible_usd",
    "cost_output_reasoning_usd",
)
WORKFLOW_STATUSES = ["verified_success", "pending", "failed", "no_outcome"]
OUTCOME_STATUSES = ["verified_success", "pending", "failed"]
RECONCILIATION_STATUSES = ["reconciled", "awaiting_invoice", "unallocated", "over_tolerance"]


# --------------------------------------------------------------------------- results


@dataclass
class CheckResult:
    """One expectation (or guard) outcome. `sample_rows` holds up to 5 offending rows."""

    name: str
    critical: bool
    success: bool
    observed: str
    sample_rows: list[dict] = field(default_factory=list)


@dataclass
class ValidationReport:
    results: list[CheckResult]
    # rows handed to GX per audited table: its suspect rows only, not the table (module docstring)
    frame_rows: dict[str, int] = field(default_factory=dict)
    scope: str = "every row"  # of the per-call tables (see validate_build's `only`)

    @property
    def passed(self) -> bool:
        """True when every critical check succeeded (non-critical ones only inform)."""
        return all(r.success for r in self.results if r.critical)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success]

    def summary(self) -> str:
        critical = [r for r in self.results if r.critical]
        failed = self.failures
        if not failed:
            head = f"GX audit passed: all {len(critical)} critical checks succeeded ({len(self.results) - len(critical)} informational)."
        else:
            head = (
                f"GX audit FAILED: {sum(r.critical for r in failed)} of {len(critical)} critical checks failed"
                + (f" (and {sum(not r.critical for r in failed)} non-critical)" if any(not r.critical for r in failed) else "")
                + ":"
            )
        lines = [head, f"  Audited in the per-call tables: {self.scope}."]
        for r in failed:
            lines.append(f"  ✗ {r.name}{'' if r.critical else ' [non-critical]'}: {r.observed}")
            for row in r.sample_rows[:SAMPLE_ROWS]:
                lines.append("      " + ", ".join(f"{k}={_show(v)}" for k, v in row.items()))
        notes = [r for r in self.results if not r.critical and r.success]
        for r in notes:
            lines.append(f"  · {r.name}: {r.observed}")
        return "\n".join(lines)


def _show(value: Any) -> str:
    return "NULL" if value is None else str(value)


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar for sample rows (Decimal → str keeps every digit)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    try:
        if value != value:  # float NaN and NaT stand for SQL NULL
            return None
    except (TypeError, ValueError):  # pd.NA refuses comparison
        return None
    return value


# --------------------------------------------------------------------------- suites


_SUM_OF_CLASS_COSTS = "(" + " + ".join(CLASS_COSTS) + ")"
_ALL_COSTS = (*CLASS_COSTS, "list_cost_usd")
# derived: the 1-hour cache writes are a subset of all cache writes
_CACHE_WRITE_TOKENS_BEYOND_1H = "input_cache_write_tokens - input_cache_write_1h_tokens"
_COSTS_NULL_IFF_UNPRICED = (
    f"coalesce(CASE WHEN is_priced THEN {' AND '.join(f'{c} IS NOT NULL' for c in _ALL_COSTS)}"
    f" ELSE {' AND '.join(f'{c} IS NULL' for c in _ALL_COSTS)} END, FALSE)"
)


@dataclass
class _Check:
    name: str
    build: Callable[[Any], Any]  # gx module -> Expectation
    show: tuple[str, ...] = ()  # columns shown in sample rows besides the frame's id columns
    critical: bool = True
    # DuckDB predicate over the audited table's own columns: TRUE (NULL counts as FALSE) for
    # every row that could fail the expectation. Broader is harmless, narrower would hide
    # failures; "TRUE" sends GX every row.
    suspect: str = "TRUE"
    # instead, for checks across rows (uniqueness): a query of the rowids of the suspect rows
    suspect_rowids: str | None = None


@dataclass
class _FrameSuite:
    suite: str  # "raw", "marts"
    table: str  # a base table (the suspect rows are found and ordered by its rowid)
    columns: str  # SELECT list over the table's columns: the frame GX validates
    id_cols: tuple[str, ...]
    checks: list[_Check]
    scope: str = "TRUE"  # the rows audited (a predicate; see _call_scopes)


def _suspect_sql(spec: _FrameSuite) -> str:
    """The rows of `spec.table` that could fail any check of the suite, in table order (so the
    sample rows are the first offenders, as when the whole table was read). Their rowids are
    found first: the scan reads only the checked columns (and, in a scope, skips the history),
    and the frame's columns are computed for the suspects alone."""
    per_row = " OR ".join(f"({check.suspect})" for check in spec.checks if check.suspect_rowids is None)
    rowids = [f"SELECT rowid FROM {spec.table} WHERE ({spec.scope}) AND ({per_row or 'FALSE'})"]
    rowids += [check.suspect_rowids for check in spec.checks if check.suspect_rowids is not None]
    return (f"SELECT {spec.columns}\n            FROM {spec.table}\n"
            f"            WHERE rowid IN ({' UNION ALL '.join(rowids)})\n            ORDER BY rowid")


def suspect_sql(only: Moved | None = None) -> dict[str, str]:
    """Each audited table's suspect-row query, i.e. exactly the frame GX receives (for
    inspection, EXPLAIN and tests)."""
    return {spec.table: _suspect_sql(spec) for spec in _frame_suites(only)}


def _not_null(table: str, column: str, show: tuple[str, ...] = ()) -> _Check:
    return _Check(
        f"{table}: {column} is not null [expect_column_values_to_not_be_null]",
        lambda gx: gx.expectations.ExpectColumnValuesToNotBeNull(column=column),
        show,
        suspect=f"{column} IS NULL",  # (no checked column is a DOUBLE, whose NaN pandas also calls null)
    )


def _non_negative(table: str, column: str) -> _Check:
    return _Check(
        f"{table}: {column} >= 0 [expect_column_values_to_be_between]",
        lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(column=column, min_value=0),
        (column,),
        suspect=f"{column} < 0",  # GX ignores NULLs in a between check: so does `<`
    )


def _in_set(table: str, column: str, values: list[str]) -> _Check:
    return _Check(
        f"{table}: {column} in {{{', '.join(values)}}} [expect_column_values_to_be_in_set]",
        lambda gx: gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=values),
        (column,),
        suspect=f"{column} NOT IN ({', '.join(map(sql_literal, values))})",  # NULL ignored, as by GX
    )


def _duplicated_key(table: str, columns: list[str], scope: str = "TRUE") -> str:
    """Rows whose key occurs more than once. All of them are suspects, so GX sees every copy of a
    duplicated key and flags them all, as on the whole table. NULLs partition together, like
    pandas' `duplicated` that GX uses; the rows GX skips (NULL key, or all-NULL compound key)
    are harmless extra suspects. Only the key columns and rowid are read. With a
    `scope`, only keys of rows in scope are counted, but over the whole table: a new row may
    duplicate one published long ago. A hash aggregate, not a window: half the time."""
    key = ", ".join(columns)

    def same_key(alias: str, other: str) -> str:
        return " AND ".join(f"{alias}.{c} IS NOT DISTINCT FROM {other}.{c}" for c in columns)

    keys = f"{table} AS counted"
    if scope != "TRUE":
        keys += f" SEMI JOIN (SELECT DISTINCT {key} FROM {table} WHERE {scope}) AS scoped ON {same_key('scoped', 'counted')}"
    counted_key = ", ".join(f"counted.{c}" for c in columns)
    return (f"SELECT rowid FROM {table} SEMI JOIN (SELECT {counted_key} FROM {keys} GROUP BY ALL HAVING count(*) > 1) AS duplicated "
            f"ON {same_key('duplicated', table)}")


def _unique(table: str, column: str) -> _Check:
    return _Check(
        f"{table}: {column} is unique [expect_column_values_to_be_unique]",
        lambda gx: gx.expectations.ExpectColumnValuesToBeUnique(column=column),
        suspect_rowids=_duplicated_key(table, [column]),
    )


def _compound_unique(table: str, columns: list[str], scope: str = "TRUE") -> _Check:
    return _Check(
        f"{table}: ({', '.join(columns)}) is unique [expect_compound_columns_to_be_unique]",
        lambda gx: gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=columns),
        suspect_rowids=_duplicated_key(table, columns, scope),
    )


def _call_scopes(only: Moved | None) -> tuple[str, str]:
    """Predicates over raw.llm_calls and marts.fct_llm_calls: the rows a patching publish
    replaces (the calls of the moved days, and of the moved provider-months), "TRUE" for all.
    Constant bounds come first, so DuckDB skips the history's row groups unread."""
    if only is None:
        return "TRUE", "TRUE"
    days = [(day, day + timedelta(days=1)) for day in sorted(only.days)]
    months = [(month, _next_month(month)) for _, month in only.provider_months]
    on_days = [f"CAST(occurred_at AS DATE) IN ({', '.join(f'DATE {sql_literal(str(d))}' for d, _ in days)})"] if days else []
    in_months = [
        f"(provider = {sql_literal(provider)} AND occurred_at >= {_timestamp(start)} AND occurred_at < {_timestamp(end)})"
        for (provider, _), (start, end) in zip(only.provider_months, months)
    ]

    def bounded(ranges: list[tuple[date, date]], predicates: list[str]) -> str:
        if not ranges:
            return "FALSE"
        low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
        return (f"occurred_at >= {_timestamp(low)} AND occurred_at < {_timestamp(high)} "
                f"AND ({' OR '.join(predicates)})")

    return bounded(days, on_days), bounded(days + months, on_days + in_months)


def _timestamp(day: date) -> str:
    return f"TIMESTAMP {sql_literal(f'{day} 00:00:00')}"


def _next_month(month: date) -> date:
    return (month.replace(day=1) + timedelta(days=32)).replace(day=1)


def _cache_1h_within_cache_writes(table: str) -> _Check:
    return _Check(
        f"{table}: input_cache_write_1h_tokens <= input_cache_write_tokens "
        "[expect_column_values_to_be_between on cache_write_tokens_beyond_1h]",
        lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(column="cache_write_tokens_beyond_1h", min_value=0),
        ("input_cache_write_tokens", "input_cache_write_1h_tokens"),
        suspect=f"{_CACHE_WRITE_TOKENS_BEYOND_1H} < 0",
    )


def _frame_suites(only: Moved | None = None) -> list[_FrameSuite]:
    raw_calls = "raw.llm_calls"
    fct = "marts.fct_llm_calls"
    raw_scope, fct_scope = _call_scopes(only)
    tokens_sql = ", ".join(TOKEN_CLASSES)
    return [
        _FrameSuite(
            "raw",
            raw_calls,
            f"""call_id, source_format, occurred_at, provider, model,
                   _source_file AS source_file, _line AS source_line, {tokens_sql},
                   {_CACHE_WRITE_TOKENS_BEYOND_1H} AS cache_write_tokens_beyond_1h""",
            ("call_id", "source_format", "source_file", "source_line"),
            [
                *(_not_null(raw_calls, c) for c in ("call_id", "source_format", "occurred_at", "provider", "model")),
                *(_non_negative(raw_calls, c) for c in TOKEN_CLASSES),
                _cache_1h_within_cache_writes(raw_calls),
            ],
            raw_scope,
        ),
        _FrameSuite(
            "marts",
            fct,
            f"""call_id, source_format, source_file, source_line, provider, model, is_priced, {tokens_sql},
                   {_CACHE_WRITE_TOKENS_BEYOND_1H} AS cache_write_tokens_beyond_1h,
                   -- exact DECIMAL subtraction first; only the difference becomes a DOUBLE for GX
                   CASE WHEN is_priced THEN CAST(list_cost_usd - {_SUM_OF_CLASS_COSTS} AS DOUBLE) END
                       AS list_cost_minus_class_costs_usd,
                   CAST(list_cost_usd - {_SUM_OF_CLASS_COSTS} AS VARCHAR) AS list_cost_minus_class_costs_exact,
                   CAST(list_cost_usd AS VARCHAR) AS list_cost_usd,
                   CAST({_SUM_OF_CLASS_COSTS} AS VARCHAR) AS class_costs_sum_usd,
                   {_COSTS_NULL_IFF_UNPRICED} AS costs_null_iff_unpriced""",
            ("call_id", "source_format", "source_file", "source_line"),
            [
                _not_null(fct, "call_id"),
                _compound_unique(fct, ["source_format", "call_id"], fct_scope),
                *(_non_negative(fct, c) for c in TOKEN_CLASSES),
                _cache_1h_within_cache_writes(fct),
                _not_null(fct, "is_priced"),
                _Check(
                    f"{fct}: list_cost_usd - sum of the five class costs = 0 exactly for priced calls "
                    "[expect_column_values_to_be_between(0, 0) on list_cost_minus_class_costs_usd]",
                    lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(
                        column="list_cost_minus_class_costs_usd", min_value=0, max_value=0
                    ),
                    ("list_cost_usd", "class_costs_sum_usd", "list_cost_minus_class_costs_exact"),
                    # the exact DECIMAL difference: non-zero exactly when its DOUBLE is (|d| >= 1e-14)
                    suspect=f"is_priced AND list_cost_usd - {_SUM_OF_CLASS_COSTS} <> 0",
                ),
                _Check(
                    f"{fct}: cost columns are NULL exactly when is_priced is false "
                    "[expect_column_values_to_be_in_set([True]) on costs_null_iff_unpriced]",
                    lambda gx: gx.expectations.ExpectColumnValuesToBeInSet(column="costs_null_iff_unpriced", value_set=[True]),
                    ("is_priced", "list_cost_usd", "class_costs_sum_usd"),
                    suspect=f"NOT {_COSTS_NULL_IFF_UNPRICED}",
                ),
            ],
            fct_scope,
        ),
        _FrameSuite(
            "marts",
            "marts.fct_workflows",
            "workflow_id, outcome_id, outcome_status",
            ("workflow_id", "outcome_id"),
            [
                _not_null("marts.fct_workflows", "workflow_id"),
                _unique("marts.fct_workflows", "workflow_id"),
                _not_null("marts.fct_workflows", "outcome_status", ("outcome_status",)),
                _in_set("marts.fct_workflows", "outcome_status", WORKFLOW_STATUSES),
            ],
        ),
        _FrameSuite(
            "marts",
            "marts.fct_outcomes",
            "outcome_id, external_ref, status",
            ("outcome_id", "external_ref"),
            [
                _not_null("marts.fct_outcomes", "outcome_id"),
                _unique("marts.fct_outcomes", "outcome_id"),
                _not_null("marts.fct_outcomes", "status", ("status",)),
                _in_set("marts.fct_outcomes", "status", OUTCOME_STATUSES),
            ],
        ),
        _FrameSuite(
            "marts",
            "marts.invoice_reconciliation",
            "provider, CAST(month AS VARCHAR) AS month, status",
            ("provider", "month"),
            [
                # One row per provider × month (spec/marts.md).
                _compound_unique("marts.invoice_reconciliation", ["provider", "month"]),
                _not_null("marts.invoice_reconciliation", "status", ("status",)),
                _in_set("marts.invoice_reconciliation", "status", RECONCILIATION_STATUSES),
            ],
        ),
    ]


# --------------------------------------------------------------------------- GX plumbing

_GX_LOCK = threading.Lock()
_GX_STATE: dict[str, Any] = {}


def _gx():
    """Import GX once, quietly, and keep one ephemeral context (nothing written to disk)."""
    with _GX_LOCK:
        if not _GX_STATE:
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
            logging.getLogger("great_expectations").setLevel(logging.ERROR)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import great_expectations as gx
                from great_expectations.data_context.types.base import ProgressBarsConfig

                context = gx.get_context(mode="ephemeral")
                context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
                source = context.data_sources.add_pandas(name="tokenpnl_build")
            _GX_STATE.update(gx=gx, context=context, source=source, batch_definitions={})
        return _GX_STATE


def prepare() -> None:
    """Import GX and make its context ahead of validate_build: the nightly job does it in a
    thread while dbt (a separate process) builds, taking ~5 s off the run's critical path."""
    _gx()


def _batch_definition(state: dict[str, Any], asset_name: str):
    cache = state["batch_definitions"]
    if asset_name not in cache:
        asset = state["source"].add_dataframe_asset(name=asset_name)
        cache[asset_name] = asset.add_batch_definition_whole_dataframe(name="whole_frame")
    return cache[asset_name]


def _run_frame_suite(state: dict[str, Any], spec: _FrameSuite, df, total_rows: int | None = None) -> list[CheckResult]:
    """Validate `df` with one GX suite; every expectation becomes a CheckResult. `total_rows` is
    the table's row count when `df` holds only its suspect rows (default: the frame's length)."""
    gx = state["gx"]
    df = df.reset_index(drop=True)  # GX reports row positions as index labels
    suite = gx.ExpectationSuite(name=f"{spec.suite}:{spec.table}")
    by_key: dict[str, _Check] = {}
    for i, check in enumerate(spec.checks):
        expectation = check.build(gx)
        expectation.meta = {"check_key": str(i)}
        suite.add_expectation(expectation)
        by_key[str(i)] = check

    batch = _batch_definition(state, spec.table).get_batch(batch_parameters={"dataframe": df})
    suite_result = batch.validate(
        suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS}
    )

    got: dict[str, CheckResult] = {}
    for res in suite_result.results:
        key = str((res.expectation_config.meta or {}).get("check_key"))
        if key in by_key:
            got[key] = _to_check_result(by_key[key], spec, df, res, total_rows)
    out: list[CheckResult] = []
    for key, check in by_key.items():  # in suite order; never trust silence: no result is a failure
        out.append(got.get(key) or CheckResult(check.name, check.critical, False, "GX returned no result for this expectation", []))
    if not suite_result.success and all(r.success for r in out):
        out.append(CheckResult(f"{spec.table}: GX suite {suite.name}", True, False, "GX reported the suite as failed", []))
    return out


def _to_check_result(check: _Check, spec: _FrameSuite, df, res, total_rows: int | None = None) -> CheckResult:
    info = res.exception_info or {}
    if isinstance(info, dict) and "raised_exception" not in info:  # keyed by metric id
        errors = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    else:
        errors = [info] if isinstance(info, dict) and info.get("raised_exception") else []
    if errors:
        message = (errors[0].get("exception_message") or "unknown error").strip().splitlines()[0]
        return CheckResult(check.name, check.critical, False, f"expectation raised an error: {message}", [])

    result = res.result or {}
    success = bool(res.success)
    if "unexpected_count" in result:
        # every unexpected row is in the frame, so GX's count is the table's; the total is not
        total = total_rows if total_rows is not None else result.get("element_count", len(df))
        bad = result.get("unexpected_count") or 0
        observed = f"{bad} of {total} rows unexpected"
    else:
        observed = f"observed {result.get('observed_value')!r}"

    samples: list[dict] = []
    if not success:
        idx = result.get("partial_unexpected_index_list") or result.get("unexpected_index_list") or []
        positions = [i for i in idx if isinstance(i, int)][:SAMPLE_ROWS]
        cols = [c for c in dict.fromkeys((*spec.id_cols, *check.show)) if c in df.columns]
        for pos in positions:
            if 0 <= pos < len(df):
                row = df.iloc[pos]
                samples.append({c: _plain(row[c]) for c in cols})
        if not samples and result.get("partial_unexpected_list"):
            samples = [{"value": _plain(v)} if not isinstance(v, dict) else {k: _plain(x) for k, x in v.items()}
                       for v in result["partial_unexpected_list"][:SAMPLE_ROWS]]
    return CheckResult(check.name, check.critical, success, observed, samples)


# --------------------------------------------------------------------------- load quality


def _load_quality(con, state: dict[str, Any], quarantine_max_pct: float) -> list[CheckResult]:
    gx = state["gx"]
    name = (
        f"raw.load_manifest: quarantined share of records <= {quarantine_max_pct:g}% "
        "[expect_column_values_to_be_between on quarantine_pct]"
    )
    try:
        df = con.execute(
            """
            SELECT coalesce(sum(records), 0)::BIGINT AS records, coalesce(sum(quarantined), 0)::BIGINT AS quarantined,
                   CASE WHEN coalesce(sum(records), 0) = 0 THEN 0.0
                        ELSE 100.0 * sum(quarantined) / sum(records) END AS quarantine_pct
            FROM raw.load_manifest
            """
        ).df()
    except Exception as exc:  # missing table: the build is broken
        return [CheckResult(name, True, False, f"could not read raw.load_manifest: {_first_line(exc)}", [])]

    records, quarantined, pct = int(df.at[0, "records"]), int(df.at[0, "quarantined"]), float(df.at[0, "quarantine_pct"])
    spec = _FrameSuite("load_quality", "raw.load_manifest", "", (), [  # a one-row aggregate frame
        _Check(name, lambda gx_: gx_.expectations.ExpectColumnValuesToBeBetween(
            column="quarantine_pct", min_value=0, max_value=quarantine_max_pct)),
    ])
    [result] = [r for r in _run_frame_suite(state, spec, df) if r.name == name] or [
        CheckResult(name, True, False, "GX returned no result", [])
    ]
    observed = f"{quarantined} of {records} records quarantined ({pct:.2f}%, max {quarantine_max_pct:g}%)"
    if not result.observed.endswith("rows unexpected"):  # GX errored: keep its message
        observed += f"; {result.observed}"
    result.observed = observed
    if not result.success:
        result.sample_rows = _quarantined_files(con)
    return [result]


def _quarantined_files(con) -> list[dict]:
    """The files contributing most quarantined records, with their commonest reason."""
    try:
        rows = con.execute(
            f"""
            WITH reasons AS (
                SELECT source_file, reason, count(*) AS n,
                       row_number() OVER (PARTITION BY source_file ORDER BY count(*) DESC, reason) AS rk
                FROM raw.quarantine GROUP BY source_file, reason
            )
            SELECT m.file_path, m.source_kind, m.records, m.quarantined, r.reason AS top_reason
            FROM raw.load_manifest m LEFT JOIN reasons r ON r.source_file = m.file_path AND r.rk = 1
            WHERE m.quarantined > 0 ORDER BY m.quarantined DESC, m.file_path LIMIT {SAMPLE_ROWS}
            """
        ).fetchall()
        cols = ["file_path", "source_kind", "records", "quarantined", "top_reason"]
    except Exception:  # raw.quarantine absent: the manifest alone still names the files
        rows = con.execute(
            f"""SELECT file_path, source_kind, records, quarantined FROM raw.load_manifest
                WHERE quarantined > 0 ORDER BY quarantined DESC, file_path LIMIT {SAMPLE_ROWS}"""
        ).fetchall()
        cols = ["file_path", "source_kind", "records", "quarantined"]
    return [{c: _plain(v) for c, v in zip(cols, row)} for row in rows]


def _unpriced_share(con) -> CheckResult:
    """Informational: unpriced calls never fail the audit, but the figure is always shown."""
    name = "marts.fct_llm_calls: unpriced calls (informational)"
    try:
        total, unpriced = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT coalesce(is_priced, FALSE)) FROM marts.fct_llm_calls"
        ).fetchone()
        top = con.execute(
            """SELECT provider || '/' || model, count(*) AS n FROM marts.fct_llm_calls
               WHERE NOT coalesce(is_priced, FALSE) GROUP BY 1 ORDER BY n DESC, 1 LIMIT 3"""
        ).fetchall()
    except Exception as exc:
        return CheckResult(name, False, True, f"could not count unpriced calls: {_first_line(exc)}", [])
    pct = 100.0 * unpriced / total if total else 0.0
    observed = f"{unpriced} of {total} calls unpriced ({pct:.2f}%)"
    if top:
        observed += "; most unpriced: " + ", ".join(f"{m} ({n})" for m, n in top)
    return CheckResult(name, False, True, observed, [])


def _calls_not_lost(con) -> CheckResult:
    """GX passes an empty batch, so an empty fct_llm_calls must be caught by hand."""
    name = "marts.fct_llm_calls: not empty when raw.llm_calls has rows [empty-batch guard]"
    try:
        raw_rows = con.execute("SELECT count(*) FROM raw.llm_calls").fetchone()[0]
        mart_rows = con.execute("SELECT count(*) FROM marts.fct_llm_calls").fetchone()[0]
    except Exception as exc:
        return CheckResult(name, True, False, f"could not count calls: {_first_line(exc)}", [])
    ok = not (raw_rows > 0 and mart_rows == 0)
    return CheckResult(name, True, ok, f"raw.llm_calls has {raw_rows} rows, marts.fct_llm_calls has {mart_rows}", [])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- entry point


def validate_build(db_path: Path, *, quarantine_max_pct: float = 1.0, only: Moved | None = None,
                   memory_limit: str | None = None) -> ValidationReport:
    """Audit the build DuckDB file at `db_path` (opened read-only) and return the report.

    Critical: the raw suite, the marts suite, the empty-batch guard and the quarantine share.
    Non-critical (reported only): the share of unpriced calls.
    `only` (tokenpnl.publish.moved_since): audit just the calls a patching publish will replace,
    those of the days and provider-months that moved since the last publication; the others are
    published already and were audited then. Uniqueness still counts their keys over all rows.
    `memory_limit` (TOKENPNL_MEMORY_LIMIT) bounds DuckDB as in the rest of the run.
    """
    import duckdb

    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(f"build database {db_path} does not exist")
    state = _gx()
    results: list[CheckResult] = []
    frame_rows: dict[str, int] = {}
    con = duckdb.connect(str(db_path), read_only=True, config={"memory_limit": memory_limit} if memory_limit else {})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for spec in _frame_suites(only):
                try:  # DuckDB scans the table; pandas gets only the suspect rows
                    df = con.execute(_suspect_sql(spec)).df()
                    total_rows = con.execute(f"SELECT count(*) FROM {spec.table} WHERE {spec.scope}").fetchone()[0]
                except Exception as exc:  # a missing table or column is a broken build, not a crash
                    results.append(CheckResult(
                        f"{spec.table}: readable by the {spec.suite} suite", True, False,
                        f"could not read {spec.table}: {_first_line(exc)}", [],
                    ))
                    continue
                frame_rows[spec.table] = len(df)
                results.extend(_run_frame_suite(state, spec, df, total_rows))
            results.append(_calls_not_lost(con))
            results.extend(_load_quality(con, state, quarantine_max_pct))
            results.append(_unpriced_share(con))
    finally:
        con.close()
    scope = "every row" if only is None else (
        f"the calls of {len(only.days)} day(s) and {len(only.provider_months)} provider-month(s) not yet published")
    return ValidationReport(results, frame_rows, scope)
