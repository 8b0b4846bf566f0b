"""G1: gateway JSONL, one LLM call per line with the provider's own usage object.

The usage object is mapped onto five disjoint token classes here, because a record whose
classes come out negative must be quarantined at ingest (spec inputs.md, "Usage mapping").
The traps: OpenAI prompt counts *include* cache reads/writes, Anthropic input *excludes*
them, Google candidates *exclude* thinking tokens.
"""

from __future__ import annotations

from ingest.context import NOT_A_JSON_OBJECT, Counts, LoadContext, excerpt_sql, json_paths, land, list_item
from ingest.schema import TOKEN_CLASSES

NAME = "gateway_jsonl"
KIND = "gateway"
LAYOUTS = ("jsonl",)
TABLE = "raw.llm_calls"
API_VALUES = ("chat.completions", "responses", "messages", "generate_content")


def matches(record: dict) -> bool:
    return "request_id" in record and ("usage" in record or "usageMetadata" in record) and "startTime" not in record


# Every usage field read, in one list so each usage object is parsed once (see load()).
_USAGE_FIELDS = (
    "prompt_tokens", "prompt_tokens_details.cached_tokens", "prompt_tokens_details.cache_write_tokens",
    "completion_tokens", "completion_tokens_details.reasoning_tokens",
    "input_tokens", "input_tokens_details", "input_tokens_details.cached_tokens", "input_tokens_details.cache_write_tokens",
    "output_tokens", "output_tokens_details.reasoning_tokens", "output_tokens_details.thinking_tokens",
    "cache_read_input_tokens", "cache_creation_input_tokens", "cache_creation",
    "cache_creation.ephemeral_5m_input_tokens", "cache_creation.ephemeral_1h_input_tokens",
    "promptTokenCount", "cachedContentTokenCount", "candidatesTokenCount", "thoughtsTokenCount",
)


def _has(path: str) -> str:
    return f"({list_item('us', _USAGE_FIELDS, path)} IS NOT NULL)"


def _int(path: str) -> str:
    return list_item("ui", _USAGE_FIELDS, path)


# (class, SQL) per usage shape. Missing detail objects count as 0.
def _n(path: str) -> str:
    return f"coalesce({_int(path)}, 0)"


_SHAPES = {
    "chat.completions": {
        "input_uncached_tokens": f"{_n('prompt_tokens')} - {_n('prompt_tokens_details.cached_tokens')} - {_n('prompt_tokens_details.cache_write_tokens')}",
        "input_cache_read_tokens": _n("prompt_tokens_details.cached_tokens"),
        "input_cache_write_tokens": _n("prompt_tokens_details.cache_write_tokens"),
        "input_cache_write_1h_tokens": "0",
        "output_visible_tokens": f"{_n('completion_tokens')} - {_n('completion_tokens_details.reasoning_tokens')}",
        "output_reasoning_tokens": _n("completion_tokens_details.reasoning_tokens"),
    },
    "responses": {
        "input_uncached_tokens": f"{_n('input_tokens')} - {_n('input_tokens_details.cached_tokens')} - {_n('input_tokens_details.cache_write_tokens')}",
        "input_cache_read_tokens": _n("input_tokens_details.cached_tokens"),
        "input_cache_write_tokens": _n("input_tokens_details.cache_write_tokens"),
        "input_cache_write_1h_tokens": "0",
        "output_visible_tokens": f"{_n('output_tokens')} - {_n('output_tokens_details.reasoning_tokens')}",
        "output_reasoning_tokens": _n("output_tokens_details.reasoning_tokens"),
    },
    "messages": {
        "input_uncached_tokens": _n("input_tokens"),
        "input_cache_read_tokens": _n("cache_read_input_tokens"),
        # The total may be given, or only its 5-minute/1-hour split.
        "input_cache_write_tokens": f"coalesce({_int('cache_creation_input_tokens')}, "
        f"{_n('cache_creation.ephemeral_5m_input_tokens')} + {_n('cache_creation.ephemeral_1h_input_tokens')})",
        "input_cache_write_1h_tokens": _n("cache_creation.ephemeral_1h_input_tokens"),
        "output_visible_tokens": f"{_n('output_tokens')} - {_n('output_tokens_details.thinking_tokens')}",
        "output_reasoning_tokens": _n("output_tokens_details.thinking_tokens"),
    },
    "generate_content": {
        "input_uncached_tokens": f"{_n('promptTokenCount')} - {_n('cachedContentTokenCount')}",
        "input_cache_read_tokens": _n("cachedContentTokenCount"),
        "input_cache_write_tokens": "0",
        "input_cache_write_1h_tokens": "0",
        "output_visible_tokens": _n("candidatesTokenCount"),
        "output_reasoning_tokens": _n("thoughtsTokenCount"),
    },
}

# Fields each shape must carry (as integers), and every integer field it may carry.
_REQUIRED = {
    "chat.completions": ("prompt_tokens", "completion_tokens"),
    "responses": ("input_tokens", "output_tokens"),
    "messages": ("input_tokens", "output_tokens"),
    "generate_content": ("promptTokenCount",),
}
_INTEGERS = {
    "chat.completions": _REQUIRED["chat.completions"] + ("prompt_tokens_details.cached_tokens", "prompt_tokens_details.cache_write_tokens", "completion_tokens_details.reasoning_tokens"),
    "responses": _REQUIRED["responses"] + ("input_tokens_details.cached_tokens", "input_tokens_details.cache_write_tokens", "output_tokens_details.reasoning_tokens"),
    "messages": _REQUIRED["messages"] + ("cache_read_input_tokens", "cache_creation_input_tokens", "cache_creation.ephemeral_5m_input_tokens", "cache_creation.ephemeral_1h_input_tokens", "output_tokens_details.thinking_tokens"),
    "generate_content": ("promptTokenCount", "cachedContentTokenCount", "candidatesTokenCount", "thoughtsTokenCount"),
}

_COLUMNS = [
    "call_id", "source_format", "occurred_at", "ended_at", "provider", "model", "api", "status", "latency_ms",
    "workflow_id", "workflow_type", "step", "attempt", "team", "user_key", "tags", "routed_from_model",
    *TOKEN_CLASSES, "gateway_reported_cost_usd",
]


def _by_shape(exprs: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{api}' THEN {expr}" for api, expr in exprs.items())
    return f"CASE api {whens} END"


def _usage_problem() -> str:
    checks = []
    for api, fields in _INTEGERS.items():
        for f in fields:
            required = f in _REQUIRED[api]
            cond = f"NOT {_has(f)}" if required else "FALSE"
            checks.append(
                f"WHEN api = '{api}' AND ({cond} OR ({_has(f)} AND {_int(f)} IS NULL)) "
                f"THEN 'usage.{f} is missing or not a whole number'"
            )
    return "CASE " + " ".join(checks) + " END"


# The fields read as text, and the documents read as JSON, from one parse of each line (one per
# field would be most of the ingest time at a million lines a night): see read_json_lines.
_FIELDS = ("request_id", "timestamp", "provider", "model", "api", "status", "latency_ms", "workflow_id",
           "workflow_type", "step", "attempt", "team", "user", "routing.default_model")
_DOCUMENTS = ("usage", "usageMetadata", "tags")


def _f(name: str) -> str:
    return list_item("s", _FIELDS, name)


def load(ctx: LoadContext, sample: dict) -> Counts:
    ctx.read_json_lines(_FIELDS, _DOCUMENTS)
    classes = ",\n".join(f"{_by_shape({a: s[c] for a, s in _SHAPES.items()})} AS {c}" for c in TOKEN_CLASSES)
    negative = " ".join(f"WHEN {c} < 0 THEN 'negative {c} after mapping the ' || api || ' usage'" for c in TOKEN_CLASSES)
    excerpt = excerpt_sql(
        "json_object('request_id', call_id, 'timestamp', ts, 'provider', provider, 'model', model, 'api', api_given, 'usage', u)"
    )
    usage_ints = ", ".join(f"int_text(us[{i}])" for i in range(1, len(_USAGE_FIELDS) + 1))
    ctx.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _parsed AS
        WITH fields AS (
            SELECT line, raw, j, problem, s, {_f('request_id')} AS call_id, {_f('timestamp')} AS ts,
                {_f('provider')} AS provider, {_f('model')} AS model, {_f('api')} AS api_given,
                int_text({_f('attempt')}) AS attempt_n, int_text({_f('latency_ms')}) AS latency_n,
                coalesce(o[1], o[2]) AS u, o[3] AS tags_j
            FROM _records
        ), usage_read AS (
            SELECT *, json_extract_string(u, {json_paths(_USAGE_FIELDS)}) AS us FROM fields
        ), shaped AS (
            SELECT *, [{usage_ints}] AS ui,
                coalesce(api_given, CASE
                    WHEN {_has('promptTokenCount')} THEN 'generate_content'
                    WHEN {_has('prompt_tokens')} THEN 'chat.completions'
                    WHEN {_has('input_tokens_details')} THEN 'responses'
                    WHEN {_has('cache_read_input_tokens')} OR {_has('cache_creation_input_tokens')}
                      OR {_has('cache_creation')} OR lower(provider) = 'anthropic' THEN 'messages'
                    WHEN {_has('input_tokens')} THEN 'responses' END) AS api
            FROM usage_read
        ), mapped AS (
            SELECT *, {classes} FROM shaped
        ), checked AS (
            SELECT *, CASE
                {NOT_A_JSON_OBJECT}
                WHEN call_id IS NULL OR call_id = '' THEN 'missing request_id'
                WHEN ts_problem(ts, 'timestamp') IS NOT NULL THEN ts_problem(ts, 'timestamp')
                WHEN provider IS NULL OR provider = '' THEN 'missing provider'
                WHEN model IS NULL OR model = '' THEN 'missing model'
                WHEN u IS NULL OR json_type(u) <> 'OBJECT' THEN 'missing usage object'
                WHEN api IS NULL OR api NOT IN {API_VALUES} THEN 'unknown api ' || coalesce('''' || api || '''', '(usage shape not recognised)')
                WHEN {_usage_problem()} IS NOT NULL THEN {_usage_problem()}
                WHEN {_f('attempt')} IS NOT NULL AND attempt_n IS NULL THEN 'attempt is not a whole number'
                WHEN coalesce(attempt_n, 1) < 1 THEN 'attempt must be 1 or more'
                -- Absent or null is allowed (latency unknown); anything else must be an integer.
                WHEN {_f('latency_ms')} IS NOT NULL AND latency_n IS NULL THEN 'latency_ms is not a whole number'
                WHEN input_cache_write_1h_tokens > input_cache_write_tokens THEN '1-hour cache writes exceed cache writes'
                {negative}
            END AS reason
            FROM mapped
        )
        SELECT line, reason, FALSE AS skip,
            CASE WHEN reason IS NOT NULL THEN {excerpt} END AS excerpt,
            call_id, '{NAME}' AS source_format, utc_ts(ts) AS occurred_at, utc_ts(ts) AS ended_at,
            provider, model, api, coalesce({_f('status')}, 'ok') AS status, latency_n AS latency_ms,
            nullif({_f('workflow_id')}, '') AS workflow_id, {_f('workflow_type')} AS workflow_type, {_f('step')} AS step,
            coalesce(attempt_n, 1)::INTEGER AS attempt, {_f('team')} AS team,
            pseudonymise({_f('user')}) AS user_key,
            CASE WHEN json_type(tags_j) = 'ARRAY' THEN tags_j::VARCHAR END AS tags,
            {_f('routing.default_model')} AS routed_from_model,
            {", ".join(TOKEN_CLASSES)},
            NULL::DECIMAL(38,14) AS gateway_reported_cost_usd
        FROM checked
        """
    )
    return land(ctx, "raw.llm_calls", _COLUMNS, NAME)
