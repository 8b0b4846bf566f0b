"""G1 usage mapping: every provider shape onto five disjoint classes, with exact counts."""

from __future__ import annotations

import pytest

from ingest.context import pseudonymise_py
from tests.conftest import HMAC_KEY

CLASSES = ("input_uncached_tokens", "input_cache_read_tokens", "input_cache_write_tokens",
           "input_cache_write_1h_tokens", "output_visible_tokens", "output_reasoning_tokens")


def call(request_id: str, usage: dict, *, provider: str = "openai", api: str | None = None, **extra) -> dict:
    rec = {"request_id": request_id, "timestamp": "2026-11-03T14:22:05Z", "provider": provider, "model": "m", "usage": usage}
    if api:
        rec["api"] = api
    rec.update(extra)
    return rec


CASES = [
    # OpenAI chat: cached tokens are INSIDE prompt_tokens, reasoning INSIDE completion_tokens.
    ("openai_chat", call("a", {"prompt_tokens": 6074, "completion_tokens": 285,
                               "prompt_tokens_details": {"cached_tokens": 3456, "cache_write_tokens": 100},
                               "completion_tokens_details": {"reasoning_tokens": 200}}, api="chat.completions"),
     (2518, 3456, 100, 0, 85, 200)),
    # Detail objects missing mean zero.
    ("openai_chat_no_details", call("b", {"prompt_tokens": 10, "completion_tokens": 5}), (10, 0, 0, 0, 5, 0)),
    ("openai_responses", call("c", {"input_tokens": 6074, "input_tokens_details": {"cached_tokens": 3456, "cache_write_tokens": 0},
                                    "output_tokens": 285, "output_tokens_details": {"reasoning_tokens": 200}}, api="responses"),
     (2618, 3456, 0, 0, 85, 200)),
    # Anthropic: input_tokens EXCLUDES cache reads and writes; thinking inside output.
    ("anthropic", call("d", {"input_tokens": 5, "cache_read_input_tokens": 128955, "cache_creation_input_tokens": 1253,
                             "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 253},
                             "output_tokens": 97, "output_tokens_details": {"thinking_tokens": 40}},
                       provider="anthropic", api="messages"),
     (5, 128955, 1253, 253, 57, 40)),
    # Only the 5m/1h split given: writes are their sum. Shape recognised without `api`.
    ("anthropic_split_only", call("e", {"input_tokens": 7, "cache_creation": {"ephemeral_5m_input_tokens": 10,
                                        "ephemeral_1h_input_tokens": 20}, "output_tokens": 3}, provider="anthropic"),
     (7, 0, 30, 20, 3, 0)),
    # Google: thoughts are NOT inside candidates; cached content inside prompt.
    ("google", call("f", {"promptTokenCount": 1000, "cachedContentTokenCount": 400, "candidatesTokenCount": 50,
                          "thoughtsTokenCount": 70, "totalTokenCount": 1120}, provider="google", api="generate_content"),
     (600, 400, 0, 0, 50, 70)),
    ("google_usageMetadata_key", {"request_id": "g", "timestamp": "2026-11-03T14:22:05+01:00", "provider": "gcp.vertex_ai",
                                  "model": "gemini-2.5-pro", "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 3}},
     (12, 0, 0, 0, 3, 0)),
    # Integers as strings (64-bit values some exporters quote) are accepted.
    ("numbers_as_strings", call("h", {"prompt_tokens": "20", "completion_tokens": "4"}), (20, 0, 0, 0, 4, 0)),
]


@pytest.mark.parametrize("name,record,expected", CASES, ids=[c[0] for c in CASES])
def test_usage_shapes_map_to_disjoint_classes(landing, name, record, expected):
    landing.gateway("calls.jsonl", [record])
    report = landing.load()
    assert report.totals.loaded == 1, landing.rows("SELECT * FROM raw.quarantine")
    (row,) = landing.rows("SELECT * FROM raw.llm_calls")
    assert tuple(row[c] for c in CLASSES) == expected


BAD = [
    ("malformed", '{"request_id": "x", "usage": ', "malformed JSON"),
    ("naive_timestamp", call("y", {"prompt_tokens": 1, "completion_tokens": 1}, timestamp="2026-11-03T14:22:05"),
     "timestamp has no UTC offset: 2026-11-03T14:22:05"),
    ("negative_class", call("z", {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 20}}),
     "negative input_uncached_tokens after mapping the chat.completions usage"),
    ("reasoning_exceeds_output", call("r", {"input_tokens": 1, "output_tokens": 5, "output_tokens_details": {"thinking_tokens": 9}},
                                      provider="anthropic"),
     "negative output_visible_tokens after mapping the messages usage"),
    ("wrong_type", call("t", {"prompt_tokens": "lots", "completion_tokens": 1}), "usage.prompt_tokens is missing or not a whole number"),
    ("missing_request_id", {"timestamp": "2026-11-03T14:22:05Z", "provider": "openai", "model": "m",
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1}}, "missing request_id"),
    ("unknown_api", call("u", {"prompt_tokens": 1, "completion_tokens": 1}, api="embeddings.v9"), "unknown api 'embeddings.v9'"),
    ("fractional_tokens", call("v", {"prompt_tokens": 1.5, "completion_tokens": 1}), "usage.prompt_tokens is missing or not a whole number"),
]


@pytest.mark.parametrize("name,record,reason", BAD, ids=[b[0] for b in BAD])
def test_bad_records_are_quarantined_and_the_rest_loads(landing, name, record, reason):
    good = call("ok", {"prompt_tokens": 3, "completion_tokens": 2})
    landing.gateway("mixed.jsonl", [good, record, good | {"request_id": "ok2"}])
    report = landing.load()
    assert (report.totals.loaded, report.totals.quarantined) == (2, 1)
    (q,) = landing.rows("SELECT * FROM raw.quarantine")
    assert (q["source_file"], q["line"], q["reason"]) == ("gateway/mixed.jsonl", 2, reason)
    assert [r["call_id"] for r in landing.rows("SELECT call_id FROM raw.llm_calls ORDER BY _line")] == ["ok", "ok2"]


def test_prompt_text_never_stored_and_users_pseudonymised(landing, tmp_path):
    canary = "CANARY-7f3a-prompt-text"
    rec = call("p", {"prompt_tokens": 3, "completion_tokens": 2}, user="dana@example.com",
               messages=[{"role": "user", "content": canary}], response={"content": canary}, prompt=canary)
    broken = '{"request_id": "q", "messages": [{"content": "' + canary + '"}], "usage": '
    landing.gateway("calls.jsonl.gz", [rec, broken], compress=True)
    report = landing.load()
    assert (report.totals.loaded, report.totals.quarantined) == (1, 1)
    (row,) = landing.rows("SELECT user_key FROM raw.llm_calls")
    assert row["user_key"] == pseudonymise_py(HMAC_KEY, "dana@example.com")
    # Nothing in the database file (tables, WAL, excerpts) holds the prompt or the email.
    blob = landing.db.read_bytes() + (landing.db.with_suffix(".duckdb.wal").read_bytes() if landing.db.with_suffix(".duckdb.wal").exists() else b"")
    assert canary.encode() not in blob and b"dana@example.com" not in blob
    (q,) = landing.rows("SELECT raw_excerpt FROM raw.quarantine")
    assert canary not in q["raw_excerpt"] and "<removed>" in q["raw_excerpt"]


def test_same_content_is_loaded_once_whatever_its_name(landing):
    records = [call("a", {"prompt_tokens": 3, "completion_tokens": 2})]
    landing.gateway("day1.jsonl", records)
    first = landing.load()
    landing.gateway("copy/of/day1.jsonl", records)
    second = landing.load()
    assert (first.files_loaded, second.files_loaded, second.files_skipped) == (1, 0, 2)
    assert landing.rows("SELECT count(*) AS n FROM raw.llm_calls") == [{"n": 1}]


def test_utc_conversion_of_offsets(landing):
    landing.gateway("tz.jsonl", [call("a", {"prompt_tokens": 1, "completion_tokens": 1}, timestamp="2026-11-01T01:30:00+02:00")])
    landing.load()
    (row,) = landing.rows("SELECT occurred_at::VARCHAR AS t FROM raw.llm_calls")
    assert row["t"] == "2026-10-31 23:30:00"  # the previous UTC day and month
