"""Price resolution through the real job: effective dates, user books over the default book,
dated snapshot ids, long-context tiers, 1-hour cache writes, unpriced calls. Hand-worked figures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.marts_compare import read_marts
from tests.test_end_to_end import tokenpnl_run

pytestmark = pytest.mark.slow
D = Decimal


def chat(rid: str, ts: str, model: str, prompt: int, completion: int, cached: int = 0, provider: str = "openai") -> dict:
    return {"request_id": rid, "timestamp": ts, "provider": provider, "model": model,
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "prompt_tokens_details": {"cached_tokens": cached}}}


USER_BOOK = """provider,model,effective_from,effective_to,input_usd_per_mtok,cache_read_usd_per_mtok,cache_write_usd_per_mtok,cache_write_1h_usd_per_mtok,output_usd_per_mtok,reasoning_usd_per_mtok,tier,min_input_tokens
acme,house-1,2026-01-01,2026-11-10,1.00,,,,2.00,,mid,
acme,house-1,2026-11-10,,0.50,0.05,,,1.00,,mid,
openai,gpt-5,2026-01-01,,1.0,0.1,,,8.0,,frontier,
openai,gpt-5-2025-08-07,2026-01-01,,9.0,0.9,,,90.0,,frontier,
"""


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    from tests.conftest import write_jsonl

    root = tmp_path_factory.mktemp("prices")
    landing = root / "landing"
    write_jsonl(landing / "gateway" / "calls.jsonl", [
        # Effective dates: the last second before the change, then the first second after it (UTC).
        chat("eff-before", "2026-11-09T23:59:59Z", "house-1", 1_000_000, 1_000_000, provider="acme"),
        chat("eff-after", "2026-11-10T01:00:00+01:00", "house-1", 1_000_000, 1_000_000, cached=200_000, provider="acme"),
        # A user row wins over the default book's gpt-5 row; an exact snapshot row wins over the base row.
        chat("user-wins", "2026-11-10T12:00:00Z", "gpt-5", 1_000_000, 100_000, cached=500_000),
        chat("exact-snapshot", "2026-11-10T12:00:00Z", "gpt-5-2025-08-07", 1000, 100),
        # Default book only: a dated snapshot of a model the default book prices under its base id.
        {"request_id": "snapshot-base", "timestamp": "2026-11-10T12:00:00Z", "provider": "anthropic",
         "model": "claude-sonnet-4-5-20250929", "usage": {"input_tokens": 5, "cache_read_input_tokens": 128955,
         "cache_creation_input_tokens": 1253, "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 253},
         "output_tokens": 97}},
        # Tiered long-context price (default book gemini-2.5-pro: >200k at 2.5 in / 15 out).
        {"request_id": "tier", "timestamp": "2026-11-10T12:00:00Z", "provider": "google", "model": "gemini-2.5-pro",
         "usage": {"promptTokenCount": 250000, "candidatesTokenCount": 1000}},
        {"request_id": "no-tier", "timestamp": "2026-11-10T12:00:00Z", "provider": "gcp.vertex_ai", "model": "gemini-2.5-pro",
         "usage": {"promptTokenCount": 200000, "candidatesTokenCount": 1000}},
        chat("unpriced", "2026-11-10T12:00:00Z", "nobody-prices-me", 10, 10, provider="self_hosted"),
    ])
    book = root / "negotiated.csv"
    book.write_text(USER_BOOK)
    proc = tokenpnl_run(landing, root / "wh.duckdb", __import__("datetime").date(2026, 11, 30), book)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {r["call_id"]: r for r in read_marts(root / "wh.duckdb")["fct_llm_calls"]}


CASES = {
    # 1M in at 1.00 + 1M out at 2.00
    "eff-before": ("house-1", D("1.00"), D("0"), D("0"), D("2.00"), D("3.00")),
    # 800k uncached at 0.50 + 200k cached at 0.05 + 1M out at 1.00
    "eff-after": ("house-1", D("0.40"), D("0.01"), D("0"), D("1.00"), D("1.41")),
    # 500k at 1.0 + 500k at 0.1 + 100k at 8.0
    "user-wins": ("gpt-5", D("0.5"), D("0.05"), D("0"), D("0.8"), D("1.35")),
    "exact-snapshot": ("gpt-5-2025-08-07", D("0.009"), D("0"), D("0"), D("0.009"), D("0.018")),
    # 5*3 + 128955*0.3 + (1000*3.75 + 253*6) + 97*15, per million
    "snapshot-base": ("claude-sonnet-4-5", D("0.000015"), D("0.0386865"), D("0.005268"), D("0.001455"), D("0.0454245")),
    "tier": ("gemini-2.5-pro", D("0.625"), D("0"), D("0"), D("0.015"), D("0.640")),
    "no-tier": ("gemini-2.5-pro", D("0.25"), D("0"), D("0"), D("0.01"), D("0.26")),
}


@pytest.mark.parametrize("call_id", list(CASES))
def test_call_is_priced_with_the_right_row(marts, call_id):
    priced_model, uncached, read, write, visible, total = CASES[call_id]
    row = marts[call_id]
    assert row["is_priced"] and row["priced_model"] == priced_model
    assert (row["cost_input_uncached_usd"], row["cost_input_cache_read_usd"], row["cost_input_cache_write_usd"],
            row["cost_output_visible_usd"], row["list_cost_usd"]) == (uncached, read, write, visible, total)


def test_unpriced_call_is_kept_with_null_cost(marts):
    row = marts["unpriced"]
    assert (row["is_priced"], row["list_cost_usd"], row["priced_model"], row["total_tokens"]) == (False, None, None, 20)


def test_provider_aliases_apply(marts):
    assert marts["no-tier"]["provider"] == "google"
