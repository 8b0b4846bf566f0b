"""Hostile input through the real ingest and the real `tokenpnl run` (research reliability.md
§4.1-4.3 and test plan §6 G 35-37): oversized lines, compression bombs, broken gzip files,
files that are not text, hostile paths, an injection corpus, wrong types, and canaries in
prompts, tool calls, quarantined lines, user emails and the environment of the run."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
import uuid
import zlib
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pytest

from ingest.context import line_ceiling, pseudonymise_py
from ingest.files import gzip_problem
from ingest.formats import raw_tables
from ingest.load import LoadReport, load_landing
from tests.conftest import HMAC_KEY, Landing, write_jsonl
from tokenpnl.demo_data import generate
from tokenpnl.publish import MARTS
from tokenpnl.settings import DBT_PROJECT_DIR, DEFAULT_PRICE_BOOK, PROJECT_ROOT, PROVIDER_ALIASES, Settings

TOKENPNL = str(Path(sys.executable).with_name("tokenpnl"))
TS = "2026-09-03T10:00:00Z"
TS_NANOS = int(datetime(2026, 9, 3, 10, tzinfo=timezone.utc).timestamp()) * 10**9


# --- helpers: loading with caps, and one small valid record per JSON-lines format --------------

def load(landing: Landing, **caps) -> LoadReport:
    con = duckdb.connect(str(landing.db))
    try:
        return load_landing(con, landing.root, hmac_key=HMAC_KEY, price_books=(DEFAULT_PRICE_BOOK,),
                            alias_files=(PROVIDER_ALIASES,), **caps)
    finally:
        con.close()


def quarantined(landing: Landing) -> dict[tuple[str, int], str]:
    return {(q["source_file"], q["line"]): q["reason"] for q in landing.rows("SELECT * FROM raw.quarantine")}


def manifest(landing: Landing) -> dict[str, dict]:
    return {m["file_path"]: m for m in landing.rows("SELECT * FROM raw.load_manifest")}


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def g1(rid: str, **extra) -> dict:
    rec = {"request_id": rid, "timestamp": TS, "provider": "openai", "model": "gpt-4o", "api": "chat.completions",
           "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
    rec.update(extra)
    return rec


def kv(key: str, value) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, dict):
        return {"key": key, "value": value}
    return {"key": key, "value": {"stringValue": value}}


def otel(span_id: str, *, resource: dict | None = None, **attrs) -> dict:
    a = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
         "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5, **attrs}
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id, "name": "chat gpt-4o", "kind": 3,
            "startTimeUnixNano": str(TS_NANOS), "endTimeUnixNano": str(TS_NANOS + 2 * 10**9),
            "attributes": [kv(k, v) for k, v in a.items()], "status": {}}
    res = [kv(k, v) for k, v in (resource or {"service.name": "bot"}).items()]
    return {"resourceSpans": [{"resource": {"attributes": res}, "scopeSpans": [{"scope": {"name": "s"}, "spans": [span]}]}]}


def litellm(rid: str, **over) -> dict:
    row = {"request_id": rid, "call_type": "acompletion", "api_key": "88dc28d0f030c55e", "spend": 0.0045,
           "prompt_tokens": 12, "completion_tokens": 3, "startTime": TS, "endTime": "2026-09-03T10:00:04Z",
           "model": "gpt-4o", "custom_llm_provider": "openai", "user": "", "request_tags": [],
           "metadata": {"user_api_key_alias": "bot", "usage_object": {"prompt_tokens": 12, "completion_tokens": 3}},
           "status": "success"}
    row.update(over)
    return row


def github(did: str, number: int = 7, **pr_over) -> dict:
    pr = {"number": number, "title": "Fix", "body": "Workflow-Id: wf_1", "state": "open", "merged": False,
          "merged_at": None, "closed_at": None, "created_at": TS, "head": {"ref": "agent/wf_1", "sha": "abc"}}
    pr.update(pr_over)
    return {"event": "pull_request", "delivery_id": did, "received_at": TS,
            "payload": {"action": "opened", "number": number, "repository": {"full_name": "acme/ledger"}, "pull_request": pr}}


def zendesk(eid: str) -> dict:
    return {"type": "zen:event-type:ticket.status_changed", "account_id": 1, "id": eid, "time": TS,
            "zendesk_event_version": "2022-11-06", "subject": "zen:ticket:42",
            "detail": {"id": "42", "status": "OPEN", "group_id": "1", "assignee_id": "9", "tags": []},
            "event": {"previous": "NEW", "current": "OPEN"}}


def jira(n: int) -> dict:
    return {"timestamp": TS_NANOS // 10**6 + n, "webhookEvent": "jira:issue_updated", "issue_event_type_name": "issue_generic",
            "issue": {"id": "10001", "key": "OPS-1", "fields": {"summary": "s", "project": {"key": "OPS"},
                      "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}}, "labels": []}},
            "changelog": {"id": str(n), "items": []}}


def generic(oid: str) -> dict:
    return {"outcome_id": oid, "workflow_id": "wf_1", "occurred_at": TS, "kind": "eval", "status": "accepted", "verified": True}


def cost_page(n: int) -> dict:
    start = TS_NANOS // 10**9 - 36000
    return {"object": "page", "has_more": False, "next_page": None, "data": [
        {"object": "bucket", "start_time": start, "end_time": start + 86400, "results": [
            {"object": "organization.costs.result", "amount": {"value": 1.5 + n, "currency": "usd"}, "line_item": f"li{n}"}]}]}


# (name, path in the landing folder, record builder): every JSON-lines format.
JSONL_FORMATS = [
    ("gateway_jsonl", "gateway/g1.jsonl", lambda i: g1(f"r{i}")),
    ("otel_spans", "gateway/otel.jsonl", lambda i: otel(f"{i:016x}")),
    ("litellm_spend_logs", "gateway/litellm.jsonl", lambda i: litellm(f"l{i}")),
    ("github_deliveries", "outcomes/github.jsonl", lambda i: github(f"d{i}", number=i)),
    ("zendesk_events", "outcomes/zendesk.jsonl", lambda i: zendesk(f"e{i}")),
    ("jira_events", "outcomes/jira.jsonl", jira),
    ("generic_outcomes", "outcomes/events.jsonl", lambda i: generic(f"o{i}")),
    ("provider_cost_reports", "invoices/costs.json", cost_page),  # one page per line
]


# --- 1. oversized lines -------------------------------------------------------------------------

@pytest.mark.parametrize("name,rel,make", JSONL_FORMATS, ids=[f[0] for f in JSONL_FORMATS])
def test_oversized_line_is_quarantined_alone_and_the_rest_loads(landing, name, rel, make):
    cap = 4096
    big = make(2) | {"zz_padding": "x" * (2 * cap)}  # a valid record, but over the cap
    big_line = json.dumps(big)
    write_jsonl(landing.root / rel, [make(1), make(3)])  # the same file without the long line
    hostile = rel.replace(".json", "_hostile.json")
    write_jsonl(landing.root / hostile, [make(1), big_line, make(3)])
    load(landing, max_line_bytes=cap)
    m = manifest(landing)
    clean, bad = m[rel], m[hostile]
    assert clean["source_format"] == bad["source_format"] == name
    assert clean["quarantined"] == 0 and clean["loaded"] + clean["skipped"] >= 2
    assert (bad["records"], bad["loaded"], bad["skipped"], bad["quarantined"]) == \
        (clean["records"] + 1, clean["loaded"], clean["skipped"], 1)
    assert quarantined(landing) == {
        (hostile, 2): f"line of {len(big_line.encode())} bytes exceeds the cap of {cap} bytes (TOKENPNL_MAX_LINE_BYTES)"}


def test_oversized_line_at_the_default_cap(landing):
    """A 9 MB prompt on one line (default cap 8 MiB): that line alone is quarantined, with no prompt text."""
    canary = "CANARY-oversized-" + uuid.uuid4().hex
    big = json.dumps(g1("big", messages=[{"role": "user", "content": canary + "y" * 9_000_000}]))
    landing.gateway("calls.jsonl", [g1("a"), big, g1("b")])
    report = load(landing)
    assert (report.totals.loaded, report.totals.quarantined) == (2, 1)
    (q,) = landing.rows("SELECT * FROM raw.quarantine")
    assert q["line"] == 2 and q["reason"] == f"line of {len(big.encode())} bytes exceeds the cap of 8388608 bytes (TOKENPNL_MAX_LINE_BYTES)"
    assert canary not in q["raw_excerpt"] and len(q["raw_excerpt"]) <= 300


def test_line_beyond_the_hard_ceiling_quarantines_the_whole_file(landing):
    ceiling = line_ceiling(4096)
    assert ceiling == 64 * 1024 * 1024 and line_ceiling(32 * 1024 * 1024) == 128 * 1024 * 1024
    landing.gateway("huge.jsonl", [g1("a"), json.dumps(g1("b", pad="x" * (ceiling + 10))), g1("c")])
    landing.gateway("fine.jsonl", [g1("d")])
    report = load(landing, max_line_bytes=4096)
    q = quarantined(landing)
    assert q.keys() == {("gateway/huge.jsonl", 0)}
    reason = q[("gateway/huge.jsonl", 0)]
    assert reason.startswith(f"line 2 of {ceiling + 10 + len(json.dumps(g1('b', pad='')))} bytes exceeds the hard ceiling of {ceiling} bytes"), reason
    assert "whole file is quarantined" in reason
    assert report.totals.loaded == 1 and [r["call_id"] for r in landing.rows("SELECT call_id FROM raw.llm_calls")] == ["d"]


FOCUS_HEADER = "BillingAccountId,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ChargeClass,ProviderName,ServiceName,EffectiveCost,BillingCurrency,InvoiceId\n"
FOCUS_ROW = "org_01,2026-09-03T00:00:00Z,2026-09-04T00:00:00Z,Usage,,OpenAI,API,{cost},{currency},{invoice}\n"


def test_csv_file_with_a_line_over_the_cap_is_quarantined_whole_with_a_clear_reason(landing):
    cap = 4096
    landing.invoice_csv("focus.csv", FOCUS_HEADER + FOCUS_ROW.format(cost="1.5", currency="USD", invoice="INV-1")
                        + FOCUS_ROW.format(cost="2.5", currency="USD", invoice="I" * (2 * cap)))
    write_bytes(landing.root / "gateway" / "litellm.csv",
                ("request_id,startTime,spend,model,custom_llm_provider,prompt_tokens,completion_tokens,messages\n"
                 f"l1,{TS},0.1,gpt-4o,openai,1,1,{'m' * (2 * cap)}\n").encode())
    load(landing, max_line_bytes=cap)
    q = quarantined(landing)
    assert q.keys() == {("invoices/focus.csv", 0), ("gateway/litellm.csv", 0)}
    for reason in q.values():
        assert f"bytes exceeds the cap of {cap} bytes (TOKENPNL_MAX_LINE_BYTES); a CSV file is quarantined whole" in reason, reason
    assert landing.rows("SELECT count(*) AS n FROM raw.focus_charges") == [{"n": 0}]


# --- 2. compressed files ------------------------------------------------------------------------

def gzip_stream(chunks) -> bytes:
    """A gzip file written by streaming (a bomb never exists uncompressed in the test either)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(c.compress(ch) for ch in chunks) + c.flush()


def zeros(n: int, chunk: int = 1 << 20):
    for i in range(0, n, chunk):
        yield bytes(min(chunk, n - i))


GOOD_TEXT = "".join(json.dumps(g1(f"gz{i}")) + "\n" for i in range(2000)).encode()
GOOD_GZ = gzip.compress(GOOD_TEXT)
CAP = 1_000_000
GZIP_CASES = [
    ("good", GOOD_GZ, None),
    ("multi_member", gzip.compress(GOOD_TEXT[:50_001]) + gzip.compress(GOOD_TEXT[50_001:]), None),
    ("trailing_zero_padding", GOOD_GZ + bytes(4096), None),
    ("exactly_the_cap", gzip.compress(b"a" * CAP), None),
    ("one_byte_over", gzip.compress(b"a" * (CAP + 1)), "gzip file expands to more than the cap of 1000000 bytes"),
    # ISIZE of the last member says 1 byte: the trailer lies, the stream count does not.
    ("bomb_with_a_lying_trailer", gzip_stream(zeros(20_000_000)) + gzip.compress(b"x"), "gzip file expands to more than the cap"),
    ("truncated", GOOD_GZ[: len(GOOD_GZ) // 2], "gzip file is truncated"),
    ("trailer_cut", GOOD_GZ[:-3], "gzip file is truncated"),
    ("crc_mismatch", GOOD_GZ[:-8] + bytes([GOOD_GZ[-8] ^ 1]) + GOOD_GZ[-7:], "incorrect data check"),
    ("length_mismatch", GOOD_GZ[:-4] + (7).to_bytes(4, "little"), "incorrect length check"),
    ("trailing_garbage", GOOD_GZ + b"garbage", "gzip file is corrupt"),
    ("not_gzip", b'{"a": 1}\n', "not a gzip file"),
    ("empty", b"", "file is empty"),
]


@pytest.mark.parametrize("name,data,problem", GZIP_CASES, ids=[c[0] for c in GZIP_CASES])
def test_gzip_check(tmp_path, name, data, problem):
    path = write_bytes(tmp_path / "f.jsonl.gz", data)
    found = gzip_problem(path, CAP if name in ("exactly_the_cap", "one_byte_over", "bomb_with_a_lying_trailer") else 10**9)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found


def test_gzip_bomb_is_quarantined_without_expanding_it(landing, monkeypatch):
    """50 MB of zeros (~50 KB compressed) under a 10 MiB cap set through the environment."""
    bomb = gzip_stream(zeros(50_000_000))
    assert len(bomb) < 100_000
    write_bytes(landing.root / "gateway" / "bomb.jsonl.gz", bomb)
    landing.gateway("fine.jsonl.gz", [g1("a")], compress=True)
    monkeypatch.setenv("TOKENPNL_MAX_UNCOMPRESSED_BYTES", str(10 * 1024 * 1024))
    cap = Settings.from_env().max_uncompressed_bytes
    assert cap == 10 * 1024 * 1024
    tracemalloc.start()
    try:
        report = load(landing, max_uncompressed_bytes=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak Python memory {peak} bytes while checking a bomb"
    q = quarantined(landing)
    assert list(q) == [("gateway/bomb.jsonl.gz", 0)]
    assert q[("gateway/bomb.jsonl.gz", 0)].startswith(
        "gzip file expands to more than the cap of 10485760 bytes (TOKENPNL_MAX_UNCOMPRESSED_BYTES)")
    m = manifest(landing)["gateway/bomb.jsonl.gz"]
    assert (m["source_format"], m["records"], m["loaded"]) == (None, 0, 0)
    assert report.totals.loaded == 1


def test_bad_cap_settings_name_the_variable(monkeypatch):
    monkeypatch.setenv("TOKENPNL_MAX_UNCOMPRESSED_BYTES", "16GB")
    with pytest.raises(ValueError, match="TOKENPNL_MAX_UNCOMPRESSED_BYTES must be a whole number of bytes"):
        Settings.from_env()
    monkeypatch.setenv("TOKENPNL_MAX_UNCOMPRESSED_BYTES", "")
    monkeypatch.setenv("TOKENPNL_MAX_LINE_BYTES", "0")
    with pytest.raises(ValueError, match="TOKENPNL_MAX_LINE_BYTES must be at least 1 byte"):
        Settings.from_env()
    monkeypatch.delenv("TOKENPNL_MAX_LINE_BYTES")
    assert Settings.from_env().max_uncompressed_bytes == 16 * 1024**3


def test_truncated_and_corrupt_gzip_files_are_quarantined_and_the_others_load(landing):
    """DuckDB alone would load the lines before the damage of a truncated or corrupt stream."""
    text = "".join(json.dumps(g1(f"t{i}")) + "\n" for i in range(3000)).encode()
    data = gzip.compress(text)
    write_bytes(landing.root / "gateway" / "truncated.jsonl.gz", data[: len(data) // 2])
    write_bytes(landing.root / "gateway" / "crc.jsonl.gz", data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:])
    write_bytes(landing.root / "gateway" / "plain_text.jsonl.gz", json.dumps(g1("p")).encode())
    landing.gateway("good.jsonl.gz", [g1("a"), g1("b")], compress=True)
    landing.gateway("good.jsonl", [g1("c")])
    report = load(landing)
    q = quarantined(landing)
    assert q.keys() == {("gateway/truncated.jsonl.gz", 0), ("gateway/crc.jsonl.gz", 0), ("gateway/plain_text.jsonl.gz", 0)}
    assert q[("gateway/truncated.jsonl.gz", 0)].startswith("gzip file is truncated: its compressed stream ends after")
    assert "incorrect data check" in q[("gateway/crc.jsonl.gz", 0)]
    assert q[("gateway/plain_text.jsonl.gz", 0)].startswith("not a gzip file")
    assert report.totals.loaded == 3
    assert sorted(r["call_id"] for r in landing.rows("SELECT call_id FROM raw.llm_calls")) == ["a", "b", "c"]


# --- 3. files that are not (good) text ----------------------------------------------------------

def test_encoding_binary_empty_blank_and_crlf_files(landing):
    good, bad = json.dumps(g1("u1")).encode(), json.dumps(g1("u2", team="caf\u00e9"), ensure_ascii=False).encode()
    write_bytes(landing.root / "gateway" / "invalid_utf8.jsonl", good + b"\n" + bad.replace(b"caf\xc3\xa9", b"caf\xff\xfe") + b"\n")
    write_bytes(landing.root / "gateway" / "binary.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    write_bytes(landing.root / "gateway" / "latin1.jsonl", "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e\n".encode("latin-1") * 10)
    write_bytes(landing.root / "gateway" / "empty.jsonl", b"")
    write_bytes(landing.root / "outcomes" / "blank.jsonl", b"\n  \n\t\r\n\n")
    crlf = b"\xef\xbb\xbf" + b"\r\n".join([json.dumps(g1("crlf1", team="t1")).encode(), b'{"request_id": "broken', b"",
                                             json.dumps(g1("crlf2", model="m2")).encode()]) + b"\r\n"
    write_bytes(landing.root / "gateway" / "crlf.jsonl", crlf)
    landing.gateway("fine.jsonl", [g1("f1")])
    load(landing)
    q = quarantined(landing)
    assert q == {
        ("gateway/invalid_utf8.jsonl", 0): "line 2 is not valid UTF-8 (files must be UTF-8 text); the whole file is quarantined",
        ("gateway/binary.jsonl", 0): "file holds NUL bytes: not a text file (binary content?)",
        ("gateway/latin1.jsonl", 0): "file is not UTF-8 text (binary content?)",
        ("gateway/empty.jsonl", 0): "file is empty: no records",
        ("outcomes/blank.jsonl", 0): "file holds only blank lines: no records",
        ("gateway/crlf.jsonl", 2): "malformed JSON",
    }
    rows = {r["call_id"]: r for r in landing.rows("SELECT * FROM raw.llm_calls")}
    assert rows.keys() == {"crlf1", "crlf2", "f1"}
    assert (rows["crlf1"]["team"], rows["crlf2"]["model"], rows["crlf2"]["_line"]) == ("t1", "m2", 4)


# Seven lines: valid ones at 1, 2, 5 and 7, a blank one at 3, bad ones at 4 and 6.
_SEVEN = [json.dumps(g1("l1")), json.dumps(g1("l2")), "", '{"request_id": "broken', json.dumps(g1("l5")),
          json.dumps(g1("l6", latency_ms="slow")), json.dumps(g1("l7"))]
LINE_ENDINGS = {  # the line ending after each of the seven lines
    "lf": ["\n"] * 7,
    "crlf": ["\r\n"] * 7,
    "one-crlf-in-lf": ["\n", "\r\n", "\n", "\n", "\n", "\n", "\n"],  # DuckDB's default counts that CRLF twice
    "one-lf-in-crlf": ["\r\n", "\n", "\r\n", "\r\n", "\r\n", "\r\n", "\r\n"],
    "mixed-blank-crlf": ["\n", "\n", "\r\n", "\n", "\r\n", "\n", ""],  # and no final line ending
}


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("endings", LINE_ENDINGS.values(), ids=LINE_ENDINGS.keys())
def test_line_numbers_are_physical_lines_whatever_the_line_endings(landing, endings, compress):
    data = "".join(line + end for line, end in zip(_SEVEN, endings)).encode()
    rel = "gateway/endings.jsonl" + (".gz" if compress else "")
    write_bytes(landing.root / rel, gzip.compress(data) if compress else data)
    load(landing)
    assert quarantined(landing) == {(rel, 4): "malformed JSON", (rel, 6): "latency_ms is not a whole number"}
    assert {r["call_id"]: r["_line"] for r in landing.rows("SELECT * FROM raw.llm_calls")} == {"l1": 1, "l2": 2, "l5": 5, "l7": 7}


def test_a_carriage_return_inside_a_line_of_an_lf_file_quarantines_the_file(landing):
    # DuckDB's line reader breaks a line at any CR: every later line would be numbered one too high.
    rec = json.dumps(g1("cr")).replace(', "timestamp"', ',\r"timestamp"')  # CR is JSON whitespace
    write_bytes(landing.root / "gateway" / "stray_cr.jsonl", f"{json.dumps(g1('a'))}\n{rec}\n{json.dumps(g1('b'))}\n".encode())
    landing.gateway("fine.jsonl", [g1("f")])
    load(landing)
    assert quarantined(landing) == {("gateway/stray_cr.jsonl", 0): (
        "file could not be read: line 2 holds a carriage return (CR) that does not end it, so its lines cannot be "
        "numbered reliably; the whole file is quarantined (end lines with LF or CRLF)")}
    assert [r["call_id"] for r in landing.rows("SELECT call_id FROM raw.llm_calls")] == ["f"]


def test_a_line_count_the_reader_disagrees_with_quarantines_the_file(landing, monkeypatch):
    # The guard against a DuckDB reader slip (seen at 1 GiB buffer boundaries, too big to build here).
    import ingest.context
    real = ingest.context.line_endings
    monkeypatch.setattr(ingest.context, "line_endings", lambda f, *cap: dataclasses.replace(real(f, *cap), lines=real(f).lines + 1))
    landing.gateway("g.jsonl", [g1("a"), g1("b")])
    load(landing)
    assert quarantined(landing) == {("gateway/g.jsonl", 0): (
        "file could not be read: DuckDB's line reader returned 2 lines where the file has 3, so line numbers "
        "would be wrong; the whole file is quarantined")}
    assert landing.rows("SELECT * FROM raw.llm_calls") == []


# --- 4. paths ---------------------------------------------------------------------------------

def test_symlinks_fifos_and_outside_paths_are_not_followed(landing, tmp_path):
    outside = tmp_path / "outside"
    write_jsonl(outside / "secret.jsonl", [g1("from-outside")])
    (landing.root / "gateway").mkdir(parents=True)
    (landing.root / "invoices").mkdir(parents=True)
    os.symlink("/etc/passwd", landing.root / "gateway" / "passwd.jsonl")
    os.symlink("/etc", landing.root / "gateway" / "etc")
    os.symlink(outside, landing.root / "gateway" / "outside_dir")
    os.symlink(outside / "secret.jsonl", landing.root / "gateway" / "secret.jsonl")
    os.symlink("/etc/hosts", landing.root / "invoices" / "hosts.csv")
    os.symlink(outside, landing.root / "outcomes")
    os.mkfifo(landing.root / "gateway" / "fifo.jsonl")  # would block a reader forever
    landing.gateway("fine.jsonl", [g1("inside")])
    report = load(landing)
    q = quarantined(landing)
    assert q == {
        ("gateway/passwd.jsonl", 0): "symlink not followed",
        ("gateway/etc", 0): "symlink not followed",
        ("gateway/outside_dir", 0): "symlink not followed",
        ("gateway/secret.jsonl", 0): "symlink not followed",
        ("invoices/hosts.csv", 0): "symlink not followed",
        ("outcomes", 0): "symlink not followed",
        ("gateway/fifo.jsonl", 0): "not a regular file (FIFO, socket or device): not read",
    }
    assert report.totals.loaded == 1 and list(manifest(landing)) == ["gateway/fine.jsonl"]


HOSTILE_NAMES = [
    "it's.jsonl", 'say "hi".jsonl', "a; DROP TABLE raw.llm_calls; --.jsonl", "with  spaces .jsonl",
    "$(touch pwned).jsonl", "`id`.jsonl", "\u00fcn\u00efc\u00f8d\u00e9 \u65e5\u672c\u8a9e \U0001F680.jsonl",
    "x..%2F..%2Fetc%2Fpasswd ..\u2215..\u2215etc.jsonl", "a..\\..\\..\\windows.jsonl", "new\nline.jsonl", "tab\there.jsonl",
    # DuckDB expands * ? [ ] as glob patterns: these must read themselves, not their neighbours.
    "*.jsonl", "b[1].jsonl", "q?.jsonl",
]
HOSTILE_DIRS = ["x..y ' \" ; $(rm -rf ~) \u00fc", "..hidden-looking but not", "*"]


def test_hostile_file_and_folder_names_load_and_are_reported_verbatim(tmp_path):
    root = tmp_path / "l'and \"ing\"; $(echo x) \u00fc [1]"
    root.mkdir()
    landing = Landing(root)
    rels = []
    for d_i, d in enumerate(HOSTILE_DIRS):
        for n_i, name in enumerate(HOSTILE_NAMES):
            rel = f"gateway/{d}/{name}"
            write_jsonl(landing.root / rel, [g1(f"id-{d_i}-{n_i}"), '{"request_id": "broken'])
            rels.append(rel)
    write_jsonl(landing.root / "gateway" / HOSTILE_DIRS[0] / "b1.jsonl", [g1("decoy")])  # what b[1] would glob to
    write_bytes(landing.root / "invoices" / "focus[1].csv", (FOCUS_HEADER + FOCUS_ROW.format(cost="1", currency="USD", invoice="I")).encode())
    report = load(landing)
    m, q = manifest(landing), quarantined(landing)
    # DuckDB cannot match a backslash inside a glob pattern: such a path is refused, never misread.
    refused = {r for r in rels if "\\" in r and any(ch in str(landing.root / r) for ch in "*?[")}
    for rel in refused:
        assert q[(rel, 0)].startswith("path holds both a glob character (* ? [) and a backslash"), rel
    for rel in sorted(set(rels) - refused):
        assert (m[rel]["loaded"], m[rel]["quarantined"]) == (1, 1), rel
        assert q[(rel, 2)] == "malformed JSON"
    calls = landing.rows("SELECT call_id, _source_file FROM raw.llm_calls")
    loaded = len(rels) - len(refused) + 1
    assert len(calls) == loaded and len({c["call_id"] for c in calls}) == len(calls)  # each file read itself once
    assert {c["_source_file"] for c in calls if c["call_id"].startswith("id-")} == set(rels) - refused
    # The CSV readers use LandingFile.duckdb_path too: a CSV name with a glob character reads itself.
    assert m["invoices/focus[1].csv"]["loaded"] == 1 and ("invoices/focus[1].csv", 0) not in q
    assert report.totals.loaded == loaded + 1
    assert not list(tmp_path.rglob("pwned")) and not (PROJECT_ROOT / "pwned").exists()


# --- 5. wrong types, unknown values -----------------------------------------------------------

WRONG = [
    ("gateway/g1.jsonl", g1("w", usage={"prompt_tokens": {"n": 10}, "completion_tokens": 5}),
     "usage.prompt_tokens is missing or not a whole number"),
    ("gateway/g1.jsonl", g1("w", usage={"prompt_tokens": [10], "completion_tokens": 5}),
     "usage.prompt_tokens is missing or not a whole number"),
    ("gateway/g1.jsonl", g1("w", usage={"prompt_tokens": 10, "completion_tokens": True}),
     "usage.completion_tokens is missing or not a whole number"),
    ("gateway/g1.jsonl", g1("w", usage={"prompt_tokens": 10, "completion_tokens": "1e3"}),
     "usage.completion_tokens is missing or not a whole number"),
    ("gateway/g1.jsonl", g1("w", attempt=True), "attempt is not a whole number"),
    ("gateway/g1.jsonl", g1("w", usage={"prompt_tokens": -10, "completion_tokens": 5}),
     "negative input_uncached_tokens after mapping the chat.completions usage"),
    ("gateway/g1.jsonl", g1("w", usage={"prompt_tokens": 10, "completion_tokens": -5}),
     "negative output_visible_tokens after mapping the chat.completions usage"),
    ("gateway/g1.jsonl", g1("w", timestamp="2026-09-03T10:00:00"), "timestamp has no UTC offset: 2026-09-03T10:00:00"),
    ("gateway/g1.jsonl", g1("w", timestamp=1788429600), "timestamp has no UTC offset: 1788429600"),
    ("gateway/otel.jsonl", otel("00000000000000ff", **{"gen_ai.usage.input_tokens": True}),
     "gen_ai.usage.input_tokens is not a whole number"),
    # Any present non-integer count is quarantined, never read as absent (0 tokens).
    ("gateway/otel.jsonl", otel("00000000000000ff", **{"gen_ai.usage.output_tokens": {"arrayValue": {"values": [{"intValue": "5"}]}}}),
     "gen_ai.usage.output_tokens is not a whole number"),
    ("gateway/otel.jsonl", otel("00000000000000ff", **{"gen_ai.usage.input_tokens": {"kvlistValue": {"values": []}}}),
     "gen_ai.usage.input_tokens is not a whole number"),
    ("gateway/otel.jsonl", otel("00000000000000ff", **{"gen_ai.usage.cache_read.input_tokens": {"bytesValue": "AAE="}}),
     "gen_ai.usage.cache_read.input_tokens is not a whole number"),
    ("gateway/otel.jsonl", otel("00000000000000ff", **{"gen_ai.usage.output_tokens": ""}),
     "gen_ai.usage.output_tokens is not a whole number"),
    ("gateway/otel.jsonl", otel("00000000000000ff", **{"gen_ai.usage.output_tokens": {"doubleValue": 5.5}}),
     "gen_ai.usage.output_tokens is not a whole number"),
    ("gateway/g1.jsonl", g1("w", latency_ms={"ms": 5}), "latency_ms is not a whole number"),
    ("gateway/g1.jsonl", g1("w", latency_ms="abc"), "latency_ms is not a whole number"),
    ("gateway/g1.jsonl", g1("w", latency_ms=1.5), "latency_ms is not a whole number"),
    ("gateway/g1.jsonl", g1("w", latency_ms=True), "latency_ms is not a whole number"),
    ("gateway/otel.jsonl", otel("00000000000000ff", **{"gen_ai.usage.input_tokens": -3}),
     "negative input_uncached_tokens after mapping the gen_ai.usage attributes"),
    ("gateway/litellm.jsonl", litellm("w", spend={"usd": 1}), "spend is not a number"),
    ("gateway/litellm.jsonl", litellm("w", metadata={"usage_object": {"prompt_tokens": [12], "completion_tokens": 3}}),
     "metadata.usage_object.prompt_tokens is not a whole number"),
    ("gateway/litellm.jsonl", litellm("w", startTime="2026-09-03 10:00:00"), "startTime has no UTC offset: 2026-09-03 10:00:00"),
    ("outcomes/events.jsonl", generic("w") | {"value_usd": {"amount": 3}}, "value_usd is not a decimal number"),
    ("outcomes/events.jsonl", generic("w") | {"verified": 1}, "verified must be true or false"),
    ("outcomes/events.jsonl", generic("w") | {"occurred_at": "2026-09-03T10:00:00"}, "occurred_at has no UTC offset: 2026-09-03T10:00:00"),
    ("outcomes/github.jsonl", github("w") | {"received_at": "2026-09-03 10:00"}, "received_at has no UTC offset: 2026-09-03 10:00"),
]


def _wrong_id(i: int, w) -> str:
    rel = w.values[0] if hasattr(w, "values") else w[0]
    return f"{rel.split('/')[1].split('.')[0]}-{i}"


@pytest.mark.parametrize("rel,record,reason", WRONG, ids=[_wrong_id(i, w) for i, w in enumerate(WRONG)])
def test_wrong_types_and_naive_timestamps_are_quarantined_with_a_clear_reason(landing, rel, record, reason):
    make = {"gateway/g1.jsonl": lambda i: g1(f"ok{i}"), "gateway/otel.jsonl": lambda i: otel(f"{i:016x}"),
            "gateway/litellm.jsonl": lambda i: litellm(f"ok{i}"), "outcomes/events.jsonl": lambda i: generic(f"ok{i}"),
            "outcomes/github.jsonl": lambda i: github(f"ok{i}", number=i)}[rel]
    write_jsonl(landing.root / rel, [make(1), record, make(3)])
    report = load(landing)
    q = quarantined(landing)
    assert list(q) == [(rel, 2)] and q[(rel, 2)].startswith(reason), q
    assert report.totals.loaded == 2


def test_absent_latency_loads_as_null_and_a_non_scalar_count_shows_only_its_kind(landing):
    write_jsonl(landing.root / "gateway" / "g1.jsonl", [g1("null", latency_ms=None), g1("absent"), g1("int", latency_ms=7)])
    canary = "CNRY" + uuid.uuid4().hex
    write_jsonl(landing.root / "gateway" / "otel.jsonl",
                [otel("00000000000000ff", **{"gen_ai.usage.output_tokens": {"arrayValue": {"values": [{"stringValue": canary}]}}})])
    load(landing)
    assert {r["call_id"]: r["latency_ms"] for r in landing.rows("SELECT * FROM raw.llm_calls")} == {"null": None, "absent": None, "int": 7}
    (q,) = landing.rows("SELECT * FROM raw.quarantine")
    assert q["reason"] == "gen_ai.usage.output_tokens is not a whole number"
    assert json.loads(q["raw_excerpt"])["usage"]["output"] == "(arrayValue)" and canary not in q["raw_excerpt"]


MALFORMED = [  # a broken line whose private text comes early; @C@ is the canary
    ("gateway/g1.jsonl", lambda i: g1(f"ok{i}"),
     '{"request_id": "m", "tool_calls": [{"id": "c1", "function": {"arguments": "{\\"q\\": \\"@C@\\"}", "name": "s"}}], "usage": {'),
    ("gateway/g1.jsonl", lambda i: g1(f"ok{i}"), '{"request_id": "m", "function_call": {"arguments": "@C@'),
    ("gateway/g1.jsonl", lambda i: g1(f"ok{i}"), '{"request_id": "m", "contents": [{"parts": [{"text": "@C@'),
    ("gateway/g1.jsonl", lambda i: g1(f"ok{i}"), '{"request_id": "m", "user": "@C@@example.com", "usage": {'),
    ("gateway/otel.jsonl", lambda i: otel(f"{i:016x}"),
     '{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "gen_ai.tool.call.arguments", "value": {"stringValue": "@C@'),
    ("gateway/litellm.jsonl", lambda i: litellm(f"ok{i}"),
     '{"request_id": "m", "spend": 0.1, "response": {"choices": [{"message": {"tool_calls": [{"function": {"arguments": "@C@'),
    ("gateway/litellm.jsonl", lambda i: litellm(f"ok{i}"), '{"request_id": "m", "end_user": "@C@@example.com", "spend": '),
]


@pytest.mark.parametrize("rel,make,broken", MALFORMED, ids=[f"{m[0].split('/')[1].split('.')[0]}-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_line_excerpt_keeps_no_prompt_tool_arguments_or_email(landing, rel, make, broken):
    canary = "CNRY" + uuid.uuid4().hex
    write_jsonl(landing.root / rel, [make(1), broken.replace("@C@", canary), make(3)])
    report = load(landing)
    assert (report.totals.loaded, report.totals.quarantined) == (2, 1)
    (q,) = landing.rows("SELECT * FROM raw.quarantine")
    assert q["line"] == 2 and canary not in (q["raw_excerpt"] or ""), q["raw_excerpt"]


# --- 6. the whole product: injection corpus, canaries, hostile paths, a failing FX run -----------

INJECTION = [
    "'; DROP TABLE raw.llm_calls; --",
    '") OR 1=1 --',
    "Robert'); DROP TABLE marts.fct_llm_calls; --",
    "x\"; DROP TABLE raw.quarantine; --",
    "/* comment */ SELECT 1; ATTACH '/tmp/evil.duckdb' AS e; --",
    "E'\\x2f' \\x2f \\\\ back\\slash",
    "ctl \x01\x02\x07\x08\x0b\x0c\x1b[31m red \x1f\x7f end",
    "tab\there, newline\nand CRLF\r\nend",
    "\u00fcn\u00efc\u00f8d\u00e9 \u65e5\u672c\u8a9e \U0001F680 \u202eRTL\u202c zero\u200bwidth \u2028 line-sep",
    '{"json": "in a string", "n": [1, 2, {"deep": null}]}',
    "{{ var('as_of') }} {% raw %} ${jndi:ldap://x} %s %n",
    "*?[]{} ../../etc/passwd $(id) `id`",
    "L" * 5000,
]


def injection_calls() -> list[dict]:
    """G1 calls whose every identifier is hostile (the values must come back byte for byte)."""
    calls = []
    n = len(INJECTION)
    for i, v in enumerate(INJECTION):
        calls.append(g1(f"{v}#{i}", model=INJECTION[(i + 1) % n], provider=INJECTION[(i + 2) % n] + " p",
                        team=INJECTION[(i + 3) % n], workflow_id=f"{INJECTION[(i + 4) % n]}#wf{i}",
                        workflow_type=INJECTION[(i + 5) % n], step=INJECTION[(i + 6) % n],
                        user=INJECTION[(i + 7) % n], tags=[INJECTION[(i + 8) % n], "ok"]))
    return calls


class Canaries:
    """Unique strings planted where nothing may keep them; `emails` may appear only pseudonymised."""

    def __init__(self):
        self.values: dict[str, str] = {}

    def __call__(self, where: str) -> str:
        value = f"CNRY{uuid.uuid4().hex[:16]}"
        self.values[value] = where
        return value

    def email(self, where: str) -> str:
        value = f"cnry.{uuid.uuid4().hex[:12]}@example.com"
        self.values[value] = where
        return value


def plant_canaries(landing: Path, c: Canaries) -> dict[str, str]:
    """Canaries in every gateway format; returns call id -> planted email (to check pseudonyms)."""
    emails = {}
    tool_call = lambda w: [{"id": "call_1", "type": "function",  # noqa: E731
                            "function": {"arguments": json.dumps({"query": c(w)}), "name": "search"}}]
    # G1: messages / response / prompt / tool calls / user email; a malformed line holding a prompt.
    e = emails["cnry-g1"] = c.email("g1 user")
    g1_ok = g1("cnry-g1", user=e, messages=[{"role": "system", "content": c("g1 system message")},
                                            {"role": "user", "content": c("g1 user message")},
                                            {"role": "assistant", "content": None, "tool_calls": tool_call("g1 tool-call arguments in messages")}],
               prompt=c("g1 prompt"), response={"choices": [{"message": {"content": c("g1 response"),
                                                                          "tool_calls": tool_call("g1 tool-call arguments in response")}}]},
               tool_calls=tool_call("g1 top-level tool_calls"), tools=[{"type": "function", "function": {"name": "search", "description": c("g1 tool description")}}])
    g1_negative = g1("cnry-g1-neg", user=c.email("g1 user of a quarantined record"), messages=[{"content": c("g1 prompt of a quarantined record")}],
                     usage={"prompt_tokens": 1, "completion_tokens": -5})
    g1_broken = ('{"request_id": "cnry-g1-broken", "timestamp": "' + TS + '", "user": "' + c.email("g1 user of a malformed line")
                 + '", "messages": [{"role": "user", "content": "' + c("g1 prompt of a malformed line") + '"}], "usage": ')
    g1_broken_tool = ('{"request_id": "cnry-g1-broken-tool", "tool_calls": [{"id": "c1", "function": {"arguments": "{\\"q\\": \\"'
                      + c("g1 tool-call arguments of a malformed line") + '\\"}", "name": "search"}}], "usage": {')
    write_jsonl(landing / "gateway" / "canary" / "g1.jsonl", [g1_ok, g1_negative, g1_broken, g1_broken_tool])
    # OTel: content attributes (current and legacy names), user.id email, a malformed line.
    e = emails[f"5b8efff798038103d269b633813fc60c-{0xcafe:016x}"] = c.email("otel user.id")
    span_attrs = {
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": c("otel gen_ai.input.messages")}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
            {"type": "text", "content": c("otel gen_ai.output.messages")},
            {"type": "tool_call", "name": "search", "arguments": {"q": c("otel tool_call part arguments")}}]}]),
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": c("otel gen_ai.system_instructions")}]),
        "gen_ai.tool.call.arguments": json.dumps({"q": c("otel gen_ai.tool.call.arguments")}),
        "gen_ai.prompt.0.content": c("otel legacy gen_ai.prompt.0.content"),
        "gen_ai.completion.0.content": c("otel legacy gen_ai.completion.0.content"),
        "user.id": e,
    }
    otel_ok = otel(f"{0xcafe:016x}", resource={"service.name": "bot", "enduser.id": c.email("otel resource enduser.id")}, **span_attrs)
    otel_broken = json.dumps(otel(f"{0xbeef:016x}", **{"gen_ai.input.messages": json.dumps([{"content": c("otel prompt of a malformed line")}])}))[:-9]
    write_jsonl(landing / "gateway" / "canary" / "otel.jsonl", [otel_ok, otel_broken])
    # LiteLLM (JSONL and CSV): messages / response / proxy_server_request (the #16336 leak path), emails.
    e = emails["cnry-litellm"] = c.email("litellm end_user")
    lite = litellm("cnry-litellm", end_user=e, user=c.email("litellm user"),
                   messages=[{"role": "user", "content": c("litellm messages")}],
                   response={"choices": [{"message": {"content": c("litellm response"), "tool_calls": tool_call("litellm tool-call arguments")}}]},
                   proxy_server_request={"body": {"messages": [{"content": c("litellm proxy_server_request body")}],
                                                  "user": c.email("litellm proxy_server_request user")},
                                         "headers": {"authorization": "Bearer sk-" + c("litellm proxy_server_request header key")}},
                   metadata={"user_api_key_user_email": c.email("litellm metadata user_api_key_user_email"),
                             "headers": {"x-api-key": c("litellm metadata headers")},
                             "usage_object": {"prompt_tokens": 12, "completion_tokens": 3}})
    lite_broken = ('{"request_id": "cnry-litellm-broken", "startTime": "' + TS + '", "end_user": "' + c.email("litellm user of a malformed line")
                   + '", "messages": [{"content": "' + c("litellm prompt of a malformed line") + '"}], "spend": ')
    write_jsonl(landing / "gateway" / "canary" / "litellm.jsonl", [lite, lite_broken])
    e = emails["cnry-litellm-csv"] = c.email("litellm csv end_user")
    cells = {"request_id": "cnry-litellm-csv", "startTime": TS, "endTime": "2026-09-03T10:00:01Z", "spend": "0.001",
             "model": "gpt-4o", "custom_llm_provider": "openai", "prompt_tokens": "5", "completion_tokens": "1",
             "end_user": e, "metadata": json.dumps({"usage_object": {"prompt_tokens": 5, "completion_tokens": 1}}),
             "messages": json.dumps([{"content": c("litellm csv messages")}]),
             "response": json.dumps({"choices": [{"message": {"content": c("litellm csv response")}}]}),
             "proxy_server_request": json.dumps({"body": {"messages": [{"content": c("litellm csv proxy_server_request")}]}})}
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(cells), lineterminator="\n")
    w.writeheader()
    w.writerow(cells)
    write_bytes(landing / "gateway" / "canary" / "litellm.csv", out.getvalue().encode())
    return emails


SECRET_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY", "TOKENPNL_HMAC_KEY",
              "GITHUB_WEBHOOK_SECRET", "DBT_ENV_SECRET_WAREHOUSE_TOKEN")


def gzip_members_text(data: bytes, limit: int = 512 * 1024 * 1024) -> bytes:
    d, out, total = zlib.decompressobj(16 + zlib.MAX_WBITS), [], 0
    try:
        while data and total < limit:
            chunk = d.decompress(data, 1 << 20)
            out.append(chunk)
            total += len(chunk)
            data = d.unconsumed_tail or (d.unused_data if d.eof else b"")
            if d.eof and data:
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    except zlib.error:
        pass
    return b"".join(out)


def search_files(paths: list[Path], canaries: list[str]) -> tuple[int, int, dict[str, list[str]]]:
    """Every canary as bytes in every file (and in its decompressed text when it is gzip)."""
    needles = [c.encode() for c in canaries]
    hits: dict[str, list[str]] = {}
    n_bytes = 0
    for p in paths:
        try:
            data = p.read_bytes()
        except OSError:
            continue
        blobs = [data] + ([gzip_members_text(data)] if data[:2] == b"\x1f\x8b" else [])
        for blob in blobs:
            n_bytes += len(blob)
            for c, n in zip(canaries, needles):
                if n in blob:
                    hits.setdefault(c, []).append(str(p))
    return len(paths), n_bytes, hits


def search_databases(dbs: list[Path], canaries: list[str]) -> tuple[int, int, dict[str, list[str]]]:
    """Every value of every table, as text: DuckDB compresses stored strings (dictionary, FSST), so
    a byte search of the file alone could miss one."""
    pattern = "|".join(canaries)
    hits: dict[str, list[str]] = {}
    tables = rows = 0
    for db in dbs:
        con = duckdb.connect(str(db), read_only=True)
        try:
            for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall():
                tables += 1
                q = f'SELECT t::VARCHAR AS v FROM "{schema}"."{table}" t'
                rows += con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()[0]
                for (v,) in con.execute(f"SELECT v FROM ({q}) WHERE regexp_matches(v, ?)", [pattern]).fetchall():
                    for c in canaries:
                        if c in v:
                            hits.setdefault(c, []).append(f"{db.name}:{schema}.{table}")
        finally:
            con.close()
    return tables, rows, hits


@pytest.fixture(scope="module")
def product_run(tmp_path_factory):
    """One landing folder with the demo data plus every hostile input; two `tokenpnl run`s:
    the first must publish, the second (after an invoice in an unknown currency lands) must fail."""
    root = tmp_path_factory.mktemp("hostile")
    base = root / "it's a landing; $(id) \u00fc"
    truth = generate(base, seed=5, days=6, workflows_per_day=2)
    landing = truth.landing
    canaries = Canaries()
    emails = plant_canaries(landing, canaries)
    write_jsonl(landing / "gateway" / "injection" / "a'; DROP TABLE raw.llm_calls; --.jsonl", injection_calls())
    deliveries = [github(f"inj-{i}", number=900 + i, title=v, body=INJECTION[(i + 1) % len(INJECTION)],
                         head={"ref": INJECTION[(i + 2) % len(INJECTION)], "sha": f"sha{i}"}) for i, v in enumerate(INJECTION)]
    write_jsonl(landing / "outcomes" / "injection" / 'gh "deliveries" $(id).jsonl', deliveries)
    write_jsonl(landing / "gateway" / "oversized.jsonl", [g1("os-1"), json.dumps(g1("os-2", pad="x" * 9_000_000)), g1("os-3")])
    os.symlink("/etc", landing / "gateway" / "etc")
    os.symlink("/etc/passwd", landing / "outcomes" / "passwd.jsonl")
    warehouse = root / "ware'house" / "tokenpnl.duckdb"
    dagster_home = root / "dagster home"
    dagster_home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {k: canaries(f"environment variable {k}") for k in SECRET_ENV}
    env |= {"DAGSTER_HOME": str(dagster_home), "TOKENPNL_QUARANTINE_MAX_PCT": "50"}
    started = time.time() - 1
    first = tokenpnl_run(landing, warehouse, truth.as_of, truth.price_book, env=env)
    published_after_first = warehouse.read_bytes() if warehouse.exists() else b""
    # An invoice row in a currency with no FX rate (spec rules.md §4): the run must fail, the publication stay.
    (landing / "invoices" / "xqz").mkdir()
    (landing / "invoices" / "xqz" / "focus_xqz.csv").write_text(
        FOCUS_HEADER + FOCUS_ROW.format(cost="12.5", currency="XQZ", invoice="INV-XQZ").replace("2026-09-03T00:00:00Z,2026-09-04", "2026-09-04T00:00:00Z,2026-09-05"))
    second = tokenpnl_run(landing, warehouse, truth.as_of, truth.price_book, env=env)
    return {"truth": truth, "landing": landing, "warehouse": warehouse, "dagster_home": dagster_home, "env": env,
            "canaries": canaries, "emails": emails, "started": started, "first": first, "second": second,
            "published_after_first": published_after_first}


def tokenpnl_run(landing: Path, warehouse: Path, as_of: date, *books: Path, env: dict) -> subprocess.CompletedProcess:
    args = [TOKENPNL, "run", "--landing", str(landing), "--warehouse", str(warehouse), "--as-of", as_of.isoformat()]
    for book in books:
        args += ["--price-book", str(book)]
    return subprocess.run(args, capture_output=True, text=True, env={**os.environ, **env}, timeout=600)


def marts(warehouse: Path, sql: str, params=()) -> list[dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(sql, list(params))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()


@pytest.mark.slow
def test_run_with_quotes_in_every_path_publishes(product_run):
    first = product_run["first"]
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "'" in str(product_run["landing"]) and "'" in str(product_run["warehouse"])
    q = marts(product_run["warehouse"], "SELECT source_file, line, reason FROM marts.quarantine")
    reasons = {(r["source_file"], r["line"]): r["reason"] for r in q}
    assert reasons[("gateway/etc", 0)] == reasons[("outcomes/passwd.jsonl", 0)] == "symlink not followed"
    assert reasons[("gateway/oversized.jsonl", 2)].startswith("line of 90")
    assert reasons[("gateway/oversized.jsonl", 2)].endswith("exceeds the cap of 8388608 bytes (TOKENPNL_MAX_LINE_BYTES)")


@pytest.mark.slow
def test_injection_corpus_loads_as_plain_data_and_round_trips(product_run):
    assert product_run["first"].returncode == 0
    warehouse = product_run["warehouse"]
    build = warehouse.with_name(warehouse.stem + ".build.duckdb")
    key = product_run["env"]["TOKENPNL_HMAC_KEY"].encode()
    # Every table is still there, in both files.
    present = {(r["schema_name"], r["table_name"]) for r in marts(build, "SELECT schema_name, table_name FROM duckdb_tables()")}
    for t in (*raw_tables(), "quarantine", "load_manifest", "price_book_rows", "provider_aliases", "fx_rates"):
        assert ("raw", t) in present, t
    published = {r["table_name"] for r in marts(warehouse, "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'")}
    assert set(MARTS) <= published
    # Every hostile value comes back byte for byte (the provider is normalised: lower(trim(...))).
    for rec in injection_calls():
        rows = marts(warehouse, "SELECT * FROM marts.fct_llm_calls WHERE call_id = ?", [rec["request_id"]])
        assert len(rows) == 1, repr(rec["request_id"])
        (row,) = rows
        assert (row["model"], row["team"], row["workflow_id"], row["workflow_type"], row["step"]) == \
            (rec["model"], rec["team"], rec["workflow_id"], rec["workflow_type"], rec["step"])
        assert row["provider"] == rec["provider"].strip().lower()
        assert row["user_key"] == pseudonymise_py(key, rec["user"])
        (raw,) = marts(build, "SELECT tags FROM raw.llm_calls WHERE call_id = ?", [rec["request_id"]])
        assert json.loads(raw["tags"]) == rec["tags"]
    for i, v in enumerate(INJECTION):
        (row,) = marts(build, "SELECT pr_title, pr_body, head_ref FROM raw.github_deliveries WHERE delivery_id = ?", [f"inj-{i}"])
        assert (row["pr_title"], row["pr_body"], row["head_ref"]) == (v, INJECTION[(i + 1) % len(INJECTION)], INJECTION[(i + 2) % len(INJECTION)])
    assert marts(warehouse, "SELECT count(*) AS n FROM marts.fct_outcomes WHERE external_ref LIKE 'acme/ledger#9%'")[0]["n"] == len(INJECTION)


@pytest.mark.slow
def test_unknown_currency_fails_the_run_naming_currency_and_day(product_run):
    second = product_run["second"]
    assert second.returncode == 1, second.stdout[-2000:] + second.stderr[-2000:]
    assert product_run["warehouse"].read_bytes() == product_run["published_after_first"], "the last publication must stay"
    message = second.stderr + second.stdout
    assert "XQZ" in message and "2026-09-04" in message, message[-3000:]


@pytest.mark.slow
def test_unknown_currency_fails_the_run_and_the_publication_stays(product_run):
    second = product_run["second"]
    assert second.returncode == 1, second.stdout[-2000:] + second.stderr[-2000:]
    assert "assert_fx_rate_for_every_charge" in second.stderr + second.stdout
    assert product_run["warehouse"].read_bytes() == product_run["published_after_first"]


@pytest.mark.slow
def test_no_canary_survives_anywhere(product_run):
    """Prompts, completions, tool arguments, quarantined lines, emails and secrets of the
    environment: none in the warehouse folder, DAGSTER_HOME, dbt's target/ and logs/, or the output."""
    assert product_run["first"].returncode == 0
    canaries = list(product_run["canaries"].values) + ["PROMPT-TEXT-DO-NOT-STORE"]  # the demo data's own marker
    warehouse, dagster_home = product_run["warehouse"], product_run["dagster_home"]
    files = [p for p in warehouse.parent.rglob("*") if p.is_file()]
    files += [p for p in dagster_home.rglob("*") if p.is_file()]
    for sub in ("target", "logs"):  # shared with concurrent runs: only what changed since ours started
        files += [p for p in (DBT_PROJECT_DIR / sub).rglob("*") if p.is_file() and p.stat().st_mtime >= product_run["started"]]
    assert any(p.suffix == ".db" for p in dagster_home.rglob("*")), "Dagster wrote no storage: DAGSTER_HOME was not used"
    assert (warehouse.parent / "logs" / "last_run.log").exists()
    n_files, n_bytes, hits = search_files(files, canaries)
    output = "\n".join(p.stdout + p.stderr for p in (product_run["first"], product_run["second"]))
    hits_out = [c for c in canaries if c in output]
    dbs = [warehouse, warehouse.with_name(warehouse.stem + ".build.duckdb")]
    n_tables, n_rows, hits_db = search_databases(dbs, canaries)
    # Emails appear only as their pseudonyms.
    key = product_run["env"]["TOKENPNL_HMAC_KEY"].encode()
    for call_id, email in product_run["emails"].items():
        rows = marts(warehouse, "SELECT user_key FROM marts.fct_llm_calls WHERE call_id = ?", [call_id])
        assert rows and rows[0]["user_key"] == pseudonymise_py(key, email), call_id
    where = product_run["canaries"].values
    print(f"\n[canaries] {len(canaries)} canaries planted ({sum('@' in c for c in canaries)} emails, "
          f"{sum(w.startswith('environment') for w in where.values())} secrets in the environment); searched "
          f"{n_files} files ({n_bytes / 1e6:.1f} MB incl. decompressed gzip) under the warehouse folder, DAGSTER_HOME "
          f"and dbt target/ + logs/, the CLI output of 2 runs, and {n_rows} rows of {n_tables} tables in 2 DuckDB files: "
          f"{sum(map(len, hits.values())) + len(hits_out) + sum(map(len, hits_db.values()))} hits")
    assert not hits, {where.get(c, c): f for c, f in hits.items()}
    assert not hits_out, [where.get(c, c) for c in hits_out]
    assert not hits_db, {where.get(c, c): f for c, f in hits_db.items()}
