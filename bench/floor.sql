-- The performance floor: tokenpnl's marts.token_pnl_daily and marts.cost_per_verified_success,
-- computed by DuckDB alone in one script from the same landing files (bench/generate.py layout).
--
-- Lean but honest: it really decompresses and parses every gzip JSON file, maps each usage shape
-- onto the five token classes, de-duplicates calls (latest end time, then the later file), prices
-- them from the default and user price books (book ranks, effective dates, dated snapshot ids,
-- long-context tiers), allocates the FOCUS invoices (identical rows once) exactly to 14 decimals,
-- judges GitHub PRs (checks, reverts, the 14-day window) and generic outcomes, links outcomes
-- to workflows and applies the grace period: the same rules and the same exact money as the dbt
-- models, so the two marts must come out equal, row for row and digit for digit.
-- What it skips: content sniffing (files are found by the generator's paths), quarantine checks
-- (the generated data is valid), lineage, formats and rules the generated data does not use
-- (tickets, cost reports, FX, legacy attribute names, LiteLLM request-tag attribution).
--
-- Parameters (bench/floor.py substitutes them): ${landing} ${instant} ${default_book} ${user_book} ${aliases}

SET TimeZone = 'UTC';
SET preserve_insertion_order = false;

CREATE OR REPLACE TEMP MACRO utc(s) AS timezone('UTC', trim(s)::TIMESTAMPTZ);
-- Money inside the floor is exact integers: BIGINT counts of 1e-14 USD per call (HUGEINT sums),
-- turned into DECIMAL(38,14) only in the marts. It gives the very numbers of the dbt macros
-- (mtok_cost, money_muldiv) while DuckDB's DECIMAL(38,x) arithmetic costs ~1 s per million calls
-- per operation. Prices must have at most 8 decimals for that (checked below).
CREATE OR REPLACE TEMP MACRO usd(units) AS CAST(CAST(units AS DECIMAL(38, 0)) * 0.00000000000001::DECIMAL(15, 14) AS DECIMAL(38, 14));
CREATE OR REPLACE TEMP MACRO price8(p) AS CASE WHEN p * 100000000 = trunc(p * 100000000) THEN (p * 100000000)::BIGINT
    ELSE error('floor: a price with more than 8 decimals: ' || p) END;
-- x as a HUGEINT count of 1e-14, and round_half_away(a * b / c) at 14 decimals (dbt money_units / money_muldiv)
CREATE OR REPLACE TEMP MACRO units(x) AS (trunc(CAST(x AS DECIMAL(38, 14)))::HUGEINT * 100000000000000::HUGEINT
    + ((CAST(x AS DECIMAL(38, 14)) - trunc(CAST(x AS DECIMAL(38, 14)))) * 100000000000000)::HUGEINT);
CREATE OR REPLACE TEMP MACRO muldiv_units(au, bu, cu) AS CASE WHEN cu IS NULL OR cu = 0 OR au IS NULL OR bu IS NULL THEN NULL
    ELSE CAST(CAST(sign(au) * sign(bu) * sign(cu) * ((2 * abs(au * bu) + abs(cu)) // (2 * abs(cu))) AS DECIMAL(38, 0))
              * 0.00000000000001::DECIMAL(15, 14) AS DECIMAL(38, 14)) END;
-- A call's invoice share round_half_away(a x b / c) in 1e-14 USD, exactly: the DOUBLE product decides
-- unless it lies within its error bound (< 1e-15 relative) of a rounding tie; only then (rarely)
-- the exact HUGEINT division runs, which alone costs ~0.7 s per million calls.
CREATE OR REPLACE TEMP MACRO alloc(a, bu, cu, f) AS CASE
    WHEN a IS NULL OR cu IS NULL THEN NULL
    WHEN a < 4000000000000000 AND a * f < 1000000000000000  -- a exact as DOUBLE; a x f with an ulp <= 1/8
        AND abs(a * f - floor(a * f) - 0.5) > a * f * 1e-15 + 1e-6 THEN sign(bu) * floor(a * f + 0.5)::BIGINT
    ELSE (sign(bu) * ((2 * a::HUGEINT * abs(bu) + cu) // (2 * cu)))::BIGINT END;
CREATE OR REPLACE TEMP MACRO money_div(a, c) AS muldiv_units(units(a), units(1), units(c));
CREATE OR REPLACE TEMP MACRO ratio(n, d) AS (CAST(n AS DOUBLE) / nullif(CAST(d AS DOUBLE), 0));
-- an OTel attribute by key: the span's (with a value) wins over the resource's
CREATE OR REPLACE TEMP MACRO attr(kv, k) AS coalesce(kv.sv[list_position(kv.sk, k)], kv.rv[list_position(kv.rk, k)]);

-- Reference data ------------------------------------------------------------------------------

CREATE OR REPLACE TEMP TABLE aliases AS
SELECT lower(trim(alias)) AS alias, lower(trim(provider)) AS provider
FROM read_csv('${aliases}', header = true, all_varchar = true);

CREATE OR REPLACE TEMP TABLE prices AS
WITH books AS (
    SELECT 0 AS book_rank, * FROM read_csv('${default_book}', header = true, all_varchar = true)
    UNION ALL BY NAME
    SELECT 1 AS book_rank, * FROM read_csv('${user_book}', header = true, all_varchar = true)
), typed AS (
    SELECT book_rank, lower(trim(provider)) AS provider_raw, trim(model) AS priced_model, lower(trim(model)) AS price_key,
        trim(effective_from)::DATE AS effective_from, nullif(trim(effective_to), '')::DATE AS effective_to,
        trim(input_usd_per_mtok)::DECIMAL(24, 12) AS p_in,
        coalesce(nullif(trim(cache_read_usd_per_mtok), '')::DECIMAL(24, 12), p_in) AS p_cr,
        coalesce(nullif(trim(cache_write_usd_per_mtok), '')::DECIMAL(24, 12), p_in) AS p_cw,
        coalesce(nullif(trim(cache_write_1h_usd_per_mtok), '')::DECIMAL(24, 12), p_cw) AS p_cw1h,
        trim(output_usd_per_mtok)::DECIMAL(24, 12) AS p_out,
        coalesce(nullif(trim(reasoning_usd_per_mtok), '')::DECIMAL(24, 12), p_out) AS p_rs,
        coalesce(nullif(trim(min_input_tokens), '')::BIGINT, 0) AS min_input
    FROM books
)
SELECT typed.*, coalesce(aliases.provider, provider_raw) AS provider
FROM typed LEFT JOIN aliases ON aliases.alias = typed.provider_raw;

-- Calls: parse the three gateway formats, keep the newest version of each, up to the as-of instant.

-- source_format: 1 gateway_jsonl, 2 otel_spans, 3 litellm_spend_logs (call ids are unique per format)
CREATE OR REPLACE TEMP TABLE calls_all AS
WITH g1 AS (
    SELECT request_id AS call_id, 1 AS source_format, utc("timestamp") AS occurred_at, occurred_at AS ended_at,
        filename, provider AS provider_given, model, nullif(workflow_id, '') AS workflow_id, workflow_type, step,
        coalesce(attempt, 1) AS attempt, team,
        -- where api is missing the usage shape decides
        coalesce(api, CASE WHEN usage.promptTokenCount IS NOT NULL THEN 'generate_content'
            WHEN usage.prompt_tokens IS NOT NULL THEN 'chat.completions' WHEN usage.input_tokens_details IS NOT NULL THEN 'responses'
            WHEN usage.cache_read_input_tokens IS NOT NULL OR usage.cache_creation_input_tokens IS NOT NULL
                OR usage.cache_creation IS NOT NULL OR lower(provider) = 'anthropic' THEN 'messages'
            WHEN usage.input_tokens IS NOT NULL THEN 'responses' END) AS shape,
        CASE shape
            WHEN 'chat.completions' THEN coalesce(usage.prompt_tokens, 0) - coalesce(usage.prompt_tokens_details.cached_tokens, 0)
                - coalesce(usage.prompt_tokens_details.cache_write_tokens, 0)
            WHEN 'responses' THEN coalesce(usage.input_tokens, 0) - coalesce(usage.input_tokens_details.cached_tokens, 0)
                - coalesce(usage.input_tokens_details.cache_write_tokens, 0)
            WHEN 'messages' THEN coalesce(usage.input_tokens, 0)
            ELSE coalesce(usage.promptTokenCount, 0) - coalesce(usage.cachedContentTokenCount, 0) END AS unc,
        CASE shape
            WHEN 'chat.completions' THEN coalesce(usage.prompt_tokens_details.cached_tokens, 0)
            WHEN 'responses' THEN coalesce(usage.input_tokens_details.cached_tokens, 0)
            WHEN 'messages' THEN coalesce(usage.cache_read_input_tokens, 0)
            ELSE coalesce(usage.cachedContentTokenCount, 0) END AS cr,
        CASE shape
            WHEN 'chat.completions' THEN coalesce(usage.prompt_tokens_details.cache_write_tokens, 0)
            WHEN 'responses' THEN coalesce(usage.input_tokens_details.cache_write_tokens, 0)
            WHEN 'messages' THEN coalesce(usage.cache_creation_input_tokens,
                coalesce(usage.cache_creation.ephemeral_5m_input_tokens, 0) + coalesce(usage.cache_creation.ephemeral_1h_input_tokens, 0))
            ELSE 0 END AS cw,
        CASE shape WHEN 'messages' THEN coalesce(usage.cache_creation.ephemeral_1h_input_tokens, 0) ELSE 0 END AS cw1h,
        CASE shape
            WHEN 'chat.completions' THEN coalesce(usage.completion_tokens, 0) - coalesce(usage.completion_tokens_details.reasoning_tokens, 0)
            WHEN 'responses' THEN coalesce(usage.output_tokens, 0) - coalesce(usage.output_tokens_details.reasoning_tokens, 0)
            WHEN 'messages' THEN coalesce(usage.output_tokens, 0) - coalesce(usage.output_tokens_details.thinking_tokens, 0)
            ELSE coalesce(usage.candidatesTokenCount, 0) END AS vis,
        CASE shape
            WHEN 'chat.completions' THEN coalesce(usage.completion_tokens_details.reasoning_tokens, 0)
            WHEN 'responses' THEN coalesce(usage.output_tokens_details.reasoning_tokens, 0)
            WHEN 'messages' THEN coalesce(usage.output_tokens_details.thinking_tokens, 0)
            ELSE coalesce(usage.thoughtsTokenCount, 0) END AS rs
    FROM read_json('${landing}/gateway/[0-9][0-9][0-9][0-9]/*/*/*.jsonl.gz', format = 'newline_delimited', filename = true,
        columns = {request_id: 'VARCHAR', "timestamp": 'VARCHAR', provider: 'VARCHAR', model: 'VARCHAR', api: 'VARCHAR',
            workflow_id: 'VARCHAR', workflow_type: 'VARCHAR', step: 'VARCHAR', attempt: 'BIGINT', team: 'VARCHAR',
            usage: 'STRUCT(prompt_tokens BIGINT, completion_tokens BIGINT,
                prompt_tokens_details STRUCT(cached_tokens BIGINT, cache_write_tokens BIGINT),
                completion_tokens_details STRUCT(reasoning_tokens BIGINT),
                input_tokens BIGINT, output_tokens BIGINT,
                input_tokens_details STRUCT(cached_tokens BIGINT, cache_write_tokens BIGINT),
                output_tokens_details STRUCT(reasoning_tokens BIGINT, thinking_tokens BIGINT),
                cache_read_input_tokens BIGINT, cache_creation_input_tokens BIGINT,
                cache_creation STRUCT(ephemeral_5m_input_tokens BIGINT, ephemeral_1h_input_tokens BIGINT),
                promptTokenCount BIGINT, cachedContentTokenCount BIGINT, candidatesTokenCount BIGINT, thoughtsTokenCount BIGINT)'})
),
otel_spans AS (
    SELECT filename, rkeys, rvals, unnest(ss.spans) AS s
    FROM (
        SELECT filename, unnest(rs.scopeSpans) AS ss, list_transform(rs.resource.attributes, a -> a.key) AS rkeys,
            list_transform(rs.resource.attributes, a -> coalesce(a.value.stringValue, a.value.intValue)) AS rvals
        FROM (
            SELECT filename, unnest("resourceSpans") AS rs
            FROM read_json('${landing}/gateway/otel/*/*/*/*.jsonl.gz', format = 'newline_delimited', filename = true,
                columns = {resourceSpans: 'STRUCT(
                    resource STRUCT(attributes STRUCT(key VARCHAR, value STRUCT(stringValue VARCHAR, intValue VARCHAR))[]),
                    scopeSpans STRUCT(spans STRUCT(traceId VARCHAR, spanId VARCHAR, startTimeUnixNano VARCHAR, endTimeUnixNano VARCHAR,
                        status STRUCT(code VARCHAR),
                        attributes STRUCT(key VARCHAR, value STRUCT(stringValue VARCHAR, intValue VARCHAR))[])[])[])[]'})
        )
    )
),
otel_attrs AS (
    SELECT filename, s, {sk: list_transform(s.attributes, a -> a.key),
        sv: list_transform(s.attributes, a -> coalesce(a.value.stringValue, a.value.intValue)), rk: rkeys, rv: rvals} AS kv
    FROM otel_spans
),
otel AS (
    SELECT lower(s.traceId) || '-' || lower(s.spanId) AS call_id, 2 AS source_format,
        make_timestamp(s.startTimeUnixNano::BIGINT // 1000) AS occurred_at,
        make_timestamp(coalesce(nullif(s.endTimeUnixNano::BIGINT, 0), s.startTimeUnixNano::BIGINT) // 1000) AS ended_at,
        filename, nullif(attr(kv, 'gen_ai.provider.name'), '') AS provider_given,
        coalesce(nullif(attr(kv, 'gen_ai.response.model'), ''), nullif(attr(kv, 'gen_ai.request.model'), '')) AS model,
        nullif(attr(kv, 'tokenpnl.workflow.id'), '') AS workflow_id, nullif(attr(kv, 'tokenpnl.workflow.type'), '') AS workflow_type,
        nullif(attr(kv, 'tokenpnl.step'), '') AS step, coalesce(attr(kv, 'tokenpnl.attempt')::BIGINT, 1) AS attempt,
        nullif(attr(kv, 'tokenpnl.team'), '') AS team,
        coalesce(attr(kv, 'gen_ai.usage.input_tokens')::BIGINT, 0) AS t_in,
        coalesce(attr(kv, 'gen_ai.usage.cache_read.input_tokens')::BIGINT, 0) AS cr,
        coalesce(attr(kv, 'gen_ai.usage.cache_creation.input_tokens')::BIGINT, 0) AS cw,
        -- inclusive by convention; reads + writes above the input total were reported apart
        CASE WHEN cr + cw > t_in THEN t_in ELSE t_in - cr - cw END AS unc, 0 AS cw1h,
        coalesce(attr(kv, 'gen_ai.usage.reasoning.output_tokens')::BIGINT, 0) AS rs,
        coalesce(attr(kv, 'gen_ai.usage.output_tokens')::BIGINT, 0) - rs AS vis
    FROM otel_attrs
    -- inference spans with usage are calls; agent and tool spans never are
    WHERE attr(kv, 'gen_ai.operation.name') IN ('chat', 'text_completion', 'generate_content', 'embeddings')
        AND (attr(kv, 'gen_ai.usage.input_tokens') IS NOT NULL OR attr(kv, 'gen_ai.usage.output_tokens') IS NOT NULL)
),
litellm AS (
    SELECT request_id AS call_id, 3 AS source_format, utc("startTime") AS occurred_at,
        coalesce(utc(nullif("endTime", '')), occurred_at) AS ended_at, filename,
        custom_llm_provider AS provider_given, model,
        coalesce(nullif(metadata.spend_logs_metadata.workflow_id, ''), nullif(session_id, '')) AS workflow_id,
        nullif(metadata.spend_logs_metadata.workflow_type, '') AS workflow_type, nullif(metadata.spend_logs_metadata.step, '') AS step,
        coalesce(metadata.spend_logs_metadata.attempt, 1) AS attempt,
        coalesce(nullif(metadata.spend_logs_metadata.team, ''), nullif(metadata.user_api_key_team_alias, ''), nullif(team_id, '')) AS team,
        -- OpenAI semantics for every provider: prompt_tokens includes cache reads and writes
        coalesce(metadata.usage_object.prompt_tokens_details.cached_tokens, metadata.usage_object.cache_read_input_tokens, 0) AS cr,
        coalesce(metadata.usage_object.cache_creation_input_tokens, metadata.usage_object.prompt_tokens_details.cache_creation_tokens, 0) AS cw,
        coalesce(metadata.usage_object.prompt_tokens, prompt_tokens) - cr - cw AS unc, 0 AS cw1h,
        coalesce(metadata.usage_object.completion_tokens_details.reasoning_tokens, 0) AS rs,
        coalesce(metadata.usage_object.completion_tokens, completion_tokens) - rs AS vis
    FROM read_json('${landing}/gateway/litellm/*/*/*/*.jsonl.gz', format = 'newline_delimited', filename = true,
        columns = {request_id: 'VARCHAR', startTime: 'VARCHAR', endTime: 'VARCHAR', model: 'VARCHAR', custom_llm_provider: 'VARCHAR',
            prompt_tokens: 'BIGINT', completion_tokens: 'BIGINT', session_id: 'VARCHAR', team_id: 'VARCHAR',
            metadata: 'STRUCT(user_api_key_team_alias VARCHAR,
                spend_logs_metadata STRUCT(workflow_id VARCHAR, workflow_type VARCHAR, step VARCHAR, attempt BIGINT, team VARCHAR),
                usage_object STRUCT(prompt_tokens BIGINT, completion_tokens BIGINT, cache_read_input_tokens BIGINT,
                    cache_creation_input_tokens BIGINT, prompt_tokens_details STRUCT(cached_tokens BIGINT, cache_creation_tokens BIGINT),
                    completion_tokens_details STRUCT(reasoning_tokens BIGINT)))'})
),
everything AS (
    SELECT call_id, source_format, occurred_at, ended_at, filename, provider_given, model, workflow_id, workflow_type, step,
        attempt, team, unc, cr, cw, cw1h, vis, rs FROM g1
    UNION ALL
    SELECT call_id, source_format, occurred_at, ended_at, filename, provider_given, model, workflow_id, workflow_type, step,
        attempt, team, unc, cr, cw, cw1h, vis, rs FROM otel
    UNION ALL
    SELECT call_id, source_format, occurred_at, ended_at, filename, provider_given, model, workflow_id, workflow_type, step,
        attempt, team, unc, cr, cw, cw1h, vis, rs FROM litellm
)
-- a file's rank by path stands in for its path: the tie-break needs only the order
SELECT everything.* EXCLUDE (filename), files.file_rank
FROM everything JOIN (SELECT file, row_number() OVER (ORDER BY file) AS file_rank FROM glob('${landing}/gateway/**')) files
    ON files.file = everything.filename;

-- A newer record of the same request replaces the earlier one (streaming gateways log growing
-- usage): latest end time, then the later file. Only keys seen more than once need the ordering.
CREATE OR REPLACE TEMP TABLE dup_keys AS
SELECT source_format, call_id FROM calls_all GROUP BY ALL HAVING count(*) > 1;

-- Pricing: per (provider, model, day), the price row of every total-input band. The highest-ranked
-- book pricing a model key on a day wins it whole; the call's own model id beats its base model (a
-- dated snapshot id falls back to it); of the rows that apply (threshold 0, or total input above
-- it) the highest threshold. Keys are derived once per distinct (provider, model, day), not per call.

CREATE OR REPLACE TEMP TABLE groups AS
SELECT provider_given, model, day, coalesce(aliases.provider, lower(trim(provider_given))) AS provider,
    lower(model) AS model_key, lower(regexp_replace(model, '-([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{8})$', '')) AS base_model_key
FROM (SELECT DISTINCT provider_given, model, occurred_at::DATE AS day FROM calls_all WHERE occurred_at < TIMESTAMP '${instant}') g
LEFT JOIN aliases ON aliases.alias = lower(trim(provider_given));

CREATE OR REPLACE TEMP TABLE bands AS
WITH cand AS (
    SELECT groups.provider_given, groups.model, groups.day, prices.price_key = groups.model_key AS own, prices.*
    FROM groups JOIN prices ON prices.provider = groups.provider AND prices.price_key IN (groups.model_key, groups.base_model_key)
        AND groups.day >= prices.effective_from AND (prices.effective_to IS NULL OR groups.day < prices.effective_to)
    QUALIFY book_rank = max(book_rank) OVER (PARTITION BY groups.provider_given, groups.model, groups.day, price_key)
),
breaks AS (  -- every group gets a band from -1 up: each call finds exactly one row (prices NULL: unpriced)
    SELECT DISTINCT provider_given, model, day, b
    FROM (SELECT provider_given, model, day, min_input AS b FROM cand UNION ALL SELECT provider_given, model, day, -1 FROM groups)
),
ranges AS (SELECT *, lead(b) OVER (PARTITION BY provider_given, model, day ORDER BY b) AS b_next FROM breaks)
SELECT r.provider_given, r.model, r.day, g.provider, r.b AS lo, r.b_next AS hi,
    price8(p_in) AS p_in, price8(p_cr) AS p_cr, price8(p_cw) AS p_cw, price8(p_cw1h) AS p_cw1h, price8(p_out) AS p_out, price8(p_rs) AS p_rs
FROM ranges r
JOIN groups g USING (provider_given, model, day)
LEFT JOIN cand c ON c.provider_given = r.provider_given AND c.model = r.model AND c.day = r.day
    AND (c.min_input = 0 OR c.min_input <= r.b)  -- the rows applying to every total input in (lo, hi]
QUALIFY row_number() OVER (PARTITION BY r.provider_given, r.model, r.day, r.b ORDER BY c.own DESC NULLS LAST, c.min_input DESC NULLS LAST) = 1;

-- cost = tokens x USD per Mtok / 1e6, in 1e-14 USD: tokens x (price x 1e8); the 1-hour part of the
-- cache writes at the 1-hour price
CREATE OR REPLACE TEMP TABLE calls AS
WITH deduplicated AS (
    SELECT * FROM calls_all ANTI JOIN dup_keys USING (source_format, call_id)
    UNION ALL
    SELECT * FROM (SELECT * FROM calls_all SEMI JOIN dup_keys USING (source_format, call_id))
    QUALIFY row_number() OVER (PARTITION BY source_format, call_id ORDER BY ended_at DESC, file_rank DESC) = 1
)
SELECT c.call_id, c.occurred_at, c.occurred_at::DATE AS day, b.provider, c.model, c.workflow_id, c.workflow_type, c.team,
    c.unc, c.cr, c.cw, c.vis, c.rs, b.p_in IS NOT NULL AS is_priced,
    c.unc * p_in AS cost_unc, c.cr * p_cr AS cost_cr, (c.cw - c.cw1h) * p_cw + c.cw1h * p_cw1h AS cost_cw,
    c.vis * p_out AS cost_vis, c.rs * p_rs AS cost_rs, cost_unc + cost_cr + cost_cw + cost_vis + cost_rs AS list_cost,
    c.unc + c.cr + c.cw + c.vis + c.rs AS total_tokens, attempt > 1 AS is_retry, coalesce(step = 'evaluate', FALSE) AS is_evaluator
FROM deduplicated c
JOIN bands b ON b.provider_given = c.provider_given AND b.model = c.model AND b.day = c.occurred_at::DATE
    AND c.unc + c.cr + c.cw > b.lo AND (b.hi IS NULL OR c.unc + c.cr + c.cw <= b.hi)
-- records stamped after the as-of instant wait for a later run
WHERE c.occurred_at < TIMESTAMP '${instant}';
DROP TABLE calls_all;

-- Invoices: FOCUS usage per provider-month (an identical row delivered again counts once); each
-- priced call's share = list cost x invoice / list total of its provider-month, exact to 14 places.

CREATE OR REPLACE TEMP TABLE provider_months AS
WITH focus AS (
    SELECT DISTINCT * FROM read_csv('${landing}/invoices/*/*/*.csv', header = true, all_varchar = true, union_by_name = true)
), invoiced AS (
    SELECT coalesce(aliases.provider, lower(trim(coalesce(nullif(trim(ServiceProviderName), ''), nullif(trim(ProviderName), ''))))) AS provider,
        date_trunc('month', utc(ChargePeriodStart))::DATE AS month, sum(trim(EffectiveCost)::DECIMAL(38, 14)) AS invoice_usd
    FROM focus LEFT JOIN aliases
        ON aliases.alias = lower(trim(coalesce(nullif(trim(ServiceProviderName), ''), nullif(trim(ProviderName), ''))))
    WHERE trim(ChargeCategory) = 'Usage' AND trim(BillingCurrency) = 'USD' AND utc(ChargePeriodStart) < TIMESTAMP '${instant}'
    GROUP BY ALL
), listed AS (
    SELECT provider, date_trunc('month', occurred_at)::DATE AS month, sum(list_cost) AS list_units FROM calls GROUP BY ALL
)
SELECT listed.provider, listed.month, units(invoiced.invoice_usd) AS bu, listed.list_units AS cu, abs(bu)::DOUBLE / cu::DOUBLE AS f
FROM listed JOIN invoiced USING (provider, month)
WHERE listed.list_units > 0;

CREATE OR REPLACE TEMP VIEW calls_allocated AS
SELECT c.*, CASE WHEN is_priced THEN alloc(c.list_cost, pm.bu, pm.cu, pm.f) END AS invoice_cost
FROM calls c LEFT JOIN provider_months pm ON pm.provider = c.provider AND pm.month = date_trunc('month', c.occurred_at)::DATE;

-- Workflows: type and team of the first call naming them; month of the first call.

CREATE OR REPLACE TEMP TABLE workflows AS
SELECT workflow_id,
    arg_min(workflow_type, (occurred_at, call_id)) FILTER (WHERE workflow_type IS NOT NULL) AS workflow_type,
    arg_min(team, (occurred_at, call_id)) FILTER (WHERE team IS NOT NULL) AS team,
    min(occurred_at) AS started_at, date_trunc('month', min(occurred_at))::DATE AS month,
    sum(total_tokens) AS total_tokens, sum(list_cost) AS list_cost, sum(invoice_cost) AS invoice_cost  -- 1e-14 USD
FROM calls_allocated WHERE workflow_id IS NOT NULL GROUP BY workflow_id;

-- Outcomes --------------------------------------------------------------------------------------

CREATE OR REPLACE TEMP TABLE deliveries AS
SELECT event, delivery_id, received_ts AS received_at, payload.action AS action,
    payload.repository.full_name AS repo_full_name, lower(payload.repository.full_name) AS repo,
    coalesce(payload.pull_request.number, payload.number) AS pr_number, payload.pull_request.title AS pr_title,
    payload.pull_request.body AS pr_body, payload.pull_request.state AS pr_state, coalesce(payload.pull_request.merged, FALSE) AS is_merged,
    utc(payload.pull_request.merged_at) AS merged_at, payload.pull_request.head.ref AS head_ref,
    coalesce(payload.pull_request.head.sha, payload.check_suite.head_sha) AS head_sha, payload.check_suite.status AS check_status,
    lower(payload.check_suite.conclusion) AS conclusion, coalesce(payload.check_suite.app.slug, payload.check_suite.app.id::VARCHAR) AS app
FROM (SELECT *, utc(received_at) AS received_ts FROM read_json('${landing}/outcomes/github/*/*/*/*.jsonl.gz',
    format = 'newline_delimited', filename = true, columns = {event: 'VARCHAR', delivery_id: 'VARCHAR', received_at: 'VARCHAR', payload: 'STRUCT(action VARCHAR, number BIGINT,
        pull_request STRUCT(number BIGINT, title VARCHAR, body VARCHAR, state VARCHAR, merged BOOLEAN, merged_at VARCHAR,
            head STRUCT(ref VARCHAR, sha VARCHAR)),
        check_suite STRUCT(head_sha VARCHAR, status VARCHAR, conclusion VARCHAR, app STRUCT(id BIGINT, slug VARCHAR)),
        repository STRUCT(full_name VARCHAR))'}))
WHERE event IN ('pull_request', 'check_suite')
-- the same delivery twice is one delivery: the copy received first
QUALIFY row_number() OVER (PARTITION BY delivery_id ORDER BY received_ts, filename) = 1;

CREATE OR REPLACE TEMP TABLE outcomes AS
WITH latest AS (  -- a PR's state is its latest delivery
    SELECT *, min(received_at) OVER (PARTITION BY repo, pr_number) AS first_event_at
    FROM deliveries WHERE event = 'pull_request' AND received_at < TIMESTAMP '${instant}'
    QUALIFY row_number() OVER (PARTITION BY repo, pr_number ORDER BY received_at DESC, delivery_id DESC) = 1
),
checks AS (  -- the latest completed suite per (head sha, app): a failed run re-run green is fine
    SELECT repo, head_sha, conclusion FROM deliveries
    WHERE event = 'check_suite' AND received_at < TIMESTAMP '${instant}' AND (action = 'completed' OR check_status = 'completed')
        AND conclusion IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY repo, head_sha, app ORDER BY received_at DESC, delivery_id DESC) = 1
),
failed_heads AS (SELECT DISTINCT repo, head_sha FROM checks WHERE conclusion NOT IN ('success', 'neutral', 'skipped')),
merged AS (SELECT repo, pr_number, pr_title, pr_body, merged_at FROM latest WHERE is_merged AND merged_at IS NOT NULL),
revert_refs AS (  -- what each merged PR's body says it reverts, as an equi-join key (no pairwise scan)
    SELECT repo, pr_number AS r_number, merged_at AS r_merged_at,
        unnest(regexp_extract_all(lower(coalesce(pr_body, '')), 'reverts\s+([a-z0-9_.-]+/[a-z0-9_.-]+#[0-9]+)', 1)) AS ref
    FROM merged
),
reverted AS (  -- by a merged revert (body reference or title) within 14 days of the merge
    SELECT o.repo, o.pr_number, r.r_number, r.r_merged_at
    FROM merged o JOIN revert_refs r ON r.repo = o.repo AND r.ref = o.repo || '#' || o.pr_number
    UNION ALL
    SELECT o.repo, o.pr_number, r.pr_number, r.merged_at
    FROM merged o JOIN merged r ON r.repo = o.repo AND r.pr_title = 'Revert "' || o.pr_title || '"'
),
github AS (
    SELECT 'github:' || l.repo_full_name || '#' || l.pr_number AS outcome_id,
        CASE WHEN l.is_merged THEN CASE WHEN f.head_sha IS NOT NULL THEN 'checks_failed' WHEN rv.pr_number IS NOT NULL THEN 'reverted'
                                        WHEN NOT (l.merged_at + INTERVAL 14 DAY <= TIMESTAMP '${instant}') THEN 'window_open'
                                        ELSE 'merged' END
             WHEN coalesce(l.pr_state, CASE WHEN l.action = 'closed' THEN 'closed' ELSE 'open' END) = 'closed' THEN 'closed_unmerged'
             ELSE 'open' END AS reason,
        CASE WHEN reason = 'merged' THEN 'verified_success' WHEN reason IN ('window_open', 'open') THEN 'pending' ELSE 'failed' END AS status,
        l.is_merged AS is_claimed, NULL::DECIMAL(38, 14) AS value_usd, l.first_event_at,
        regexp_extract_all(coalesce(l.pr_body, ''), '(?im)^[ \t]*workflow-id:[ \t]*([^ \t\r\n]+)[ \t]*\r?$', 1) AS trailers,
        CASE WHEN len(trailers) > 0 THEN trailers
             WHEN regexp_matches(coalesce(l.head_ref, ''), '^(agent|ai)/.+$') THEN [regexp_extract(l.head_ref, '^(?:agent|ai)/(.+)$', 1)]
             ELSE [] END AS links
    FROM latest l
    LEFT JOIN failed_heads f ON f.repo = l.repo AND f.head_sha = l.head_sha
    LEFT JOIN (SELECT DISTINCT r.repo, r.pr_number FROM reverted r JOIN merged o ON o.repo = r.repo AND o.pr_number = r.pr_number
               WHERE r.r_number <> r.pr_number AND r.r_merged_at >= o.merged_at AND r.r_merged_at < o.merged_at + INTERVAL 14 DAY) rv
        ON rv.repo = l.repo AND rv.pr_number = l.pr_number
),
statements AS (  -- generic events, one per (outcome_id, occurred_at): the first copy by file
    SELECT outcome_id, nullif(workflow_id, '') AS workflow_id, occurred_ts AS occurred_at, lower(status) AS status,
        verified, policy_passed, trim(value_usd)::DECIMAL(38, 14) AS value_usd, filename
    FROM (SELECT *, utc(occurred_at) AS occurred_ts FROM read_json('${landing}/outcomes/events/*/*/*/*.jsonl.gz',
        format = 'newline_delimited', filename = true, columns = {outcome_id: 'VARCHAR', workflow_id: 'VARCHAR',
        occurred_at: 'VARCHAR', status: 'VARCHAR', verified: 'BOOLEAN', policy_passed: 'BOOLEAN', value_usd: 'VARCHAR'}))
    QUALIFY row_number() OVER (PARTITION BY outcome_id, occurred_ts ORDER BY filename) = 1
),
generic AS (  -- the latest statement wins (a restatement replaces the earlier)
    SELECT outcome_id,
        CASE WHEN status = 'pending' THEN 'pending' WHEN status = 'accepted' AND verified IS TRUE AND policy_passed IS NOT FALSE THEN 'accepted'
             WHEN status = 'accepted' AND verified IS NOT TRUE THEN 'not_verified' WHEN status = 'accepted' THEN 'policy_failed'
             ELSE 'rejected' END AS reason,
        CASE reason WHEN 'accepted' THEN 'verified_success' WHEN 'pending' THEN 'pending' ELSE 'failed' END AS verdict,
        status = 'accepted' AS is_claimed, value_usd, first_event_at,
        CASE WHEN workflow_id IS NOT NULL THEN [workflow_id] ELSE [] END AS links
    FROM (SELECT *, min(occurred_at) OVER (PARTITION BY outcome_id) AS first_event_at
          FROM statements WHERE occurred_at < TIMESTAMP '${instant}'
          QUALIFY row_number() OVER (PARTITION BY outcome_id ORDER BY occurred_at DESC, filename DESC) = 1)
)
SELECT outcome_id, status, is_claimed, value_usd, first_event_at, links FROM github
UNION ALL
SELECT outcome_id, verdict, is_claimed, value_usd, first_event_at, links FROM generic;

-- A workflow links to at most one outcome (the one whose first event came first); an outcome
-- belongs to the group of its earliest linked workflow.
CREATE OR REPLACE TEMP TABLE workflow_links AS
WITH candidates AS (SELECT DISTINCT outcome_id, first_event_at, unnest(links) AS workflow_id FROM outcomes)
SELECT c.workflow_id, arg_min(c.outcome_id, (c.first_event_at, c.outcome_id)) AS outcome_id
FROM candidates c JOIN workflows w ON w.workflow_id = c.workflow_id
GROUP BY c.workflow_id;

CREATE OR REPLACE TEMP TABLE outcome_groups AS
SELECT o.outcome_id, o.status, o.is_claimed, o.value_usd,
    arg_min(w.workflow_type, (w.started_at, w.workflow_id)) AS workflow_type,
    arg_min(w.team, (w.started_at, w.workflow_id)) AS team,
    arg_min(w.month, (w.started_at, w.workflow_id)) AS month
FROM outcomes o JOIN workflow_links l ON l.outcome_id = o.outcome_id JOIN workflows w ON w.workflow_id = l.workflow_id
GROUP BY ALL;

-- The marts ---------------------------------------------------------------------------------------

CREATE SCHEMA IF NOT EXISTS marts;

CREATE OR REPLACE TABLE marts.token_pnl_daily AS
SELECT c.day,
    coalesce(w.team, c.team, '(unattributed)') AS team,
    coalesce(w.workflow_type, c.workflow_type, '(unattributed)') AS workflow_type,
    c.provider, c.model,
    count(*) AS calls, count(*) FILTER (WHERE c.is_retry) AS retry_calls,
    sum(c.unc) AS input_uncached_tokens, sum(c.cr) AS input_cache_read_tokens, sum(c.cw) AS input_cache_write_tokens,
    sum(c.vis) AS output_visible_tokens, sum(c.rs) AS output_reasoning_tokens, sum(c.total_tokens) AS total_tokens,
    coalesce(sum(c.total_tokens) FILTER (WHERE c.is_retry), 0) AS retry_tokens,
    coalesce(sum(c.total_tokens) FILTER (WHERE c.is_evaluator), 0) AS evaluator_tokens,
    usd(sum(c.cost_unc)) AS cost_input_uncached_usd, usd(sum(c.cost_cr)) AS cost_input_cache_read_usd,
    usd(sum(c.cost_cw)) AS cost_input_cache_write_usd, usd(sum(c.cost_vis)) AS cost_output_visible_usd,
    usd(sum(c.cost_rs)) AS cost_output_reasoning_usd, usd(sum(c.list_cost)) AS list_cost_usd, usd(sum(c.invoice_cost)) AS invoice_cost_usd,
    count(*) FILTER (WHERE NOT c.is_priced) AS unpriced_calls,
    ratio(sum(c.cr), sum(c.unc + c.cr + c.cw)) AS cache_hit_rate,
    ratio(count(*) FILTER (WHERE c.cr > 0), count(*)) AS request_cache_hit_rate,
    ratio(sum(c.rs), sum(c.vis + c.rs)) AS reasoning_token_ratio,
    ratio(coalesce(sum(c.total_tokens) FILTER (WHERE c.is_retry), 0), sum(c.total_tokens)) AS retry_token_ratio
FROM calls_allocated c LEFT JOIN workflows w ON w.workflow_id = c.workflow_id
GROUP BY ALL;

CREATE OR REPLACE TABLE marts.cost_per_verified_success AS
WITH wf AS (
    SELECT w.month, coalesce(w.workflow_type, '(unattributed)') AS workflow_type, coalesce(w.team, '(unattributed)') AS team,
        count(*) AS workflows,
        -- no linked outcome outcome_grace_days (14) after its start: no_outcome
        count(*) FILTER (WHERE l.outcome_id IS NULL AND w.started_at + INTERVAL 14 DAY <= TIMESTAMP '${instant}') AS no_outcome,
        usd(sum(w.list_cost)) AS list_cost_usd, usd(sum(w.invoice_cost)) AS invoice_cost_usd, sum(w.total_tokens) AS total_tokens
    FROM workflows w LEFT JOIN workflow_links l ON l.workflow_id = w.workflow_id
    GROUP BY ALL
),
oc AS (
    SELECT month, coalesce(workflow_type, '(unattributed)') AS workflow_type, coalesce(team, '(unattributed)') AS team,
        count(*) AS outcomes, count(*) FILTER (WHERE status = 'verified_success') AS verified_successes,
        count(*) FILTER (WHERE is_claimed) AS claimed_successes, count(*) FILTER (WHERE status = 'pending') AS pending,
        count(*) FILTER (WHERE status = 'failed') AS failed,
        sum(value_usd) FILTER (WHERE status = 'verified_success') AS verified_value_usd
    FROM outcome_groups GROUP BY ALL
)
SELECT wf.month, wf.workflow_type, wf.team, wf.workflows,
    coalesce(oc.outcomes, 0) AS outcomes, coalesce(oc.verified_successes, 0) AS verified_successes,
    coalesce(oc.claimed_successes, 0) AS claimed_successes, coalesce(oc.pending, 0) AS pending, coalesce(oc.failed, 0) AS failed,
    wf.no_outcome, wf.list_cost_usd, wf.invoice_cost_usd, wf.total_tokens, oc.verified_value_usd,
    money_div(wf.list_cost_usd, oc.verified_successes) AS cost_per_verified_success_usd,
    money_div(wf.invoice_cost_usd, oc.verified_successes) AS invoice_cost_per_verified_success_usd,
    money_div(wf.list_cost_usd, oc.claimed_successes) AS cost_per_claimed_success_usd,
    ratio(wf.total_tokens, oc.verified_successes) AS tokens_per_verified_success,
    ratio(oc.verified_successes, oc.verified_successes + oc.failed) AS verified_success_rate,
    money_div(oc.verified_value_usd - wf.list_cost_usd, oc.verified_successes) AS gross_margin_per_trusted_outcome_usd
FROM wf LEFT JOIN oc USING (month, workflow_type, team);
