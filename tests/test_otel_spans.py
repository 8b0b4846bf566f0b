"""G2 OpenTelemetry GenAI spans (OTLP/JSON lines): mapping onto the five classes with exact counts,
current and legacy attribute names, skipped agent/tool spans, quarantine, and no content stored."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from ingest.context import pseudonymise_py
from tests.conftest import HMAC_KEY

CLASSES = ("input_uncached_tokens", "input_cache_read_tokens", "input_cache_write_tokens",
           "input_cache_write_1h_tokens", "output_visible_tokens", "output_reasoning_tokens")

T0 = 1_793_715_725_123_456_789  # 2026-11-03T14:22:05.123456789Z in ns
T0_US = datetime(2026, 11, 3, 14, 22, 5, 123456)  # stored at microsecond precision, naive UTC
TRACE = "5B8EFFF798038103D269B633813FC60C"  # upper case on purpose: call_id is lower case


class Num(int):
    """An integer attribute sent as a JSON number (OTLP/JSON encoders usually quote 64-bit ints)."""


def any_value(v) -> dict:
    if isinstance(v, dict):  # an AnyValue given as is
        return v
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, Num):
        return {"intValue": int(v)}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [any_value(x) for x in v]}}
    return {"stringValue": v}


def attributes(attrs: dict) -> list[dict]:
    return [{"key": k, "value": any_value(v)} for k, v in attrs.items()]


def _nanos(t):
    """Times as OTLP/JSON encoders write them (decimal strings); Num as a JSON number; other values as given."""
    if isinstance(t, Num):
        return int(t)
    return str(t) if isinstance(t, int) else t


def span(span_id: str, attrs: dict, *, name: str | None = None, trace: str = TRACE, start=T0, end=T0 + 2_140_000_999,
         status: dict | None = None, parent: str | None = None, **extra) -> dict:
    s = {"traceId": trace, "spanId": span_id, "name": name or f"{attrs.get('gen_ai.operation.name', 'op')} span",
         "kind": 3, "startTimeUnixNano": _nanos(start), "endTimeUnixNano": _nanos(end),
         "attributes": attributes(attrs), "status": status or {}}
    if parent:
        s["parentSpanId"] = parent
    s.update(extra)
    return {k: v for k, v in s.items() if v is not None}


def export(*resources: tuple[dict, list[list[dict]]]) -> dict:
    """One OTLP/JSON export request: resources of (resource attributes, [spans of each scope])."""
    return {"resourceSpans": [
        {"resource": {"attributes": attributes(res)},
         "scopeSpans": [{"scope": {"name": f"opentelemetry.instrumentation.s{i}", "version": "0.1.0"}, "spans": spans}
                        for i, spans in enumerate(scopes)]}
        for res, scopes in resources]}


def one(*spans: dict, resource: dict | None = None) -> dict:
    return export((resource or {"service.name": "pr-bot"}, [list(spans)]))


def chat(span_id: str, usage: dict, *, provider: str = "openai", model: str = "gpt-4o-2024-08-06", **attrs) -> dict:
    a = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model,
         "gen_ai.response.model": model, **usage, **attrs}
    return span(span_id, {k: v for k, v in a.items() if v is not None})


CASES = [
    # The convention: input includes cache reads and writes, output includes reasoning.
    ("inclusive_cache_and_reasoning", chat("00000000000000a1", {
        "gen_ai.usage.input_tokens": 6074, "gen_ai.usage.cache_read.input_tokens": 3456,
        "gen_ai.usage.cache_creation.input_tokens": 100, "gen_ai.usage.output_tokens": 285,
        "gen_ai.usage.reasoning.output_tokens": 200}),
     (2518, 3456, 100, 0, 85, 200)),
    # Anthropic instrumentation reporting the provider's own split: reads + writes > input.
    ("anthropic_exclusive", chat("00000000000000a2", {
        "gen_ai.usage.input_tokens": 5, "gen_ai.usage.cache_read.input_tokens": 128955,
        "gen_ai.usage.cache_creation.input_tokens": 1253, "gen_ai.usage.output_tokens": 97},
        provider="anthropic", model="claude-sonnet-4-5-20250929"),
     (5, 128955, 1253, 0, 97, 0)),
    # The same Anthropic call normalised as the convention asks (input = 5 + 128955 + 1253).
    ("anthropic_normalised", chat("00000000000000a3", {
        "gen_ai.usage.input_tokens": 130213, "gen_ai.usage.cache_read.input_tokens": 128955,
        "gen_ai.usage.cache_creation.input_tokens": 1253, "gen_ai.usage.output_tokens": 97},
        provider="anthropic", model="claude-sonnet-4-5-20250929"),
     (5, 128955, 1253, 0, 97, 0)),
    # Reads + writes equal to the input: inclusive, nothing uncached.
    ("all_input_cached", chat("00000000000000a4", {
        "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.cache_read.input_tokens": 1000, "gen_ai.usage.output_tokens": 1}),
     (0, 1000, 0, 0, 1, 0)),
    # Legacy names (gen_ai.system, prompt/completion, OpenLLMetry cache names, OpenLIT reasoning).
    ("legacy_names", span("00000000000000a5", {
        "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.prompt_tokens": 900, "gen_ai.usage.cache_read_input_tokens": 300,
        "gen_ai.usage.cache_creation_input_tokens": 50, "gen_ai.usage.completion_tokens": 120,
        "gen_ai.usage.reasoning_tokens": 20}),
     (550, 300, 50, 0, 100, 20)),
    # 64-bit integers as JSON numbers instead of strings.
    ("int_values_as_numbers", chat("00000000000000a6", {
        "gen_ai.usage.input_tokens": Num(2000), "gen_ai.usage.cache_read.input_tokens": Num(1500),
        "gen_ai.usage.output_tokens": Num(400), "gen_ai.usage.reasoning.output_tokens": Num(399)}),
     (500, 1500, 0, 0, 1, 399)),
    # Reasoning equal to the whole output: nothing visible.
    ("reasoning_is_all_output", chat("00000000000000a7", {
        "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 64, "gen_ai.usage.reasoning.output_tokens": 64}),
     (10, 0, 0, 0, 0, 64)),
    # Embeddings carry input only; missing counts are zero.
    ("embeddings_input_only", span("00000000000000a8", {
        "gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": 812}),
     (812, 0, 0, 0, 0, 0)),
    # Output only is usage too (a text_completion span whose instrumentation only counts output).
    ("text_completion_output_only", span("00000000000000a9", {
        "gen_ai.operation.name": "text_completion", "gen_ai.provider.name": "mistral_ai",
        "gen_ai.request.model": "codestral", "gen_ai.usage.output_tokens": 33}),
     (0, 0, 0, 0, 33, 0)),
    # generate_content with whole-number doubles (some SDKs record counts as doubles).
    ("generate_content_doubles", span("00000000000000aa", {
        "gen_ai.operation.name": "generate_content", "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": "gemini-2.5-pro", "gen_ai.usage.input_tokens": 1000.0,
        "gen_ai.usage.cache_read.input_tokens": 400.0, "gen_ai.usage.output_tokens": 120.0,
        "gen_ai.usage.reasoning.output_tokens": 70.0}),
     (600, 400, 0, 0, 50, 70)),
]


@pytest.mark.parametrize("name,record,expected", CASES, ids=[c[0] for c in CASES])
def test_span_usage_maps_to_disjoint_classes(landing, name, record, expected):
    landing.gateway("otel/spans.jsonl", [one(record)])
    report = landing.load()
    assert (report.totals.records, report.totals.loaded, report.totals.quarantined, report.totals.skipped) == (1, 1, 0, 0), \
        landing.rows("SELECT * FROM raw.quarantine")
    assert set(report.by_format) == {"otel_spans"}
    (row,) = landing.rows("SELECT * FROM raw.llm_calls")
    assert tuple(row[c] for c in CLASSES) == expected
    assert row["source_format"] == "otel_spans"


def test_every_field_of_a_span_maps(landing):
    full = chat("EEE19B7EC3C1B174", {"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20},
                provider="anthropic", model=None, **{
                    "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.response.model": "claude-sonnet-4-5-20250929",
                    "tokenpnl.workflow.id": "wf_91c2", "gen_ai.conversation.id": "conv_1",
                    "tokenpnl.workflow.type": "code_change", "tokenpnl.step": "execute", "tokenpnl.attempt": 2,
                    "tokenpnl.team": "payments", "user.id": "dana@example.com", "enduser.id": "someone@else",
                    "tokenpnl.routing.default_model": "glm-5.2", "gen_ai.response.id": "msg_01"})
    full["status"] = {"code": 2, "message": "overloaded"}
    fallbacks = span("00000000000000b2", {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1, "gen_ai.conversation.id": "conv_7", "enduser.id": "eve@example.com"},
        start=Num(T0), end=Num(T0 + 999_999), status={"code": "STATUS_CODE_ERROR"})
    ok = span("00000000000000b3", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                   "gen_ai.request.model": "gpt-4o", "gen_ai.usage.output_tokens": 1},
              status={"code": 1}, end=None)
    landing.gateway("otel/spans.jsonl", [one(full, fallbacks, ok)])
    report = landing.load()
    assert (report.totals.loaded, report.totals.quarantined, report.totals.skipped) == (3, 0, 0)
    rows = {r["call_id"]: r for r in landing.rows("SELECT * FROM raw.llm_calls")}
    trace = TRACE.lower()
    r = rows[f"{trace}-eee19b7ec3c1b174"]
    assert {k: r[k] for k in ("source_format", "occurred_at", "ended_at", "provider", "model", "api", "status", "latency_ms",
                              "workflow_id", "workflow_type", "step", "attempt", "team", "user_key", "tags",
                              "routed_from_model", "gateway_reported_cost_usd", "api_key_pseudonym", "_line")} == {
        "source_format": "otel_spans", "occurred_at": T0_US, "ended_at": datetime(2026, 11, 3, 14, 22, 7, 263457),
        "provider": "anthropic", "model": "claude-sonnet-4-5-20250929", "api": "chat", "status": "error",
        "latency_ms": 2140, "workflow_id": "wf_91c2", "workflow_type": "code_change", "step": "execute", "attempt": 2,
        "team": "payments", "user_key": pseudonymise_py(HMAC_KEY, "dana@example.com"), "tags": None,
        "routed_from_model": "glm-5.2", "gateway_reported_cost_usd": None, "api_key_pseudonym": None, "_line": 1}
    r = rows[f"{trace}-00000000000000b2"]  # numbers for times, conversation id, legacy enduser.id, request model
    assert (r["occurred_at"], r["latency_ms"], r["status"], r["workflow_id"], r["attempt"], r["model"], r["user_key"]) == (
        T0_US, 0, "error", "conv_7", 1, "gpt-4o", pseudonymise_py(HMAC_KEY, "eve@example.com"))
    r = rows[f"{trace}-00000000000000b3"]  # no end time: ended at its start, latency unknown; status OK
    assert (r["ended_at"], r["latency_ms"], r["status"], r["workflow_id"], r["user_key"]) == (T0_US, None, "ok", None, None)


def test_span_attributes_win_over_resource_attributes(landing):
    resource = {"service.name": "pr-bot", "gen_ai.provider.name": "azure.ai.openai", "tokenpnl.team": "payments",
                "tokenpnl.workflow.type": "code_change"}
    own = chat("00000000000000c1", {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2}, provider="openai")
    inherits = span("00000000000000c2", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                         "gen_ai.usage.input_tokens": 5, "tokenpnl.team": "search"})
    landing.gateway("otel/spans.jsonl", [one(own, inherits, resource=resource)])
    assert landing.load().totals.loaded == 2
    rows = landing.rows("SELECT provider, team, workflow_type, input_uncached_tokens AS n FROM raw.llm_calls ORDER BY n")
    assert rows == [{"provider": "azure.ai.openai", "team": "search", "workflow_type": "code_change", "n": 5},
                    {"provider": "openai", "team": "payments", "workflow_type": "code_change", "n": 10}]


def test_agent_tool_and_usage_less_spans_are_skipped_never_counted(landing):
    agent = span("00000000000000d1", {  # an agent span carrying its children's totals (even inconsistent ones)
        "gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "openai", "gen_ai.agent.name": "pr-bot",
        "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 7000, "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.reasoning.output_tokens": 900})
    create = span("00000000000000d2", {"gen_ai.operation.name": "create_agent", "gen_ai.provider.name": "openai",
                                       "gen_ai.usage.input_tokens": 1})
    tool = span("00000000000000d3", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "run_tests",
                                     "gen_ai.usage.input_tokens": 12}, parent="00000000000000d1")
    no_usage = chat("00000000000000d4", {}, parent="00000000000000d1")
    http = span("00000000000000d5", {"http.request.method": "POST", "url.full": "https://api.openai.com/v1/chat"},
                name="POST", start="not a time", trace="nonsense")
    workflow = span("00000000000000d6", {"gen_ai.operation.name": "invoke_workflow", "gen_ai.usage.input_tokens": 7000})
    call = chat("00000000000000d7", {"gen_ai.usage.input_tokens": 6000, "gen_ai.usage.output_tokens": 250})
    landing.gateway("otel/spans.jsonl", [one(agent, create, tool, no_usage, http, workflow, call)])
    report = landing.load()
    assert (report.totals.records, report.totals.loaded, report.totals.quarantined, report.totals.skipped) == (7, 1, 0, 6)
    assert landing.rows("SELECT count(*) AS n FROM raw.quarantine") == [{"n": 0}]
    (row,) = landing.rows("SELECT call_id, api FROM raw.llm_calls")
    assert row == {"call_id": f"{TRACE.lower()}-00000000000000d7", "api": "chat"}
    assert landing.rows("SELECT skipped FROM raw.load_manifest") == [{"skipped": 6}]


def test_several_resource_and_scope_spans_per_line(landing):
    def s(i: int) -> dict:
        return chat(f"{i:016x}", {"gen_ai.usage.input_tokens": i, "gen_ai.usage.output_tokens": 1})
    line1 = export(({"tokenpnl.team": "a"}, [[s(1), s(2)], [s(3)]]),
                   ({"tokenpnl.team": "b"}, [[s(4)], [], [s(5), s(6)]]),
                   ({"tokenpnl.team": "c"}, []))
    line2 = export(({"tokenpnl.team": "d"}, [[s(7)]]))
    landing.gateway("otel/spans.jsonl", [line1, line2])
    report = landing.load()
    assert (report.totals.records, report.totals.loaded, report.totals.quarantined, report.totals.skipped) == (7, 7, 0, 0)
    rows = landing.rows("SELECT input_uncached_tokens AS n, team, _line FROM raw.llm_calls ORDER BY n")
    assert [(r["n"], r["team"], r["_line"]) for r in rows] == [
        (1, "a", 1), (2, "a", 1), (3, "a", 1), (4, "b", 1), (5, "b", 1), (6, "b", 1), (7, "d", 2)]


def good(span_id: str, n: int = 10) -> dict:
    return chat(span_id, {"gen_ai.usage.input_tokens": n, "gen_ai.usage.output_tokens": 1})


def test_bad_lines_and_spans_are_quarantined_and_the_rest_loads(landing):
    negative = chat("00000000000000e2", {"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 5,
                                         "gen_ai.usage.reasoning.output_tokens": 9})
    landing.gateway("otel/mixed.jsonl", [
        one(good("00000000000000e1"), good("00000000000000e9")),
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab", ',
        one(negative, good("00000000000000e3")),
        {"note": "not an OTLP export"},
        "[1, 2]",
        {"resourceSpans": {"not": "an array"}},
        {"resourceMetrics": []},  # metrics from a shared Collector file exporter: skipped, not quarantined
    ])
    report = landing.load()
    assert (report.totals.records, report.totals.loaded, report.totals.quarantined, report.totals.skipped) == (9, 3, 5, 1)
    q = landing.rows("SELECT source_file, line, source_kind, source_format, reason, raw_excerpt FROM raw.quarantine ORDER BY line")
    assert [(r["line"], r["reason"]) for r in q] == [
        (2, "malformed JSON"),
        (3, "negative output_visible_tokens after mapping the gen_ai.usage attributes"),
        (4, "no resourceSpans array (not an OTLP/JSON trace export)"),
        (5, "record is not a JSON object"),
        (6, "resourceSpans is not an array"),
    ]
    assert {(r["source_file"], r["source_kind"], r["source_format"]) for r in q} == {("gateway/otel/mixed.jsonl", "gateway", "otel_spans")}
    assert json.loads(q[1]["raw_excerpt"]) == {
        "span": "chat span", "traceId": TRACE, "spanId": "00000000000000e2", "startTimeUnixNano": str(T0),
        "endTimeUnixNano": str(T0 + 2_140_000_999), "operation": "chat", "provider": "openai", "model": "gpt-4o-2024-08-06",
        "usage": {"input": "100", "output": "5", "cache_read": None, "cache_write": None, "reasoning": "9"}}
    assert json.loads(q[2]["raw_excerpt"]) == {"keys": ["note"]}
    assert q[0]["raw_excerpt"] == '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab", '
    ids = [r["call_id"][-2:] for r in landing.rows("SELECT call_id FROM raw.llm_calls ORDER BY _line, call_id")]
    assert ids == ["e1", "e9", "e3"]


def usage(**attrs) -> dict:
    return {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2, **attrs}


BAD_SPANS = [
    ("missing_start", span("00000000000000f1", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                                "gen_ai.request.model": "m", **usage()}, start=None),
     "missing startTimeUnixNano"),
    ("rfc3339_start", span("00000000000000f1", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                                "gen_ai.request.model": "m", **usage()}, start="2026-11-03T14:22:05Z"),
     "startTimeUnixNano is not a time in nanoseconds since the epoch: 2026-11-03T14:22:05Z"),
    ("zero_start", span("00000000000000f1", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                             "gen_ai.request.model": "m", **usage()}, start="0"),
     "startTimeUnixNano is not a time in nanoseconds since the epoch: 0"),
    ("end_before_start", span("00000000000000f1", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                                   "gen_ai.request.model": "m", **usage()}, end=T0 - 1),
     "endTimeUnixNano is before startTimeUnixNano"),
    ("bad_end", span("00000000000000f1", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                          "gen_ai.request.model": "m", **usage()}, end="soon"),
     "endTimeUnixNano is not a time in nanoseconds since the epoch: soon"),
    ("base64_trace_id", span("00000000000000f1", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                                  "gen_ai.request.model": "m", **usage()}, trace="W47/95gDgQPSabYzgT/GDA=="),
     "traceId is missing or not 32 hex digits"),
    ("missing_span_id", span(None, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                    "gen_ai.request.model": "m", **usage()}),
     "spanId is missing or not 16 hex digits"),
    ("missing_provider", span("00000000000000f1", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", **usage()}),
     "missing gen_ai.provider.name (or gen_ai.system)"),
    ("missing_model", span("00000000000000f1", {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", **usage()}),
     "missing gen_ai.response.model and gen_ai.request.model"),
    ("count_not_a_number", chat("00000000000000f1", usage(**{"gen_ai.usage.input_tokens": "lots"})),
     "gen_ai.usage.input_tokens is not a whole number"),
    ("legacy_count_fractional", chat("00000000000000f1", {"gen_ai.usage.prompt_tokens": 1.5}),
     "gen_ai.usage.prompt_tokens is not a whole number"),
    ("attempt_not_a_number", chat("00000000000000f1", usage(), **{"tokenpnl.attempt": "two"}),
     "tokenpnl.attempt is not a whole number"),
    ("attempt_zero", chat("00000000000000f1", usage(), **{"tokenpnl.attempt": 0}),
     "tokenpnl.attempt must be 1 or more"),
    ("negative_cache_read", chat("00000000000000f1", usage(**{"gen_ai.usage.cache_read.input_tokens": -3})),
     "negative input_cache_read_tokens after mapping the gen_ai.usage attributes"),
    ("negative_input", chat("00000000000000f1", usage(**{"gen_ai.usage.input_tokens": Num(-1)})),
     "negative input_uncached_tokens after mapping the gen_ai.usage attributes"),
]


@pytest.mark.parametrize("name,bad,reason", BAD_SPANS, ids=[b[0] for b in BAD_SPANS])
def test_bad_spans_are_quarantined_and_their_siblings_load(landing, name, bad, reason):
    landing.gateway("otel/spans.jsonl", [one(good("0000000000000001")), one(good("0000000000000002"), bad, good("0000000000000003"))])
    report = landing.load()
    assert (report.totals.records, report.totals.loaded, report.totals.quarantined, report.totals.skipped) == (4, 3, 1, 0)
    (q,) = landing.rows("SELECT line, reason FROM raw.quarantine")
    assert q == {"line": 2, "reason": reason}


def test_content_attributes_are_never_stored(landing):
    canary = "CANARY-0tel-prompt-text"
    content = {
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": canary}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": canary}]}]),
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": canary}]),
        "gen_ai.prompt.0.content": canary, "gen_ai.completion.0.content": canary, "gen_ai.prompt": canary,
    }
    ok = chat("00000000000000a1", usage(**content), **{"user.id": "dana@example.com"})
    ok["events"] = [{"name": "gen_ai.content.prompt", "timeUnixNano": str(T0),
                     "attributes": attributes({"gen_ai.prompt": canary})}]
    negative = chat("00000000000000a2", usage(**content, **{"gen_ai.usage.reasoning.output_tokens": 5}))
    agent = span("00000000000000a3", {"gen_ai.operation.name": "invoke_agent", **content})
    # Cut mid-line (malformed), content first and early: a generic redaction would show it in the excerpt.
    early = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": TRACE, "spanId": "00000000000000a4",
                                                         "attributes": attributes({"gen_ai.prompt.0.content": canary})}]}]}]}
    broken = json.dumps(early)[:-8]
    assert canary in broken[:300]
    landing.gateway("otel/spans.jsonl.gz", [one(ok, negative, agent), broken], compress=True)
    report = landing.load()
    assert (report.totals.records, report.totals.loaded, report.totals.quarantined, report.totals.skipped) == (4, 1, 2, 1)
    wal = landing.db.with_suffix(".duckdb.wal")
    blob = landing.db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert canary.encode() not in blob and b"dana@example.com" not in blob
    excerpts = [q["raw_excerpt"] for q in landing.rows("SELECT raw_excerpt FROM raw.quarantine ORDER BY line")]
    assert all(canary not in e for e in excerpts) and "<removed>" in excerpts[1]


def test_gzip_file_loads_like_plain(landing):
    records = [one(good("0000000000000001", 5), good("0000000000000002", 6)), "{broken"]
    landing.gateway("otel/day1.jsonl.gz", records, compress=True)
    report = landing.load()
    assert (report.totals.records, report.totals.loaded, report.totals.quarantined, report.totals.skipped) == (3, 2, 1, 0)
    assert report.by_format["otel_spans"].loaded == 2
    rows = landing.rows("SELECT _source_file, _line, input_uncached_tokens AS n FROM raw.llm_calls ORDER BY n")
    assert rows == [{"_source_file": "gateway/otel/day1.jsonl.gz", "_line": 1, "n": 5},
                    {"_source_file": "gateway/otel/day1.jsonl.gz", "_line": 1, "n": 6}]


def test_redelivered_span_lands_twice_with_the_same_call_id(landing):
    first = good("00000000000000aa", 5)
    again = dict(first, endTimeUnixNano=str(T0 + 3_000_000_000))  # re-sent, in another file
    landing.gateway("otel/a.jsonl", [one(first)])
    landing.gateway("otel/b.jsonl", [one(good("00000000000000bb")), one(again)])
    report = landing.load()
    assert (report.files_loaded, report.totals.loaded) == (2, 3)
    rows = landing.rows("SELECT call_id, latency_ms, _source_file, _line FROM raw.llm_calls "
                        "WHERE call_id LIKE '%-00000000000000aa' ORDER BY _source_file")
    assert rows == [
        {"call_id": f"{TRACE.lower()}-00000000000000aa", "latency_ms": 2140, "_source_file": "gateway/otel/a.jsonl", "_line": 1},
        {"call_id": f"{TRACE.lower()}-00000000000000aa", "latency_ms": 3000, "_source_file": "gateway/otel/b.jsonl", "_line": 2},
    ]


def test_otlp_file_in_the_wrong_folder_is_refused(landing):
    landing.outcomes("spans.jsonl", [one(good("0000000000000001"))])
    report = landing.load()
    assert report.totals.loaded == 0
    (q,) = landing.rows("SELECT line, source_format, reason FROM raw.quarantine")
    assert q == {"line": 0, "source_format": "otel_spans", "reason": "looks like otel_spans, which belongs in gateway/, not outcomes/"}


def test_documented_example_loads_as_documented(landing):
    """tests/fixtures/otel/doc_example.jsonl is the example of docs/formats/otel.md."""
    fixture = Path(__file__).parent / "fixtures" / "otel" / "doc_example.jsonl"
    (landing.root / "gateway").mkdir()
    shutil.copy(fixture, landing.root / "gateway" / "example.jsonl")
    report = landing.load()
    assert (report.totals.records, report.totals.loaded, report.totals.quarantined, report.totals.skipped) == (2, 1, 0, 1)
    (row,) = landing.rows("SELECT * FROM raw.llm_calls")
    assert {k: row[k] for k in ("call_id", "occurred_at", "latency_ms", "provider", "model", "api", "status", "workflow_id",
                                "step", "team", "attempt", "user_key")} == {
        "call_id": "5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174", "occurred_at": T0_US, "latency_ms": 2140,
        "provider": "anthropic", "model": "claude-sonnet-4-5-20250929", "api": "chat", "status": "ok",
        "workflow_id": "wf_91c2", "step": "execute", "team": "payments", "attempt": 1,
        "user_key": pseudonymise_py(HMAC_KEY, "dana@example.com")}
    assert tuple(row[c] for c in CLASSES) == (5, 128955, 1253, 0, 97, 0)
