"""O2: Zendesk ticket event webhooks, one `{type, id, time, subject, detail, event}` per line.

Every `zen:event-type:ticket.*` event is landed (even types the verdict does not use: they carry
the ticket's tags and status). Events of other domains (users, organisations, …) are valid but
skipped. Only an allow-list of fields is kept: never comment bodies, descriptions or subjects.
The same event id twice is one event: dbt keeps one.
"""

from __future__ import annotations

from ingest.context import NOT_A_JSON_OBJECT, Counts, LoadContext, excerpt_sql, land
from ingest.schema import LINEAGE

NAME = "zendesk_events"
KIND = "outcomes"
LAYOUTS = ("jsonl",)
TABLE = "raw.zendesk_events"
TYPE_PREFIX = "zen:event-type:"
TICKET_PREFIX = "zen:event-type:ticket."
DDL = f"""
CREATE TABLE IF NOT EXISTS raw.zendesk_events (
    event_id VARCHAR NOT NULL, event_type VARCHAR NOT NULL, ticket_id VARCHAR NOT NULL,
    occurred_at TIMESTAMP NOT NULL, account_id VARCHAR,
    status_current VARCHAR, status_previous VARCHAR, ticket_status VARCHAR,
    group_id VARCHAR, priority VARCHAR,
    tags VARCHAR[], tags_added VARCHAR[], tags_removed VARCHAR[],
    {LINEAGE}
);
"""



_COLUMNS = [
    "event_id", "event_type", "ticket_id", "occurred_at", "account_id", "status_current", "status_previous",
    "ticket_status", "group_id", "priority", "tags", "tags_added", "tags_removed",
]


def matches(record: dict) -> bool:
    # Any Zendesk event webhook (not only ticket events), so that a file whose first line is a
    # user or organisation event still loads: those lines are then skipped, not quarantined.
    return isinstance(record.get("type"), str) and record["type"].startswith(TYPE_PREFIX) and "id" in record


def _string_list(expr: str) -> str:
    """A JSON array of strings as VARCHAR[]; NULL when the field is absent."""
    return f"CASE WHEN json_type({expr}) = 'ARRAY' THEN json_extract_string({expr}, '$[*]') END"


def _not_a_list(expr: str, what: str) -> str:
    return f"WHEN {expr} IS NOT NULL AND json_type({expr}) NOT IN ('ARRAY', 'NULL') THEN '{what} is not a JSON array'"


def load(ctx: LoadContext, sample: dict) -> Counts:
    ctx.read_json_lines()
    excerpt = excerpt_sql(
        "json_object('type', (j->>'type'), 'id', (j->>'id'), 'time', (j->>'time'), 'subject', (j->>'subject'))"
    )
    ctx.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _parsed AS
        WITH f AS (
            SELECT line, raw, j, problem, (j->>'type') AS type, nullif(j->>'id', '') AS event_id, (j->>'time') AS time,
                (j->'detail') AS d, (j->'event') AS e,
                coalesce(nullif(j->>'$.detail.id', ''), nullif(regexp_extract(j->>'subject', '^zen:ticket:([0-9]+)$', 1), '')) AS ticket_id,
                -- tags_changed: `event.tags_added` / `event.tags_removed`, or `event.tags.added` / `.removed`
                coalesce(j->'$.event.tags_added', j->'$.event.tags.added') AS added,
                coalesce(j->'$.event.tags_removed', j->'$.event.tags.removed') AS removed
            FROM _records
        ), checked AS (
            SELECT *, CASE
                {NOT_A_JSON_OBJECT}
                WHEN type IS NULL OR NOT starts_with(type, '{TYPE_PREFIX}') THEN 'type is not a zen:event-type'
                WHEN NOT starts_with(type, '{TICKET_PREFIX}') THEN NULL
                WHEN event_id IS NULL THEN 'missing id'
                WHEN ts_problem(time, 'time') IS NOT NULL THEN ts_problem(time, 'time')
                WHEN ticket_id IS NULL THEN 'missing ticket id (detail.id or subject zen:ticket:<id>)'
                WHEN json_type(d) NOT IN ('OBJECT', 'NULL') THEN 'detail is not a JSON object'
                WHEN type = 'zen:event-type:ticket.status_changed' AND json_type(e->'current') IS DISTINCT FROM 'VARCHAR'
                    THEN 'status_changed event lacks event.current'
                {_not_a_list("(d->'tags')", 'detail.tags')}
                {_not_a_list('added', 'tags_added')}
                {_not_a_list('removed', 'tags_removed')}
            END AS reason
            FROM f
        )
        SELECT line, reason, reason IS NULL AND NOT starts_with(type, '{TICKET_PREFIX}') AS skip,
            {excerpt} AS excerpt,
            event_id, type AS event_type, ticket_id, utc_ts(time) AS occurred_at, (j->>'account_id') AS account_id,
            CASE WHEN type = 'zen:event-type:ticket.status_changed' THEN upper(e->>'current') END AS status_current,
            CASE WHEN type = 'zen:event-type:ticket.status_changed' THEN upper(e->>'previous') END AS status_previous,
            upper(d->>'status') AS ticket_status,
            -- The group after the event: a group assignment's new group, else the ticket's group.
            CASE WHEN type = 'zen:event-type:ticket.group_assignment_changed'
                 THEN coalesce(e->>'$.current.id', CASE WHEN json_type(e->'current') IN ('VARCHAR', 'UBIGINT', 'BIGINT') THEN e->>'current' END, d->>'group_id')
                 ELSE d->>'group_id' END AS group_id,
            upper(d->>'priority') AS priority,
            {_string_list("(d->'tags')")} AS tags,
            {_string_list('added')} AS tags_added,
            {_string_list('removed')} AS tags_removed
        FROM checked
        """
    )
    return land(ctx, "raw.zendesk_events", _COLUMNS, NAME)
