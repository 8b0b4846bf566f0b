"""O2: Jira issue webhooks (`jira:issue_updated`, `jira:issue_created`, …), one body per line.

Every webhook naming an issue is landed with the issue's status after the event and the status
transition of its changelog, if any; webhooks about no issue (projects, versions, …) are skipped.
Only an allow-list of fields is kept: never summaries, descriptions or comment bodies.
Jira bodies carry no delivery id, so the event key is an md5 of (webhookEvent, issue key,
timestamp, changelog id): a redelivered webhook has the same key and dbt keeps one.
"""

from __future__ import annotations

from ingest.context import NOT_A_JSON_OBJECT, Counts, LoadContext, excerpt_sql, land
from ingest.schema import LINEAGE

NAME = "jira_events"
KIND = "outcomes"
LAYOUTS = ("jsonl",)
TABLE = "raw.jira_events"
# Epoch milliseconds below this (1973-03-03) are almost surely epoch seconds sent by mistake.
MIN_EPOCH_MS = 100_000_000_000
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
DDL = f"""
CREATE TABLE IF NOT EXISTS raw.jira_events (
    event_key VARCHAR NOT NULL, webhook_event VARCHAR NOT NULL, issue_event_type_name VARCHAR,
    issue_id VARCHAR, issue_key VARCHAR NOT NULL, project_key VARCHAR,
    occurred_at TIMESTAMP NOT NULL, changelog_id VARCHAR,
    status_from VARCHAR, status_to VARCHAR, status_name VARCHAR, status_category VARCHAR,
    resolution VARCHAR, labels VARCHAR[],
    {LINEAGE}
);
"""



_COLUMNS = [
    "event_key", "webhook_event", "issue_event_type_name", "issue_id", "issue_key", "project_key", "occurred_at",
    "changelog_id", "status_from", "status_to", "status_name", "status_category", "resolution", "labels",
]


def matches(record: dict) -> bool:
    event = record.get("webhookEvent")
    return isinstance(event, str) and event.startswith("jira:issue_")


def load(ctx: LoadContext, sample: dict) -> Counts:
    ctx.read_json_lines()
    excerpt = excerpt_sql(
        "json_object('webhookEvent', (j->>'webhookEvent'), 'timestamp', (j->>'timestamp'), "
        "'issue_key', (j->>'$.issue.key'), 'changelog_id', (j->>'$.changelog.id'))"
    )
    ctx.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _parsed AS
        WITH f AS (
            SELECT line, raw, j, problem, (j->>'webhookEvent') AS webhook_event, nullif(j->>'$.issue.key', '') AS issue_key,
                (j->>'timestamp') AS ts, json_int(j, '$.timestamp') AS ts_ms,
                CASE WHEN json_type(j->'issue') <> 'NULL' THEN j->'issue' END AS issue, (j->'$.issue.fields') AS fields, (j->'changelog') AS changelog,
                -- The status transition of this event: the changelog item on the `status` field.
                CASE WHEN json_type(j->'$.changelog.items') = 'ARRAY' THEN
                    list_filter(json_extract(j, '$.changelog.items[*]'),
                                lambda x: lower(coalesce(x->>'fieldId', x->>'field')) = 'status')[1] END AS status_item
            FROM _records
        ), checked AS (
            SELECT *, CASE
                {NOT_A_JSON_OBJECT}
                WHEN webhook_event IS NULL THEN 'missing webhookEvent'
                WHEN issue IS NULL AND NOT starts_with(webhook_event, 'jira:issue_') THEN NULL
                WHEN issue IS NULL OR json_type(issue) <> 'OBJECT' THEN 'issue is not a JSON object'
                WHEN issue_key IS NULL THEN 'missing issue.key'
                WHEN ts IS NULL THEN 'missing timestamp'
                WHEN ts_ms IS NULL THEN 'timestamp is not epoch milliseconds: ' || left(ts, 40)
                WHEN ts_ms < {MIN_EPOCH_MS} THEN 'timestamp is not epoch milliseconds (seconds?): ' || left(ts, 40)
                WHEN ts_ms > {MAX_EPOCH_MS} THEN 'timestamp is out of range: ' || left(ts, 40)
                WHEN fields IS NOT NULL AND json_type(fields) <> 'OBJECT' THEN 'issue.fields is not a JSON object'
                WHEN json_type(fields->'labels') NOT IN ('ARRAY', 'NULL') THEN 'issue.fields.labels is not a JSON array'
                WHEN changelog IS NOT NULL AND json_type(changelog) NOT IN ('OBJECT', 'NULL') THEN 'changelog is not a JSON object'
            END AS reason
            FROM f
        )
        SELECT line, reason, reason IS NULL AND issue IS NULL AS skip,
            {excerpt} AS excerpt,
            md5(concat_ws('|', webhook_event, issue_key, ts_ms::VARCHAR, coalesce(j->>'$.changelog.id', ''))) AS event_key,
            webhook_event, (j->>'issue_event_type_name') AS issue_event_type_name,
            (issue->>'id') AS issue_id, issue_key, (fields->>'$.project.key') AS project_key,
            CASE WHEN reason IS NULL THEN epoch_ms(ts_ms) END AS occurred_at, (j->>'$.changelog.id') AS changelog_id,
            (status_item->>'fromString') AS status_from, (status_item->>'toString') AS status_to,
            (fields->>'$.status.name') AS status_name, lower(fields->>'$.status.statusCategory.key') AS status_category,
            (fields->>'$.resolution.name') AS resolution,
            CASE WHEN json_type(fields->'labels') = 'ARRAY' THEN json_extract_string(fields, '$.labels[*]') END AS labels
        FROM checked
        """
    )
    return land(ctx, "raw.jira_events", _COLUMNS, NAME)
