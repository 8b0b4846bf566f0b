"""O3: generic outcome events (evaluator verdicts, human acceptance, bookings).

A restated outcome (same outcome_id, later occurred_at) replaces the earlier one in dbt.
"""

from __future__ import annotations

from ingest.context import NOT_A_JSON_OBJECT, Counts, LoadContext, excerpt_sql, land
from ingest.schema import LINEAGE, MONEY

NAME = "generic_outcomes"
KIND = "outcomes"
LAYOUTS = ("jsonl",)
TABLE = "raw.outcome_events"
DDL = f"""
CREATE TABLE IF NOT EXISTS raw.outcome_events (
    outcome_id VARCHAR NOT NULL, workflow_id VARCHAR, occurred_at TIMESTAMP NOT NULL,
    kind VARCHAR, status VARCHAR NOT NULL, verified BOOLEAN, policy_passed BOOLEAN,
    value_usd {MONEY},
    {LINEAGE}
);
"""

_COLUMNS = ["outcome_id", "workflow_id", "occurred_at", "kind", "status", "verified", "policy_passed", "value_usd"]


def matches(record: dict) -> bool:
    return "outcome_id" in record and "status" in record


def _bool_problem(field: str) -> str:
    return (f"WHEN (j->>'{field}') IS NOT NULL AND json_type(j->'{field}') <> 'BOOLEAN' "
            f"THEN '{field} must be true or false'")


def load(ctx: LoadContext, sample: dict) -> Counts:
    ctx.read_json_lines()
    excerpt = excerpt_sql(
        "json_object('outcome_id', (j->>'outcome_id'), 'workflow_id', (j->>'workflow_id'), 'occurred_at', (j->>'occurred_at'), 'status', (j->>'status'))"
    )
    ctx.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _parsed AS
        WITH checked AS (
            SELECT *, CASE
                {NOT_A_JSON_OBJECT}
                WHEN coalesce(j->>'outcome_id', '') = '' THEN 'missing outcome_id'
                WHEN coalesce(j->>'status', '') = '' THEN 'missing status'
                WHEN ts_problem(j->>'occurred_at', 'occurred_at') IS NOT NULL THEN ts_problem(j->>'occurred_at', 'occurred_at')
                {_bool_problem('verified')}
                {_bool_problem('policy_passed')}
                WHEN (j->>'value_usd') IS NOT NULL AND try_cast(j->>'value_usd' AS DECIMAL(38,14)) IS NULL
                    THEN 'value_usd is not a decimal number'
            END AS reason
            FROM _records
        )
        SELECT line, reason, FALSE AS skip,
            {excerpt} AS excerpt,
            (j->>'outcome_id') AS outcome_id, nullif(j->>'workflow_id', '') AS workflow_id,
            utc_ts(j->>'occurred_at') AS occurred_at, (j->>'kind') AS kind, lower(j->>'status') AS status,
            try_cast(j->>'verified' AS BOOLEAN) AS verified, try_cast(j->>'policy_passed' AS BOOLEAN) AS policy_passed,
            try_cast(j->>'value_usd' AS DECIMAL(38,14)) AS value_usd
        FROM checked
        """
    )
    return land(ctx, "raw.outcome_events", _COLUMNS, NAME)
