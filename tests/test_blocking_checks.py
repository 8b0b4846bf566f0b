"""A failing blocking check (GX or dbt) fails the run with a clear message and leaves the last
good publication in place; bad arguments get a usage error."""

from __future__ import annotations

import subprocess
from datetime import date

import duckdb
import pytest

from tests.conftest import write_jsonl
from tests.test_end_to_end import TOKENPNL, tokenpnl_run

pytestmark = pytest.mark.slow


def good_call(i: int) -> dict:
    return {"request_id": f"r{i}", "timestamp": "2026-11-03T10:00:00Z", "provider": "openai", "model": "gpt-5",
            "workflow_id": f"wf{i}", "usage": {"prompt_tokens": 100, "completion_tokens": 10}}


def published_calls(warehouse) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM marts.fct_llm_calls").fetchone()[0]
    finally:
        con.close()


def test_blocking_failures_keep_the_last_good_publication(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "tokenpnl.duckdb"
    write_jsonl(landing / "gateway" / "day1.jsonl", [good_call(i) for i in range(3)])
    assert tokenpnl_run(landing, warehouse, date(2026, 11, 3)).returncode == 0
    assert published_calls(warehouse) == 3

    # Day 2: mostly garbage -> the quarantine share (default max 1%) fails the GX audit.
    write_jsonl(landing / "gateway" / "day2.jsonl", [good_call(10)] + ["not json"] * 5)
    proc = tokenpnl_run(landing, warehouse, date(2026, 11, 3))
    assert proc.returncode == 1
    assert "quarantine" in proc.stderr.lower() and "last good publication" in proc.stderr
    assert published_calls(warehouse) == 3

    # Raising the threshold lets the same data through.
    proc = tokenpnl_run(landing, warehouse, date(2026, 11, 3), env={"TOKENPNL_QUARANTINE_MAX_PCT": "80"})
    assert proc.returncode == 0, proc.stderr
    assert published_calls(warehouse) == 4

    # A charge in a currency with no FX rate fails a dbt test that names the currency and day.
    inv = landing / "invoices" / "focus.csv"
    inv.parent.mkdir(parents=True)
    inv.write_text("ChargePeriodStart,ChargeCategory,ProviderName,EffectiveCost,BillingCurrency\n"
                   "2026-11-01T00:00:00Z,Usage,OpenAI,12.5,EUR\n")
    proc = tokenpnl_run(landing, warehouse, date(2026, 11, 3), env={"TOKENPNL_QUARANTINE_MAX_PCT": "80"})
    assert proc.returncode == 1 and "assert_fx_rate_for_every_charge" in proc.stderr, proc.stderr
    assert published_calls(warehouse) == 4

    # With the rate supplied, the invoice is converted and allocated.
    fx = landing / "fx_rates" / "rates.csv"
    fx.parent.mkdir()
    fx.write_text("day,currency,usd_per_unit\n2026-11-01,EUR,1.08\n")
    proc = tokenpnl_run(landing, warehouse, date(2026, 11, 3), env={"TOKENPNL_QUARANTINE_MAX_PCT": "80"})
    assert proc.returncode == 0, proc.stderr
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        (invoice,) = con.execute("SELECT invoice_usage_cost_usd FROM marts.invoice_reconciliation WHERE provider = 'openai'").fetchone()
    finally:
        con.close()
    assert str(invoice) == "13.50000000000000"


@pytest.mark.parametrize("args,message", [
    (["--as-of", "2026-13-01"], "is not a date"),
    (["--as-of", "2026-11-01", "--price-book", "/nonexistent.csv"], "does not exist"),
])
def test_bad_arguments_are_usage_errors(tmp_path, args, message):
    (tmp_path / "landing").mkdir()
    proc = subprocess.run([TOKENPNL, "run", "--landing", str(tmp_path / "landing"), "--warehouse", str(tmp_path / "w.duckdb"), *args],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr


def test_a_broken_price_book_fails_with_every_problem_named(tmp_path):
    landing = tmp_path / "landing"
    write_jsonl(landing / "gateway" / "a.jsonl", [good_call(1)])
    book = tmp_path / "book.csv"
    book.write_text("provider,model,effective_from,effective_to,input_usd_per_mtok,output_usd_per_mtok\n"
                    "openai,gpt-5,2026-01-01,,1.0,8.0\nopenai,gpt-5,2026-06-01,,2.0,9.0\nopenai,x,2026-01-01,,abc,1\n")
    proc = tokenpnl_run(landing, tmp_path / "w.duckdb", date(2026, 11, 3), book)
    assert proc.returncode == 1
    assert "overlapping prices for openai/gpt-5" in proc.stderr and "'abc' is not a decimal number" in proc.stderr
