"""GitHub's own webhook examples (@octokit/webhooks-examples 7.6.1, in tests/fixtures/github)
through the real job: the verbatim closed-unmerged PR, merged PRs derived from it (one linked to
two workflows by trailers, one reverted by a Revert-button PR), a real check_suite, a redelivery."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import write_jsonl
from tests.marts_compare import read_marts
from tests.test_end_to_end import tokenpnl_run

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parent / "fixtures" / "github"


def delivery(event: str, delivery_id: str, received_at: str, payload: dict) -> dict:
    return {"event": event, "delivery_id": delivery_id, "received_at": received_at, "payload": payload}


def merged(example: dict, number: int, merged_at: str, **pr_fields) -> dict:
    """A merged PR derived from the (unmerged) octokit example, as GitHub would send it."""
    payload = copy.deepcopy(example)
    payload["number"] = number
    pr = payload["pull_request"]
    pr.update(number=number, merged=True, merged_at=merged_at, closed_at=merged_at, merged_by=copy.deepcopy(pr["user"]))
    for key, value in pr_fields.items():
        if key == "head_ref":
            pr["head"]["ref"] = value
        else:
            pr[key] = value
    return payload


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    root = tmp_path_factory.mktemp("octokit")
    closed, _ = json.loads((FIXTURES / "pull_request.closed.json").read_text())
    suite = json.loads((FIXTURES / "check_suite.completed.json").read_text())[0]
    title = closed["pull_request"]["title"]
    linked_twice = merged(closed, 3, "2019-05-15T15:21:18Z",
                          body=closed["pull_request"]["body"] + "\n\nWorkflow-Id: wf_a\nworkflow-ID:  wf_b\n")
    reverted = merged(closed, 4, "2019-05-16T10:00:00Z", head_ref="agent/wf_c", title=title + " (2)")
    revert = merged(closed, 5, "2019-05-20T10:00:00Z", head_ref="revert-4-agent/wf_c",
                    title=f'Revert "{title} (2)"', body="Reverts Codertocat/Hello-World#4")
    landing = root / "landing"
    write_jsonl(landing / "outcomes" / "github" / "deliveries.jsonl", [
        delivery("pull_request", "d-closed", "2019-05-15T15:21:19Z", closed),
        delivery("check_suite", "d-suite", "2019-05-15T15:22:00Z", suite),
        delivery("pull_request", "d-merged", "2019-05-15T15:21:19Z", linked_twice),
        delivery("pull_request", "d-merged", "2019-05-15T15:21:19Z", linked_twice),  # redelivered
        delivery("pull_request", "d-reverted", "2019-05-16T10:00:01Z", reverted),
        delivery("pull_request", "d-revert", "2019-05-20T10:00:01Z", revert),
    ])
    calls = [{"request_id": f"r-{wf}", "timestamp": "2019-05-15T09:00:00Z", "provider": "openai", "model": "gpt-4o",
              "workflow_id": wf, "workflow_type": "code_change", "team": "octo",
              "usage": {"prompt_tokens": 1000, "completion_tokens": 100}} for wf in ("wf_a", "wf_b", "wf_c")]
    write_jsonl(landing / "gateway" / "calls.jsonl", calls)
    proc = tokenpnl_run(landing, root / "wh.duckdb", date(2019, 6, 30))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return read_marts(root / "wh.duckdb")


def test_outcome_verdicts_from_real_payloads(marts):
    outcomes = {o["external_ref"]: o for o in marts["fct_outcomes"]}
    got = {ref: (o["status"], o["status_reason"], o["linked_workflows"]) for ref, o in outcomes.items()}
    assert got == {
        "Codertocat/Hello-World#2": ("failed", "closed_unmerged", 0),
        "Codertocat/Hello-World#3": ("verified_success", "merged", 2),
        "Codertocat/Hello-World#4": ("failed", "reverted", 1),
        "Codertocat/Hello-World#5": ("verified_success", "merged", 0),  # the revert links to nothing
    }


def test_a_pr_linked_to_two_workflows_counts_once(marts):
    workflows = {w["workflow_id"]: w["outcome_id"] for w in marts["fct_workflows"]}
    assert workflows == {"wf_a": "github:Codertocat/Hello-World#3", "wf_b": "github:Codertocat/Hello-World#3",
                         "wf_c": "github:Codertocat/Hello-World#4"}
    (group,) = marts["cost_per_verified_success"]
    # 3 workflows at 1000 in + 100 out of gpt-4o (2.50 / 10.00 per Mtok) = 0.0035 each.
    assert (group["workflows"], group["outcomes"], group["verified_successes"], group["failed"]) == (3, 2, 1, 1)
    assert str(group["list_cost_usd"]) == "0.01050000000000"
    assert str(group["cost_per_verified_success_usd"]) == "0.01050000000000"
