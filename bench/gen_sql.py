"""The generator's SQL: every value a pure function of (seed, day, workflow slot, call, salt).

`u(d, k, j, salt)` is a uniform [0, 1) number from DuckDB's hash(); the builders return queries
for one day's calls (`calls_sql`), the files written from them (G1/OTel/LiteLLM selects over the
`calls` table), and one origin day's outcome events (`github_sql`, `generic_sql`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.catalog import MODELS, REPOS

if TYPE_CHECKING:
    from bench.generate import Params


def _sql_list(values) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def macros(seed: int) -> str:
    """u(): a uniform [0, 1) number per (day, workflow, call, salt); the rest are JSON helpers."""
    return f"""
    -- hash() of several values combines their hashes too simply (u of two salts correlate at 0.9):
    -- hashing the combined hash again mixes it properly
    CREATE OR REPLACE MACRO u(d, k, j, s) AS ((hash(hash(d, k, j, s, {int(seed)})) >> 11)::DOUBLE / 9007199254740992.0);
    CREATE OR REPLACE MACRO ui(d, k, j, s, lo, hi) AS (lo + floor(u(d, k, j, s) * (hi - lo)))::BIGINT;
    CREATE OR REPLACE MACRO base_step(j, n, he, hr) AS CASE WHEN j = 0 THEN 'plan' WHEN he AND j = n - 1 THEN 'evaluate'
        WHEN hr AND j = n - 1 - he::INT THEN 'review' ELSE 'execute' END;
    -- call j fails and call j + 1 retries it (attempt 2): odd j, both execute steps
    CREATE OR REPLACE MACRO fails(d, k, j, n, he, hr) AS (j % 2 = 1 AND j + 1 < n AND base_step(j, n, he, hr) = 'execute'
        AND base_step(j + 1, n, he, hr) = 'execute' AND u(d, k, j, 12) < 0.15);
    CREATE OR REPLACE MACRO iso_ms(ms) AS strftime(make_timestamp(ms * 1000), '%Y-%m-%dT%H:%M:%S.%gZ');
    CREATE OR REPLACE MACRO iso_s(ms) AS strftime(make_timestamp(ms * 1000), '%Y-%m-%dT%H:%M:%SZ');
    CREATE OR REPLACE MACRO uuid_of(s) AS (SELECT left(h, 8) || '-' || h[9:12] || '-4' || h[14:16] || '-a' || h[18:20] || '-' || h[21:32]
        FROM (SELECT md5(s) AS h));
    CREATE OR REPLACE MACRO attr_s(key, v) AS json_object('key', key, 'value', json_object('stringValue', v));
    CREATE OR REPLACE MACRO attr_i(key, v) AS json_object('key', key, 'value', json_object('intValue', v::VARCHAR));
    CREATE OR REPLACE MACRO usage_json(api, unc, cr, cw, cw1h, vis, rs) AS CASE api
        WHEN 'messages' THEN json_object('input_tokens', unc, 'cache_read_input_tokens', cr, 'cache_creation_input_tokens', cw,
            'cache_creation', json_object('ephemeral_5m_input_tokens', cw - cw1h, 'ephemeral_1h_input_tokens', cw1h),
            'output_tokens', vis + rs, 'output_tokens_details', json_object('thinking_tokens', rs), 'service_tier', 'standard')
        WHEN 'responses' THEN json_object('input_tokens', unc + cr + cw, 'input_tokens_details', json_object('cached_tokens', cr),
            'output_tokens', vis + rs, 'output_tokens_details', json_object('reasoning_tokens', rs), 'total_tokens', unc + cr + cw + vis + rs)
        WHEN 'generate_content' THEN json_object('promptTokenCount', unc + cr, 'cachedContentTokenCount', cr,
            'candidatesTokenCount', vis, 'thoughtsTokenCount', rs, 'totalTokenCount', unc + cr + vis + rs)
        ELSE CASE WHEN cw > 0
            THEN json_object('prompt_tokens', unc + cr + cw, 'completion_tokens', vis + rs, 'total_tokens', unc + cr + cw + vis + rs,
                'prompt_tokens_details', json_object('cached_tokens', cr, 'cache_write_tokens', cw),
                'completion_tokens_details', json_object('reasoning_tokens', rs))
            ELSE json_object('prompt_tokens', unc + cr, 'completion_tokens', vis + rs, 'total_tokens', unc + cr + vis + rs,
                'prompt_tokens_details', json_object('cached_tokens', cr), 'completion_tokens_details', json_object('reasoning_tokens', rs))
            END
        END;
    CREATE OR REPLACE TABLE models AS SELECT * FROM (VALUES {", ".join(
        "(" + ", ".join(repr(v) if isinstance(v, str) else str(v).upper() if isinstance(v, bool) else str(v) for v in m) + ")"
        for m in MODELS)}) AS t(m, provider, model, api, caches, writes, one_hour, reasons, norm_provider, otel_provider, litellm_provider);
    """


def workflows_sql(p: Params, frm: str) -> str:
    """One row per workflow slot k of day d (`frm` binds d and k). Slots k >= workflows_per_day are
    single calls without a workflow. Every column is a pure function of (seed, d, k)."""
    w = p.workflows_per_day
    return f"""
    SELECT d, k, (DATE '{p.start}' + d::INTEGER) AS day, epoch_ms(DATE '{p.start}' + d::INTEGER) AS day_ms, k < {w} AS in_wf,
        CASE WHEN k >= {w} THEN NULL WHEN u(d, k, -1, 1) < 0.40 THEN 'code_change' WHEN u(d, k, -1, 1) < 0.70 THEN 'support_reply'
             WHEN u(d, k, -1, 1) < 0.88 THEN 'itinerary_booking' ELSE 'data_analysis' END AS wtype,
        CASE wtype
            WHEN 'code_change' THEN {_sql_list(REPOS)}[1 + floor(u(d, k, -1, 2) * 5)::INT]
            WHEN 'support_reply' THEN ['support-na', 'support-emea', 'support-apac'][1 + floor(u(d, k, -1, 2) * 3)::INT]
            WHEN 'itinerary_booking' THEN ['travel', 'travel-b2b'][1 + floor(u(d, k, -1, 2) * 2)::INT]
            WHEN 'data_analysis' THEN ['analytics', 'finance'][1 + floor(u(d, k, -1, 2) * 2)::INT]
            ELSE CASE WHEN u(d, k, -1, 2) < 0.5 THEN 'search' END END AS wteam,
        CASE WHEN k >= {w} THEN 1 ELSE ui(d, k, -1, 3, 4, 13)::INT END AS n,
        CASE WHEN k >= {w} THEN ui(d, k, -1, 4, 0, 86369000) ELSE ui(d, k, -1, 4, 0, 79200000) END AS start_ms,
        k < {w} AND u(d, k, -1, 5) < 0.7 AS he,
        coalesce(wtype = 'code_change' AND u(d, k, -1, 6) < 0.5, FALSE) AS hr,
        CASE WHEN k >= {w} THEN CASE WHEN u(d, k, -1, 7) < 0.9 THEN 'g1' ELSE 'litellm' END
             WHEN u(d, k, -1, 7) < 0.84 THEN 'g1' WHEN u(d, k, -1, 7) < 0.92 THEN 'otel' ELSE 'litellm' END AS channel,
        CASE WHEN k < {w} THEN printf('wf_%s_%06x', strftime(day, '%y%m%d'), k) END AS wf_id,
        u(d, k, -1, 8) < 0.03 AS late,  -- the first call does not name type and team yet
        day_ms + start_ms + (n - 1) * 40000 + floor(u(d, k, n - 1, 10) * 30000)::BIGINT AS end_ms
    FROM {frm}
    """


def calls_sql(p: Params, d: int, slots: int) -> str:
    """Every call of day d with its token classes and how it is logged."""
    step_size = lambda i: "CASE step " + " ".join(  # noqa: E731
        f"WHEN '{s}' THEN {v[i]}" for s, v in {
            "plan": (3000, 12000, 300, 1500), "execute": (8000, 60000, 400, 4000), "review": (5000, 30000, 200, 1200),
            "evaluate": (2000, 15000, 40, 400), "tool_summary": (1000, 6000, 80, 600), "classify": (300, 4000, 5, 60)}.items()
    ) + f" ELSE {(500, 20000, 50, 2000)[i]} END"
    return f"""
    WITH wf AS ({workflows_sql(p, f"(SELECT {d}::BIGINT AS d) dd, range({slots}) t(k)")}),
    c0 AS (SELECT wf.*, unnest(range(n)) AS j FROM wf),
    c1 AS (
        SELECT c0.*,
            CASE WHEN NOT in_wf THEN CASE WHEN u(d, k, 0, 11) < 0.3 THEN 'classify' END
                 WHEN base_step(j, n, he, hr) = 'execute' AND NOT fails(d, k, j, n, he, hr) AND NOT fails(d, k, j - 1, n, he, hr)
                      AND u(d, k, j, 11) < 0.1 THEN 'tool_summary'
                 ELSE base_step(j, n, he, hr) END AS step,
            CASE WHEN in_wf AND fails(d, k, j - 1, n, he, hr) THEN 2 ELSE 1 END AS attempt,
            in_wf AND fails(d, k, j, n, he, hr) AS failed,
            u(d, k, j, 13) AS r,
            CASE
                WHEN NOT in_wf THEN [3, 5, 1, 7, 6, 8, 9, 10][1 + floor(r * 8)::INT]
                WHEN step = 'evaluate' THEN CASE wtype WHEN 'itinerary_booking' THEN 1 WHEN 'data_analysis' THEN 0 ELSE 5 END
                WHEN step = 'review' THEN 2
                WHEN step = 'tool_summary' THEN 7
                WHEN wtype = 'code_change' THEN CASE WHEN step = 'plan' OR r < 0.45 THEN 0 WHEN r < 0.70 THEN 6
                                                     WHEN r < 0.85 THEN 7 WHEN r < 0.99 THEN 9 ELSE 10 END
                WHEN wtype = 'support_reply' THEN CASE WHEN step = 'plan' THEN CASE WHEN r < 0.5 THEN 8 ELSE 1 END
                                                       WHEN r < 0.7 THEN 1 ELSE 3 END
                WHEN wtype = 'itinerary_booking' THEN CASE WHEN step = 'plan' THEN 3 WHEN r < 0.6 THEN 4 ELSE 2 END
                ELSE CASE WHEN step = 'plan' THEN 2 WHEN r < 0.5 THEN 9 ELSE 7 END
            END AS m,
            day_ms + start_ms + j * 40000 + floor(u(d, k, j, 10) * 30000)::BIGINT AS ts_ms
        FROM c0
    ),
    c2 AS (
        SELECT c1.*, models.* EXCLUDE (m), {step_size(0)} AS lo, {step_size(1)} AS hi, {step_size(2)} AS olo, {step_size(3)} AS ohi,
            CASE WHEN m IN (0, 2, 4) AND step = 'execute' AND u(d, k, j, 14) < 0.03 THEN ui(d, k, j, 15, 200001, 400001)
                 ELSE ui(d, k, j, 15, lo, hi) END AS tin,
            CASE WHEN caches AND j > 0 AND u(d, k, j, 16) < 0.75 THEN floor(tin * (0.2 + 0.7 * u(d, k, j, 17)))::BIGINT ELSE 0 END AS cr,
            CASE WHEN writes AND (j = 0 OR u(d, k, j, 18) < 0.15) THEN least(tin - cr, ui(d, k, j, 19, 1024, 8024)) ELSE 0 END AS cw,
            CASE WHEN one_hour AND u(d, k, j, 20) < 0.35 THEN floor(cw * u(d, k, j, 21))::BIGINT ELSE 0 END AS cw1h,
            CASE WHEN reasons AND NOT failed AND step IN ('plan', 'execute', 'review') AND u(d, k, j, 22) < 0.6
                 THEN ui(d, k, j, 23, 100, 3000) ELSE 0 END AS rs,
            CASE WHEN failed THEN ui(d, k, j, 24, 0, 40) ELSE ui(d, k, j, 24, olo, ohi) END AS vis
        FROM c1 JOIN models USING (m)
    )
    SELECT d, k, j, day, day_ms, channel, in_wf, wf_id, wtype, wteam, step, attempt, failed, m, provider, norm_provider,
        otel_provider, litellm_provider, model, api, ts_ms, tin - cr - cw AS unc, cr, cw, cw1h, vis, rs,
        CASE WHEN late AND j = 0 THEN NULL ELSE wtype END AS log_type,
        CASE WHEN late AND j = 0 THEN NULL WHEN in_wf AND j > 0 AND u(d, k, j, 26) < 0.02 THEN 'platform-tools' ELSE wteam END AS log_team,
        CASE WHEN m = 0 AND u(d, k, j, 27) < 0.1 THEN 'claude-sonnet-4-6-20260301'
             WHEN m = 6 AND u(d, k, j, 27) < 0.3 THEN 'glm-5.2-20260915' ELSE model END AS model_logged,
        ui(d, k, j, 29, 150, 20150) AS latency,
        printf('dev%02d@acme.example', floor(u(d, k, j, 30) * 60)::INT) AS user_id,
        printf('%s%06x%x', strftime(day, '%y%m%d'), k, j) AS seq,
        1 + ((ts_ms - day_ms) // 21600000) AS part,
        u(d, k, j, 28) AS r_log, u(d, k, j, 31) AS r_ts, u(d, k, j, 32) AS r_dup, u(d, k, j, 33) AS r_apart
    FROM c2
    """


G1_SELECT = """
    SELECT 'req_' || seq AS request_id,
        CASE WHEN r_ts < 0.1 THEN strftime(make_timestamp((ts_ms + 7200000) * 1000), '%Y-%m-%dT%H:%M:%S.%g') || '+02:00'
             ELSE iso_ms(ts_ms) END AS "timestamp",
        CASE WHEN provider = 'google' AND r_log < 0.05 THEN 'Google' ELSE provider END AS provider,
        model_logged AS model, api, CASE WHEN failed THEN 'error' ELSE 'ok' END AS status, latency AS latency_ms,
        wf_id AS workflow_id, log_type AS workflow_type, step, attempt, log_team AS team, user_id AS "user",
        usage_json(api, unc, cr, cw, cw1h, {vis}, {rs}) AS usage
    FROM calls WHERE channel = 'g1' AND {where}
    ORDER BY ts_ms, seq  -- a gateway appends in time order
"""

OTEL_SELECT = """
    WITH spans AS (
        SELECT d, k, wf_id, wtype, wteam, j, ts_ms, latency, unc + cr + cw AS tin, vis + rs AS tout,
            json_object('traceId', md5(wf_id), 'spanId', left(md5(seq), 16), 'parentSpanId', left(md5(wf_id || '/agent'), 16),
                'name', op || ' ' || model, 'kind', 3,
                'startTimeUnixNano', (ts_ms * 1000000 + ns)::VARCHAR, 'endTimeUnixNano', ((ts_ms + latency) * 1000000 + ns)::VARCHAR,
                'attributes', json_array(attr_s('gen_ai.operation.name', op), attr_s('gen_ai.provider.name', otel_provider),
                    attr_s('gen_ai.request.model', model), attr_s('gen_ai.response.model', model_logged),
                    -- instrumentations of Anthropic's API may report input without the cache (reads + writes apart)
                    attr_i('gen_ai.usage.input_tokens', CASE WHEN api = 'messages' AND cr + cw > unc AND r_apart < 0.3 THEN unc ELSE unc + cr + cw END),
                    attr_i('gen_ai.usage.output_tokens', vis + rs), attr_i('gen_ai.usage.cache_read.input_tokens', cr),
                    attr_i('gen_ai.usage.cache_creation.input_tokens', cw), attr_i('gen_ai.usage.reasoning.output_tokens', rs),
                    attr_s('tokenpnl.workflow.id', wf_id), attr_s('tokenpnl.workflow.type', log_type), attr_s('tokenpnl.step', step),
                    attr_i('tokenpnl.attempt', attempt), attr_s('user.id', user_id)),
                'status', CASE WHEN failed THEN json_object('code', 2, 'message', 'upstream overloaded') ELSE json_object('code', 1) END
            ) AS span
        FROM (SELECT *, CASE WHEN api = 'generate_content' THEN 'generate_content' ELSE 'chat' END AS op,
                  floor(r_apart * 999999)::BIGINT AS ns FROM calls WHERE channel = 'otel')
    ), traces AS (
        SELECT wf_id, wtype, wteam, list(span ORDER BY j) AS spans, min(ts_ms) AS t0, max(ts_ms + latency) AS t1,
            sum(tin) AS tin, sum(tout) AS tout
        FROM spans GROUP BY d, k, wf_id, wtype, wteam
    )
    SELECT json_array(json_object(
        'resource', json_object('attributes', json_array(attr_s('service.name', 'agent-' || replace(wtype, '_', '-')),
            attr_s('tokenpnl.team', wteam), attr_s('deployment.environment.name', 'prod'))),
        'scopeSpans', json_array(json_object('scope', json_object('name', 'opentelemetry.instrumentation.genai', 'version', '0.4.0'),
            -- the agent span carries its children's totals: never a call
            'spans', list_prepend(json_object('traceId', md5(wf_id), 'spanId', left(md5(wf_id || '/agent'), 16), 'name', 'invoke_agent',
                'kind', 1, 'startTimeUnixNano', ((t0 - 500) * 1000000)::VARCHAR, 'endTimeUnixNano', ((t1 + 200) * 1000000)::VARCHAR,
                'attributes', json_array(attr_s('gen_ai.operation.name', 'invoke_agent'), attr_s('tokenpnl.workflow.id', wf_id),
                    attr_i('gen_ai.usage.input_tokens', tin), attr_i('gen_ai.usage.output_tokens', tout)),
                'status', json_object('code', 1)), spans)::JSON))
    )) AS "resourceSpans"
    FROM traces ORDER BY t1, wf_id  -- exported when the agent span ends
"""

LITELLM_SELECT = """
    SELECT 'chatcmpl-' || seq AS request_id, 'acompletion' AS call_type, sha256('sk-' || coalesce(wteam, 'batch')) AS api_key,
        round((unc + cr + cw) * 0.000001 + (vis + rs) * 0.000004, 8)::VARCHAR AS spend,
        unc + cr + cw + vis + rs AS total_tokens, unc + cr + cw AS prompt_tokens, vis + rs AS completion_tokens,
        iso_ms(ts_ms) AS "startTime", iso_ms(ts_ms + latency) AS "endTime", latency AS request_duration_ms,
        model_logged AS model, model AS model_group, litellm_provider AS custom_llm_provider, 'u_' || coalesce(wteam, 'batch') AS "user",
        json_object('user_api_key_alias', coalesce(wteam, 'batch') || '-bot', 'user_api_key_team_alias', wteam,
            'spend_logs_metadata', json_object('workflow_id', wf_id, 'workflow_type', log_type, 'step', step, 'attempt', attempt, 'team', log_team),
            'usage_object', json_object('prompt_tokens', unc + cr + cw, 'completion_tokens', vis + rs, 'total_tokens', unc + cr + cw + vis + rs,
                'cache_creation_input_tokens', cw, 'prompt_tokens_details', json_object('cached_tokens', cr),
                'completion_tokens_details', json_object('reasoning_tokens', rs))) AS metadata,
        'False' AS cache_hit, ['env:prod'] AS request_tags, NULL::VARCHAR AS team_id, user_id AS end_user, wf_id AS session_id,
        CASE WHEN failed THEN 'failure' ELSE 'success' END AS status
    FROM calls WHERE channel = 'litellm' ORDER BY ts_ms, seq
"""


def github_sql(p: Params, d: int) -> str:
    """Webhook deliveries of the PRs opened for half the code_change workflows of day d, with the
    day each is received (up to ~20 days later; none after the last generated day)."""
    w = p.workflows_per_day
    repo_of = "CASE wteam " + " ".join(f"WHEN '{t}' THEN '{r}'" for t, r in REPOS.items()) + " END"
    return f"""
    WITH wf AS ({workflows_sql(p, f"(SELECT {d}::BIGINT AS d) dd, range({w}) t(k)")}),
    pr AS (
        SELECT d, k, wf_id, 1 + d * {w} + k AS num, {repo_of} AS repo, u(d, k, -1, 21) AS rl,
            CASE WHEN rl < 0.75 THEN 'agent/' || wf_id WHEN rl < 0.80 THEN 'ai/' || wf_id ELSE 'feature/' || right(wf_id, 6) END AS head_ref,
            'Automated change by the coding agent.' || CASE WHEN rl >= 0.95
                THEN chr(10) || chr(10) || 'Workflow-Id: ' || wf_id || chr(10) || 'workflow-id: ' || printf('wf_%s_%06x', strftime(day, '%y%m%d'), k + 1)
                WHEN rl >= 0.80 THEN chr(10) || chr(10) || 'Workflow-Id: ' || wf_id ELSE '' END AS body,
            ['Fix rounding in', 'Add retry to', 'Refactor', 'Speed up', 'Validate input of'][1 + floor(u(d, k, -1, 29) * 5)::INT]
                || ' ' || ['ledger export', 'search index', 'webhook client', 'invoice parser', 'auth cache'][1 + floor(u(d, k, -1, 30) * 5)::INT]
                || ' (' || wf_id || ')' AS title,
            md5(wf_id || '/sha') || left(md5(wf_id || '/sha2'), 8) AS sha,
            end_ms + ui(d, k, -1, 22, 60000, 1800000) AS open_ms,
            open_ms + ui(d, k, -1, 23, 300000, 1200000) AS check_ms,
            CASE WHEN u(d, k, -1, 24) < 0.93 THEN 'success' WHEN u(d, k, -1, 24) < 0.95 THEN 'neutral' ELSE 'failure' END AS conclusion,
            conclusion = 'failure' AND u(d, k, -1, 25) < 0.5 AS rerun_green,
            CASE WHEN u(d, k, -1, 26) < 0.80 THEN 'merged' WHEN u(d, k, -1, 26) < 0.90 THEN 'closed' END AS close_kind,
            open_ms + ui(d, k, -1, 27, 1800000, 259200000) AS close_ms,
            close_kind = 'merged' AND u(d, k, -1, 28) < 0.05 AS reverted,
            close_ms + CASE WHEN u(d, k, -1, 31) < 0.85 THEN ui(d, k, -1, 32, 3600000, 777600000)
                            ELSE ui(d, k, -1, 32, 1296000000, 1728000000) END AS revert_ms,
            u(d, k, -1, 33) < 0.2 AS revert_by_title, u(d, k, -1, 34) < 0.02 AS redeliver
        FROM wf WHERE wtype = 'code_change' AND u(d, k, -1, 20) < 0.5
    ),
    prs AS (  -- the PR itself, and its revert where there is one
        SELECT num, repo, title, body, head_ref, sha, open_ms, close_kind, close_ms, redeliver FROM pr
        UNION ALL
        SELECT num + 1000000000, repo, 'Revert "' || title || '"',
            CASE WHEN revert_by_title THEN 'Roll back: it broke the nightly export.' ELSE 'Reverts ' || repo || '#' || num END,
            'revert-' || num || '-' || head_ref, md5(sha || '/revert') || left(md5(sha), 8), revert_ms - 600000, 'merged', revert_ms, FALSE
        FROM pr WHERE reverted
    ),
    pr_events AS (
        SELECT 'opened' AS action, num, repo, title, body, head_ref, sha, open_ms AS at_ms, 'open' AS state, FALSE AS merged,
            NULL::BIGINT AS merged_ms, NULL::BIGINT AS closed_ms, open_ms, FALSE AS again FROM prs
        UNION ALL
        SELECT 'closed', num, repo, title, body, head_ref, sha, close_ms + a * 180000, 'closed', close_kind = 'merged',
            CASE WHEN close_kind = 'merged' THEN close_ms END, close_ms, open_ms, a = 1
        FROM prs, (SELECT unnest([0, 1]) AS a) r WHERE close_kind IS NOT NULL AND (a = 0 OR redeliver)
    ),
    deliveries AS (
        SELECT at_ms, 'pull_request' AS event, uuid_of(repo || num || action) AS delivery_id,
            json_object('action', action, 'number', num,
                'pull_request', json_object('url', 'https://api.github.com/repos/' || repo || '/pulls/' || num, 'id', 3000000000 + num,
                    'number', num, 'state', state, 'title', title, 'body', body, 'user', json_object('login', 'acme-agent[bot]'),
                    'created_at', iso_s(open_ms), 'updated_at', iso_s(at_ms), 'closed_at', iso_s(closed_ms), 'merged_at', iso_s(merged_ms),
                    'merged', merged, 'draft', FALSE, 'head', json_object('ref', head_ref, 'sha', sha), 'base', json_object('ref', 'main')),
                'repository', json_object('full_name', repo, 'private', TRUE), 'sender', json_object('login', 'acme-agent[bot]')) AS payload
        FROM pr_events
        UNION ALL
        SELECT at_ms, 'check_suite', uuid_of(sha || at_ms),
            json_object('action', 'completed', 'check_suite', json_object('id', 5000000000 + num * 2 + run, 'head_branch', head_ref,
                'head_sha', sha, 'status', 'completed', 'conclusion', conclusion, 'app', json_object('id', 15368, 'slug', 'github-actions'),
                'pull_requests', json_array(json_object('number', num))), 'repository', json_object('full_name', repo, 'private', TRUE),
                'sender', json_object('login', 'github-actions[bot]'))
        FROM (SELECT num, repo, head_ref, sha, check_ms AS at_ms, conclusion, 0 AS run FROM pr
              UNION ALL  -- a failed run re-run green: the latest completed suite of the app counts
              SELECT num, repo, head_ref, sha, check_ms + 1800000, 'success', 1 FROM pr WHERE rerun_green)
    )
    SELECT (make_timestamp(at_ms * 1000))::DATE AS rday, event, delivery_id, iso_ms(at_ms) AS received_at, payload
    FROM deliveries WHERE at_ms < epoch_ms(DATE '{p.start}' + {p.days})
    """


def generic_sql(p: Params, d: int) -> str:
    """Generic outcome statements of 60 % of the non-code workflows of day d; some pending ones are
    restated later."""
    w = p.workflows_per_day
    return f"""
    WITH wf AS ({workflows_sql(p, f"(SELECT {d}::BIGINT AS d) dd, range({w}) t(k)")}),
    oc AS (
        SELECT d, k, wf_id, wtype, end_ms + ui(d, k, -1, 41, 300000, 172800000) AS first_ms, u(d, k, -1, 42) AS r,
            CASE wtype WHEN 'support_reply' THEN 'reply_accepted' WHEN 'itinerary_booking' THEN 'itinerary_booked' ELSE 'report_accepted' END AS kind,
            CASE wtype WHEN 'itinerary_booking' THEN printf('%.2f', 5 + floor(u(d, k, -1, 45) * 4000) / 100)
                       WHEN 'support_reply' THEN '3.00' END AS value_usd
        FROM wf WHERE wtype <> 'code_change' AND u(d, k, -1, 40) < 0.6
    ),
    st AS (
        SELECT wf_id, kind, value_usd, first_ms AS at_ms,
            CASE WHEN r < 0.78 THEN 'accepted' WHEN r < 0.88 THEN 'rejected' ELSE 'pending' END AS status,
            CASE WHEN r < 0.70 OR r >= 0.75 AND r < 0.78 THEN TRUE WHEN r < 0.75 THEN FALSE END AS verified,
            CASE WHEN r < 0.75 THEN TRUE WHEN r < 0.78 THEN FALSE END AS policy_passed, u(d, k, -1, 46) < 0.01 AS twice
        FROM oc
        UNION ALL  -- a pending outcome restated as accepted one to three days later
        SELECT wf_id, kind, value_usd, first_ms + ui(d, k, -1, 44, 86400000, 259200000), 'accepted', TRUE, TRUE, FALSE
        FROM oc WHERE r >= 0.88 AND u(d, k, -1, 43) < 0.6
    )
    SELECT (make_timestamp(at_ms * 1000))::DATE AS rday, 'oc_' || wf_id AS outcome_id, wf_id AS workflow_id,
        iso_ms(at_ms) AS occurred_at, kind, status, verified, policy_passed,
        CASE WHEN value_usd IS NOT NULL THEN ['s3://acme-evidence/' || wf_id || '.pdf'] ELSE [] END AS evidence, value_usd
    FROM st, (SELECT unnest([0, 1]) AS a) r
    WHERE (a = 0 OR twice) AND at_ms < epoch_ms(DATE '{p.start}' + {p.days})
    """
