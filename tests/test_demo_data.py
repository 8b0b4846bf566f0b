"""Tests of the demo-data generator and its ground truth (tokenpnl.demo_data).

The truth is compared elsewhere against the real pipeline; here we check the generator
itself: it is deterministic, every trap it promises is really in the files, and the
truth obeys the accounting identities of the spec.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from tokenpnl.demo_data import (
    PRICE_BOOK_HEADER,
    PROMPT_MARKER,
    Truth,
    div_money,
    generate,
    price_change_day,
    round_money,
)

START = date(2026, 9, 1)
DAYS = 61
INSTANT = datetime(2026, 11, 1)

# spec/marts.md, without user_key
COLUMNS = {
    "fct_llm_calls": """call_id source_format occurred_at day provider model workflow_id workflow_type
        step attempt is_retry is_evaluator team status input_uncached_tokens input_cache_read_tokens
        input_cache_write_tokens input_cache_write_1h_tokens output_visible_tokens
        output_reasoning_tokens total_tokens cost_input_uncached_usd cost_input_cache_read_usd
        cost_input_cache_write_usd cost_output_visible_usd cost_output_reasoning_usd list_cost_usd
        is_priced priced_model invoice_cost_usd gateway_reported_cost_usd price_tier
        routed_from_model""",
    "fct_workflows": """workflow_id workflow_type team started_at ended_at calls retry_calls
        evaluator_calls total_tokens input_uncached_tokens input_cache_read_tokens
        input_cache_write_tokens output_visible_tokens output_reasoning_tokens list_cost_usd
        invoice_cost_usd outcome_id outcome_status""",
    "fct_outcomes": """outcome_id outcome_source external_ref workflow_type team linked_workflows
        first_workflow_started_at resolved_at status status_reason value_usd""",
    "token_pnl_daily": """day team workflow_type provider model calls retry_calls
        input_uncached_tokens input_cache_read_tokens input_cache_write_tokens output_visible_tokens
        output_reasoning_tokens retry_tokens evaluator_tokens cost_input_uncached_usd
        cost_input_cache_read_usd cost_input_cache_write_usd cost_output_visible_usd
        cost_output_reasoning_usd list_cost_usd invoice_cost_usd cache_hit_rate
        request_cache_hit_rate reasoning_token_ratio retry_token_ratio""",
    "cost_per_verified_success": """month workflow_type team workflows outcomes verified_successes
        claimed_successes pending failed no_outcome list_cost_usd invoice_cost_usd
        cost_per_verified_success_usd invoice_cost_per_verified_success_usd
        cost_per_claimed_success_usd tokens_per_verified_success verified_success_rate""",
    "invoice_reconciliation": """provider month calls list_cost_usd gateway_reported_cost_usd
        invoice_usage_cost_usd variance_usd variance_pct allocation_factor non_usage_charges_usd
        status""",
    "exec_dashboard": """month calls workflows total_tokens list_cost_usd invoice_cost_usd
        cost_per_mtok_usd cost_per_request_usd cost_per_workflow_usd cost_per_verified_success_usd
        tokens_per_verified_success retry_token_ratio reasoning_token_ratio cache_hit_rate
        eval_overhead_ratio gross_margin_per_trusted_outcome_usd unpriced_calls""",
}


# ---- helpers that read the files (the tests may parse; the truth never does) ----------


def read_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8").splitlines()


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def gateway_records(landing: Path):
    """(relative path, 1-based line, record) for every parseable gateway line."""
    for path in sorted((landing / "gateway").rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(landing).as_posix()
        for n, line in enumerate(read_lines(path), 1):
            try:
                yield rel, n, json.loads(line)
            except json.JSONDecodeError:
                continue


def github_deliveries(landing: Path) -> list[dict]:
    return [json.loads(line) for p in sorted((landing / "outcomes/github").rglob("*")) for line in read_lines(p)]


@pytest.fixture(scope="module")
def truth(tmp_path_factory) -> Truth:
    return generate(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def calls(truth) -> dict[str, dict]:
    return {r["call_id"]: r for r in truth.marts["fct_llm_calls"]}


@pytest.fixture(scope="module")
def records(truth) -> list[tuple[str, int, dict]]:
    return list(gateway_records(truth.landing))


# ---- the money conventions -------------------------------------------------------------


def test_worked_example_rounds_to_14_places():
    # rules.md: 120 / 55 = 2.1818..., 150 / 80 = 1.875
    assert div_money(Decimal(120), 55) == Decimal("2.18181818181818")
    assert str(div_money(Decimal(120), 55)) == "2.18181818181818"
    assert div_money(Decimal("150.00"), 80) == Decimal("1.875")
    assert div_money(Decimal(1), 0) is None and div_money(None, 3) is None


def test_rounding_is_half_up_away_from_zero():
    assert round_money(Fraction(5, 10**15)) == Decimal("1E-14")
    assert round_money(Fraction(-5, 10**15)) == Decimal("-1E-14")
    assert round_money(Fraction(49999, 10**19)) == Decimal(0)
    assert round_money(Fraction(2, 3)) == Decimal("0.66666666666667")


# ---- determinism -------------------------------------------------------------------------


def test_same_seed_same_bytes_and_truth(tmp_path):
    kw = dict(seed=3, days=24, workflows_per_day=5)
    a, b = generate(tmp_path / "a", **kw), generate(tmp_path / "b", **kw)
    assert files_under(a.landing) == files_under(b.landing)
    assert a.price_book.read_bytes() == b.price_book.read_bytes()
    assert a.marts == b.marts and a.quarantined == b.quarantined and a.as_of == b.as_of
    c = generate(tmp_path / "c", **{**kw, "seed": 4})
    assert files_under(c.landing) != files_under(a.landing)


def test_rerun_into_same_folder_replaces_landing(tmp_path):
    generate(tmp_path, seed=1, days=6, workflows_per_day=3)
    t = generate(tmp_path, seed=2, days=6, workflows_per_day=3)
    again = generate(tmp_path / "fresh", seed=2, days=6, workflows_per_day=3)
    assert files_under(t.landing) == files_under(again.landing)


def test_write_json(truth, tmp_path):
    out = tmp_path / "truth.json"
    truth.write_json(out)
    doc = json.loads(out.read_text())
    assert doc["as_of"] == "2026-10-31"
    assert len(doc["marts"]["fct_llm_calls"]) == len(truth.marts["fct_llm_calls"])
    assert PROMPT_MARKER not in out.read_text()


# ---- shape of the truth --------------------------------------------------------------------


def test_marts_have_the_spec_columns(truth):
    assert truth.as_of == START + timedelta(days=DAYS - 1)
    assert set(truth.marts) == set(COLUMNS)
    for name, cols in COLUMNS.items():
        rows = truth.marts[name]
        assert rows, name
        for row in rows:
            assert list(row) == cols.split(), name
    assert 5_000 <= len(truth.marts["fct_llm_calls"]) <= 8_000


def test_price_book_header_and_coverage(truth):
    lines = truth.price_book.read_text().splitlines()
    assert lines[0] == ",".join(PRICE_BOOK_HEADER)
    rows = [line.split(",") for line in lines[1:]]
    assert any(r[1] == "gemini-2.5-pro" and r[11] == "200000" for r in rows)
    assert any(r[1] == "claude-sonnet-4-6" and r[7] for r in rows)  # 1-hour write price
    assert any(r[1] == "glm-5.2" and r[9] and r[9] != r[8] for r in rows)  # reasoning != output
    assert any(r[1] == "qwen3.8-27b" and not r[5] and not r[6] and not r[9] for r in rows)
    mini = [r for r in rows if r[1] == "gpt-5.4-mini"]
    assert len(mini) == 2 and mini[0][3] == mini[1][2] == price_change_day(START, DAYS).isoformat()
    assert not any(r[1] == "internal-experimental-7b" or r[1].startswith("glm-5.2-") for r in rows)


def test_nothing_after_the_as_of_instant(truth):
    m = truth.marts
    assert all(r["occurred_at"] < INSTANT for r in m["fct_llm_calls"])
    assert all(o["resolved_at"] is None or o["resolved_at"] < INSTANT for o in m["fct_outcomes"])
    for d in github_deliveries(truth.landing):
        assert d["received_at"] < "2026-11-01"


# ---- gateway traps in the files --------------------------------------------------------


def test_all_four_usage_shapes_with_api(records):
    apis = {rec.get("api") for _, _, rec in records}
    assert {"chat.completions", "responses", "messages", "generate_content"} <= apis
    assert None in apis  # some records leave the shape to decide
    providers = {rec["provider"] for _, _, rec in records}
    assert {"zai", "hosted_vllm", "moonshot_ai", "self_hosted", "Google"} <= providers


def test_google_thinking_tokens_are_outside_candidates(records, calls):
    hits = 0
    for _, _, rec in records:
        u = rec["usage"]
        if "promptTokenCount" in u and u.get("thoughtsTokenCount") and rec["request_id"] in calls:
            c = calls[rec["request_id"]]
            assert u["totalTokenCount"] == u["promptTokenCount"] + u["candidatesTokenCount"] + u["thoughtsTokenCount"]
            assert c["output_visible_tokens"] == u["candidatesTokenCount"]
            assert c["output_reasoning_tokens"] == u["thoughtsTokenCount"]
            assert c["input_cache_read_tokens"] == u.get("cachedContentTokenCount", 0)
            assert c["input_uncached_tokens"] == u["promptTokenCount"] - u.get("cachedContentTokenCount", 0)
            hits += 1
    assert hits > 50


def test_openai_cached_tokens_are_inside_prompt(records, calls):
    hits = 0
    for path, _, rec in records:
        u = rec["usage"]
        details = u.get("prompt_tokens_details") or {}
        if "prompt_tokens" in u and details.get("cached_tokens") and rec["request_id"] in calls:
            c = calls[rec["request_id"]]
            if c["output_visible_tokens"] + c["output_reasoning_tokens"] != u["completion_tokens"]:
                continue  # the earlier version of a streamed request
            assert c["input_cache_read_tokens"] == details["cached_tokens"]
            assert c["input_uncached_tokens"] == (u["prompt_tokens"] - details["cached_tokens"]
                                                  - details.get("cache_write_tokens", 0))
            hits += 1
    assert hits > 50
    assert any((r[2]["usage"].get("prompt_tokens_details") or {}).get("cache_write_tokens") for r in records)
    assert any("prompt_tokens_details" in r[2]["usage"] and r[2]["usage"]["prompt_tokens_details"] is None
               for r in records)
    assert any("prompt_tokens" in r[2]["usage"] and "completion_tokens_details" not in r[2]["usage"]
               for r in records)


def test_anthropic_input_excludes_cache_and_1h_writes(records, calls):
    one_hour = 0
    for _, _, rec in records:
        u = rec["usage"]
        if "cache_read_input_tokens" in u or "cache_creation_input_tokens" in u:
            c = calls.get(rec["request_id"])
            if c is None or c["output_visible_tokens"] + c["output_reasoning_tokens"] != u["output_tokens"]:
                continue
            assert c["input_uncached_tokens"] == u["input_tokens"]
            assert c["input_cache_write_tokens"] == u.get("cache_creation_input_tokens", 0)
            split = u.get("cache_creation", {}).get("ephemeral_1h_input_tokens", 0)
            assert c["input_cache_write_1h_tokens"] == split
            one_hour += split > 0
    assert one_hour > 10
    assert any(r[2]["usage"].get("output_tokens_details", {}).get("thinking_tokens") for r in records)


def test_streaming_duplicates_last_version_wins(records, calls):
    seen = defaultdict(list)
    for path, _, rec in records:
        seen[rec["request_id"]].append((path, rec))
    streamed = 0
    for rid, versions in seen.items():
        usages = {json.dumps(r["usage"], sort_keys=True) for _, r in versions}
        if len(usages) < 2:
            continue
        streamed += 1
        (p1, early), (p2, late) = sorted(versions, key=lambda v: v[0])
        assert p1 < p2 and early["timestamp"] == late["timestamp"]
        c = calls[rid]
        out = late["usage"].get("completion_tokens", late["usage"].get("output_tokens"))
        assert c["output_visible_tokens"] + c["output_reasoning_tokens"] == out
    assert streamed >= 5


def test_exact_duplicates_and_redropped_file(truth, records):
    landing = truth.landing
    [copy] = list((landing / "gateway/resend").iterdir())
    day = copy.name[:10].replace("-", "/")
    assert copy.read_bytes() == (landing / f"gateway/{day}/calls-0001.jsonl").read_bytes()
    lines = [line for p in sorted((landing / "gateway").rglob("calls-*")) for line in read_lines(p)]
    assert len(lines) - len(set(lines)) >= 3  # identical lines repeated, within and across files
    ids = {rec["request_id"] for _, _, rec in records} - {"req_nooffset00001", "req_negative00001"}
    assert len(truth.marts["fct_llm_calls"]) == len(ids)


def test_quarantined_records_are_bad_and_absent(truth, calls):
    assert len(truth.quarantined) == 3
    bad = [read_lines(truth.landing / path)[line - 1] for path, line in truth.quarantined]
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad[0])
    no_offset = json.loads(bad[1])
    assert no_offset["timestamp"] == "2026-09-10T10:00:00"
    negative = json.loads(bad[2])
    assert negative["usage"]["prompt_tokens_details"]["cached_tokens"] > negative["usage"]["prompt_tokens"]
    assert not {"req_truncated0001", "req_nooffset00001", "req_negative00001"} & set(calls)
    assert "wf_broken" not in {w["workflow_id"] for w in truth.marts["fct_workflows"]}


def test_no_bad_records_when_asked(tmp_path):
    t = generate(tmp_path, seed=5, days=12, workflows_per_day=3, bad_records=False)
    assert t.quarantined == []
    for _, _, rec in gateway_records(t.landing):
        assert rec["timestamp"][-1] == "Z" or rec["timestamp"][-6] in "+-"


def test_prompt_text_is_in_the_files_never_in_the_truth(truth, records):
    assert sum(1 for _, _, rec in records if "messages" in rec and "response" in rec) > 100
    assert PROMPT_MARKER not in repr(truth.marts)


def test_offsets_are_converted_to_utc(records, calls):
    crossing = [rec for _, _, rec in records if rec["timestamp"].startswith("2026-10-01T01:")
                and rec["timestamp"].endswith("+02:00")]
    assert crossing
    for rec in crossing:
        c = calls[rec["request_id"]]
        assert c["occurred_at"].date() == date(2026, 9, 30) == c["day"]


# ---- pricing ---------------------------------------------------------------------------------


def test_class_costs_sum_to_list_cost(truth):
    cost_cols = [c for c in COLUMNS["fct_llm_calls"].split() if c.startswith("cost_")]
    for c in truth.marts["fct_llm_calls"]:
        classes = ["input_uncached_tokens", "input_cache_read_tokens", "input_cache_write_tokens",
                   "output_visible_tokens", "output_reasoning_tokens"]
        assert c["total_tokens"] == sum(c[k] for k in classes)
        assert 0 <= c["input_cache_write_1h_tokens"] <= c["input_cache_write_tokens"]
        assert min(c[k] for k in classes) >= 0
        if c["is_priced"]:
            assert sum(c[k] for k in cost_cols) == c["list_cost_usd"]
            assert c["priced_model"] and c["price_tier"]
        else:
            assert all(c[k] is None for k in cost_cols + ["list_cost_usd", "invoice_cost_usd", "priced_model"])


def test_unpriced_snapshot_and_alias(truth):
    rows = truth.marts["fct_llm_calls"]
    exp = [c for c in rows if c["model"] == "internal-experimental-7b"]
    assert exp and all(not c["is_priced"] and c["provider"] == "self_hosted" for c in exp)
    assert sum(d["unpriced_calls"] for d in truth.marts["exec_dashboard"]) == len(exp)
    snap = [c for c in rows if c["model"] == "glm-5.2-20260915"]
    assert snap and all(c["priced_model"] == "glm-5.2" and c["provider"] == "zhipu" for c in snap)
    assert {c["provider"] for c in rows} == {"anthropic", "openai", "google", "zhipu", "self_hosted", "moonshot"}


def test_long_context_tier_threshold_is_exclusive(truth):
    pro = [c for c in truth.marts["fct_llm_calls"] if c["model"] == "gemini-2.5-pro"]
    total_in = lambda c: c["input_uncached_tokens"] + c["input_cache_read_tokens"] + c["input_cache_write_tokens"]  # noqa: E731
    at = [c for c in pro if total_in(c) == 200_000]
    above = [c for c in pro if total_in(c) > 200_000]
    assert len(at) >= 2 and len(above) >= 5 and any(total_in(c) == 200_001 for c in above)
    for c in at:
        assert c["cost_input_uncached_usd"] == c["input_uncached_tokens"] * Decimal("1.25") / 1_000_000
    for c in above:
        assert c["cost_input_uncached_usd"] == c["input_uncached_tokens"] * Decimal("2.5") / 1_000_000
        assert c["cost_output_reasoning_usd"] == c["output_reasoning_tokens"] * Decimal(15) / 1_000_000


def test_price_change_and_fallback_prices(truth, records):
    change = price_change_day(START, DAYS)
    rows = truth.marts["fct_llm_calls"]
    mini = [c for c in rows if c["model"] == "gpt-5.4-mini"]
    at_midnight = [c for c in mini if c["occurred_at"] == datetime.combine(change, datetime.min.time())]
    assert at_midnight and at_midnight[0]["cost_input_uncached_usd"] == \
        at_midnight[0]["input_uncached_tokens"] * Decimal("0.6") / 1_000_000
    before = [c for c in mini if c["occurred_at"] == datetime.combine(change, datetime.min.time()) - timedelta(minutes=30)]
    assert before and before[0]["cost_input_uncached_usd"] == \
        before[0]["input_uncached_tokens"] * Decimal("0.75") / 1_000_000
    qwen = [c for c in rows if c["model"] == "qwen3.8-27b" and c["input_cache_read_tokens"] and c["output_reasoning_tokens"]]
    assert qwen
    for c in qwen:  # empty cells: cache reads at the input price, reasoning at the output price
        assert c["cost_input_cache_read_usd"] == c["input_cache_read_tokens"] * Decimal("0.0812") / 1_000_000
        assert c["cost_output_reasoning_usd"] == c["output_reasoning_tokens"] * Decimal("0.3247") / 1_000_000
    haiku_1h = [c for c in rows if c["model"] == "claude-haiku-4-5" and c["input_cache_write_1h_tokens"]]
    assert haiku_1h  # empty 1-hour price: the cache-write price
    for c in haiku_1h:
        assert c["cost_input_cache_write_usd"] == c["input_cache_write_tokens"] * Decimal("1.25") / 1_000_000
    sonnet_1h = [c for c in rows if c["model"] == "claude-sonnet-4-6" and c["input_cache_write_1h_tokens"]]
    for c in sonnet_1h:
        w, h = c["input_cache_write_tokens"], c["input_cache_write_1h_tokens"]
        assert c["cost_input_cache_write_usd"] == (h * Decimal(6) + (w - h) * Decimal("3.75")) / 1_000_000


# ---- invoices --------------------------------------------------------------------------------


def test_invoice_allocation_sums_to_the_invoice(truth):
    calls_pm = defaultdict(list)
    for c in truth.marts["fct_llm_calls"]:
        calls_pm[(c["provider"], c["day"].replace(day=1))].append(c)
    statuses = set()
    for r in truth.marts["invoice_reconciliation"]:
        statuses.add(r["status"])
        members = calls_pm.get((r["provider"], r["month"]), [])
        assert r["calls"] == len(members)
        allocated = [c["invoice_cost_usd"] for c in members if c["invoice_cost_usd"] is not None]
        if r["status"] in ("reconciled", "over_tolerance"):
            assert abs(sum(allocated) - r["invoice_usage_cost_usd"]) < Decimal("1e-12")
            assert (r["status"] == "over_tolerance") == (abs(r["variance_pct"]) > 5)
            assert r["variance_usd"] == r["invoice_usage_cost_usd"] - r["list_cost_usd"]
        else:
            assert not allocated
    assert statuses == {"reconciled", "awaiting_invoice", "unallocated", "over_tolerance"}


def test_focus_files_have_corrections_taxes_and_provider_columns(truth):
    import csv
    import io

    rows = []
    for p in sorted((truth.landing / "invoices").rglob("*")):
        if p.is_file():
            rows += list(csv.DictReader(io.StringIO("\n".join(read_lines(p)))))
    assert any(r["ChargeClass"] == "Correction" and r["ChargePeriodStart"] < r["BillingPeriodStart"] for r in rows)
    assert any(r["ChargeCategory"] == "Tax" for r in rows)
    assert any("ServiceProviderName" not in r for r in rows)  # a FOCUS 1.0 file: ProviderName only
    assert any(r.get("ServiceProviderName") == "ZAI" for r in rows)
    assert all(r["BillingCurrency"] == "USD" for r in rows)


# ---- workflows and outcomes -------------------------------------------------------------


def test_outcome_stories_are_all_there(truth):
    reasons = {(o["outcome_source"], o["status_reason"]) for o in truth.marts["fct_outcomes"]}
    for reason in ("merged", "reverted", "checks_failed", "closed_unmerged", "window_open", "open"):
        assert ("github", reason) in reasons
    for reason in ("accepted", "rejected", "not_verified", "policy_failed", "pending"):
        assert ("generic", reason) in reasons
    statuses = {w["outcome_status"] for w in truth.marts["fct_workflows"]}
    assert statuses == {"verified_success", "pending", "failed", "no_outcome"}


def test_github_links_and_window_edges(truth):
    outcomes = truth.marts["fct_outcomes"]
    assert any(o["linked_workflows"] == 2 for o in outcomes)
    assert any(o["linked_workflows"] == 0 and o["outcome_source"] == "github" for o in outcomes)
    assert any(o["linked_workflows"] == 0 and o["outcome_source"] == "generic" for o in outcomes)
    edge = INSTANT - timedelta(days=14)
    assert any(o["resolved_at"] == edge and o["status_reason"] == "merged" for o in outcomes)
    deliveries = github_deliveries(truth.landing)
    prs = [d["payload"]["pull_request"] for d in deliveries if d["event"] == "pull_request"]
    assert any(p["head"]["ref"].startswith("revert-") and "agent/" in p["head"]["ref"] for p in prs)
    reverts = {f"acme/{p['body'].split('/')[1]}" for p in prs if p["body"].startswith("Reverts ")}
    assert reverts
    ids = [d["delivery_id"] for d in deliveries]
    assert len(ids) - len(set(ids)) >= 2  # redelivered webhooks
    trailers = [p["body"] for p in prs if "orkflow-" in p["body"] or "ORKFLOW-" in p["body"]]
    assert len({line.split(":")[0] for b in trailers for line in b.splitlines() if ":" in line and "wf_" in line}) >= 3
    apps = defaultdict(list)
    for d in deliveries:
        if d["event"] == "check_suite" and d["payload"]["action"] == "completed":
            cs = d["payload"]["check_suite"]
            apps[(cs["head_sha"], cs["app"]["id"])].append(cs["conclusion"])
    assert any(v[0] == "failure" and v[-1] == "success" for v in apps.values())  # re-run green


def test_workflow_links_and_grace_edge(truth):
    m = truth.marts
    named = defaultdict(int)
    for o in m["fct_outcomes"]:
        named[o["outcome_id"]] = o["linked_workflows"]
    wf = m["fct_workflows"]
    linked = [w for w in wf if w["outcome_id"]]
    assert sum(named.values()) == len(linked)
    edge = INSTANT - timedelta(days=14)
    status = {w["started_at"]: w["outcome_status"] for w in wf}
    assert status[edge] == "no_outcome" and status[edge + timedelta(seconds=1)] == "pending"
    assert any(w["started_at"].month != w["ended_at"].month for w in wf)  # spills into the next month
    assert any(w["team"] is None for w in wf)


def test_groups_add_up(truth):
    m = truth.marts
    groups, wf, dash = m["cost_per_verified_success"], m["fct_workflows"], m["exec_dashboard"]
    assert sum(g["workflows"] for g in groups) == len(wf) == sum(d["workflows"] for d in dash)
    assert sum(g["outcomes"] for g in groups) == sum(o["linked_workflows"] > 0 for o in m["fct_outcomes"])
    for g in groups:
        assert g["outcomes"] == g["verified_successes"] + g["pending"] + g["failed"]
        if g["verified_successes"]:
            assert g["cost_per_verified_success_usd"] == div_money(g["list_cost_usd"], g["verified_successes"])
    assert any(g["team"] == "(unattributed)" for g in groups)
    calls = m["fct_llm_calls"]
    assert sum(d["calls"] for d in dash) == len(calls) == sum(r["calls"] for r in m["token_pnl_daily"])
    assert sum(d["list_cost_usd"] for d in dash) == sum(c["list_cost_usd"] for c in calls if c["is_priced"])
    assert sum(r["list_cost_usd"] or 0 for r in m["token_pnl_daily"]) == sum(d["list_cost_usd"] for d in dash)
    assert all(d["gross_margin_per_trusted_outcome_usd"] is not None for d in dash)


def test_default_generation_is_fast(tmp_path):
    import time

    t0 = time.perf_counter()
    generate(tmp_path)
    assert time.perf_counter() - t0 < 10
