"""A JSON-lines file loads the same whichever reader takes it (ingest.context.read_json_lines):
DuckDB's JSON reader for a file of well-formed object lines, the line reader for any other file.

Each file below is written twice: as it is, which the JSON reader takes, and with one blank line
more at its end, which sends it to the line reader. Every raw row and quarantine row must match
column for column, and the JSON reader must really have taken the first copy (else the comparison
says nothing)."""

from __future__ import annotations

import json

import duckdb
import pytest

from ingest.context import LoadContext
from tests.conftest import Landing
from tests.test_hostile_input import g1, load
from tests.test_litellm_spend_logs import spend_log, usage

GATEWAY_RECORDS = [
    g1("chat", usage={"prompt_tokens": 120, "completion_tokens": 30, "prompt_tokens_details": {"cached_tokens": 100},
                      "completion_tokens_details": {"reasoning_tokens": 12}}, user="dev1@acme.example",
       tags=["a", "b"], routing={"default_model": "gpt-4o"}, workflow_id="wf", step="plan", attempt=2, latency_ms=12.0),
    g1("responses", api="responses", usage={"input_tokens": 50, "output_tokens": 9,
                                            "input_tokens_details": {"cached_tokens": 20}}),
    g1("messages", api=None, provider="anthropic", usage={
        "input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 1e3,
        "cache_creation": {"ephemeral_5m_input_tokens": 4, "ephemeral_1h_input_tokens": 6}}),
    g1("google", api="generate_content", usage=None, usageMetadata={"promptTokenCount": 9, "thoughtsTokenCount": 2}),
    g1("negative", usage={"prompt_tokens": 5, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 9}}),
    g1("fraction", usage={"prompt_tokens": "12.5", "completion_tokens": 1}),
    g1("usage-text", usage="lots"),
    g1("no-usage", usage=None),
    g1("", model="gpt-4o"),
    g1("naive-time", timestamp="2026-09-03T10:00:00"),
    g1("odd-types", routing="gpt-4o", tags={"not": "a list"}, team=7, step=["x"], attempt="two"),
    g1("big", usage={"prompt_tokens": 12345678901234567890, "completion_tokens": 1}),
]

LITELLM_RECORDS = [
    spend_log("plain", end_user="dev2@acme.example", request_tags=["workflow_type:code_change", "step:plan"]),
    spend_log("cached", usage_object=usage(1000, 200, cache_read_input_tokens=600, cache_creation_input_tokens=100,
                                           completion_tokens_details={"reasoning_tokens": 50})),
    spend_log("double-encoded", metadata=json.dumps({"usage_object": usage(10, 2),
                                                     "spend_logs_metadata": {"workflow_id": "wf9", "attempt": 3}})),
    spend_log("bad-spend", spend="lots"),
    spend_log("no-metadata", metadata=None, prompt_tokens=None),
    spend_log("naive", startTime="2026-10-14 09:00:00"),
    spend_log("tags-text", request_tags="not a list"),
]


@pytest.fixture
def json_reader_files(monkeypatch) -> list[str]:
    """The files DuckDB's JSON reader took whole."""
    taken: list[str] = []
    real = LoadContext._read_whole_records

    def watched(self, *args):
        whole = real(self, *args)
        if whole:
            taken.append(self.file.rel)
        return whole

    monkeypatch.setattr(LoadContext, "_read_whole_records", watched)
    return taken


@pytest.mark.parametrize("records, table", [(GATEWAY_RECORDS, "raw.llm_calls"), (LITELLM_RECORDS, "raw.llm_calls")],
                         ids=["gateway_jsonl", "litellm_spend_logs"])
def test_both_readers_land_the_same_rows_and_quarantine(tmp_path, json_reader_files, records, table):
    landing = Landing(tmp_path)
    text = "".join(json.dumps(r) + "\n" for r in records)
    (landing.root / "gateway").mkdir(parents=True)
    (landing.root / "gateway" / "whole.jsonl").write_text(text)
    (landing.root / "gateway" / "blank.jsonl").write_text(text + "\n")
    load(landing)
    assert json_reader_files == ["gateway/whole.jsonl"]

    def by_file(sql: str) -> dict[str, list[tuple]]:
        con = duckdb.connect(str(landing.db), read_only=True)
        try:
            rows = con.execute(sql).fetchall()
        finally:
            con.close()
        return {f: [r[1:] for r in rows if r[0] == f] for f in ("gateway/whole.jsonl", "gateway/blank.jsonl")}

    calls = by_file(f"SELECT _source_file, * EXCLUDE (_source_file, _file_hash) FROM {table} ORDER BY _line")
    assert len(calls["gateway/whole.jsonl"]) >= 3
    assert calls["gateway/whole.jsonl"] == calls["gateway/blank.jsonl"]
    bad = by_file("SELECT source_file, line, reason, raw_excerpt FROM raw.quarantine ORDER BY line")
    assert len(bad["gateway/whole.jsonl"]) >= 3
    assert bad["gateway/whole.jsonl"] == bad["gateway/blank.jsonl"]


@pytest.mark.parametrize("tail, why", [
    ("\n", "a blank line"), ("[1, 2]\n", "an array"), ('{"request_id": "x",\n', "a malformed line"),
    ('{"request_id": "d", "request_id": "e"}\n', "a duplicate key"),
])
def test_a_file_the_json_reader_cannot_take_whole_goes_to_the_line_reader(tmp_path, json_reader_files, tail, why):
    landing = Landing(tmp_path)
    landing.gateway("g.jsonl", [g1("a"), g1("b")])
    with open(landing.root / "gateway" / "g.jsonl", "a") as fh:
        fh.write(tail)
    load(landing)
    assert json_reader_files == [], why
    assert [r["call_id"] for r in landing.rows("SELECT call_id FROM raw.llm_calls ORDER BY _line")][:2] == ["a", "b"]


def test_a_line_over_the_cap_goes_to_the_line_reader(tmp_path, json_reader_files):
    landing = Landing(tmp_path)
    landing.gateway("g.jsonl", [g1("a"), g1("long", note="x" * 400), g1("c")])
    load(landing, max_line_bytes=300)
    assert json_reader_files == []
    reasons = {q["line"]: q["reason"] for q in landing.rows("SELECT * FROM raw.quarantine")}
    assert list(reasons) == [2] and reasons[2].startswith("line of ") and "exceeds the cap of 300 bytes" in reasons[2]
