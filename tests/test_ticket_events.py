"""O2 ticket events: Zendesk and Jira webhooks through the real ingest (allow-list, quarantine,
skips), then the ticket verdicts through a real dbt build on the landed raw tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Landing
from tokenpnl.settings import DBT_PROJECT_DIR

CANARY = "CANARY-ticket-text-7f3a"
DBT = str(Path(sys.executable).with_name("dbt"))


def zendesk(event_id: str, ticket: str, time: str, kind: str = "status_changed", *, status: str = "OPEN",
            tags: list[str] | None = None, event: dict | None = None, **detail) -> dict:
    """A Zendesk ticket event webhook shaped like the published example."""
    return {"type": f"zen:event-type:ticket.{kind}", "account_id": 12514403, "id": event_id, "time": time,
            "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{ticket}",
            "detail": {"id": ticket, "status": status, "group_id": "360001", "assignee_id": "901",
                       "tags": tags if tags is not None else ["ai_assisted"], **detail},
            "event": event or {}}


def solved(event_id: str, ticket: str, time: str, previous: str = "OPEN", **kw) -> dict:
    return zendesk(event_id, ticket, time, status="SOLVED", event={"previous": previous, "current": "SOLVED"}, **kw)


def reopened(event_id: str, ticket: str, time: str, **kw) -> dict:
    return zendesk(event_id, ticket, time, status="OPEN", event={"previous": "SOLVED", "current": "OPEN"}, **kw)


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp() * 1000)


def jira(key: str, at: str, status: str, category: str, *, webhook: str = "jira:issue_updated", changelog_id: str | None = "1",
         from_status: str | None = None, resolution: str | None = None, labels: list[str] | None = None, **extra) -> dict:
    """A Jira issue webhook shaped like the published jira:issue_updated example."""
    body = {"timestamp": ms(at), "webhookEvent": webhook, "issue_event_type_name": "issue_generic",
            "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Dana"},
            "issue": {"id": "10" + key.split("-")[1], "key": key, "fields": {
                "summary": CANARY, "description": CANARY, "project": {"key": key.split("-")[0]},
                "status": {"name": status, "statusCategory": {"key": category}},
                "resolution": {"name": resolution} if resolution else None, "labels": labels or []}}, **extra}
    if from_status is not None:
        body["changelog"] = {"id": changelog_id, "items": [
            {"field": "assignee", "fieldtype": "jira", "fromString": None, "toString": "Dana"},
            {"field": "status", "fieldtype": "jira", "from": "3", "fromString": from_status, "to": "10001", "toString": status}]}
    return body


def every_text(db: Path) -> str:
    """Every value of every table of the build database, as one string (to look for canaries)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        return "\n".join(str(con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()) for s, t in tables)
    finally:
        con.close()


# --- ingest ---------------------------------------------------------------------------------

def test_zendesk_events_are_landed_skipped_and_quarantined(landing):
    landing.outcomes("zendesk/2026-11-01.jsonl", [
        # the published example: OPEN -> SOLVED
        {"type": "zen:event-type:ticket.status_changed", "account_id": 12514403, "id": "2b24ef10-19d4-4740-93cf-8f98ec4776c0",
         "time": "2026-10-14T10:02:00Z", "zendesk_event_version": "2022-11-06", "subject": "zen:ticket:35436",
         "detail": {"id": "35436", "status": "SOLVED", "group_id": "360001", "assignee_id": "901", "tags": ["ai_assisted"],
                    "subject": CANARY, "description": CANARY},
         "event": {"previous": "OPEN", "current": "SOLVED"}},
        zendesk("z2", "35436", "2026-10-15T09:00:00+02:00", status="open", event={"previous": "solved", "current": "open"}),
        zendesk("z3", "35437", "2026-10-14T10:00:00Z", "group_assignment_changed",
                event={"current": {"id": "777"}, "previous": {"id": "360001"}}),
        zendesk("z4", "35437", "2026-10-14T10:01:00Z", "tags_changed", tags=["ai_assisted", "escalated"],
                event={"tags_added": ["escalated"], "tags_removed": []}),
        zendesk("z5", "35437", "2026-10-14T10:02:00Z", "comment_added",
                event={"comment": {"id": "1", "body": CANARY, "author": {"name": CANARY}, "is_public": True}}),
        {"type": "zen:event-type:user.created", "id": "u1", "time": "2026-10-14T10:02:00Z", "subject": "zen:user:1",
         "detail": {"email": "dana@example.com"}, "event": {}},
        zendesk("z7", "35438", "2026-10-14 10:02:00"),
        zendesk("", "35438", "2026-10-14T10:02:00Z"),
        {"type": "zen:event-type:ticket.priority_changed", "id": "z9", "time": "2026-10-14T10:02:00Z", "subject": "zen:view:1"},
        '{"type": "zen:event-type:ticket.comment_added", "id": "z10", "detail": {"description": "' + CANARY + '"',
    ])
    report = landing.load()
    assert (report.totals.loaded, report.totals.skipped, report.totals.quarantined) == (5, 1, 4)
    rows = {r["event_id"]: r for r in landing.rows("SELECT * FROM raw.zendesk_events")}
    first = rows["2b24ef10-19d4-4740-93cf-8f98ec4776c0"]
    assert (first["ticket_id"], first["status_previous"], first["status_current"], first["tags"]) == ("35436", "OPEN", "SOLVED", ["ai_assisted"])
    assert first["occurred_at"] == datetime(2026, 10, 14, 10, 2)
    assert (rows["z2"]["status_previous"], rows["z2"]["status_current"], rows["z2"]["occurred_at"]) == (
        "SOLVED", "OPEN", datetime(2026, 10, 15, 7, 0))
    assert rows["z3"]["group_id"] == "777" and rows["z3"]["status_current"] is None
    assert rows["z4"]["tags_added"] == ["escalated"] and rows["z4"]["tags"] == ["ai_assisted", "escalated"]
    assert rows["z5"]["event_type"] == "zen:event-type:ticket.comment_added"
    reasons = [(q["line"], q["reason"]) for q in landing.rows("SELECT line, reason FROM raw.quarantine ORDER BY line")]
    assert reasons == [
        (7, "time has no UTC offset: 2026-10-14 10:02:00"),
        (8, "missing id"),
        (9, "missing ticket id (detail.id or subject zen:ticket:<id>)"),
        (10, "malformed JSON"),
    ]
    assert CANARY not in every_text(landing.db) and "dana@example.com" not in every_text(landing.db)


def test_jira_events_are_landed_deduplicated_in_staging_and_quarantined(landing):
    updated = jira("PROJ-342", "2026-10-14T10:02:00", "Done", "done", from_status="In Progress", resolution="Done",
                   labels=["workflow_id:wf_91c2"], changelog_id="100")
    landing.outcomes("jira/a.jsonl", [
        jira("PROJ-342", "2026-10-13T09:00:00", "To Do", "new", webhook="jira:issue_created", changelog_id=None),
        updated,
        jira("PROJ-342", "2026-10-15T10:00:00", "In Progress", "indeterminate", from_status="Done", changelog_id="101"),
        jira("PROJ-342", "2026-10-15T11:00:00", "In Progress", "indeterminate", webhook="comment_created",
             comment={"id": "9", "body": CANARY, "author": {"displayName": "Dana"}}),
        {"timestamp": ms("2026-10-15T11:00:00"), "webhookEvent": "jira:version_released", "version": {"name": "1.0"}},
        updated | {"timestamp": "2026-10-14 10:02:00"},
        updated | {"timestamp": 10**17},
        updated | {"issue": {"id": "1", "fields": {}}},
        '{"timestamp": 1, "webhookEvent": "jira:issue_updated", "issue": {"fields": {"summary": "' + CANARY + '"',
    ])
    landing.outcomes("jira/redelivered.jsonl", [updated])  # the same webhook delivered again
    report = landing.load()
    assert (report.totals.loaded, report.totals.skipped, report.totals.quarantined) == (5, 1, 4)
    rows = landing.rows("SELECT * FROM raw.jira_events ORDER BY _source_file, _line")
    assert [(r["webhook_event"], r["status_from"], r["status_to"], r["status_category"]) for r in rows] == [
        ("jira:issue_created", None, None, "new"),
        ("jira:issue_updated", "In Progress", "Done", "done"),
        ("jira:issue_updated", "Done", "In Progress", "indeterminate"),
        ("comment_created", None, None, "indeterminate"),
        ("jira:issue_updated", "In Progress", "Done", "done"),
    ]
    done = rows[1]
    assert (done["issue_key"], done["issue_id"], done["occurred_at"], done["resolution"], done["labels"]) == (
        "PROJ-342", "10342", datetime(2026, 10, 14, 10, 2), "Done", ["workflow_id:wf_91c2"])
    assert rows[4]["event_key"] == done["event_key"] and rows[4]["_source_file"] == "outcomes/jira/redelivered.jsonl"
    assert len({r["event_key"] for r in rows}) == 4
    reasons = [q["reason"] for q in landing.rows("SELECT reason FROM raw.quarantine ORDER BY line")]
    assert reasons == ["timestamp is not epoch milliseconds: 2026-10-14 10:02:00", "timestamp is out of range: 100000000000000000",
                       "missing issue.key", "malformed JSON"]
    assert CANARY not in every_text(landing.db) and "Dana" not in every_text(landing.db)


# --- verdicts through dbt -------------------------------------------------------------------

AS_OF = "2026-11-30"  # the run knows everything before 2026-12-01T00:00Z


@pytest.fixture(scope="module")
def ticket_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("tickets")
    landing = Landing(root)
    landing.outcomes("zendesk/events.jsonl", [
        solved("a1", "101", "2026-11-02T10:02:00Z", tags=["ai_assisted", "workflow_id:wf_a"]),
        zendesk("a2", "101", "2026-11-09T10:00:00Z", status="CLOSED", event={"previous": "SOLVED", "current": "CLOSED"},
                tags=["ai_assisted", "workflow_id:wf_a", "workflow_id:wf_b"]),
        solved("b1", "102", "2026-11-03T10:00:00Z", tags=["workflow_id:wf_c"]),
        reopened("b2", "102", "2026-11-05T10:00:00Z", tags=["workflow_id:wf_c"]),
        zendesk("c1", "103", "2026-11-03T09:00:00Z", "group_assignment_changed",
                event={"current": {"id": "777"}, "previous": {"id": "360001"}}),
        solved("c2", "103", "2026-11-03T10:00:00Z"),
        zendesk("d1", "104", "2026-11-03T09:00:00Z", "tags_changed", tags=["ai_assisted", "escalated"],
                event={"tags_added": ["escalated"], "tags_removed": []}),
        solved("d2", "104", "2026-11-03T10:00:00Z", tags=["ai_assisted", "escalated"]),
        solved("e1", "105", "2026-11-28T10:00:00Z"),
        zendesk("f1", "106", "2026-11-03T10:00:00Z", status="CLOSED", event={"previous": "OPEN", "current": "CLOSED"}),
        zendesk("g1", "107", "2026-11-20T10:00:00Z", status="NEW", event={"previous": None, "current": "NEW"}),
        solved("g2", "107", "2026-12-01T00:00:00Z"),  # at the as-of instant: not yet known
        solved("h1", "108", "2026-11-01T10:00:00Z"),
        reopened("h2", "108", "2026-11-12T10:00:00Z"),  # after the 7-day window: changes nothing
    ])
    landing.outcomes("zendesk/redelivered.jsonl", [solved("a1", "101", "2026-11-02T10:02:00Z", tags=["ai_assisted", "workflow_id:wf_a"])])
    landing.outcomes("jira/events.jsonl", [
        jira("PROJ-342", "2026-11-01T09:00:00", "To Do", "new", webhook="jira:issue_created", changelog_id=None,
             labels=["workflow_id:wf_j"]),
        jira("PROJ-342", "2026-11-02T10:02:00", "Done", "done", from_status="In Progress", resolution="Done",
             labels=["workflow_id:wf_j"], changelog_id="200"),
        jira("PROJ-343", "2026-11-02T10:00:00", "Done", "done", from_status="In Progress", resolution="Done", changelog_id="201"),
        jira("PROJ-343", "2026-11-04T10:00:00", "In Progress", "indeterminate", from_status="Done", changelog_id="202"),
        jira("PROJ-344", "2026-11-02T10:00:00", "Escalated", "indeterminate", from_status="In Progress", changelog_id="203"),
        jira("PROJ-344", "2026-11-03T10:00:00", "Done", "done", from_status="Escalated", resolution="Done", changelog_id="204"),
        jira("PROJ-345", "2026-11-02T10:00:00", "Done", "done", from_status="To Do", resolution="Won't Do", changelog_id="205"),
        jira("PROJ-346", "2026-11-27T10:00:00", "In Progress", "indeterminate", from_status="To Do", changelog_id="206"),
        jira("PROJ-347", "2026-11-27T10:00:00", "Done", "done", from_status="In Progress", resolution="Done", changelog_id="207"),
    ])
    landing.outcomes("jira/redelivered.jsonl", [
        jira("PROJ-342", "2026-11-02T10:02:00", "Done", "done", from_status="In Progress", resolution="Done",
             labels=["workflow_id:wf_j"], changelog_id="200"),
    ])
    report = landing.load()
    assert report.totals.quarantined == 0, landing.rows("SELECT * FROM raw.quarantine")
    env = {**os.environ, "TOKENPNL_BUILD_DB": str(landing.db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    # Own target and log folders: other dbt runs on this checkout must not share them.
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
              "--target-path", str(root / "target"), "--log-path", str(root / "logs")]
    dbt_vars = json.dumps({"as_of": AS_OF, "zendesk_human_groups": ["777"]})
    # `build` runs the models' data tests and, once the parents exist, the dbt unit tests too
    # (a separate `dbt test` would only re-parse and repeat them).
    build = subprocess.run([DBT, "build", "--select", "+int_outcomes_verified", "--vars", dbt_vars, *common],
                           capture_output=True, text=True, env=env, timeout=300)
    assert build.returncode == 0, build.stdout[-4000:]
    return landing, build.stdout


def test_dbt_unit_tests_of_ticket_verdicts_pass(ticket_build):
    _, out = ticket_build
    assert "PASS int_tickets_verified::zendesk_ticket_verdicts" in out
    assert "PASS int_tickets_verified::jira_issue_verdicts" in out


def test_redelivered_events_count_once(ticket_build):
    landing, _ = ticket_build
    counts = landing.rows(
        "SELECT (SELECT count(*) FROM raw.zendesk_events) AS zr, (SELECT count(*) FROM staging.stg_zendesk__ticket_events) AS zs, "
        "(SELECT count(*) FROM raw.jira_events) AS jr, (SELECT count(*) FROM staging.stg_jira__issue_events) AS js")[0]
    assert counts == {"zr": 15, "zs": 14, "jr": 10, "js": 9}


def test_ticket_verdicts_from_landed_events(ticket_build):
    landing, _ = ticket_build
    got = {r["outcome_id"]: (r["external_ref"], r["status"], r["status_reason"], r["resolved_at"], r["linked_workflow_ids"])
           for r in landing.rows("SELECT * FROM intermediate.int_outcomes_verified WHERE outcome_source = 'ticket'")}
    t = datetime
    assert got == {
        "zendesk:101": ("zendesk:101", "verified_success", "solved", t(2026, 11, 2, 10, 2), ["wf_a", "wf_b"]),
        "zendesk:102": ("zendesk:102", "failed", "reopened", t(2026, 11, 3, 10), ["wf_c"]),
        "zendesk:103": ("zendesk:103", "failed", "escalated", t(2026, 11, 3, 10), []),
        "zendesk:104": ("zendesk:104", "failed", "escalated", t(2026, 11, 3, 10), []),
        "zendesk:105": ("zendesk:105", "pending", "window_open", t(2026, 11, 28, 10), []),
        "zendesk:106": ("zendesk:106", "failed", "closed_unsolved", None, []),
        "zendesk:107": ("zendesk:107", "pending", "open", None, []),
        "zendesk:108": ("zendesk:108", "verified_success", "solved", t(2026, 11, 1, 10), []),
        "jira:PROJ-342": ("PROJ-342", "verified_success", "solved", t(2026, 11, 2, 10, 2), ["wf_j"]),
        "jira:PROJ-343": ("PROJ-343", "failed", "reopened", t(2026, 11, 2, 10), []),
        "jira:PROJ-344": ("PROJ-344", "failed", "escalated", t(2026, 11, 3, 10), []),
        "jira:PROJ-345": ("PROJ-345", "failed", "closed_unsolved", None, []),
        "jira:PROJ-346": ("PROJ-346", "pending", "open", None, []),
        "jira:PROJ-347": ("PROJ-347", "pending", "window_open", t(2026, 11, 27, 10), []),
    }
    first = landing.rows("SELECT first_event_at, is_claimed FROM intermediate.int_tickets_verified WHERE outcome_id = 'jira:PROJ-342'")
    assert first == [{"first_event_at": t(2026, 11, 1, 9), "is_claimed": True}]
