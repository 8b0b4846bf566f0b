"""G3 LiteLLM spend logs: LiteLLM_SpendLogs rows (JSONL and CSV) onto five disjoint classes,
exact spend, attribution fallbacks, pseudonyms, and no prompt text in the warehouse."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal

import pytest

from ingest.context import pseudonymise_py
from ingest.formats import detect, litellm_spend_logs
from tests.conftest import HMAC_KEY

CLASSES = ("input_uncached_tokens", "input_cache_read_tokens", "input_cache_write_tokens",
           "input_cache_write_1h_tokens", "output_visible_tokens", "output_reasoning_tokens")
CANARY = "CANARY-litellm-9b1e-prompt-text"
API_KEY = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"  # LiteLLM stores the key hashed

# The LiteLLM_SpendLogs columns in schema.prisma order (CSV header and JSON key order).
SPEND_LOG_COLUMNS = (
    "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens", "completion_tokens",
    "startTime", "endTime", "request_duration_ms", "completionStartTime", "model", "model_id", "model_group",
    "custom_llm_provider", "api_base", "user", "metadata", "cache_hit", "cache_key", "request_tags", "team_id",
    "organization_id", "end_user", "requester_ip_address", "messages", "response", "session_id", "status",
    "mcp_namespaced_tool_name", "agent_id", "proxy_server_request",
)


def usage(prompt: int, completion: int, **details) -> dict:
    """A LiteLLM usage_object (OpenAI semantics) with the given extra keys."""
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion, **details}


def spend_log(request_id: str, *, usage_object: dict | None = None, metadata: dict | None = None, **over) -> dict:
    """A realistic LiteLLM_SpendLogs row as a JSON export writes it (timestamps with offset)."""
    uo = usage_object if usage_object is not None else usage(1200, 300)
    md = {"user_api_key_alias": "pr-bot", "user_api_key_team_id": "team-payments",
          "model_map_information": {"model_map_key": "gpt-4o"}, "usage_object": uo}
    if metadata is not None:
        md = metadata
    row = {
        "request_id": request_id, "call_type": "acompletion", "api_key": API_KEY, "spend": 0.0045,
        "total_tokens": uo.get("total_tokens", 0), "prompt_tokens": uo.get("prompt_tokens", 0),
        "completion_tokens": uo.get("completion_tokens", 0),
        "startTime": "2026-10-14T09:00:00.000Z", "endTime": "2026-10-14T09:00:04.200Z", "request_duration_ms": 4200,
        "completionStartTime": "2026-10-14T09:00:00.900Z", "model": "gpt-4o-2024-08-06", "model_id": "m-1",
        "model_group": "gpt-4o", "custom_llm_provider": "openai", "api_base": "https://api.openai.com/v1",
        "user": "", "metadata": md, "cache_hit": "False", "cache_key": "", "request_tags": [],
        "team_id": None, "organization_id": None, "end_user": None, "requester_ip_address": "10.0.0.7",
        "messages": [{"role": "user", "content": CANARY}],
        "response": {"choices": [{"message": {"content": CANARY}}]},
        "session_id": None, "status": "success", "mcp_namespaced_tool_name": None, "agent_id": None,
        "proxy_server_request": {"body": {"messages": [{"content": CANARY}]}},
    }
    row.update(over)
    return row


ANTHROPIC_USAGE = usage(130213, 97, cache_read_input_tokens=128955, cache_creation_input_tokens=1253,
                        prompt_tokens_details={"cached_tokens": 128955, "cache_creation_tokens": 1253},
                        completion_tokens_details={"reasoning_tokens": 40})

# (id, row, classes, exact spend)
CASES = [
    # OpenAI: cached tokens INSIDE prompt_tokens.
    ("openai_cached", spend_log("a", usage_object=usage(2000, 300, prompt_tokens_details={"cached_tokens": 1536, "audio_tokens": 0},
                                                       completion_tokens_details={"reasoning_tokens": 0}), spend=0.00214),
     (464, 1536, 0, 0, 300, 0), Decimal("0.00214")),
    # Reasoning model: reasoning INSIDE completion_tokens; spend in exponent notation.
    ("openai_reasoning", spend_log("b", model="o3-mini", usage_object=usage(1200, 900, completion_tokens_details={"reasoning_tokens": 640}),
                                   spend=1.5e-05),
     (1200, 0, 0, 0, 260, 640), Decimal("0.000015")),
    # Anthropic via LiteLLM: prompt_tokens INCLUDES reads and writes (LiteLLM normalises to OpenAI semantics).
    ("anthropic_via_litellm", spend_log("c", model="claude-sonnet-4-5-20250929", custom_llm_provider="anthropic",
                                        usage_object=ANTHROPIC_USAGE, spend=0.04485525),
     (5, 128955, 1253, 0, 57, 40), Decimal("0.04485525")),
    # Anthropic with only the top-level usage_object cache keys.
    ("anthropic_top_level_cache_keys", spend_log("d", custom_llm_provider="anthropic",
                                                 usage_object=usage(3000, 50, cache_read_input_tokens=2000, cache_creation_input_tokens=500)),
     (500, 2000, 500, 0, 50, 0), Decimal("0.0045")),
    # Only prompt_tokens_details carries the write count.
    ("cache_creation_in_details", spend_log("e", usage_object=usage(900, 10, prompt_tokens_details={"cached_tokens": 100, "cache_creation_tokens": 300})),
     (500, 100, 300, 0, 10, 0), Decimal("0.0045")),
    # First present wins: cached_tokens over cache_read_input_tokens, cache_creation_input_tokens over details.
    ("precedence", spend_log("f", usage_object=usage(1000, 10, cache_read_input_tokens=999, cache_creation_input_tokens=50,
                                                    prompt_tokens_details={"cached_tokens": 100, "cache_creation_tokens": 70})),
     (850, 100, 50, 0, 10, 0), Decimal("0.0045")),
    # Null detail objects (Azure, Bedrock) count as zero; a null cached_tokens falls back to cache_read_input_tokens.
    ("null_details", spend_log("g", usage_object=usage(40, 8, prompt_tokens_details={"cached_tokens": None}, cache_read_input_tokens=16,
                                                      completion_tokens_details=None)),
     (24, 16, 0, 0, 8, 0), Decimal("0.0045")),
    # No usage_object (older LiteLLM): the prompt_tokens/completion_tokens columns, no split.
    ("no_usage_object", spend_log("h", metadata={"user_api_key_alias": "x"}, prompt_tokens=10, completion_tokens=5),
     (10, 0, 0, 0, 5, 0), Decimal("0.0045")),
    # The usage_object wins over the columns when both are given.
    ("usage_object_over_columns", spend_log("i", usage_object=usage(70, 7), prompt_tokens=1, completion_tokens=1),
     (70, 0, 0, 0, 7, 0), Decimal("0.0045")),
    # metadata stored double-encoded (a JSON string holding the object).
    ("metadata_as_json_string", spend_log("j", metadata=json.dumps({"usage_object": usage(50, 5, prompt_tokens_details={"cached_tokens": 20})})),
     (30, 20, 0, 0, 5, 0), Decimal("0.0045")),
    # Float noise of a float8 spend is rounded at 14 decimal places; a spend given as text is exact.
    ("float_noise_spend", spend_log("k", spend=3.5000000000000004e-05), (1200, 0, 0, 0, 300, 0), Decimal("0.000035")),
    ("spend_as_text", spend_log("l", spend="0.12345678901234"), (1200, 0, 0, 0, 300, 0), Decimal("0.12345678901234")),
    # Streamed calls LiteLLM failed to price are logged with spend 0: kept as 0, not NULL.
    ("zero_spend", spend_log("m", spend=0.0, custom_llm_provider="vertex_ai"), (1200, 0, 0, 0, 300, 0), Decimal("0")),
    ("token_counts_as_strings", spend_log("n", usage_object={"prompt_tokens": "20", "completion_tokens": "4.0"}), (20, 0, 0, 0, 4, 0), Decimal("0.0045")),
]


@pytest.mark.parametrize("name,record,expected,spend", CASES, ids=[c[0] for c in CASES])
def test_usage_maps_to_disjoint_classes_with_exact_spend(landing, name, record, expected, spend):
    landing.gateway("litellm/spend_logs.jsonl", [record])
    report = landing.load()
    assert report.by_format["litellm_spend_logs"].loaded == 1, landing.rows("SELECT * FROM raw.quarantine")
    (row,) = landing.rows("SELECT * FROM raw.llm_calls")
    assert tuple(row[c] for c in CLASSES) == expected
    assert row["gateway_reported_cost_usd"] == spend
    assert (row["source_format"], row["api"], row["call_id"]) == ("litellm_spend_logs", "chat.completions", record["request_id"])


def test_fields_and_attribution_fallbacks(landing):
    full = spend_log(
        "full", model="claude-sonnet-4-5-20250929", model_group="sonnet", custom_llm_provider="Anthropic",
        usage_object=ANTHROPIC_USAGE, user="dev-17", end_user="customer-42", team_id="team-uuid-1", session_id="conv_42",
        request_tags=["repo:acme/api", "step:ignored", "pr:123"], status="failure",
        startTime="2026-11-01T01:30:00.250+02:00", endTime="2026-11-01T01:30:02.000+02:00",
        metadata={"user_api_key_team_alias": "payments-alias", "usage_object": ANTHROPIC_USAGE,
                  "spend_logs_metadata": {"workflow_id": "wf_91c2", "workflow_type": "code_change", "step": "execute",
                                          "attempt": 2, "team": "payments"}},
    )
    # Everything from the fallbacks: request_tags, team alias, session_id, `user` when end_user is empty.
    tags_only = spend_log(
        "tags", user="dev-18", end_user="", team_id="team-uuid-2", session_id="sess-7",
        request_tags=["workflow_type:support_reply", "step:evaluate", "attempt:3", "repo:x"],
        metadata={"user_api_key_team_alias": "support", "usage_object": usage(10, 2), "spend_logs_metadata": {"step": ""}},
        endTime=None,
    )
    # Nothing to attribute: empty strings count as missing; team_id is the last team fallback.
    bare = spend_log("bare", user="", end_user=None, team_id="team-uuid-3", api_key="", status=None,
                     metadata={"usage_object": usage(10, 2), "user_api_key_team_alias": ""})
    landing.gateway("spend.jsonl", [full, tags_only, bare])
    report = landing.load()
    assert (report.totals.loaded, report.totals.quarantined) == (3, 0), landing.rows("SELECT * FROM raw.quarantine")
    rows = {r["call_id"]: r for r in landing.rows("SELECT *, occurred_at::VARCHAR AS occ, ended_at::VARCHAR AS ended FROM raw.llm_calls")}

    r = rows["full"]
    assert (r["provider"], r["model"], r["api"], r["status"]) == ("Anthropic", "claude-sonnet-4-5-20250929", "chat.completions", "failure")
    assert (r["occ"], r["ended"], r["latency_ms"]) == ("2026-10-31 23:30:00.25", "2026-10-31 23:30:02", 1750)
    assert (r["workflow_id"], r["workflow_type"], r["step"], r["attempt"], r["team"]) == ("wf_91c2", "code_change", "execute", 2, "payments")
    assert r["user_key"] == pseudonymise_py(HMAC_KEY, "customer-42")
    assert r["api_key_pseudonym"] == pseudonymise_py(HMAC_KEY, API_KEY)
    assert json.loads(r["tags"]) == ["repo:acme/api", "step:ignored", "pr:123"]
    assert r["routed_from_model"] is None

    r = rows["tags"]
    assert (r["workflow_id"], r["workflow_type"], r["step"], r["attempt"], r["team"]) == ("sess-7", "support_reply", "evaluate", 3, "support")
    assert r["user_key"] == pseudonymise_py(HMAC_KEY, "dev-18")
    assert (r["occ"], r["ended"]) == ("2026-10-14 09:00:00", "2026-10-14 09:00:00")  # no endTime: startTime
    assert r["latency_ms"] == 4200  # request_duration_ms when endTime is missing

    r = rows["bare"]
    assert (r["workflow_id"], r["workflow_type"], r["step"], r["attempt"], r["team"]) == (None, None, None, 1, "team-uuid-3")
    assert (r["user_key"], r["api_key_pseudonym"], r["status"], r["tags"]) == (None, None, "ok", "[]")


def test_duplicate_spend_rows_both_land_with_the_same_call_id(landing):
    # LiteLLM has logged /v1/responses spend twice (BerriAI/litellm#15740); dbt keeps the latest endTime.
    first = spend_log("resp_68ab", call_type="aresponses", endTime="2026-10-14T09:00:04.200Z")
    second = spend_log("resp_68ab", call_type="aresponses", endTime="2026-10-14T09:00:05.000Z", spend=0.009)
    landing.gateway("spend.jsonl", [first, second])
    landing.load()
    rows = landing.rows("SELECT call_id, ended_at::VARCHAR AS e, gateway_reported_cost_usd AS s FROM raw.llm_calls ORDER BY _line")
    assert rows == [{"call_id": "resp_68ab", "e": "2026-10-14 09:00:04.2", "s": Decimal("0.0045")},
                    {"call_id": "resp_68ab", "e": "2026-10-14 09:00:05", "s": Decimal("0.009")}]


BAD = [
    # LiteLLM's Postgres stores naive timestamps: an export without offset is refused.
    ("naive_startTime", spend_log("y", startTime="2026-10-14T09:00:00.000"), "startTime has no UTC offset: 2026-10-14T09:00:00.000"),
    ("naive_endTime", spend_log("y", endTime="2026-10-14 09:00:04.2"), "endTime has no UTC offset: 2026-10-14 09:00:04.2"),
    ("missing_startTime", spend_log("y", startTime=None), "missing startTime"),
    ("end_before_start", spend_log("y", endTime="2026-10-14T08:59:59Z"), "endTime is before startTime"),
    ("negative_uncached", spend_log("y", usage_object=usage(10, 5, prompt_tokens_details={"cached_tokens": 20})),
     "negative input_uncached_tokens after mapping the LiteLLM usage"),
    # Pre-#40016 Anthropic rows whose prompt_tokens excluded the cache are caught the same way.
    ("anthropic_exclusive_prompt", spend_log("y", usage_object=usage(5, 97, cache_read_input_tokens=128955, cache_creation_input_tokens=1253)),
     "negative input_uncached_tokens after mapping the LiteLLM usage"),
    ("negative_visible", spend_log("y", usage_object=usage(10, 5, completion_tokens_details={"reasoning_tokens": 9})),
     "negative output_visible_tokens after mapping the LiteLLM usage"),
    ("negative_cache_read", spend_log("y", usage_object=usage(10, 5, prompt_tokens_details={"cached_tokens": -1})),
     "negative input_cache_read_tokens after mapping the LiteLLM usage"),
    ("spend_not_a_number", spend_log("y", spend="n/a"), "spend is not a number: n/a"),
    ("spend_boolean", spend_log("y", spend=True), "spend is not a number: true"),
    ("spend_out_of_range", spend_log("y", spend="1e30"), "spend is not a number: 1e30"),
    ("fractional_tokens", spend_log("y", usage_object=usage(10, 5, prompt_tokens_details={"cached_tokens": 1.5})),
     "metadata.usage_object.prompt_tokens_details.cached_tokens is not a whole number"),
    ("prompt_tokens_text", spend_log("y", usage_object={"prompt_tokens": "lots", "completion_tokens": 1}),
     "metadata.usage_object.prompt_tokens is not a whole number"),
    ("no_token_counts", {k: v for k, v in spend_log("y", metadata={}).items() if k not in ("prompt_tokens", "completion_tokens")},
     "missing prompt_tokens (metadata.usage_object or column)"),
    ("missing_provider", spend_log("y", custom_llm_provider=""), "missing custom_llm_provider"),
    ("missing_model", spend_log("y", model=""), "missing model"),
    ("missing_request_id", spend_log("", ), "missing request_id"),
    ("metadata_not_json", spend_log("y", metadata="{usage_object: 1"), "metadata is not valid JSON"),
    ("metadata_not_object", spend_log("y", metadata=[1, 2]), "metadata is not a JSON object"),
    ("usage_object_not_object", spend_log("y", metadata={"usage_object": [1]}), "metadata.usage_object is not a JSON object"),
    ("request_tags_not_array", spend_log("y", request_tags={"step": "plan"}), "request_tags is not a JSON array"),
    ("attempt_tag_not_a_number", spend_log("y", request_tags=["attempt:second"]), "attempt is not a whole number"),
    ("attempt_zero", spend_log("y", metadata={"usage_object": usage(1, 1), "spend_logs_metadata": {"attempt": 0}}), "attempt must be 1 or more"),
    ("not_an_object", "[1, 2, 3]", "record is not a JSON object"),
    ("malformed", '{"request_id": "y", "startTime": ', "malformed JSON"),
]


@pytest.mark.parametrize("name,record,reason", BAD, ids=[b[0] for b in BAD])
def test_bad_rows_are_quarantined_and_the_rest_loads(landing, name, record, reason):
    good = spend_log("ok")
    landing.gateway("mixed.jsonl", [good, record, good | {"request_id": "ok2"}])
    report = landing.load()
    assert (report.totals.loaded, report.totals.quarantined) == (2, 1)
    (q,) = landing.rows("SELECT * FROM raw.quarantine")
    assert (q["source_file"], q["line"], q["source_format"], q["reason"]) == ("gateway/mixed.jsonl", 2, "litellm_spend_logs", reason)
    assert CANARY not in (q["raw_excerpt"] or "") and API_KEY not in (q["raw_excerpt"] or "")
    assert [r["call_id"] for r in landing.rows("SELECT call_id FROM raw.llm_calls ORDER BY _line")] == ["ok", "ok2"]


def _csv_cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value)  # JSON columns hold JSON text
    return str(value)


def spend_logs_csv(rows: list[dict], columns=SPEND_LOG_COLUMNS) -> str:
    """A CSV export as Postgres COPY ... CSV HEADER writes it: JSON in quoted cells, quotes doubled, NULL empty."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if _csv_cell(r.get(c)) is None else _csv_cell(r.get(c)) for c in columns])
    return out.getvalue()


@pytest.mark.parametrize("compress", [False, True], ids=["csv", "csv.gz"])
def test_csv_export_with_json_cells(landing, compress):
    rows = [
        spend_log("c1", model="claude-sonnet-4-5-20250929", custom_llm_provider="anthropic", usage_object=ANTHROPIC_USAGE,
                  spend="0.04485525", user="dev-17", team_id="team-payments",
                  startTime="2026-10-14 09:00:00.123+00", endTime="2026-10-14 09:00:04.2+00",
                  request_tags=["workflow_type:code_change", "step:plan", "attempt:2"]),
        spend_log("c2", model="o3-mini", usage_object=usage(1200, 900, prompt_tokens_details={"cached_tokens": 200},
                                                            completion_tokens_details={"reasoning_tokens": 640}),
                  spend="1.5e-05", end_user="customer-9", session_id="conv_9",
                  metadata={"user_api_key_team_alias": "search", "usage_object": usage(1200, 900, prompt_tokens_details={"cached_tokens": 200},
                                                                                      completion_tokens_details={"reasoning_tokens": 640}),
                            "spend_logs_metadata": {"workflow_id": "wf_7", "step": "review"}}),
        spend_log("c3", startTime="2026-10-14 09:00:00.123", endTime="2026-10-14 09:00:01.000"),  # Postgres naive text
        spend_log("c4", usage_object=usage(10, 5, completion_tokens_details={"reasoning_tokens": 6})),
        spend_log("c5", spend="0.000012x"),
        # A prompt with newlines, commas and quotes inside a quoted cell.
        spend_log("c6", usage_object=usage(7, 3), spend="0.00000000000001",
                  messages=[{"role": "user", "content": f'line one, "quoted"\nline two {CANARY}'}]),
    ]
    text = spend_logs_csv(rows)
    path = landing.root / "gateway" / "litellm" / ("spend_logs.csv.gz" if compress else "spend_logs.csv")
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    report = landing.load()
    assert report.by_format["litellm_spend_logs"].records == 6
    assert (report.totals.loaded, report.totals.quarantined) == (3, 3)
    reasons = [(q["line"], q["reason"]) for q in landing.rows("SELECT line, reason FROM raw.quarantine ORDER BY line")]
    assert reasons == [
        (4, "startTime has no UTC offset: 2026-10-14 09:00:00.123"),
        (5, "negative output_visible_tokens after mapping the LiteLLM usage"),
        (6, "spend is not a number: 0.000012x"),
    ]
    got = {r["call_id"]: r for r in landing.rows("SELECT *, occurred_at::VARCHAR AS occ FROM raw.llm_calls")}
    c1, c2, c6 = got["c1"], got["c2"], got["c6"]
    assert tuple(c1[c] for c in CLASSES) == (5, 128955, 1253, 0, 57, 40)
    assert tuple(c2[c] for c in CLASSES) == (1000, 200, 0, 0, 260, 640)
    assert tuple(c6[c] for c in CLASSES) == (7, 0, 0, 0, 3, 0)
    assert (c1["gateway_reported_cost_usd"], c2["gateway_reported_cost_usd"], c6["gateway_reported_cost_usd"]) == (
        Decimal("0.04485525"), Decimal("0.000015"), Decimal("0.00000000000001"))
    assert (c1["occ"], c1["latency_ms"]) == ("2026-10-14 09:00:00.123", 4077)
    assert (c1["workflow_type"], c1["step"], c1["attempt"], c1["team"]) == ("code_change", "plan", 2, "team-payments")
    assert c1["user_key"] == pseudonymise_py(HMAC_KEY, "dev-17")
    assert (c2["workflow_id"], c2["step"], c2["attempt"], c2["team"]) == ("wf_7", "review", 1, "search")
    assert c2["user_key"] == pseudonymise_py(HMAC_KEY, "customer-9")
    assert c2["api_key_pseudonym"] == pseudonymise_py(HMAC_KEY, API_KEY)
    assert json.loads(c1["tags"]) == ["workflow_type:code_change", "step:plan", "attempt:2"]
    assert c2["provider"] == "openai" and c1["api"] == "chat.completions"
    _assert_nothing_private_stored(landing)


def test_csv_with_only_some_columns(landing):
    # A hand-written export: no metadata, no endTime; JSON request_tags; token columns only.
    path = landing.root / "gateway" / "spend.csv"
    path.parent.mkdir(parents=True)
    path.write_text('request_id,startTime,model,custom_llm_provider,spend,prompt_tokens,completion_tokens,request_tags\n'
                    'r1,2026-10-14T09:00:00Z,gpt-4o,openai,0.5,100,20,"[""step:execute""]"\n'
                    'r2,2026-10-14T09:00:00Z,gpt-4o,openai,,100,20,\n')
    report = landing.load()
    assert report.totals.loaded == 2, landing.rows("SELECT * FROM raw.quarantine")
    rows = landing.rows("SELECT * FROM raw.llm_calls ORDER BY _line")
    assert [tuple(r[c] for c in CLASSES) for r in rows] == [(100, 0, 0, 0, 20, 0)] * 2
    assert [(r["_line"], r["step"], r["gateway_reported_cost_usd"], r["tags"]) for r in rows] == [
        (2, "execute", Decimal("0.5"), '["step:execute"]'), (3, None, None, None)]


def _assert_nothing_private_stored(landing):
    blob = landing.db.read_bytes()
    wal = landing.db.with_suffix(".duckdb.wal")
    if wal.exists():
        blob += wal.read_bytes()
    for secret in (CANARY, API_KEY, "dev-17", "customer-9", "customer-42", "10.0.0.7"):
        assert secret.encode() not in blob, secret


def test_prompt_text_and_identifiers_never_stored(landing):
    rec = spend_log("p", user="dana@example.com", end_user="customer-42",
                    metadata={"usage_object": usage(3, 2), "user_api_key_user_email": "dana@example.com",
                              "requester_metadata": {"prompt": CANARY}})
    broken = ('{"request_id": "q", "api_key": "' + API_KEY + '", "user": "dana@example.com", "spend": 0.1, '
              '"metadata": {"usage_object": {}}, "messages": [{"content": "' + CANARY + '"}], "startTime": ')
    not_object = json.dumps([CANARY])
    continuation = f"rest of a prompt broken by a raw newline {CANARY}\"}}], \"spend\": 0.1}}"
    landing.gateway("spend.jsonl.gz", [rec, broken, not_object, continuation], compress=True)
    report = landing.load()
    assert (report.totals.loaded, report.totals.quarantined) == (1, 3)
    (row,) = landing.rows("SELECT user_key, api_key_pseudonym FROM raw.llm_calls")
    assert row == {"user_key": pseudonymise_py(HMAC_KEY, "customer-42"), "api_key_pseudonym": pseudonymise_py(HMAC_KEY, API_KEY)}
    excerpts = [q["raw_excerpt"] for q in landing.rows("SELECT raw_excerpt FROM raw.quarantine ORDER BY line")]
    assert excerpts[0].startswith('{"request_id": "q", "api_key": "<removed>", "user": "<removed>", "spend": 0.1, "metadata": <removed>')
    assert excerpts[1:] == ["(a JSON array, content removed)", "(not the start of a JSON object, content removed)"]
    _assert_nothing_private_stored(landing)
    assert b"dana@example.com" not in landing.db.read_bytes()


def test_recognised_in_both_layouts_and_not_taken_by_g1():
    row = spend_log("a")
    assert detect("jsonl", row) is litellm_spend_logs
    assert detect("jsonl", {"request_id": "a", "startTime": "x", "prompt_tokens": 1}) is litellm_spend_logs
    assert detect("csv", list(SPEND_LOG_COLUMNS)) is litellm_spend_logs
    assert detect("csv", ["request_id", "startTime", "model"]) is None
    assert not litellm_spend_logs.matches({"request_id": "a", "timestamp": "x", "usage": {}})


def test_csv_in_invoices_is_refused_as_misplaced(landing):
    landing.invoice_csv("spend.csv", spend_logs_csv([spend_log("a")]))
    report = landing.load()
    (q,) = landing.rows("SELECT line, reason FROM raw.quarantine")
    assert q == {"line": 0, "reason": "looks like litellm_spend_logs, which belongs in gateway/, not invoices/"}
    assert report.totals.loaded == 0
