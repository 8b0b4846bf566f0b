"""A later event flips an earlier verdict: a revert (or a ticket reopen) delivered after a nightly
run that had already counted the outcome as a verified success turns it into a failure on the
next run, and the month's cost per verified success follows."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import write_jsonl
from tests.marts_compare import read_marts
from tests.test_end_to_end import tokenpnl_run

pytestmark = pytest.mark.slow


def pr_delivery(delivery_id: str, number: int, title: str, merged_at: str, *, head: str, body: str = "") -> dict:
    return {"event": "pull_request", "delivery_id": delivery_id, "received_at": merged_at, "payload": {
        "action": "closed", "number": number, "repository": {"full_name": "acme/app"},
        "pull_request": {"number": number, "title": title, "body": body, "state": "closed", "merged": True,
                         "merged_at": merged_at, "closed_at": merged_at, "head": {"ref": head, "sha": f"sha{number}"}}}}


def test_a_late_revert_flips_a_verified_success(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    write_jsonl(landing / "gateway" / "calls.jsonl", [
        {"request_id": f"r{i}", "timestamp": f"2026-10-0{i}T09:00:00Z", "provider": "openai", "model": "gpt-4o",
         "workflow_id": f"wf{i}", "workflow_type": "code_change", "team": "core",
         "usage": {"prompt_tokens": 1000, "completion_tokens": 100}} for i in (1, 2)])
    write_jsonl(landing / "outcomes" / "night1.jsonl", [
        pr_delivery("d1", 1, "Add ledger", "2026-10-02T10:00:00Z", head="agent/wf1"),
        pr_delivery("d2", 2, "Add report", "2026-10-03T10:00:00Z", head="agent/wf2"),
    ])
    assert tokenpnl_run(landing, warehouse, date(2026, 10, 20)).returncode == 0
    first = read_marts(warehouse)
    assert {o["external_ref"]: o["status_reason"] for o in first["fct_outcomes"]} == {"acme/app#1": "merged", "acme/app#2": "merged"}
    (group,) = first["cost_per_verified_success"]
    assert (group["verified_successes"], str(group["cost_per_verified_success_usd"])) == (2, "0.00350000000000")

    # The revert was merged on 10-09 (inside #1's 14-day window) but its webhook only arrives on 10-21.
    revert = pr_delivery("d3", 3, 'Revert "Add ledger"', "2026-10-09T10:00:00Z", head="revert-1-agent/wf1",
                         body="Reverts acme/app#1")
    revert["received_at"] = "2026-10-21T08:00:00Z"
    write_jsonl(landing / "outcomes" / "night2.jsonl", [revert])
    assert tokenpnl_run(landing, warehouse, date(2026, 10, 21)).returncode == 0
    second = read_marts(warehouse)
    assert {o["external_ref"]: o["status_reason"] for o in second["fct_outcomes"]} == {
        "acme/app#1": "reverted", "acme/app#2": "merged", "acme/app#3": "window_open"}
    (group,) = second["cost_per_verified_success"]
    assert (group["verified_successes"], group["failed"]) == (1, 1)
    assert str(group["cost_per_verified_success_usd"]) == "0.00700000000000"  # both workflows' cost, one success
    assert {w["workflow_id"]: w["outcome_status"] for w in second["fct_workflows"]} == {"wf1": "failed", "wf2": "verified_success"}


def zendesk(event_id: str, time: str, previous: str, current: str) -> dict:
    return {"type": "zen:event-type:ticket.status_changed", "account_id": 1, "id": event_id, "time": time,
            "zendesk_event_version": "2022-11-06", "subject": "zen:ticket:77",
            "detail": {"id": "77", "status": current, "tags": ["workflow_id:wf_t"]},
            "event": {"previous": previous, "current": current}}


def test_a_late_reopen_flips_a_solved_ticket(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    write_jsonl(landing / "gateway" / "calls.jsonl", [
        {"request_id": "t1", "timestamp": "2026-10-01T09:00:00Z", "provider": "openai", "model": "gpt-4o",
         "workflow_id": "wf_t", "workflow_type": "support_ticket", "team": "cx",
         "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}])
    write_jsonl(landing / "outcomes" / "zendesk" / "night1.jsonl", [
        zendesk("e1", "2026-10-01T09:00:00Z", "NEW", "OPEN"), zendesk("e2", "2026-10-01T10:00:00Z", "OPEN", "SOLVED")])
    assert tokenpnl_run(landing, warehouse, date(2026, 10, 20)).returncode == 0
    (ticket,) = read_marts(warehouse)["fct_outcomes"]
    assert (ticket["external_ref"], ticket["status"], ticket["status_reason"]) == ("zendesk:77", "verified_success", "solved")

    # The customer reopened it on day 3 (inside the 7-day window); the webhook is redelivered late.
    write_jsonl(landing / "outcomes" / "zendesk" / "night2.jsonl", [zendesk("e3", "2026-10-04T08:00:00Z", "SOLVED", "OPEN")])
    assert tokenpnl_run(landing, warehouse, date(2026, 10, 21)).returncode == 0
    marts = read_marts(warehouse)
    (ticket,) = marts["fct_outcomes"]
    assert (ticket["status"], ticket["status_reason"]) == ("failed", "reopened")
    (group,) = marts["cost_per_verified_success"]
    assert (group["verified_successes"], group["failed"], group["cost_per_verified_success_usd"]) == (0, 1, None)
