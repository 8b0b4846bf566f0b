"""G3: LiteLLM proxy spend logs, rows of its `LiteLLM_SpendLogs` table exported as JSONL or CSV.

Both layouts become the same `_records(line, raw, j, problem, s, o)` (for CSV, `j` is built from the columns
we use, with the JSON-valued columns `metadata` and `request_tags` parsed), and one SQL body
maps them. The traps: LiteLLM reports OpenAI semantics for every provider, so `prompt_tokens`
*includes* cache reads and writes (Anthropic too); the cache and reasoning split lives only in
`metadata.usage_object`; JSON columns may arrive as JSON text inside a string (CSV cells, or
metadata LiteLLM stored double-encoded); LiteLLM's own Postgres stores naive timestamps, which
are refused (the export must add the offset); `spend` is a float8 that must land as an exact
decimal. `messages`, `response`, `proxy_server_request` are never read into a stored column.
"""

from __future__ import annotations

from ingest.context import (
    NOT_A_JSON_OBJECT, Counts, LoadContext, excerpt_sql, fields_of_json, json_paths, land, list_item,
)
from ingest.formats import gateway_jsonl
from ingest.schema import MONEY, TOKEN_CLASSES, sql_literal

NAME = "litellm_spend_logs"
KIND = "gateway"
LAYOUTS = ("jsonl", "csv")
TABLE = "raw.llm_calls"

_COLUMNS = [*gateway_jsonl._COLUMNS, "api_key_pseudonym"]

# The CSV columns we read (everything else, in particular messages/response/proxy_server_request,
# is never selected); the JSON-valued ones are parsed.
_CSV_TEXT = ("request_id", "startTime", "endTime", "request_duration_ms", "model", "custom_llm_provider", "spend",
             "prompt_tokens", "completion_tokens", "user", "end_user", "team_id", "api_key", "session_id", "status")
_CSV_JSON = ("metadata", "request_tags")

# Where each usage number comes from in metadata.usage_object, first present wins.
_USAGE = {
    "cache_read": ("prompt_tokens_details.cached_tokens", "cache_read_input_tokens"),
    "cache_write": ("cache_creation_input_tokens", "prompt_tokens_details.cache_creation_tokens"),
    "reasoning": ("completion_tokens_details.reasoning_tokens",),
}

# Keys whose values are masked, and from which on the line is cut, in the excerpt of a line
# that is not a JSON object (the hashed key and user ids are only ever stored as pseudonyms).
_MASKED_KEYS = "api_key|user|end_user|requester_ip_address|user_api_key|user_api_key_user_email"
_CUT_KEYS = "metadata|proxy_server_request|request_tags"


def matches(sample) -> bool:
    if isinstance(sample, dict):
        return "request_id" in sample and "startTime" in sample and ("spend" in sample or "prompt_tokens" in sample)
    return {"request_id", "startTime", "spend"} <= set(sample)


def _q(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def _read_csv(ctx: LoadContext, header: list[str]) -> None:
    """`_records(line, raw, j)` from a CSV export: `line` is the data row number + 1 (the
    physical line when no quoted cell spans lines), `raw` NULL, `j` an object of the used columns."""

    def text(name: str) -> str:
        return f"nullif(trim({_q(name)}), '')" if name in header else "NULL::VARCHAR"

    def as_json(name: str) -> str:
        # Valid JSON text becomes JSON; anything else stays a JSON string (refused later).
        t = text(name)
        return f"CASE WHEN json_valid({t}) THEN {t}::JSON ELSE to_json({t}) END"

    members = [f"{sql_literal(c)}, {text(c)}" for c in _CSV_TEXT] + [f"{sql_literal(c)}, {as_json(c)}" for c in _CSV_JSON]
    ctx.con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _csv_records AS
        SELECT row_number() OVER () + 1 AS line, NULL::VARCHAR AS raw, json_object({", ".join(members)}) AS j
        FROM read_csv({sql_literal(ctx.file.duckdb_path)}, header=true, all_varchar=true, delim=',', quote='"', escape='"',
                      strict_mode=false, null_padding=true, compression='auto',
                      max_line_size={int(ctx.max_line_bytes)})"""
    )
    ctx.con.execute(  # as read_json_lines makes it
        f"CREATE OR REPLACE TEMP VIEW _records AS SELECT line, raw, j, NULL::VARCHAR AS problem, "
        f"{fields_of_json('j', _TOP, _DOCUMENTS)} FROM _csv_records"
    )


def _unwrap(x: str) -> str:
    """A JSON value, with JSON text held in a JSON string decoded (one level)."""
    # Nested CASEs, not an AND: DuckDB would evaluate both sides of it, re-parsing every document.
    return (f"CASE WHEN json_type({x}) IS DISTINCT FROM 'VARCHAR' THEN {x} "
            f"WHEN json_valid({x}->>'$') THEN ({x}->>'$')::JSON ELSE {x} END")


def _typed(x: str) -> str:
    """`x_t`, the json_type of JSON column `x`, and `x_present`: it counts as given unless absent,
    null or an empty string. Computed once per row: every JSON function parses the document again,
    and DuckDB evaluates both sides of an AND."""
    return (f"json_type({x}) AS {x}_t, CASE WHEN {x}_t IS NULL OR {x}_t = 'NULL' THEN FALSE "
            f"WHEN {x}_t = 'VARCHAR' THEN trim({x}->>'$') <> '' ELSE TRUE END AS {x}_present")


def _json_problem(x: str, name: str, kind: str) -> str:
    return (f"WHEN {x}_present AND {x}_t = 'VARCHAR' THEN '{name} is not valid JSON' "
            f"WHEN {x}_present AND {x}_t <> '{kind}' THEN '{name} is not a JSON {kind.lower()}'")


def _int(t: str) -> str:
    """A whole number from text (integers, or decimals with only zeros after the point)."""
    return f"int_text(trim({t}))"


# Each JSON document is parsed once: the fields read from it are extracted together as a list.
_TOP = ("request_id", "startTime", "endTime", "custom_llm_provider", "model", "spend", "prompt_tokens",
        "completion_tokens", "status", "request_duration_ms", "session_id", "team_id", "end_user", "user", "api_key")
_DOCUMENTS = ("metadata", "request_tags")
_SLM = ("attempt", "workflow_id", "workflow_type", "step", "team")
_UO = ("prompt_tokens", "completion_tokens", *dict.fromkeys(p for paths in _USAGE.values() for p in paths))


def _top(name: str) -> str:
    return list_item("s", _TOP, name)


def _slm(name: str) -> str:
    return f"nullif({list_item('ss', _SLM, name)}, '')"


def _uo(path: str) -> str:
    return f"nullif({list_item('us', _UO, path)}, '')"


def _tag(prefix: str) -> str:
    """The value of the first request tag `<prefix>:<value>`."""
    p = prefix + ":"
    return (f"nullif(list_transform(list_filter(json_extract_string(rt, '$[*]'), lambda x: starts_with(x, '{p}')), "
            f"lambda x: substr(x, {len(p) + 1}))[1], '')")


def _usage_problems() -> str:
    """A CASE fragment: the first usage number present that is not a whole number."""
    whens = []
    for total in ("prompt_tokens", "completion_tokens"):
        whens.append(f"WHEN {total}_txt IS NULL THEN 'missing {total} (metadata.usage_object or column)'")
        whens.append(f"WHEN {_int(total + '_txt')} IS NULL THEN "
                     f"CASE WHEN {_uo(total)} IS NOT NULL THEN 'metadata.usage_object.' ELSE '' END "
                     f"|| '{total} is not a whole number'")
    for paths in _USAGE.values():
        for i, path in enumerate(paths):
            earlier = "".join(f"{_uo(p)} IS NULL AND " for p in paths[:i])
            whens.append(f"WHEN {earlier}{_uo(path)} IS NOT NULL AND {_int(_uo(path))} IS NULL "
                         f"THEN 'metadata.usage_object.{path} is not a whole number'")
    return " ".join(whens)


def _mask(raw: str) -> str:
    """What the quarantine excerpt may show of a line that is not a JSON object: nothing of a JSON
    array/scalar or of a line that does not start a record (e.g. the rest of a prompt broken by a
    raw newline); of a broken record its start, with identifiers masked and cut before metadata."""
    masked = f"regexp_replace({raw}, '\"({_MASKED_KEYS})\"\\s*:\\s*\"[^\"]*\"?', '\"\\1\": \"<removed>\"', 'g')"
    return (f"CASE WHEN j IS NOT NULL AND json_type(j) <> 'OBJECT' THEN '(a JSON ' || lower(json_type(j)) || ', content removed)' "
            f"WHEN j IS NOT NULL THEN NULL "
            f"WHEN NOT starts_with(ltrim({raw}), '{{') THEN '(not the start of a JSON object, content removed)' "
            f"ELSE regexp_replace({masked}, '\"({_CUT_KEYS})\"\\s*:.*$', '\"\\1\": <removed>') END")


_SPEND_NUMBER = "-?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?"


def load(ctx: LoadContext, sample) -> Counts:
    if isinstance(sample, list):
        _read_csv(ctx, sample)
    else:
        ctx.read_json_lines(_TOP, _DOCUMENTS)
    usage_text = ",\n".join(
        f"coalesce({', '.join(_uo(p) for p in paths)}) AS {name}_txt" for name, paths in _USAGE.items()
    )
    negative = " ".join(f"WHEN {c} < 0 THEN 'negative {c} after mapping the LiteLLM usage'" for c in TOKEN_CLASSES)
    excerpt = excerpt_sql(
        "json_object('request_id', call_id, 'startTime', st, 'endTime', et, 'model', model, "
        "'custom_llm_provider', provider, 'spend', spend_txt, 'prompt_tokens', prompt_tokens_txt, "
        "'completion_tokens', completion_tokens_txt, 'cache_read_tokens', cache_read_txt, "
        "'cache_write_tokens', cache_write_txt, 'reasoning_tokens', reasoning_txt)"
    )
    ctx.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _parsed AS
        WITH fields AS (
            SELECT line, {_mask('raw')} AS raw, j, problem, s,
                nullif({_top('request_id')}, '') AS call_id,
                nullif(trim({_top('startTime')}), '') AS st, nullif(trim({_top('endTime')}), '') AS et,
                nullif({_top('custom_llm_provider')}, '') AS provider, nullif({_top('model')}, '') AS model,
                nullif(trim({_top('spend')}), '') AS spend_txt,
                {_unwrap("o[1]")} AS md1, {_unwrap("o[2]")} AS rt1
            FROM _records
        ), unwrapped AS (  -- metadata LiteLLM stored as a JSON string arrives double-encoded in a CSV cell
            SELECT *, {_unwrap('md1')} AS md, {_unwrap('rt1')} AS rt FROM fields
        ), md_read AS (
            SELECT *, {_typed('md')}, {_typed('rt')}, CASE WHEN md_t = 'OBJECT'
                THEN json_extract(md, ['$.usage_object', '$.spend_logs_metadata', '$.user_api_key_team_alias']) END AS mo
            FROM unwrapped
        ), nested AS (
            SELECT *, {_unwrap("mo[1]")} AS uo_given, {_unwrap("mo[2]")} AS slm_given,
                nullif(mo[3]->>'$', '') AS team_alias
            FROM md_read
        ), texts AS (
            SELECT *, {_typed('uo_given')},
                CASE WHEN uo_given_t = 'OBJECT' THEN json_extract_string(uo_given, {json_paths(_UO)}) END AS us,
                CASE WHEN json_type(slm_given) = 'OBJECT' THEN json_extract_string(slm_given, {json_paths(_SLM)}) END AS ss
            FROM nested
        ), numbers AS (
            SELECT *,
                coalesce({_uo('prompt_tokens')}, nullif({_top('prompt_tokens')}, '')) AS prompt_tokens_txt,
                coalesce({_uo('completion_tokens')}, nullif({_top('completion_tokens')}, '')) AS completion_tokens_txt,
                {usage_text},
                coalesce({_slm('attempt')}, {_tag('attempt')}) AS attempt_txt
            FROM texts
        ), mapped AS (
            SELECT *,
                {_int('prompt_tokens_txt')} - coalesce({_int('cache_read_txt')}, 0) - coalesce({_int('cache_write_txt')}, 0)
                    AS input_uncached_tokens,
                coalesce({_int('cache_read_txt')}, 0) AS input_cache_read_tokens,
                coalesce({_int('cache_write_txt')}, 0) AS input_cache_write_tokens,
                0::BIGINT AS input_cache_write_1h_tokens,
                {_int('completion_tokens_txt')} - coalesce({_int('reasoning_txt')}, 0) AS output_visible_tokens,
                coalesce({_int('reasoning_txt')}, 0) AS output_reasoning_tokens,
                coalesce({_int('attempt_txt')}, 1) AS attempt_n
            FROM numbers
        ), checked AS (
            SELECT *, CASE
                {NOT_A_JSON_OBJECT}
                WHEN call_id IS NULL THEN 'missing request_id'
                WHEN ts_problem(st, 'startTime') IS NOT NULL THEN ts_problem(st, 'startTime')
                WHEN et IS NOT NULL AND ts_problem(et, 'endTime') IS NOT NULL THEN ts_problem(et, 'endTime')
                WHEN utc_ts(et) < utc_ts(st) THEN 'endTime is before startTime'
                WHEN provider IS NULL THEN 'missing custom_llm_provider'
                WHEN model IS NULL THEN 'missing model'
                {_json_problem('md', 'metadata', 'OBJECT')}
                {_json_problem('rt', 'request_tags', 'ARRAY')}
                {_json_problem('uo_given', 'metadata.usage_object', 'OBJECT')}
                WHEN spend_txt IS NOT NULL AND (NOT regexp_full_match(spend_txt, '{_SPEND_NUMBER}')
                    OR try_cast(spend_txt AS {MONEY}) IS NULL) THEN 'spend is not a number: ' || left(spend_txt, 40)
                {_usage_problems()}
                WHEN attempt_txt IS NOT NULL AND {_int('attempt_txt')} IS NULL THEN 'attempt is not a whole number'
                WHEN attempt_n < 1 THEN 'attempt must be 1 or more'
                {negative}
            END AS reason
            FROM mapped
        )
        SELECT line, reason, FALSE AS skip,
            CASE WHEN reason IS NOT NULL THEN {excerpt} END AS excerpt,
            call_id, '{NAME}' AS source_format, utc_ts(st) AS occurred_at, utc_ts(coalesce(et, st)) AS ended_at,
            provider, model, 'chat.completions' AS api, coalesce(nullif({_top('status')}, ''), 'ok') AS status,
            coalesce(date_diff('millisecond', utc_ts(st), utc_ts(et)), {_int(_top('request_duration_ms'))}) AS latency_ms,
            coalesce({_slm('workflow_id')}, nullif({_top('session_id')}, '')) AS workflow_id,
            coalesce({_slm('workflow_type')}, {_tag('workflow_type')}) AS workflow_type,
            coalesce({_slm('step')}, {_tag('step')}) AS step,
            attempt_n::INTEGER AS attempt,
            coalesce({_slm('team')}, team_alias, nullif({_top('team_id')}, '')) AS team,
            pseudonymise(coalesce(nullif({_top('end_user')}, ''), nullif({_top('user')}, ''))) AS user_key,
            CASE WHEN rt_t = 'ARRAY' THEN rt::VARCHAR END AS tags,
            NULL::VARCHAR AS routed_from_model,
            {", ".join(TOKEN_CLASSES)},
            try_cast(spend_txt AS {MONEY}) AS gateway_reported_cost_usd,
            pseudonymise({_top('api_key')}) AS api_key_pseudonym
        FROM checked
        """
    )
    return land(ctx, "raw.llm_calls", _COLUMNS, NAME)
