"""Issue 4.1: the same key with a different payload is a conflict. Through the real `tokenpnl run`:
an identical redelivery of a key adds nothing and is not reported; a later copy of a key with
other content is dropped (the first copy is kept) and lands in `marts.quarantine` with its file,
line and a reason naming the copy kept. Every source with a natural key: GitHub delivery_id,
Zendesk event id, Jira event key, generic outcome_id + occurred_at, provider cost results, FX
rates (where a conflict also fails the run: money depends on it)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import write_jsonl
from tests.marts_compare import build_rows, read_marts
from tests.test_end_to_end import tokenpnl_run

pytestmark = pytest.mark.slow

AS_OF = date(2026, 11, 30)  # every revert (14 d) and reopen (7 d) window of October has passed
OCT_5, OCT_6 = 1791158400, 1791244800  # 2026-10-05/06 00:00 UTC


# --- records ----------------------------------------------------------------------------------

def call(request_id: str, workflow_id: str, ts: str = "2026-10-05T09:00:00Z") -> dict:
    return {"request_id": request_id, "timestamp": ts, "provider": "openai", "model": "gpt-5",
            "workflow_id": workflow_id, "workflow_type": "support", "team": "core",
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}


def pr(delivery_id: str, received_at: str, number: int, *, merged: bool = True, wf: str | None = None) -> dict:
    at = "2026-10-05T12:00:00Z"
    return {"event": "pull_request", "delivery_id": delivery_id, "received_at": received_at, "payload": {
        "action": "closed", "number": number, "repository": {"full_name": "acme/app"},
        "pull_request": {"number": number, "title": f"Change {number}", "body": "", "state": "closed",
                         "merged": merged, "merged_at": at if merged else None, "closed_at": at,
                         "head": {"ref": f"agent/{wf or f'wf_pr{number}'}", "sha": f"sha{number}"}}}}


def zendesk(event_id: str, ticket: str, time: str, status: str, tags: list[str]) -> dict:
    return {"type": "zen:event-type:ticket.status_changed", "account_id": 1, "id": event_id, "time": time,
            "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{ticket}",
            "detail": {"id": ticket, "status": status, "group_id": "360001", "tags": tags},
            "event": {"previous": "OPEN", "current": status}}


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp() * 1000)


def jira(key: str, at: str, changelog_id: str, resolution: str, wf: str) -> dict:
    return {"timestamp": ms(at), "webhookEvent": "jira:issue_updated", "issue_event_type_name": "issue_generic",
            "issue": {"id": "10" + key.split("-")[1], "key": key, "fields": {
                "project": {"key": "PROJ"}, "status": {"name": "Done", "statusCategory": {"key": "done"}},
                "resolution": {"name": resolution}, "labels": [f"workflow_id:{wf}"]}},
            "changelog": {"id": changelog_id, "items": [
                {"field": "status", "fieldtype": "jira", "fromString": "In Progress", "toString": "Done"}]}}


def generic(outcome_id: str, wf: str, occurred_at: str, status: str, value: str | None) -> dict:
    record = {"outcome_id": outcome_id, "workflow_id": wf, "occurred_at": occurred_at, "kind": "eval",
              "status": status, "verified": True, "policy_passed": True}
    if value is not None:
        record["value_usd"] = value
    return record


def oa_page(results: list[tuple[float, str]]) -> dict:
    return {"object": "page", "has_more": False, "next_page": None, "data": [
        {"object": "bucket", "start_time": OCT_5, "end_time": OCT_6, "results": [
            {"object": "organization.costs.result", "amount": {"value": v, "currency": "usd"},
             "line_item": item, "project_id": "proj_abc"} for v, item in results]}]}


# --- one run with a redelivery and a conflict of every source -----------------------------------

WORKFLOWS = ["wf_pr1", "wf_pr2", "wf_pr3", "wf_z1", "wf_z2", "wf_j1", "wf_j2", "wf_g1", "wf_g2"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("conflicts")
    landing, warehouse = root / "landing", root / "wh" / "tokenpnl.duckdb"
    write_jsonl(landing / "gateway" / "calls.jsonl", [call(f"c{i}", wf) for i, wf in enumerate(WORKFLOWS)])

    gh = landing / "outcomes" / "github"
    write_jsonl(gh / "a.jsonl", [
        pr("d-same", "2026-10-05T12:00:01Z", 1),
        pr("d-merged", "2026-10-05T12:00:01Z", 2),
        pr("d-number", "2026-10-05T12:00:01Z", 3),
    ])
    write_jsonl(gh / "b.jsonl", [
        pr("d-same", "2026-10-06T08:00:00Z", 1),                     # redelivered as is, received later: silent
        pr("d-merged", "2026-10-06T08:00:00Z", 2, merged=False),     # same delivery, not merged: conflict
        pr("d-number", "2026-10-06T08:00:00Z", 33, wf="wf_pr3"),     # same delivery, another PR: conflict
    ])
    # The earliest received copy wins even from a file that sorts first but arrived later.
    write_jsonl(gh / "0-late.jsonl", [pr("d-merged", "2026-10-07T08:00:00Z", 2, merged=False)])

    zd = landing / "outcomes" / "zendesk"
    write_jsonl(zd / "a.jsonl", [
        zendesk("z1", "501", "2026-10-05T10:00:00Z", "SOLVED", ["workflow_id:wf_z1"]),
        zendesk("z2", "502", "2026-10-05T10:00:00Z", "SOLVED", ["workflow_id:wf_z2"]),
    ])
    write_jsonl(zd / "b.jsonl", [
        zendesk("z1", "501", "2026-10-05T10:00:00Z", "SOLVED", ["workflow_id:wf_z1"]),
        zendesk("z2", "502", "2026-10-05T10:00:00Z", "SOLVED", ["workflow_id:wf_z2", "escalated"]),
    ])

    jr = landing / "outcomes" / "jira"
    write_jsonl(jr / "a.jsonl", [
        jira("PROJ-1", "2026-10-05T10:00:00", "100", "Done", "wf_j1"),
        jira("PROJ-2", "2026-10-05T10:00:00", "200", "Done", "wf_j2"),
    ])
    write_jsonl(jr / "b.jsonl", [
        jira("PROJ-1", "2026-10-05T10:00:00", "100", "Done", "wf_j1"),
        jira("PROJ-2", "2026-10-05T10:00:00", "200", "Won't Do", "wf_j2"),
    ])

    gen = landing / "outcomes" / "generic"
    write_jsonl(gen / "a.jsonl", [
        generic("oc_1", "wf_g1", "2026-10-05T10:00:00Z", "accepted", "10.00"),
        generic("oc_2", "wf_g2", "2026-10-05T10:00:00Z", "accepted", "20.00"),
    ])
    write_jsonl(gen / "b.jsonl", [
        generic("oc_1", "wf_g1", "2026-10-05T10:00:00+00:00", "accepted", "10.0"),  # the same statement
        generic("oc_2", "wf_g2", "2026-10-05T10:00:00Z", "rejected", None),        # same instant, other verdict
    ])

    inv = landing / "invoices" / "openai"
    page = oa_page([(0.06, "gpt-5, input"), (0.165, "gpt-5, output")])
    write_jsonl(inv / "a.json", [page])
    write_jsonl(inv / "b.json", [page])                                            # re-delivered: silent
    write_jsonl(inv / "d.json", [page, page])               # the same page twice in a file of other bytes: silent
    write_jsonl(inv / "c.json", [oa_page([(0.07, "gpt-5, input"), (0.165, "gpt-5, output")])])  # re-fetched

    fx = landing / "fx_rates"
    fx.mkdir(parents=True)
    (fx / "a.csv").write_text("day,currency,usd_per_unit\n2026-10-05,EUR,1.08\n")
    (fx / "b.csv").write_text("day,currency,usd_per_unit\n2026-10-05,EUR,1.080\n")  # the same rate: silent

    proc = tokenpnl_run(landing, warehouse, AS_OF)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"marts": read_marts(warehouse), "warehouse": warehouse}


def conflicts(marts: dict) -> list[tuple]:
    return sorted((q["source_file"], q["line"], q["source_kind"], q["source_format"], q["reason"])
                  for q in marts["quarantine"])


def test_every_conflict_is_quarantined_with_file_line_and_the_copy_kept(run):
    assert conflicts(run["marts"]) == sorted([
        ("invoices/openai/c.json", 1, "invoices", "provider_cost_reports",
         "conflict: openai_costs bucket 2026-10-05 00:00:00 gpt-5, input already loaded from invoices/openai/a.json "
         "line 1 with different content"),
        ("outcomes/generic/b.jsonl", 2, "outcomes", "generic_outcomes",
         "conflict: outcome_id oc_2 at 2026-10-05 10:00:00 already loaded from outcomes/generic/a.jsonl line 2 "
         "with different content"),
        ("outcomes/github/0-late.jsonl", 1, "outcomes", "github_deliveries",
         "conflict: delivery_id d-merged already loaded from outcomes/github/a.jsonl line 2 with different content"),
        ("outcomes/github/b.jsonl", 2, "outcomes", "github_deliveries",
         "conflict: delivery_id d-merged already loaded from outcomes/github/a.jsonl line 2 with different content"),
        ("outcomes/github/b.jsonl", 3, "outcomes", "github_deliveries",
         "conflict: delivery_id d-number already loaded from outcomes/github/a.jsonl line 3 with different content"),
        ("outcomes/jira/b.jsonl", 2, "outcomes", "jira_events",
         "conflict: Jira jira:issue_updated of PROJ-2 at 2026-10-05 10:00:00 changelog 200 already loaded from "
         "outcomes/jira/a.jsonl line 2 with different content"),
        ("outcomes/zendesk/b.jsonl", 2, "outcomes", "zendesk_events",
         "conflict: event_id z2 already loaded from outcomes/zendesk/a.jsonl line 2 with different content"),
    ])
    assert all(q["loaded_at"] is not None for q in run["marts"]["quarantine"])


def test_the_excerpt_names_the_key_and_what_differs_never_text(run):
    excerpts = {(q["source_file"], q["line"]): json.loads(q["raw_excerpt"]) for q in run["marts"]["quarantine"]}
    assert excerpts[("outcomes/github/b.jsonl", 2)] == {
        "key": "delivery_id d-merged", "differs": ["pr_merged", "pr_merged_at"]}
    assert excerpts[("outcomes/github/b.jsonl", 3)] == {
        "key": "delivery_id d-number", "differs": ["pr_number", "pr_title", "head_sha"]}
    assert excerpts[("outcomes/zendesk/b.jsonl", 2)]["differs"] == ["tags"]
    assert excerpts[("outcomes/jira/b.jsonl", 2)]["differs"] == ["resolution"]
    assert excerpts[("outcomes/generic/b.jsonl", 2)]["differs"] == ["status", "value_usd"]
    assert excerpts[("invoices/openai/c.json", 1)] == {
        "key": "openai_costs bucket 2026-10-05 00:00:00 gpt-5, input", "differs": ["amount"],
        "kept": {"amount": "0.06000000000000", "amount_unit": "currency_unit", "currency": "USD"},
        "conflicting": {"amount": "0.07000000000000", "amount_unit": "currency_unit", "currency": "USD"}}


def test_the_first_copy_is_kept_and_every_key_counts_once(run):
    outcomes = {o["external_ref"]: (o["status"], o["status_reason"], o["linked_workflows"], o["value_usd"])
                for o in run["marts"]["fct_outcomes"]}
    assert outcomes == {
        "acme/app#1": ("verified_success", "merged", 1, None),
        "acme/app#2": ("verified_success", "merged", 1, None),   # not the unmerged copies
        "acme/app#3": ("verified_success", "merged", 1, None),   # no PR #33
        "zendesk:501": ("verified_success", "solved", 1, None),
        "zendesk:502": ("verified_success", "solved", 1, None),  # not the escalated copy
        "PROJ-1": ("verified_success", "solved", 1, None),
        "PROJ-2": ("verified_success", "solved", 1, None),       # not the Won't Do copy
        "oc_1": ("verified_success", "accepted", 1, Decimal("10.00")),
        "oc_2": ("verified_success", "accepted", 1, Decimal("20.00")),  # not the rejected copy
    }
    (group,) = run["marts"]["cost_per_verified_success"]
    assert (group["workflows"], group["outcomes"], group["verified_successes"], group["failed"]) == (9, 9, 9, 0)
    # raw keeps every line; staging one row per key.
    assert build_rows(run["warehouse"], """SELECT
        (SELECT count(*) FROM raw.github_deliveries), (SELECT count(*) FROM staging.stg_github__pull_request_events),
        (SELECT count(*) FROM raw.zendesk_events), (SELECT count(*) FROM staging.stg_zendesk__ticket_events),
        (SELECT count(*) FROM raw.jira_events), (SELECT count(*) FROM staging.stg_jira__issue_events),
        (SELECT count(*) FROM raw.outcome_events), (SELECT count(*) FROM staging.stg_outcomes__events),
        (SELECT count(*) FROM raw.provider_cost_rows), (SELECT count(*) FROM staging.stg_provider_costs__cost_rows),
        (SELECT count(*) FROM raw.fx_rates), (SELECT count(*) FROM staging.stg_fx__rates)""") == [
        (7, 3, 4, 2, 4, 2, 4, 2, 8, 2, 2, 1)]  # invoices b.json: same bytes as a.json, skipped whole
    assert build_rows(run["warehouse"], "SELECT delivery_id, pr_number, is_merged, received_at FROM "
                      "staging.stg_github__pull_request_events ORDER BY delivery_id") == [
        ("d-merged", 2, True, datetime(2026, 10, 5, 12, 0, 1)),
        ("d-number", 3, True, datetime(2026, 10, 5, 12, 0, 1)),
        ("d-same", 1, True, datetime(2026, 10, 5, 12, 0, 1)),
    ]
    assert build_rows(run["warehouse"], "SELECT currency, usd_per_unit, source_file, source_line FROM staging.stg_fx__rates") == [
        ("EUR", Decimal("1.080000000000000000"), "fx_rates/a.csv", 2)]


def test_the_invoice_counts_the_first_copy_of_a_refetched_result(run):
    (month,) = [m for m in run["marts"]["invoice_reconciliation"] if m["provider"] == "openai"]
    assert month["invoice_usage_cost_usd"] == Decimal("0.225")  # 0.06 + 0.165, neither 0.07 nor twice


# --- FX: two rates for one currency and day fail the run -----------------------------------------

def test_two_fx_rates_for_one_day_fail_the_run_and_are_quarantined(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "tokenpnl.duckdb"
    write_jsonl(landing / "gateway" / "calls.jsonl", [call("c1", "wf1")])
    fx = landing / "fx_rates"
    fx.mkdir(parents=True)
    (fx / "a.csv").write_text("day,currency,usd_per_unit\n2026-10-04,EUR,1.07\n2026-10-05,EUR,1.08\n")
    (fx / "b.csv").write_text("day,currency,usd_per_unit\n2026-10-05,EUR,1.10\n")
    proc = tokenpnl_run(landing, warehouse, AS_OF)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    stderr = " ".join(proc.stderr.split())  # the console wraps long lines
    assert "assert_fx_rates_unambiguous" in stderr and "last good publication" in stderr
    # The failure names the rows to fix (the test stores its failures).
    assert "source_file=fx_rates/b.csv, line=2, reason=conflict: usd_per_unit of EUR on 2026-10-05" in stderr
    assert not warehouse.exists()  # nothing was ever published
    # The build file holds the conflict in the quarantine mart, and the first rate in staging.
    (row,) = build_rows(warehouse, "SELECT source_file, line, source_kind, source_format, reason, raw_excerpt "
                                   "FROM marts.quarantine")
    assert row[:5] == ("fx_rates/b.csv", 2, "fx_rates", "fx_rates",
                       "conflict: usd_per_unit of EUR on 2026-10-05 already loaded from fx_rates/a.csv line 3 "
                       "with different content")
    assert json.loads(row[5]) == {"key": "usd_per_unit of EUR on 2026-10-05", "differs": ["usd_per_unit"],
                                  "kept": {"usd_per_unit": "1.080000000000000000"},
                                  "conflicting": {"usd_per_unit": "1.100000000000000000"}}
    assert build_rows(warehouse, "SELECT day, usd_per_unit FROM staging.stg_fx__rates ORDER BY day") == [
        (date(2026, 10, 4), Decimal("1.07")), (date(2026, 10, 5), Decimal("1.08"))]
