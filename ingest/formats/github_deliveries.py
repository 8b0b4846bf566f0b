"""O1: GitHub webhook deliveries, one `{event, delivery_id, received_at, payload}` per line.

Only `pull_request` and `check_suite` are used; other events are valid but skipped (counted in
the load statistics, not quarantined). The same delivery_id twice is one delivery: dbt keeps one.
"""

from __future__ import annotations

from ingest.context import NOT_A_JSON_OBJECT, Counts, LoadContext, excerpt_sql, land
from ingest.schema import LINEAGE

NAME = "github_deliveries"
KIND = "outcomes"
LAYOUTS = ("jsonl",)
TABLE = "raw.github_deliveries"
USED_EVENTS = ("pull_request", "check_suite")
DDL = f"""
CREATE TABLE IF NOT EXISTS raw.github_deliveries (
    delivery_id VARCHAR NOT NULL, event VARCHAR NOT NULL, received_at TIMESTAMP NOT NULL,
    action VARCHAR, repo_full_name VARCHAR NOT NULL,
    pr_number BIGINT, pr_title VARCHAR, pr_body VARCHAR, pr_state VARCHAR, pr_merged BOOLEAN,
    pr_merged_at TIMESTAMP, pr_closed_at TIMESTAMP, pr_created_at TIMESTAMP,
    head_ref VARCHAR, head_sha VARCHAR,
    check_suite_id BIGINT, check_status VARCHAR, check_conclusion VARCHAR, check_app VARCHAR,
    check_pr_numbers BIGINT[],
    {LINEAGE}
);
"""

_COLUMNS = [
    "delivery_id", "event", "received_at", "action", "repo_full_name", "pr_number", "pr_title", "pr_body",
    "pr_state", "pr_merged", "pr_merged_at", "pr_closed_at", "pr_created_at", "head_ref", "head_sha",
    "check_suite_id", "check_status", "check_conclusion", "check_app", "check_pr_numbers",
]


def matches(record: dict) -> bool:
    return {"event", "delivery_id", "payload"} <= record.keys()


def _optional_ts(expr: str, what: str) -> str:
    return f"WHEN {expr} IS NOT NULL AND ts_problem({expr}, '{what}') IS NOT NULL THEN ts_problem({expr}, '{what}')"


def load(ctx: LoadContext, sample: dict) -> Counts:
    ctx.read_json_lines()
    excerpt = excerpt_sql(
        "json_object('event', event, 'delivery_id', delivery_id, 'received_at', received, 'action', (p->>'action'), 'repository', (p->>'$.repository.full_name'))"
    )
    ctx.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _parsed AS
        WITH f AS (
            SELECT line, raw, j, problem, (j->>'event') AS event, (j->>'delivery_id') AS delivery_id, (j->>'received_at') AS received,
                (j->'payload') AS p, (j->'$.payload.pull_request') AS pr, (j->'$.payload.check_suite') AS cs
            FROM _records
        ), checked AS (
            SELECT *, CASE
                {NOT_A_JSON_OBJECT}
                WHEN delivery_id IS NULL OR delivery_id = '' THEN 'missing delivery_id'
                WHEN event IS NULL THEN 'missing event'
                WHEN ts_problem(received, 'received_at') IS NOT NULL THEN ts_problem(received, 'received_at')
                WHEN p IS NULL OR json_type(p) <> 'OBJECT' THEN 'payload is not a JSON object'
                WHEN event NOT IN {USED_EVENTS} THEN NULL
                WHEN (p->>'$.repository.full_name') IS NULL THEN 'payload lacks repository.full_name'
                WHEN event = 'pull_request' AND (pr IS NULL OR json_int(pr, '$.number') IS NULL)
                    THEN 'pull_request payload lacks pull_request.number'
                WHEN event = 'pull_request' AND (pr->>'head') IS NOT NULL AND (pr->>'$.head.sha') IS NULL
                    THEN 'pull_request payload lacks head.sha'
                {_optional_ts("(pr->>'merged_at')", 'pull_request.merged_at')}
                {_optional_ts("(pr->>'closed_at')", 'pull_request.closed_at')}
                WHEN event = 'pull_request' AND try_cast(pr->>'merged' AS BOOLEAN) AND (pr->>'merged_at') IS NULL
                    THEN 'merged pull request without merged_at'
                WHEN event = 'check_suite' AND (cs IS NULL OR (cs->>'head_sha') IS NULL)
                    THEN 'check_suite payload lacks check_suite.head_sha'
            END AS reason
            FROM f
        )
        SELECT line, reason, reason IS NULL AND event NOT IN {USED_EVENTS} AS skip,
            {excerpt} AS excerpt,
            delivery_id, event, utc_ts(received) AS received_at, (p->>'action') AS action,
            (p->>'$.repository.full_name') AS repo_full_name,
            coalesce(json_int(pr, '$.number'), json_int(p, '$.number')) AS pr_number,
            (pr->>'title') AS pr_title, (pr->>'body') AS pr_body, (pr->>'state') AS pr_state,
            try_cast(pr->>'merged' AS BOOLEAN) AS pr_merged,
            utc_ts(pr->>'merged_at') AS pr_merged_at, utc_ts(pr->>'closed_at') AS pr_closed_at,
            utc_ts(pr->>'created_at') AS pr_created_at,
            (pr->>'$.head.ref') AS head_ref, coalesce(pr->>'$.head.sha', (cs->>'head_sha')) AS head_sha,
            json_int(cs, '$.id') AS check_suite_id, (cs->>'status') AS check_status, (cs->>'conclusion') AS check_conclusion,
            coalesce(cs->>'$.app.slug', (cs->>'$.app.id')) AS check_app,
            CASE WHEN cs IS NOT NULL THEN
                list_transform(coalesce(json_extract(cs, '$.pull_requests[*].number'), []), x -> x::BIGINT) END AS check_pr_numbers
        FROM checked
        """
    )
    return land(ctx, "raw.github_deliveries", _COLUMNS, NAME)
