"""G2: OpenTelemetry GenAI spans, one OTLP/JSON export request per line (the Collector's file exporter).

A line holds `resourceSpans[] → scopeSpans[] → spans[]`; every span becomes one row of `_parsed`.
Only inference spans (`gen_ai.operation.name` chat / text_completion / generate_content /
embeddings) that carry a usage count are LLM calls; every other span (agents, tools, workflows,
HTTP, inference without usage) is skipped by design, even when it carries its children's totals.
The traps: the convention's input total *includes* cache reads and writes, but Anthropic
instrumentations often report them apart (detected by cache_read + cache_write > input);
64-bit integers arrive as JSON strings or numbers; attribute names changed across releases
(legacy names are accepted); message content attributes are never read.
"""

from __future__ import annotations

from ingest.context import NOT_A_JSON_OBJECT, Counts, LoadContext, excerpt_sql, land
from ingest.schema import TOKEN_CLASSES

NAME = "otel_spans"
KIND = "gateway"
LAYOUTS = ("jsonl",)
TABLE = "raw.llm_calls"
OPERATIONS = ("chat", "text_completion", "generate_content", "embeddings")

_COLUMNS = [
    "call_id", "source_format", "occurred_at", "ended_at", "provider", "model", "api", "status", "latency_ms",
    "workflow_id", "workflow_type", "step", "attempt", "team", "user_key", "tags", "routed_from_model",
    *TOKEN_CLASSES, "gateway_reported_cost_usd",
]

# Logical field -> attribute keys, current name first, legacy names after. Only these keys are
# ever read from a span: content attributes (gen_ai.input.messages, gen_ai.prompt.*, …) never are.
_ATTRS = {
    "op": ("gen_ai.operation.name",),
    "provider": ("gen_ai.provider.name", "gen_ai.system"),
    "response_model": ("gen_ai.response.model",),
    "request_model": ("gen_ai.request.model",),
    "input": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "cache_read": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"),
    "cache_write": ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"),
    "reasoning": ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"),
    "workflow_id": ("tokenpnl.workflow.id",),
    "conversation_id": ("gen_ai.conversation.id",),
    "workflow_type": ("tokenpnl.workflow.type",),
    "step": ("tokenpnl.step",),
    "attempt": ("tokenpnl.attempt",),
    "team": ("tokenpnl.team",),
    "user_id": ("user.id", "enduser.id"),
    "routed_from": ("tokenpnl.routing.default_model",),
}
_COUNTS = ("input", "output", "cache_read", "cache_write", "reasoning")  # integer usage fields
_INTEGERS = (*_COUNTS, "attempt")
_WANTED = tuple(k for keys in _ATTRS.values() for k in keys)


def matches(record: dict) -> bool:
    return isinstance(record, dict) and "resourceSpans" in record


# The part of an OTLP/JSON export request read here, as a json_transform schema: parsed once into
# typed lists (numbers given as JSON numbers or strings both arrive as text). Unknown fields are ignored.
# Of an arrayValue or kvlistValue only its presence is kept (`values` never fits BOOLEAN, so it
# comes out NULL): an integer attribute sent as one is quarantined, and its content is never read.
_ANY_VALUE = ('{"stringValue": "VARCHAR", "intValue": "VARCHAR", "doubleValue": "VARCHAR", "boolValue": "VARCHAR", '
              '"bytesValue": "VARCHAR", "arrayValue": {"values": "BOOLEAN"}, "kvlistValue": {"values": "BOOLEAN"}}')
_KEY_VALUES = f'[{{"key": "VARCHAR", "value": {_ANY_VALUE}}}]'
_EXPORT = (
    '{"resourceSpans": [{"resource": {"attributes": %s}, "scopeSpans": [{"spans": [{'
    '"traceId": "VARCHAR", "spanId": "VARCHAR", "name": "VARCHAR", "startTimeUnixNano": "VARCHAR", '
    '"endTimeUnixNano": "VARCHAR", "status": {"code": "VARCHAR"}, "attributes": %s}]}]}]}'
) % (_KEY_VALUES, _KEY_VALUES)


def _wanted(attrs: str) -> str:
    """Only the attributes this format reads (so content attributes go no further than the parse)."""
    return f"list_filter({attrs}, lambda a: a.key IN ({', '.join(repr(k) for k in _WANTED)}))"


def _lookup(field: str) -> str:
    """The first present attribute of `field` as STRUCT(key, value): current name before legacy
    names, and within one name the span's own attribute before the resource's (`attrs` is span-first).
    An integer field counts any value as present, so a value of the wrong kind is quarantined
    rather than skipped (a text field falls back to a legacy name with a scalar value)."""
    given = _given("a.value") if field in _INTEGERS else f"{_scalar('a.value')} IS NOT NULL"
    finds = [f"list_filter(attrs, lambda a: a.key = '{k}' AND {given})[1]" for k in _ATTRS[field]]
    return finds[0] if len(finds) == 1 else f"coalesce({', '.join(finds)})"


def _scalar(v: str) -> str:
    """An AnyValue as text; NULL when empty or not a scalar (arrayValue, kvlistValue)."""
    return f"coalesce({v}.stringValue, {v}.intValue, {v}.doubleValue, {v}.boolValue)"


def _given(v: str) -> str:
    """Whether an AnyValue holds a value of any kind."""
    return (f"({_scalar(v)} IS NOT NULL OR {v}.bytesValue IS NOT NULL OR {v}.arrayValue IS NOT NULL "
            f"OR {v}.kvlistValue IS NOT NULL)")


def _int(text: str) -> str:
    """Whole numbers only (`12`, `"12"`, `12.0`); NULL otherwise, as the json_int macro does."""
    return f"int_text({text})"


def _nanos(col: str) -> str:
    """Nanoseconds since the epoch (JSON string or number) as BIGINT; NULL when not a whole number."""
    return f"CASE WHEN regexp_full_match({col}, '[0-9]+') THEN try_cast({col} AS BIGINT) END"


def load(ctx: LoadContext, sample: dict) -> Counts:
    ctx.read_json_lines()
    lookups = ",\n".join(f"{_lookup(f)} AS {f}_a" for f in _ATTRS)
    texts = ",\n".join(f"nullif({_scalar(f'{f}_a.value')}, '') AS {f}" for f in _ATTRS)
    ints = ",\n".join(f"{_int(f)} AS n_{f}" for f in _INTEGERS)
    # Present but not an integer (a bool, double, empty or non-numeric string, bytes, array, kvlist).
    not_whole = " ".join(f"WHEN {f}_a IS NOT NULL AND n_{f} IS NULL THEN {f}_a.key || ' is not a whole number'" for f in _INTEGERS)
    negative = " ".join(f"WHEN {c} < 0 THEN 'negative {c} after mapping the gen_ai.usage attributes'" for c in TOKEN_CLASSES)
    # A count of a non-scalar kind shows as its kind, never its content.
    kind = "CASE WHEN {v}.arrayValue IS NOT NULL THEN '(arrayValue)' WHEN {v}.kvlistValue IS NOT NULL THEN '(kvlistValue)' " \
           "WHEN {v}.bytesValue IS NOT NULL THEN '(bytesValue)' END"
    usage = ", ".join(f"'{f}', coalesce(left({f}, 40), {kind.format(v=f'{f}_a.value')})" for f in _COUNTS)
    span_excerpt = (
        "json_object('span', left(s.name, 120), 'traceId', left(s.traceId, 64), 'spanId', left(s.spanId, 32), "
        "'startTimeUnixNano', left(s.startTimeUnixNano, 40), 'endTimeUnixNano', left(s.endTimeUnixNano, 40), "
        f"'operation', left(op, 80), 'provider', left(provider, 80), 'model', left(model, 200), 'usage', json_object({usage}))::VARCHAR"
    )
    is_export = "coalesce(j IS NOT NULL AND json_type(j) = 'OBJECT' AND json_type(j, '$.resourceSpans') = 'ARRAY', FALSE)"
    line_excerpt = excerpt_sql("json_object('keys', list_transform(json_keys(j)[1:20], lambda k: left(k, 80)))")
    ctx.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _parsed AS
        WITH resource_spans AS (
            SELECT line, unnest(json_transform(j, '{_EXPORT}').resourceSpans) AS rs FROM _records WHERE {is_export}
        ), scope_spans AS (
            SELECT line, {_wanted("rs.resource.attributes")} AS resource_attrs, unnest(rs.scopeSpans) AS ss FROM resource_spans
        ), spans AS (
            SELECT line, resource_attrs, unnest(ss.spans) AS s FROM scope_spans
        ), items AS (
            -- One row per span, plus one per line that is not an OTLP/JSON trace export.
            SELECT line, NULL::VARCHAR AS line_reason, NULL::VARCHAR AS line_excerpt,
                s, list_concat({_wanted("s.attributes")}, resource_attrs) AS attrs
            FROM spans
            UNION ALL
            SELECT line, CASE {NOT_A_JSON_OBJECT}
                    -- Metrics and logs from a Collector file exporter shared with traces: not ours, skipped.
                    WHEN json_type(j, '$.resourceMetrics') = 'ARRAY' OR json_type(j, '$.resourceLogs') = 'ARRAY' THEN NULL
                    WHEN json_type(j, '$.resourceSpans') IS NULL THEN 'no resourceSpans array (not an OTLP/JSON trace export)'
                    ELSE 'resourceSpans is not an array' END,
                {line_excerpt}, NULL, NULL
            -- An OTLP line holds its text in attribute `value`s and status `message`s, not under the
            -- keys excerpt_sql redacts: cut those first, for the excerpt of a line that is not JSON.
            FROM (SELECT line, j, problem, regexp_replace(raw, '"(value|message)"\\s*:.*$', '"\\1": <removed>', 'i') AS raw
                  FROM _records WHERE NOT {is_export})
        ), found AS (
            SELECT line, line_reason, line_excerpt, s, {lookups} FROM items
        ), typed AS (
            SELECT *, {texts} FROM found
        ), mapped AS (
            SELECT *, {ints},
                coalesce(response_model, request_model) AS model,
                {_nanos("s.startTimeUnixNano")} AS start_ns, {_nanos("s.endTimeUnixNano")} AS end_ns,
                line_reason IS NULL AND coalesce(op IN {OPERATIONS} AND (input_a IS NOT NULL OR output_a IS NOT NULL), FALSE) AS is_call
            FROM typed
        ), classed AS (
            SELECT *,
                -- Inclusive by convention; reads + writes above the input total were reported apart.
                CASE WHEN t_cr + t_cw > t_in THEN t_in ELSE t_in - t_cr - t_cw END AS input_uncached_tokens,
                t_cr AS input_cache_read_tokens, t_cw AS input_cache_write_tokens, 0 AS input_cache_write_1h_tokens,
                t_out - t_rs AS output_visible_tokens, t_rs AS output_reasoning_tokens,
                CASE WHEN end_ns IS NULL OR end_ns = 0 THEN start_ns ELSE end_ns END AS stop_ns
            FROM (SELECT *, coalesce(n_input, 0) AS t_in, coalesce(n_cache_read, 0) AS t_cr, coalesce(n_cache_write, 0) AS t_cw,
                      coalesce(n_output, 0) AS t_out, coalesce(n_reasoning, 0) AS t_rs FROM mapped)
        ), checked AS (
            SELECT *, CASE WHEN line_reason IS NOT NULL THEN line_reason WHEN is_call THEN CASE
                WHEN NOT coalesce(regexp_full_match(s.traceId, '[0-9a-fA-F]{{32}}'), FALSE) THEN 'traceId is missing or not 32 hex digits'
                WHEN NOT coalesce(regexp_full_match(s.spanId, '[0-9a-fA-F]{{16}}'), FALSE) THEN 'spanId is missing or not 16 hex digits'
                WHEN s.startTimeUnixNano IS NULL THEN 'missing startTimeUnixNano'
                WHEN start_ns IS NULL OR start_ns = 0
                    THEN 'startTimeUnixNano is not a time in nanoseconds since the epoch: ' || left(s.startTimeUnixNano, 40)
                WHEN s.endTimeUnixNano IS NOT NULL AND end_ns IS NULL
                    THEN 'endTimeUnixNano is not a time in nanoseconds since the epoch: ' || left(s.endTimeUnixNano, 40)
                WHEN stop_ns < start_ns THEN 'endTimeUnixNano is before startTimeUnixNano'
                WHEN provider IS NULL THEN 'missing gen_ai.provider.name (or gen_ai.system)'
                WHEN model IS NULL THEN 'missing gen_ai.response.model and gen_ai.request.model'
                {not_whole}
                WHEN coalesce(n_attempt, 1) < 1 THEN 'tokenpnl.attempt must be 1 or more'
                {negative}
            END END AS reason
            FROM classed
        )
        SELECT line, reason, line_reason IS NULL AND NOT is_call AS skip,
            CASE WHEN reason IS NULL THEN NULL WHEN line_reason IS NOT NULL THEN line_excerpt ELSE {span_excerpt} END AS excerpt,
            lower(s.traceId) || '-' || lower(s.spanId) AS call_id, '{NAME}' AS source_format,
            make_timestamp(start_ns // 1000) AS occurred_at, make_timestamp(stop_ns // 1000) AS ended_at,
            provider, model, op AS api,
            CASE WHEN s.status.code IN ('2', 'STATUS_CODE_ERROR') THEN 'error' ELSE 'ok' END AS status,
            CASE WHEN end_ns IS NULL OR end_ns = 0 THEN NULL ELSE (end_ns - start_ns) // 1000000 END AS latency_ms,
            coalesce(workflow_id, conversation_id) AS workflow_id, workflow_type, step,
            coalesce(n_attempt, 1)::INTEGER AS attempt, team,
            pseudonymise(user_id) AS user_key, NULL::VARCHAR AS tags, routed_from AS routed_from_model,
            {", ".join(TOKEN_CLASSES)},
            NULL::DECIMAL(38,14) AS gateway_reported_cost_usd
        FROM checked
        """
    )
    return land(ctx, "raw.llm_calls", _COLUMNS, NAME)
