"""The GX audit of the build database: real Great Expectations on real (tiny) DuckDB files.

Each test builds a small build DB with the schemas and columns the suites read, breaks one
thing, and checks that `validate_build` reports exactly that. GX is imported and its
ephemeral context built once per process (inside `expectations.suites`), so only the first
test pays the import.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from expectations import CheckResult, ValidationReport, validate_build
from expectations.suites import suspect_sql
from tokenpnl.publish import Moved

MONEY = "DECIMAL(38,14)"
TOKENS = (
    "input_uncached_tokens", "input_cache_read_tokens", "input_cache_write_tokens",
    "input_cache_write_1h_tokens", "output_visible_tokens", "output_reasoning_tokens",
)
COSTS = (
    "cost_input_uncached_usd", "cost_input_cache_read_usd", "cost_input_cache_write_usd",
    "cost_output_visible_usd", "cost_output_reasoning_usd",
)

SCHEMA = f"""
CREATE SCHEMA raw; CREATE SCHEMA staging; CREATE SCHEMA intermediate; CREATE SCHEMA marts;
CREATE TABLE raw.llm_calls (
    call_id VARCHAR, source_format VARCHAR, occurred_at TIMESTAMP, provider VARCHAR, model VARCHAR,
    {", ".join(f"{t} BIGINT" for t in TOKENS)},
    _source_file VARCHAR, _line BIGINT);
CREATE TABLE raw.load_manifest (
    file_path VARCHAR, file_hash VARCHAR, source_kind VARCHAR, source_format VARCHAR,
    records BIGINT, loaded BIGINT, quarantined BIGINT, skipped BIGINT, loaded_at TIMESTAMP);
CREATE TABLE raw.quarantine (source_file VARCHAR, line BIGINT, reason VARCHAR);
CREATE TABLE marts.fct_llm_calls (
    call_id VARCHAR, source_format VARCHAR, provider VARCHAR, model VARCHAR,
    {", ".join(f"{t} BIGINT" for t in TOKENS)},
    {", ".join(f"{c} {MONEY}" for c in COSTS)}, list_cost_usd {MONEY}, is_priced BOOLEAN,
    source_file VARCHAR, source_line BIGINT);
CREATE TABLE marts.fct_workflows (workflow_id VARCHAR, outcome_id VARCHAR, outcome_status VARCHAR);
CREATE TABLE marts.fct_outcomes (outcome_id VARCHAR, external_ref VARCHAR, status VARCHAR);
CREATE TABLE marts.invoice_reconciliation (provider VARCHAR, month DATE, status VARCHAR, list_cost_usd {MONEY});
"""

# Three priced calls (costs chosen so the class costs sum exactly to list_cost_usd) and one
# unpriced call; 200 records loaded, 1 quarantined (0.5 %).
GOOD_ROWS = f"""
INSERT INTO raw.llm_calls VALUES
  ('req_1', 'gateway_jsonl', '2026-11-20 10:00:00', 'openai',    'gpt-4o',       1000, 200, 0,   0,   50, 0,  'gateway/a.jsonl', 1),
  ('req_2', 'gateway_jsonl', '2026-11-20 10:01:00', 'anthropic', 'claude-x',     300,  0,   100, 40,  20, 0,  'gateway/a.jsonl', 2),
  ('req_3', 'gateway_jsonl', '2026-11-20 10:02:00', 'google',    'gemini-y',     10,   0,   0,   0,   5,  30, 'gateway/a.jsonl', 3),
  ('req_4', 'gateway_jsonl', '2026-11-20 10:03:00', 'acme',      'mystery-1',    10,   0,   0,   0,   5,  0,  'gateway/a.jsonl', 4);
INSERT INTO raw.load_manifest VALUES
  ('gateway/a.jsonl', 'h1', 'gateway', 'gateway_jsonl', 100, 99, 1, 0, '2026-11-21 01:00:00'),
  ('invoices/focus.csv', 'h2', 'invoices', 'focus_csv', 100, 100, 0, 0, '2026-11-21 01:00:00');
INSERT INTO raw.quarantine VALUES ('gateway/a.jsonl', 7, 'malformed JSON');
INSERT INTO marts.fct_llm_calls VALUES
  ('req_1', 'gateway_jsonl', 'openai', 'gpt-4o', 1000, 200, 0, 0, 50, 0,
   0.0025, 0.00025, 0, 0.0005, 0, 0.00325, TRUE, 'gateway/a.jsonl', 1),
  ('req_2', 'gateway_jsonl', 'anthropic', 'claude-x', 300, 0, 100, 40, 20, 0,
   0.0009, 0, 0.000495, 0.0003, 0, 0.001695, TRUE, 'gateway/a.jsonl', 2),
  ('req_3', 'gateway_jsonl', 'google', 'gemini-y', 10, 0, 0, 0, 5, 30,
   0.00001250000001, 0, 0, 0.00005, 0.0003, 0.00036250000001, TRUE, 'gateway/a.jsonl', 3),
  ('req_4', 'gateway_jsonl', 'acme', 'mystery-1', 10, 0, 0, 0, 5, 0,
   NULL, NULL, NULL, NULL, NULL, NULL, FALSE, 'gateway/a.jsonl', 4);
INSERT INTO marts.fct_workflows VALUES ('wf_1', 'github:acme/ledger#7', 'verified_success'), ('wf_2', NULL, 'no_outcome');
INSERT INTO marts.fct_outcomes VALUES ('github:acme/ledger#7', 'acme/ledger#7', 'verified_success');
INSERT INTO marts.invoice_reconciliation VALUES
  ('openai', '2026-11-01', 'reconciled', 0.00325), ('anthropic', '2026-11-01', 'awaiting_invoice', 0.001695);
"""

UNPRICED = "marts.fct_llm_calls: unpriced calls"
LIST_COST_CHECK = "list_cost_usd - sum of the five class costs = 0 exactly"


def make_db(directory: Path, name: str, *breakage: str) -> Path:
    """A tiny build DB: the good rows, then the SQL statements in `breakage`."""
    path = directory / f"{name}.build.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute(SCHEMA)
        con.execute(GOOD_ROWS)
        for sql in breakage:
            con.execute(sql)
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gx")


def failed(report: ValidationReport, fragment: str) -> CheckResult:
    matches = [r for r in report.failures if fragment in r.name]
    assert matches, f"no failed check named like {fragment!r}:\n{report.summary()}"
    return matches[0]


def only_failure(report: ValidationReport) -> CheckResult:
    assert len(report.failures) == 1, report.summary()
    return report.failures[0]


def test_good_build_passes(dbs: Path) -> None:
    report = validate_build(make_db(dbs, "good"))
    assert report.passed, report.summary()
    assert report.failures == []
    names = " ".join(r.name for r in report.results)
    for expectation in (
        "expect_column_values_to_not_be_null", "expect_compound_columns_to_be_unique",
        "expect_column_values_to_be_between", "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_unique",
    ):
        assert expectation in names
    assert [r.name for r in report.results if not r.critical] == [UNPRICED + " (informational)"]
    assert report.summary().startswith("GX audit passed")


def test_list_cost_off_by_one_hundred_trillionth_fails(dbs: Path) -> None:
    db = make_db(dbs, "off_by_1e14",
                 "UPDATE marts.fct_llm_calls SET list_cost_usd = list_cost_usd + 0.00000000000001 WHERE call_id = 'req_2'")
    report = validate_build(db)
    assert not report.passed
    check = only_failure(report)
    assert LIST_COST_CHECK in check.name and check.critical
    assert check.observed == "1 of 4 rows unexpected"  # the unpriced call is not counted as a failure
    [row] = check.sample_rows
    assert row["call_id"] == "req_2" and row["source_file"] == "gateway/a.jsonl"
    assert row["list_cost_minus_class_costs_exact"] == "0.00000000000001"
    summary = report.summary()
    assert "FAILED" in summary and LIST_COST_CHECK in summary
    assert "expect_column_values_to_be_between" in summary and "call_id=req_2" in summary


def test_negative_token_class_fails(dbs: Path) -> None:
    db = make_db(dbs, "negative",
                 "UPDATE raw.llm_calls SET output_reasoning_tokens = -5 WHERE call_id = 'req_3'",
                 "UPDATE marts.fct_llm_calls SET output_reasoning_tokens = -5 WHERE call_id = 'req_3'")
    report = validate_build(db)
    assert not report.passed
    assert {r.name.split(":")[0] for r in report.failures} == {"raw.llm_calls", "marts.fct_llm_calls"}
    for table in ("raw.llm_calls", "marts.fct_llm_calls"):
        check = failed(report, f"{table}: output_reasoning_tokens >= 0")
        assert check.sample_rows == [{"call_id": "req_3", "source_format": "gateway_jsonl",
                                      "source_file": "gateway/a.jsonl", "source_line": 3,
                                      "output_reasoning_tokens": -5}]
    assert "call_id=req_3" in report.summary()


def test_one_hour_cache_writes_beyond_cache_writes_fail(dbs: Path) -> None:
    db = make_db(dbs, "cache_1h", "UPDATE raw.llm_calls SET input_cache_write_1h_tokens = 101 WHERE call_id = 'req_2'")
    check = only_failure(validate_build(db))
    assert "input_cache_write_1h_tokens <= input_cache_write_tokens" in check.name
    assert check.sample_rows[0]["call_id"] == "req_2"


def test_quarantine_share_threshold(dbs: Path) -> None:
    db = make_db(dbs, "quarantine")  # 1 of 200 records quarantined = 0.5 %
    assert validate_build(db, quarantine_max_pct=0.5).passed  # the bound itself is allowed

    report = validate_build(db, quarantine_max_pct=0.25)
    assert not report.passed
    check = only_failure(report)
    assert "quarantined share" in check.name and check.critical
    assert check.observed == "1 of 200 records quarantined (0.50%, max 0.25%)"
    assert check.sample_rows == [{"file_path": "gateway/a.jsonl", "source_kind": "gateway", "records": 100,
                                  "quarantined": 1, "top_reason": "malformed JSON"}]
    assert "gateway/a.jsonl" in report.summary()

    worse = make_db(dbs, "quarantine_high", "UPDATE raw.load_manifest SET quarantined = 5 WHERE file_path = 'gateway/a.jsonl'")
    report = validate_build(worse)  # default max 1 %: 2.5 % fails
    assert not report.passed
    assert "(2.50%, max 1%)" in only_failure(report).observed
    assert validate_build(worse, quarantine_max_pct=3.0).passed


def test_unpriced_calls_are_reported_but_never_fail(dbs: Path) -> None:
    db = make_db(dbs, "unpriced", """
        UPDATE marts.fct_llm_calls SET is_priced = FALSE, list_cost_usd = NULL,
            cost_input_uncached_usd = NULL, cost_input_cache_read_usd = NULL, cost_input_cache_write_usd = NULL,
            cost_output_visible_usd = NULL, cost_output_reasoning_usd = NULL
        WHERE call_id = 'req_3'""")
    report = validate_build(db)
    assert report.passed, report.summary()
    [info] = [r for r in report.results if r.name.startswith(UNPRICED)]
    assert not info.critical and info.success
    assert info.observed.startswith("2 of 4 calls unpriced (50.00%)")
    assert "acme/mystery-1 (1)" in info.observed and "google/gemini-y (1)" in info.observed
    assert "2 of 4 calls unpriced" in report.summary()


def test_empty_fct_llm_calls_with_raw_rows_fails(dbs: Path) -> None:
    report = validate_build(make_db(dbs, "empty_fct", "DELETE FROM marts.fct_llm_calls"))
    assert not report.passed
    check = only_failure(report)  # every GX expectation on the empty frame passed silently
    assert "empty-batch guard" in check.name and check.critical
    assert check.observed == "raw.llm_calls has 4 rows, marts.fct_llm_calls has 0"
    assert "empty-batch guard" in report.summary()

    # Nothing loaded at all is not a lost load.
    nothing = make_db(dbs, "empty_all", "DELETE FROM marts.fct_llm_calls", "DELETE FROM raw.llm_calls")
    assert validate_build(nothing).passed


# (name, how the build is broken, the check that must fail, a row it must show)
BROKEN_RULES = [
    ("duplicate_call", "INSERT INTO marts.fct_llm_calls SELECT * FROM marts.fct_llm_calls WHERE call_id = 'req_1'",
     "(source_format, call_id) is unique", "req_1"),
    ("null_call_id", "UPDATE marts.fct_llm_calls SET call_id = NULL WHERE call_id = 'req_4'",
     "marts.fct_llm_calls: call_id is not null", None),
    ("priced_null_cost", "UPDATE marts.fct_llm_calls SET cost_output_visible_usd = NULL WHERE call_id = 'req_1'",
     "cost columns are NULL exactly when is_priced is false", "req_1"),
    ("unpriced_with_cost", "UPDATE marts.fct_llm_calls SET list_cost_usd = 0 WHERE call_id = 'req_4'",
     "cost columns are NULL exactly when is_priced is false", "req_4"),
    ("raw_null_model", "UPDATE raw.llm_calls SET model = NULL WHERE call_id = 'req_2'",
     "raw.llm_calls: model is not null", "req_2"),
    ("bad_workflow_status", "UPDATE marts.fct_workflows SET outcome_status = 'success' WHERE workflow_id = 'wf_2'",
     "marts.fct_workflows: outcome_status in", "wf_2"),
    ("duplicate_workflow", "INSERT INTO marts.fct_workflows VALUES ('wf_1', NULL, 'pending')",
     "marts.fct_workflows: workflow_id is unique", "wf_1"),
    ("bad_outcome_status", "UPDATE marts.fct_outcomes SET status = 'no_outcome'",
     "marts.fct_outcomes: status in", "github:acme/ledger#7"),
    ("bad_reconciliation_status", "UPDATE marts.invoice_reconciliation SET status = 'ok' WHERE provider = 'openai'",
     "marts.invoice_reconciliation: status in", "openai"),
]


@pytest.mark.parametrize(
    ("name", "sql", "check_fragment", "offender"), BROKEN_RULES, ids=[case[0] for case in BROKEN_RULES]
)
def test_broken_rule_fails_with_offending_rows(dbs: Path, name: str, sql: str, check_fragment: str, offender: str | None) -> None:
    report = validate_build(make_db(dbs, name, sql))
    assert not report.passed
    check = failed(report, check_fragment)
    assert check.critical and 1 <= len(check.sample_rows) <= 5
    key = next(iter(check.sample_rows[0]))
    assert {row[key] for row in check.sample_rows} >= {offender}


def test_sample_rows_are_capped_at_five(dbs: Path) -> None:
    db = make_db(dbs, "many_bad", """
        INSERT INTO raw.llm_calls
        SELECT 'neg_' || i, 'gateway_jsonl', TIMESTAMP '2026-11-20', 'openai', 'gpt-4o', -1, 0, 0, 0, 0, 0, 'gateway/b.jsonl', i
        FROM range(12) t(i)""")
    check = failed(validate_build(db), "raw.llm_calls: input_uncached_tokens >= 0")
    assert check.observed == "12 of 16 rows unexpected"
    assert [r["call_id"] for r in check.sample_rows] == [f"neg_{i}" for i in range(5)]
    assert sum("call_id=neg_" in line for line in ValidationReport([check]).summary().splitlines()) == 5


MORE_GOOD_CALLS = """
    INSERT INTO marts.fct_llm_calls
    SELECT 'bulk_' || i, 'gateway_jsonl', 'openai', 'gpt-4o', 1000, 200, 0, 0, 50, 0,
           0.0025, 0.00025, 0, 0.0005, 0, 0.00325, TRUE, 'gateway/c.jsonl', i
    FROM range(1000) t(i)"""


def test_gx_receives_only_the_suspect_rows(dbs: Path) -> None:
    """The frame GX validates is bounded by the offending rows, not the table (10M calls a
    night would not fit in pandas): DuckDB pre-filters, the totals still count the whole table."""
    report = validate_build(make_db(dbs, "bounded_good", MORE_GOOD_CALLS))
    assert report.passed, report.summary()
    assert report.frame_rows == {t: 0 for t in ("raw.llm_calls", "marts.fct_llm_calls", "marts.fct_workflows",
                                                  "marts.fct_outcomes", "marts.invoice_reconciliation")}
    [not_null] = [r for r in report.results if r.name.startswith("marts.fct_llm_calls: call_id is not null")]
    assert not_null.observed == "0 of 1004 rows unexpected"

    db = make_db(dbs, "bounded_bad", MORE_GOOD_CALLS,
                 "UPDATE marts.fct_llm_calls SET output_visible_tokens = -1 WHERE call_id = 'bulk_500'",
                 "UPDATE marts.fct_llm_calls SET list_cost_usd = list_cost_usd + 0.00000000000001 WHERE call_id = 'req_2'",
                 "UPDATE marts.fct_llm_calls SET list_cost_usd = 0 WHERE call_id = 'req_4'")
    report = validate_build(db)
    assert report.frame_rows["marts.fct_llm_calls"] == 3 and report.frame_rows["raw.llm_calls"] == 0
    con = duckdb.connect(str(db), read_only=True)
    try:  # the frame is exactly the offending rows, in table order
        frame = con.execute(suspect_sql()["marts.fct_llm_calls"]).df()
    finally:
        con.close()
    assert list(frame["call_id"]) == ["req_2", "req_4", "bulk_500"]
    assert sorted(r.observed for r in report.failures) == ["1 of 1004 rows unexpected"] * 3
    assert failed(report, "output_visible_tokens >= 0").sample_rows[0]["call_id"] == "bulk_500"
    assert failed(report, LIST_COST_CHECK).sample_rows[0]["list_cost_minus_class_costs_exact"] == "0.00000000000001"
    assert failed(report, "cost columns are NULL exactly when").sample_rows[0]["call_id"] == "req_4"


def test_a_patching_night_audits_only_the_calls_it_publishes(dbs: Path) -> None:
    """With `only` (what publish will replace), the per-call tables are audited on the moved
    days and provider-months; rows published before are not read again, except that a new row
    duplicating an old key is still caught, with both copies shown."""
    dated = ("ALTER TABLE marts.fct_llm_calls ADD COLUMN occurred_at TIMESTAMP DEFAULT TIMESTAMP '2026-11-20 10:00:00'",
             "UPDATE marts.fct_llm_calls SET occurred_at = TIMESTAMP '2026-10-31 23:59:59' WHERE call_id IN ('req_1', 'req_2')",
             "UPDATE raw.llm_calls SET occurred_at = TIMESTAMP '2026-10-31 23:59:59' WHERE call_id = 'req_1'")
    db = make_db(dbs, "scoped", *dated,
                 # bad rows on a day published before (10-31): out of scope
                 "UPDATE marts.fct_llm_calls SET output_visible_tokens = -1 WHERE call_id = 'req_1'",
                 "UPDATE raw.llm_calls SET input_uncached_tokens = -1 WHERE call_id = 'req_1'",
                 # a bad row on the moved day, and a new row on it repeating the key of req_2 (10-31)
                 "UPDATE marts.fct_llm_calls SET output_reasoning_tokens = -1 WHERE call_id = 'req_3'",
                 """INSERT INTO marts.fct_llm_calls (call_id, source_format, provider, model, input_uncached_tokens,
                    input_cache_read_tokens, input_cache_write_tokens, input_cache_write_1h_tokens, output_visible_tokens,
                    output_reasoning_tokens, is_priced, source_file, source_line)
                    VALUES ('req_2', 'gateway_jsonl', 'acme', 'mystery-1', 1, 0, 0, 0, 0, 0, FALSE, 'gateway/b.jsonl', 1)""")
    every_row = validate_build(db)
    assert {r.name.split(": ")[1] for r in every_row.failures} == {
        "input_uncached_tokens >= 0 [expect_column_values_to_be_between]",
        "output_visible_tokens >= 0 [expect_column_values_to_be_between]",
        "output_reasoning_tokens >= 0 [expect_column_values_to_be_between]",
        "(source_format, call_id) is unique [expect_compound_columns_to_be_unique]"}, every_row.summary()
    assert "Audited in the per-call tables: every row." in every_row.summary()

    report = validate_build(db, only=Moved([date(2026, 11, 20)], []))
    assert {r.name for r in report.failures} == {
        "marts.fct_llm_calls: output_reasoning_tokens >= 0 [expect_column_values_to_be_between]",
        "marts.fct_llm_calls: (source_format, call_id) is unique [expect_compound_columns_to_be_unique]"}, report.summary()
    assert report.frame_rows["raw.llm_calls"] == 0 and report.frame_rows["marts.fct_llm_calls"] == 3
    duplicated = failed(report, "is unique")
    assert sorted(r["source_file"] for r in duplicated.sample_rows) == ["gateway/a.jsonl", "gateway/b.jsonl"]
    assert failed(report, "output_reasoning_tokens").observed == "1 of 3 rows unexpected"  # 3 calls on 11-20
    assert "the calls of 1 day(s) and 0 provider-month(s) not yet published" in report.summary()

    # October's openai month moved (say, its invoice came): req_1's old row is audited again.
    report = validate_build(db, only=Moved([date(2026, 11, 20)], [("openai", date(2026, 10, 1))]))
    assert failed(report, "output_visible_tokens >= 0").sample_rows[0]["call_id"] == "req_1"
    assert not [r for r in report.failures if r.name.startswith("raw.")]  # raw rows are scoped by day only
    nothing_moved = validate_build(db, only=Moved([], []))  # nothing to publish: nothing read
    assert nothing_moved.passed and set(nothing_moved.frame_rows.values()) == {0}


def test_missing_table_is_a_failure_not_a_crash(dbs: Path) -> None:
    report = validate_build(make_db(dbs, "no_outcomes", "DROP TABLE marts.fct_outcomes"))
    assert not report.passed
    check = only_failure(report)
    assert check.name.startswith("marts.fct_outcomes") and "could not read marts.fct_outcomes" in check.observed


def test_read_only_and_writes_no_files(dbs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = make_db(dbs, "read_only")
    monkeypatch.chdir(tmp_path)
    other_reader = duckdb.connect(str(db), read_only=True)  # a BI tool holding the file open
    try:
        assert validate_build(db).passed
    finally:
        other_reader.close()
    assert list(tmp_path.iterdir()) == []  # ephemeral GX context: no gx/ folder, no stores
    assert sorted(p.name for p in dbs.iterdir() if p.name.startswith("read_only")) == ["read_only.build.duckdb"]
