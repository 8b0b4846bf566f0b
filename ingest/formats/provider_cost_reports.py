"""I2: provider cost reports (JSON): OpenAI organization Costs API pages and Anthropic Admin
cost reports, as each API returns them.

A file holds one page pretty-printed as a document (`json`), or one page per line (`jsonl`).
One raw row per bucket result, its amount AS GIVEN: OpenAI `amount.value` in the currency unit,
Anthropic `amount` (a decimal string) in CENTS; dbt staging converts units, once.

Money is never a float: before DuckDB parses the JSON, every number under a `value` or `amount`
key is turned into a string of its own text (a key in quotes cannot occur inside a JSON string,
so string contents are never touched), then cast to DECIMAL. DuckDB's JSON would otherwise hold
it as a DOUBLE (0.1234567890123456789 -> 0.12345678901234568). Digits beyond the 14th decimal
place (OpenAI's float noise, e.g. 0.13080000000000003) are rounded half away from zero.

Two hashes per row. `row_key` (source, bucket start and end, the result's minified JSON) is the
exact copy: a re-delivered page (in either layout) has the same row_keys. `result_key` (source,
bucket start and end, and every field of the result but the measures `amount`, `currency` and
`quantity`, in key order) names the result: the same line item of the same bucket fetched again
has the same result_key whatever its amount. dbt keeps the first copy of each result_key and
quarantines a later copy whose amount or currency differs (`int_source_keys_conflicted`).
"""

from __future__ import annotations

from ingest.context import (
    LINE_PROBLEM,
    NOT_A_JSON_OBJECT,
    Counts,
    LoadContext,
    excerpt_sql,
    land,
)
from ingest.files import first_record
from ingest.schema import LINEAGE, MONEY, sql_literal

NAME = "provider_cost_reports"
KIND = "invoices"
LAYOUTS = ("jsonl", "json")
TABLE = "raw.provider_cost_rows"
DDL = f"""
CREATE TABLE IF NOT EXISTS raw.provider_cost_rows (
    row_key VARCHAR NOT NULL, source VARCHAR NOT NULL, provider VARCHAR NOT NULL,
    bucket_start TIMESTAMP NOT NULL, bucket_end TIMESTAMP NOT NULL,
    amount {MONEY} NOT NULL, amount_unit VARCHAR NOT NULL, currency VARCHAR NOT NULL,
    line_item VARCHAR, description VARCHAR, model VARCHAR, cost_type VARCHAR, token_type VARCHAR,
    service_tier VARCHAR, project_id VARCHAR, workspace_id VARCHAR, result_key VARCHAR,
    {LINEAGE}
);
-- result_key came later: a build database created before it gets the column (NULL in old rows,
-- which dbt then identifies by row_key as before).
ALTER TABLE raw.provider_cost_rows ADD COLUMN IF NOT EXISTS result_key VARCHAR;
"""

_COLUMNS = [
    "row_key", "source", "provider", "bucket_start", "bucket_end", "amount", "amount_unit", "currency",
    "line_item", "description", "model", "cost_type", "token_type", "service_tier", "project_id", "workspace_id",
    "result_key",
]
# Measures of a result: what a re-fetched bucket may restate. Every other field names the result.
_MEASURES = ("amount", "currency", "quantity")

_OPENAI_RESULT = "organization.costs.result"
# A JSON number (RFC 8259 grammar) under a `value` or `amount` key: group 1 the key, group 2 the number.
_MONEY_NUMBER = r'"(value|amount)"\s*:\s*(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)'
# What an amount's text must look like (a JSON number's text, or a decimal string).
_DECIMAL_TEXT = r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
_MAX_UNIX_SECONDS = 32503680000  # 3000-01-01


def _first_results(buckets: list) -> list | None:
    for b in buckets:
        if isinstance(b, dict) and isinstance(b.get("results"), list) and b["results"]:
            return b["results"]
    return None


def matches(sample) -> bool:
    """An OpenAI Costs API page (`object: page`, buckets with `start_time`) or an Anthropic cost
    report page (buckets with `starting_at`). A usage page of either API (results without an
    amount) is not a cost report, and an empty page is recognised by its `has_more`."""
    if not isinstance(sample, dict) or not isinstance(sample.get("data"), list):
        return False
    buckets = sample["data"]
    first = buckets[0] if buckets else None
    results = _first_results(buckets) or []
    result = results[0] if results and isinstance(results[0], dict) else {}
    if sample.get("object") == "page":
        if first is None:
            return "has_more" in sample
        return isinstance(first, dict) and "start_time" in first and result.get("object", _OPENAI_RESULT) == _OPENAI_RESULT
    if first is None:
        return "has_more" in sample and "object" not in sample
    return isinstance(first, dict) and "starting_at" in first and (not result or "amount" in result)


def _layout(ctx: LoadContext) -> str:
    """The layout ingest.load decided for this file (same rule: see load._sample)."""
    if first_record(ctx.file, first_only=ctx.file.inner_suffix == ".json") is not None or ctx.file.inner_suffix != ".json":
        return "jsonl"
    return "json"


def _read_pages(ctx: LoadContext) -> None:
    """Temp table `_pages(line, raw, j, problem)`: one row per page (per line for jsonl; line 1 for a whole
    document), `j` the page with its money numbers as strings (NULL when malformed)."""
    ctx.read_lines()
    if _layout(ctx) == "jsonl":
        src = "SELECT line, raw FROM _lines WHERE raw IS NOT NULL AND trim(raw) <> ''"
    else:
        src = "SELECT 1 AS line, string_agg(raw, chr(10) ORDER BY line) AS raw FROM _lines"
    ctx.con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _pages AS
        SELECT *, {LINE_PROBLEM} AS problem
        FROM (SELECT line, raw, CASE WHEN json_valid(raw) AND json_valid(q) THEN q::JSON END AS j
              FROM (SELECT line, raw, regexp_replace(raw, {sql_literal(_MONEY_NUMBER)}, '"\\1":"\\2"', 'g') AS q FROM ({src})))"""
    )


def load(ctx: LoadContext, sample) -> Counts:
    _read_pages(ctx)
    openai = "source = 'openai_costs'"

    def epoch(path: str) -> str:
        v = f"json_int(b, '{path}')"
        return f"CASE WHEN {v} BETWEEN 0 AND {_MAX_UNIX_SECONDS} THEN timezone('UTC', to_timestamp({v})) END"

    def epoch_problem(key: str) -> str:
        return (f"WHEN {openai} AND (b->>'{key}') IS NULL THEN 'missing bucket {key}' "
                f"WHEN {openai} AND {epoch('$.' + key)} IS NULL THEN 'bucket {key} is not a whole number of Unix seconds: ' || left(b->>'{key}', 40)")

    def rfc3339_problem(key: str) -> str:
        return f"WHEN NOT {openai} AND ts_problem(b->>'{key}', 'bucket {key}') IS NOT NULL THEN ts_problem(b->>'{key}', 'bucket {key}')"

    page_excerpt = excerpt_sql("json_object('keys', json_keys(j))")
    ctx.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _parsed AS
        WITH pages AS (
            SELECT line, raw, j, problem,
                CASE WHEN json_type(j) = 'OBJECT' AND (j->>'object') = 'page' THEN 'openai_costs' ELSE 'anthropic_cost_report' END AS source,
                CASE {NOT_A_JSON_OBJECT}
                    WHEN json_type(j->'data') IS DISTINCT FROM 'ARRAY' THEN 'page has no data array'
                END AS reason
            FROM _pages
        ),
        buckets AS (
            SELECT line, source, unnest(j->'$.data[*]') AS b FROM pages WHERE reason IS NULL
        ),
        timed AS (
            SELECT line, source, b,
                CASE WHEN {openai} THEN {epoch('$.start_time')} ELSE utc_ts(b->>'starting_at') END AS bucket_start,
                CASE WHEN {openai} THEN {epoch('$.end_time')} ELSE utc_ts(b->>'ending_at') END AS bucket_end,
                CASE
                    WHEN json_type(b) <> 'OBJECT' THEN 'bucket is not a JSON object'
                    WHEN json_type(b->'results') NOT IN ('ARRAY', 'NULL') THEN 'bucket results is not an array'
                END AS shape_reason
            FROM buckets
        ),
        checked_buckets AS (
            SELECT *, CASE
                {epoch_problem('start_time')}
                {epoch_problem('end_time')}
                {rfc3339_problem('starting_at')}
                {rfc3339_problem('ending_at')}
                WHEN bucket_end < bucket_start THEN 'bucket ends before it starts'
            END AS time_reason
            FROM timed WHERE shape_reason IS NULL
        ),
        results AS (
            -- A bucket without results (missing, null or []) yields no rows.
            SELECT line, source, b, bucket_start, bucket_end, time_reason AS pre_reason, unnest(b->'$.results[*]') AS r
            FROM checked_buckets WHERE json_type(b->'results') = 'ARRAY'
        ),
        all_rows AS (
            SELECT line, source, NULL::JSON AS b, NULL::TIMESTAMP AS bucket_start, NULL::TIMESTAMP AS bucket_end,
                NULL::JSON AS r, reason AS pre_reason, {page_excerpt} AS pre_excerpt
            FROM pages WHERE reason IS NOT NULL
            UNION ALL
            SELECT line, source, b, NULL, NULL, NULL, shape_reason,
                json_object('bucket_type', json_type(b), 'results_type', json_type(b->'results'))::VARCHAR
            FROM timed WHERE shape_reason IS NOT NULL
            UNION ALL
            SELECT line, source, b, bucket_start, bucket_end, r, pre_reason, NULL FROM results
        ),
        fields AS (
            SELECT *,
                trim(CASE WHEN {openai} THEN r->'amount'->>'value' ELSE r->>'amount' END) AS amount_text,
                trim(CASE WHEN {openai} THEN r->'amount'->>'currency' ELSE r->>'currency' END) AS currency_text
            FROM all_rows
        )
        SELECT line, FALSE AS skip,
            CASE
                WHEN pre_reason IS NOT NULL THEN pre_reason
                WHEN json_type(r) <> 'OBJECT' THEN 'result is not a JSON object'
                WHEN coalesce(amount_text, '') = '' THEN 'missing amount'
                WHEN NOT regexp_full_match(amount_text, {sql_literal(_DECIMAL_TEXT)}) THEN 'amount is not a decimal number: ' || left(amount_text, 40)
                WHEN try_cast(amount_text AS {MONEY}) IS NULL THEN 'amount is out of range: ' || left(amount_text, 40)
                WHEN coalesce(currency_text, '') = '' THEN 'missing currency'
                WHEN NOT regexp_full_match(currency_text, '[A-Za-z]{{3}}') THEN 'currency is not an ISO 4217 code'
            END AS reason,
            coalesce(pre_excerpt, left(json_object(
                'source', source,
                'bucket_start', coalesce(b->>'start_time', b->>'starting_at'),
                'bucket_end', coalesce(b->>'end_time', b->>'ending_at'),
                'amount', left(amount_text, 60), 'currency', left(currency_text, 20),
                'line_item', left(r->>'line_item', 80), 'description', left(r->>'description', 80),
                'model', left(r->>'model', 80))::VARCHAR, 300)) AS excerpt,
            md5(concat_ws('|', source, bucket_start::VARCHAR, bucket_end::VARCHAR, r::VARCHAR)) AS row_key,
            CASE WHEN json_type(r) = 'OBJECT' THEN md5(concat_ws('|', source, bucket_start::VARCHAR, bucket_end::VARCHAR,
                (SELECT string_agg(to_json(key) || ':' || value::VARCHAR, ',' ORDER BY key)
                 FROM json_each(r) WHERE key NOT IN {_MEASURES}))) END AS result_key,
            source,
            CASE WHEN {openai} THEN 'openai' ELSE 'anthropic' END AS provider,
            bucket_start, bucket_end,
            try_cast(amount_text AS {MONEY}) AS amount,
            CASE WHEN {openai} THEN 'currency_unit' ELSE 'cents' END AS amount_unit,
            upper(currency_text) AS currency,
            r->>'line_item' AS line_item, r->>'description' AS description, r->>'model' AS model,
            r->>'cost_type' AS cost_type, r->>'token_type' AS token_type, r->>'service_tier' AS service_tier,
            r->>'project_id' AS project_id, r->>'workspace_id' AS workspace_id
        FROM fields
        """
    )
    return land(ctx, TABLE, _COLUMNS, NAME)
