"""Tests of the demo-data generator and its ground truth (tokenpnl.demo_data).

The truth is compared elsewhere against the real pipeline; here we check the generator
itself: it is deterministic, every trap it promises is really in the files, and the
truth obeys the accounting identities of the spec. For the newer formats (G2 OTel spans,
G3 LiteLLM spend logs, I2 provider cost reports, O2 ticket events) small readers written
from the conventions re-derive the truth's rows from the files: the files say what the
truth believes.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections import Counter, defaultdict
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
    normalise_provider,
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
    """(relative path, 1-based line, record) for every parseable G1 gateway line."""
    for path in sorted((landing / "gateway").rglob("*")):
        if not path.is_file() or path.relative_to(landing).parts[1] in ("otel", "litellm"):
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


@pytest.mark.parametrize("all_formats", [True, False])
def test_same_seed_same_bytes_and_truth(tmp_path, all_formats):
    kw = dict(seed=3, days=24, workflows_per_day=5, all_formats=all_formats)
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
    assert len([c for c in truth.marts["fct_llm_calls"] if c["source_format"] == "gateway_jsonl"]) == len(ids)


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
        if p.is_file() and ".csv" in p.name:
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
    for reason in ("solved", "reopened", "escalated", "closed_unsolved", "window_open", "open"):
        assert ("ticket", reason) in reasons
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


# ---- all formats: the folder, and the switch back to G1/I1/O1/O3 only ------------------------


def test_every_format_of_the_spec_is_in_the_landing_folder(truth):
    rels = set(files_under(truth.landing))
    kinds = {
        "otel": [r for r in rels if r.startswith("gateway/otel/")],
        "litellm_jsonl": [r for r in rels if r.startswith("gateway/litellm/") and r.endswith(".jsonl")],
        "litellm_csv": [r for r in rels if r.startswith("gateway/litellm/") and r.endswith(".csv")],
        "openai_costs": [r for r in rels if r.startswith("invoices/openai/costs/")],
        "anthropic_cost_report": [r for r in rels if r.startswith("invoices/anthropic/cost_report/")],
        "zendesk": [r for r in rels if r.startswith("outcomes/zendesk/")],
        "jira": [r for r in rels if r.startswith("outcomes/jira/")],
    }
    assert all(kinds.values()), kinds
    # invoices/ accepts .csv and .json only: the cost report pages, one per line, are .json
    assert all(r.endswith((".csv", ".csv.gz", ".json")) for r in rels if r.startswith("invoices/"))
    sources = Counter(c["source_format"] for c in truth.marts["fct_llm_calls"])
    assert set(sources) == {"gateway_jsonl", "otel_spans", "litellm_spend_logs"}
    assert min(sources.values()) > 300
    assert {o["outcome_source"] for o in truth.marts["fct_outcomes"]} == {"github", "generic", "ticket"}
    assert "support_ticket" in {w["workflow_type"] for w in truth.marts["fct_workflows"]}


def test_all_formats_false_writes_only_g1_i1_o1_o3(tmp_path):
    old = generate(tmp_path / "old", seed=5, days=12, workflows_per_day=3, all_formats=False)
    rels = set(files_under(old.landing))
    assert not any(part in r for r in rels for part in ("/otel/", "/litellm/", "/costs/", "/cost_report/",
                                                         "zendesk", "jira"))
    assert all(r.endswith((".csv", ".csv.gz")) for r in rels if r.startswith("invoices/"))
    m = old.marts
    assert {c["source_format"] for c in m["fct_llm_calls"]} == {"gateway_jsonl"}
    assert all(c["gateway_reported_cost_usd"] is None for c in m["fct_llm_calls"])
    assert all(r["gateway_reported_cost_usd"] is None for r in m["invoice_reconciliation"])
    assert "ticket" not in {o["outcome_source"] for o in m["fct_outcomes"]}
    assert "support_ticket" not in {w["workflow_type"] for w in m["fct_workflows"]}
    new = generate(tmp_path / "new", seed=5, days=12, workflows_per_day=3)
    assert files_under(new.landing) != files_under(old.landing)


def test_call_ids_are_unique_across_formats_and_workflows_span_formats(truth):
    calls = truth.marts["fct_llm_calls"]
    assert len({c["call_id"] for c in calls}) == len(calls)
    formats = defaultdict(set)
    for c in calls:
        if c["workflow_id"]:
            formats[c["workflow_id"]].add(c["source_format"])
    assert any(len(f) == 2 for f in formats.values())  # one workflow, calls through two formats
    for c in calls:
        if c["source_format"] != "gateway_jsonl":
            assert c["input_cache_write_1h_tokens"] == 0 and c["routed_from_model"] is None
        if c["source_format"] != "litellm_spend_logs":
            assert c["gateway_reported_cost_usd"] is None


# ---- G2: OpenTelemetry spans --------------------------------------------------------------------

LLM_OPERATIONS = {"chat", "text_completion", "generate_content", "embeddings"}


def attr_value(v: dict):
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [attr_value(x) for x in v["arrayValue"].get("values", [])]
    return next(iter(v.values()))


def attr_map(attrs: list[dict]) -> dict:
    return {a["key"]: attr_value(a["value"]) for a in attrs}


def otel_spans(landing: Path):
    """(path, line, resource attributes, scope name, span) for every span of every export."""
    for path in sorted(p for p in (landing / "gateway/otel").rglob("*") if p.is_file()):
        rel = path.relative_to(landing).as_posix()
        for n, line in enumerate(read_lines(path), 1):
            for rs in json.loads(line)["resourceSpans"]:
                res = attr_map(rs.get("resource", {}).get("attributes", []))
                for ss in rs["scopeSpans"]:
                    for span in ss["spans"]:
                        yield rel, n, res, ss["scope"]["name"], span


def otel_call(res: dict, span: dict) -> dict | None:
    """The conventions of G2, from the file: None when the span is not an LLM call."""
    a = {**res, **attr_map(span["attributes"])}  # span attributes win
    first = lambda *keys, default=None: next((a[k] for k in keys if k in a), default)  # noqa: E731
    inp = first("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    out = first("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
    if a.get("gen_ai.operation.name") not in LLM_OPERATIONS or (inp is None and out is None):
        return None
    inp, out = inp or 0, out or 0
    read = first("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens", default=0)
    write = first("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens", default=0)
    reasoning = a.get("gen_ai.usage.reasoning.output_tokens", 0)
    start = int(span["startTimeUnixNano"])
    return {
        "call_id": f"{span['traceId'].lower()}-{span['spanId'].lower()}", "source_format": "otel_spans",
        "occurred_at": datetime(1970, 1, 1) + timedelta(microseconds=start // 1000),
        "provider": normalise_provider(first("gen_ai.provider.name", "gen_ai.system")),
        "model": first("gen_ai.response.model", "gen_ai.request.model"),
        "workflow_id": first("tokenpnl.workflow.id", "gen_ai.conversation.id"),
        "workflow_type": a.get("tokenpnl.workflow.type"), "step": a.get("tokenpnl.step"),
        "attempt": a.get("tokenpnl.attempt", 1), "team": a.get("tokenpnl.team"),
        "status": "error" if span.get("status", {}).get("code") == 2 else "ok",
        "input_uncached_tokens": inp if read + write > inp else inp - read - write,
        "input_cache_read_tokens": read, "input_cache_write_tokens": write, "input_cache_write_1h_tokens": 0,
        "output_visible_tokens": out - reasoning, "output_reasoning_tokens": reasoning,
        "gateway_reported_cost_usd": None, "routed_from_model": None,
        "_end": int(span["endTimeUnixNano"]),
    }


def test_otel_spans_read_by_the_conventions_give_the_truth(truth, calls):
    parsed: dict[str, dict] = {}
    for rel, _, res, _, span in otel_spans(truth.landing):
        row = otel_call(res, span)
        if row and (row["call_id"] not in parsed or row["_end"] >= parsed[row["call_id"]]["_end"]):
            parsed[row["call_id"]] = row
    expected = {c["call_id"]: c for c in calls.values() if c["source_format"] == "otel_spans"}
    assert set(parsed) == set(expected)
    for cid, row in parsed.items():
        del row["_end"]
        want = expected[cid]
        assert {k: want[k] for k in row} == row, cid


def test_otel_traps_are_in_the_files(truth, calls):
    spans = list(otel_spans(truth.landing))
    keys = Counter()
    raw_ints, upper_ids, apart, overrides, not_calls = set(), 0, 0, Counter(), Counter()
    span_keys = Counter()
    for _, _, res, _, span in spans:
        a = attr_map(span["attributes"])
        keys.update(a.keys())
        for x in span["attributes"]:
            if "intValue" in x["value"]:
                raw_ints.add(type(x["value"]["intValue"]))
        upper_ids += span["traceId"] != span["traceId"].lower()
        row = otel_call(res, span)
        if row is None:
            not_calls[a["gen_ai.operation.name"]] += 1
            if a["gen_ai.operation.name"] == "chat":
                assert f"{span['traceId'].lower()}-{span['spanId'].lower()}" not in calls
            continue
        inp = a.get("gen_ai.usage.input_tokens", a.get("gen_ai.usage.prompt_tokens"))
        apart += row["input_cache_read_tokens"] + row["input_cache_write_tokens"] > inp
        for k in ("tokenpnl.team", "gen_ai.provider.name"):
            if k in res and k in a and res[k] != a[k]:
                overrides[k] += 1
        span_keys[(span["traceId"].lower(), span["spanId"].lower())] += 1
    assert {"gen_ai.provider.name", "gen_ai.system", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
            "gen_ai.usage.completion_tokens", "gen_ai.usage.cache_read_input_tokens",
            "gen_ai.usage.cache_creation_input_tokens", "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.reasoning.output_tokens",
            "gen_ai.conversation.id", "tokenpnl.workflow.id", "gen_ai.input.messages",
            "gen_ai.output.messages"} <= set(keys)
    assert raw_ints == {str, int}  # intValue as a string and as a number
    assert upper_ids and apart >= 5 and overrides["tokenpnl.team"] and overrides["gen_ai.provider.name"]
    assert not_calls["invoke_agent"] > 20 and not_calls["execute_tool"] > 20 and not_calls["chat"] == 1
    agent = [attr_map(s["attributes"]) for _, _, _, _, s in spans
             if attr_map(s["attributes"])["gen_ai.operation.name"] == "invoke_agent"]
    assert all(a["gen_ai.usage.input_tokens"] > 0 for a in agent)  # totals of children: never a call
    assert max(span_keys.values()) >= 2  # a span exported twice, counted once
    lines = [line for p in sorted((truth.landing / "gateway/otel").rglob("*")) if p.is_file() for line in read_lines(p)]
    assert len(lines) - len(set(lines)) >= 1  # a whole export request retried
    assert any(PROMPT_MARKER in line for line in lines)
    # microseconds survive, nanoseconds below them do not
    assert any(c["occurred_at"].microsecond % 1000 for c in calls.values() if c["source_format"] == "otel_spans")
    # both id conventions, and a conversation id that is not the workflow
    ids = [(attr_map(s["attributes"]).get("tokenpnl.workflow.id"), attr_map(s["attributes"]).get("gen_ai.conversation.id"))
           for _, _, _, _, s in spans]
    assert any(w is None and c for w, c in ids) and any(w and c and w != c for w, c in ids)


# ---- G3: LiteLLM spend logs ---------------------------------------------------------------------

LITELLM_JSON_COLUMNS = ("metadata", "request_tags", "messages", "response", "proxy_server_request")


def litellm_rows(landing: Path):
    """(path, line, row) for every spend-log row of the JSONL and CSV exports."""
    for path in sorted(p for p in (landing / "gateway/litellm").rglob("*") if p.is_file()):
        rel = path.relative_to(landing).as_posix()
        if ".csv" in path.name:
            for n, raw in enumerate(csv.DictReader(io.StringIO("\n".join(read_lines(path)) + "\n")), 2):
                row = {k: (v if v != "" else None) for k, v in raw.items()}
                for k in LITELLM_JSON_COLUMNS:
                    row[k] = json.loads(row[k]) if row[k] is not None else None
                for k in ("prompt_tokens", "completion_tokens", "total_tokens", "request_duration_ms"):
                    row[k] = int(row[k])
                row["spend"] = Decimal(row["spend"])
                yield rel, n, row, raw
        else:
            for n, line in enumerate(read_lines(path), 1):
                yield rel, n, json.loads(line, parse_float=Decimal), None


def utc(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    assert at.tzinfo is not None, text
    return (at - at.utcoffset()).replace(tzinfo=None)


def litellm_call(row: dict) -> dict:
    meta = row["metadata"] or {}
    slm = meta.get("spend_logs_metadata") or {}
    tags = dict(t.split(":", 1) for t in row["request_tags"] or [] if ":" in t)
    usage = meta.get("usage_object") or {}
    ptd = usage.get("prompt_tokens_details") or {}
    ctd = usage.get("completion_tokens_details") or {}
    read = ptd.get("cached_tokens", usage.get("cache_read_input_tokens")) or 0
    write = usage.get("cache_creation_input_tokens", ptd.get("cache_creation_tokens")) or 0
    reasoning = ctd.get("reasoning_tokens") or 0
    first = lambda *vals: next((v for v in vals if v is not None), None)  # noqa: E731
    attempt = first(slm.get("attempt"), tags.get("attempt"))
    return {
        "call_id": row["request_id"], "source_format": "litellm_spend_logs", "occurred_at": utc(row["startTime"]),
        "provider": normalise_provider(row["custom_llm_provider"]), "model": row["model"],
        "workflow_id": first(slm.get("workflow_id"), row["session_id"]),
        "workflow_type": first(slm.get("workflow_type"), tags.get("workflow_type")),
        "step": first(slm.get("step"), tags.get("step")), "attempt": int(attempt) if attempt is not None else 1,
        "team": first(slm.get("team"), meta.get("user_api_key_team_alias"), row["team_id"]),
        "status": row["status"],
        "input_uncached_tokens": row["prompt_tokens"] - read - write, "input_cache_read_tokens": read,
        "input_cache_write_tokens": write, "input_cache_write_1h_tokens": 0,
        "output_visible_tokens": row["completion_tokens"] - reasoning, "output_reasoning_tokens": reasoning,
        "gateway_reported_cost_usd": row["spend"], "routed_from_model": None,
    }


def test_litellm_rows_read_by_the_conventions_give_the_truth(truth, calls):
    best: dict[str, tuple] = {}
    for rel, _, row, _ in litellm_rows(truth.landing):
        key = (utc(row["endTime"]), rel)  # the later endTime wins, then the later file
        if row["request_id"] not in best or key >= best[row["request_id"]][0]:
            best[row["request_id"]] = (key, row)
    expected = {c["call_id"]: c for c in calls.values() if c["source_format"] == "litellm_spend_logs"}
    assert set(best) == set(expected)
    for cid, (_, row) in best.items():
        got = litellm_call(row)
        assert {k: expected[cid][k] for k in got} == got, cid


def test_litellm_traps_are_in_the_files(truth, calls):
    rows = list(litellm_rows(truth.landing))
    paths = sorted({rel for rel, _, _, _ in rows})
    assert len(paths) == 2 and paths[0].endswith(".jsonl") and paths[1].endswith(".csv")
    versions = defaultdict(list)
    for rel, _, row, raw in rows:
        versions[row["request_id"]].append((rel, row))
    twice = {rid: v for rid, v in versions.items() if len(v) > 1}
    changed = [v for v in twice.values() if len({json.dumps(r, default=str, sort_keys=True) for _, r in v}) > 1]
    [older] = changed  # an older version of a request, in the file that sorts LATER
    (p_new, new), (p_old, old) = sorted(older, key=lambda v: v[0])
    assert p_new < p_old and utc(old["endTime"]) < utc(new["endTime"])
    assert calls[new["request_id"]]["gateway_reported_cost_usd"] == new["spend"] != old["spend"]
    assert len(twice) - len(changed) >= 2  # identical rows: across the overlapping exports, and within one
    metas = [row["metadata"] for _, _, row, _ in rows]
    slm = [m["spend_logs_metadata"] for m in metas if m.get("spend_logs_metadata")]
    assert slm and any("spend_logs_metadata" not in m for m in metas)
    assert any(m.get("team") and md.get("user_api_key_team_alias") not in (None, m["team"])
               for md in metas for m in [md.get("spend_logs_metadata") or {}])  # metadata team beats the key's
    assert any(r["team_id"] and not (r["metadata"].get("spend_logs_metadata") or {}).get("team")
               and not r["metadata"].get("user_api_key_team_alias") for _, _, r, _ in rows)
    assert any(r["session_id"] and (r["metadata"].get("spend_logs_metadata") or {}).get("workflow_id")
               not in (None, r["session_id"]) for _, _, r, _ in rows)  # a session that is not the workflow
    assert any(t.startswith("attempt:") for _, _, r, _ in rows for t in r["request_tags"])
    usages = [m["usage_object"] for m in metas]
    assert any("cache_read_input_tokens" in u and not u.get("prompt_tokens_details") for u in usages)
    assert any((u.get("prompt_tokens_details") or {}).get("cache_creation_tokens")
               and "cache_creation_input_tokens" not in u for u in usages)
    starts = [r["startTime"] for _, _, r, _ in rows]
    assert {s[-6:] for s in starts if s[-6] in "+-"} >= {"+00:00", "+02:00", "-05:00"} and any(s.endswith("Z") for s in starts)
    assert any(PROMPT_MARKER in json.dumps(r["messages"]) for _, _, r, _ in rows)
    assert {r["status"] for _, _, r, _ in rows} == {"success", "failure"}
    # spend: exact decimals of at most 10 places, numbers in JSONL and text in the CSV
    assert all(-r["spend"].as_tuple().exponent <= 10 for _, _, r, _ in rows)
    jsonl = read_lines(truth.landing / paths[0])
    assert all('"spend": "' not in line for line in jsonl) and any('"spend": 0.' in line for line in jsonl)
    providers = {r["custom_llm_provider"] for _, _, r, _ in rows}
    assert {"anthropic", "openai", "hosted_vllm"} <= providers


def test_gateway_reported_cost_is_the_spend_of_the_provider_month(truth):
    spend = defaultdict(list)
    for c in truth.marts["fct_llm_calls"]:
        if c["gateway_reported_cost_usd"] is not None:
            spend[(c["provider"], c["day"].replace(day=1))].append(c["gateway_reported_cost_usd"])
    assert spend
    for r in truth.marts["invoice_reconciliation"]:
        got = spend.get((r["provider"], r["month"]))
        assert r["gateway_reported_cost_usd"] == (sum(got) if got else None)
    assert any(r["gateway_reported_cost_usd"] is None for r in truth.marts["invoice_reconciliation"])


# ---- I2: provider cost reports ------------------------------------------------------------------


def test_invoice_usage_is_focus_plus_cost_reports_each_page_once(truth):
    usage = defaultdict(Decimal)
    seen_files, seen_pages, repeats = set(), set(), Counter()
    for p in sorted(p for p in (truth.landing / "invoices").rglob("*") if p.is_file()):
        data = p.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen_files:
            repeats["file"] += 1
            continue
        seen_files.add(digest)
        lines = read_lines(p)
        if ".csv" in p.name:
            for row in csv.DictReader(io.StringIO("\n".join(lines))):
                if row["ChargeCategory"] == "Usage":
                    provider = normalise_provider(row.get("ServiceProviderName") or row["ProviderName"])
                    usage[(provider, date.fromisoformat(row["ChargePeriodStart"][:7] + "-01"))] += Decimal(row["EffectiveCost"])
            continue
        try:
            pages = [json.loads(lines[0], parse_float=Decimal)] and [json.loads(x, parse_float=Decimal) for x in lines]
            provider, cents = "anthropic", Decimal(100)
        except json.JSONDecodeError:  # one pretty-printed document: an OpenAI Costs API page
            pages, provider, cents = [json.loads("\n".join(lines), parse_float=Decimal)], "openai", Decimal(1)
            assert pages[0]["object"] == "page"
        for page in pages:
            text = json.dumps(page, default=str, sort_keys=True)
            if text in seen_pages:
                repeats["page"] += 1
                continue
            seen_pages.add(text)
            for bucket in page["data"]:
                if provider == "openai":
                    start = datetime(1970, 1, 1) + timedelta(seconds=bucket["start_time"])
                    amounts = [Decimal(r["amount"]["value"]) for r in bucket["results"]]
                    assert all(r["amount"]["currency"] == "usd" for r in bucket["results"])
                else:
                    start = utc(bucket["starting_at"])
                    assert all(isinstance(r["amount"], str) for r in bucket["results"])
                    amounts = [Decimal(r["amount"]) / cents for r in bucket["results"]]
                usage[(provider, start.date().replace(day=1))] += sum(amounts, Decimal(0))
    assert repeats == {"file": 1, "page": 1}
    rows = {(r["provider"], r["month"]): r for r in truth.marts["invoice_reconciliation"]}
    assert {k for k, v in usage.items()} == {k for k, r in rows.items() if r["invoice_usage_cost_usd"] is not None}
    for key, amount in usage.items():
        assert rows[key]["invoice_usage_cost_usd"] == amount, key
    # openai's first month: the Costs API page plus an Azure FOCUS correction billed a month later
    first = min(r["month"] for r in rows.values())
    assert rows[("openai", first)]["status"] == "reconciled"


# ---- O2: tickets ----------------------------------------------------------------------------------

JIRA_DONE = {"Done", "Resolved", "Closed"}


def ticket_events(landing: Path) -> dict[str, list[dict]]:
    """Events per outcome id, Zendesk redeliveries (same id) once, oldest first."""
    by_ticket: dict[str, dict[str, dict]] = defaultdict(dict)
    for path in sorted((landing / "outcomes").rglob("*")):
        rel = path.relative_to(landing).as_posix()
        if not path.is_file() or rel.split("/")[1] not in ("zendesk", "jira"):
            continue
        for line in read_lines(path):
            e = json.loads(line)
            if "zendesk_event_version" in e:
                key, eid = f"zendesk:{e['detail']['id']}", e["id"]
                e["_at"], e["_tags"] = utc(e["time"]), e["detail"]["tags"]
            else:
                key, eid = f"jira:{e['issue']['key']}", e["changelog"]["id"]
                e["_at"] = datetime(1970, 1, 1) + timedelta(milliseconds=e["timestamp"])
                e["_tags"] = e["issue"]["fields"]["labels"]
            by_ticket[key][eid] = e
    return {k: sorted(v.values(), key=lambda e: e["_at"]) for k, v in by_ticket.items()}


def ticket_verdict(evs: list[dict], instant: datetime) -> tuple[str, str, datetime | None, list[str]]:
    solved_at, escalations, reopens, closed = None, [], [], False
    for e in evs:
        if "zendesk_event_version" in e:
            kind = e["type"].rsplit(".", 1)[1]
            if kind == "status_changed":
                cur, prev = e["event"]["current"], e["event"]["previous"]
                if cur == "SOLVED" and solved_at is None:
                    solved_at = e["_at"]
                if prev in ("SOLVED", "CLOSED") and cur in ("NEW", "OPEN", "PENDING", "HOLD"):
                    reopens.append(e["_at"])
                closed |= cur == "CLOSED"
            elif kind == "tags_changed" and "escalated" in e["event"]["tags_added"]:
                escalations.append(e["_at"])
        else:
            for item in e["changelog"]["items"]:
                if item["field"] != "status":
                    continue
                if item["toString"] in JIRA_DONE and solved_at is None:
                    solved_at = e["_at"]
                if item["toString"] == "Escalated":
                    escalations.append(e["_at"])
                if item["fromString"] in JIRA_DONE and item["toString"] not in JIRA_DONE:
                    reopens.append(e["_at"])
    links = [t.split(":", 1)[1] for t in evs[-1]["_tags"] if t.startswith("workflow_id:")]
    window = timedelta(days=7)
    if any(solved_at is None or at < solved_at for at in escalations):
        return "failed", "escalated", solved_at, links
    if solved_at and any(solved_at < at < solved_at + window for at in reopens):
        return "failed", "reopened", solved_at, links
    if solved_at and solved_at + window > instant:
        return "pending", "window_open", solved_at, links
    if solved_at:
        return "verified_success", "solved", solved_at, links
    return ("failed", "closed_unsolved", None, links) if closed else ("pending", "open", None, links)


def test_ticket_events_read_by_the_conventions_give_the_truth(truth):
    events = ticket_events(truth.landing)
    outcomes = {o["outcome_id"]: o for o in truth.marts["fct_outcomes"] if o["outcome_source"] == "ticket"}
    assert set(events) == set(outcomes)
    workflows = {w["workflow_id"]: w for w in truth.marts["fct_workflows"]}
    linked = defaultdict(set)
    for w in workflows.values():
        if w["outcome_id"]:
            linked[w["outcome_id"]].add(w["workflow_id"])
    for oid, evs in events.items():
        status, reason, solved_at, links = ticket_verdict(evs, datetime.combine(truth.as_of, datetime.min.time()) + timedelta(days=1))
        o = outcomes[oid]
        assert (o["status"], o["status_reason"], o["resolved_at"]) == (status, reason, solved_at), oid
        assert o["external_ref"] == (oid if oid.startswith("zendesk:") else oid.split(":", 1)[1])
        assert o["value_usd"] is None
        assert linked[oid] == {w for w in links if w in workflows}
        if linked[oid]:
            assert o["workflow_type"] == "support_ticket"


def test_ticket_traps_are_in_the_files(truth):
    events = ticket_events(truth.landing)
    zd_lines = [line for p in sorted((truth.landing / "outcomes/zendesk").rglob("*")) if p.is_file() for line in read_lines(p)]
    ids = [json.loads(line)["id"] for line in zd_lines]
    assert len(ids) - len(set(ids)) == 1  # a redelivered Zendesk event
    types = Counter(json.loads(line)["type"] for line in zd_lines)
    assert set(types) == {"zen:event-type:ticket.status_changed", "zen:event-type:ticket.tags_changed",
                          "zen:event-type:ticket.group_assignment_changed"}
    outcomes = {o["outcome_id"]: o for o in truth.marts["fct_outcomes"] if o["outcome_source"] == "ticket"}
    stories = Counter()
    window = timedelta(days=7)
    for oid, evs in events.items():
        o = outcomes[oid]
        zd = oid.startswith("zendesk:")
        solved = o["resolved_at"]
        if zd:
            moves = [(e["_at"], e["event"]["previous"], e["event"]["current"]) for e in evs if e["type"].endswith("status_changed")]
            groups = [e for e in evs if e["type"].endswith("group_assignment_changed")]
            escalation = [e["_at"] for e in evs if e["type"].endswith("tags_changed") and "escalated" in e["event"]["tags_added"]]
            reopen = [at for at, prev, cur in moves if prev == "SOLVED" and cur != "CLOSED"]
            if groups and not escalation and o["status"] == "verified_success":
                stories["group assignment without escalation"] += 1
            if escalation and solved and min(escalation) > solved and o["status"] == "verified_success":
                stories["escalated only after solving"] += 1
            if reopen and min(reopen) >= solved + window and o["status"] == "verified_success":
                stories["reopened after the window"] += 1
            if any(at == solved + window for at in reopen) and o["status"] == "verified_success":
                stories["reopened exactly at the window's end"] += 1
            if any(cur == "CLOSED" for _, _, cur in moves) and o["status_reason"] == "solved":
                stories["closed after solving"] += 1
            if not any("workflow_id:" in t for t in evs[0]["_tags"]) and o["linked_workflows"]:
                stories["linked by a later tag"] += 1
            if any(t.startswith("workflow_id:") for e in evs for t in e["event"].get("tags_removed", [])):
                stories["re-tagged"] += 1
        else:
            items = [i for e in evs for i in e["changelog"]["items"] if i["field"] == "status"]
            if any(i["fromString"] in JIRA_DONE and i["toString"] not in JIRA_DONE for i in items) \
                    and o["status_reason"] == "reopened":
                stories["jira done -> in progress"] += 1
            if any(i["toString"] == "Escalated" for i in items) and o["status_reason"] == "escalated":
                stories["jira escalation"] += 1
            if any(i["toString"] == "Resolved" for i in items):
                stories["jira resolved"] += 1
        if o["status_reason"] == "window_open":
            stories["solved in the last 7 days"] += 1
        if o["linked_workflows"] == 0:
            stories["unlinked " + oid.split(":")[0]] += 1
    for story in ("group assignment without escalation", "escalated only after solving", "reopened after the window",
                  "reopened exactly at the window's end", "closed after solving", "linked by a later tag", "re-tagged",
                  "jira done -> in progress", "jira escalation", "jira resolved", "solved in the last 7 days",
                  "unlinked zendesk", "unlinked jira"):
        assert stories[story], story
    reasons = Counter((oid.split(":")[0], outcomes[oid]["status_reason"]) for oid in events)
    for system, reason in [("zendesk", "solved"), ("zendesk", "reopened"), ("zendesk", "escalated"), ("zendesk", "open"),
                           ("zendesk", "closed_unsolved"), ("jira", "solved"), ("jira", "open")]:
        assert reasons[(system, reason)], (system, reason)
    claimed = [o for o in outcomes.values() if o["status_reason"] == "escalated" and o["resolved_at"]]
    assert claimed  # escalated, then solved: claimed, never verified
