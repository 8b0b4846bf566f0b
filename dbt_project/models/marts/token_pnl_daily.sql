-- One row per day x team x workflow_type x provider x model: the token P&L by the day each
-- call occurred. Team and type come from the call's workflow, else the call, else '(unattributed)'.
-- Incremental: a night sums again only the days whose calls changed (int_pnl_days_changed).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
          pre_hook=before_begin("{{ tokenpnl.delete_changed('int_pnl_days_changed', ['day']) }}")) }}
-- depends_on: {{ ref('int_llm_call_days_changed') }}
-- depends_on: {{ ref('int_pnl_days_changed') }}
select
    calls.day,
    coalesce(workflows.team, calls.team, '(unattributed)') as team,
    coalesce(workflows.workflow_type, calls.workflow_type, '(unattributed)') as workflow_type,
    calls.provider,
    calls.model,
    count(*) as calls,
    count(*) filter (where calls.is_retry) as retry_calls,
    sum(calls.input_uncached_tokens) as input_uncached_tokens,
    sum(calls.input_cache_read_tokens) as input_cache_read_tokens,
    sum(calls.input_cache_write_tokens) as input_cache_write_tokens,
    sum(calls.output_visible_tokens) as output_visible_tokens,
    sum(calls.output_reasoning_tokens) as output_reasoning_tokens,
    sum(calls.total_tokens) as total_tokens,
    coalesce(sum(calls.total_tokens) filter (where calls.is_retry), 0) as retry_tokens,
    coalesce(sum(calls.total_tokens) filter (where calls.is_evaluator), 0) as evaluator_tokens,
    sum(calls.cost_input_uncached_usd) as cost_input_uncached_usd,
    sum(calls.cost_input_cache_read_usd) as cost_input_cache_read_usd,
    sum(calls.cost_input_cache_write_usd) as cost_input_cache_write_usd,
    sum(calls.cost_output_visible_usd) as cost_output_visible_usd,
    sum(calls.cost_output_reasoning_usd) as cost_output_reasoning_usd,
    sum(calls.list_cost_usd) as list_cost_usd,
    sum(calls.invoice_cost_usd) as invoice_cost_usd,
    count(*) filter (where not calls.is_priced) as unpriced_calls,
    {{ tokenpnl.ratio('sum(calls.input_cache_read_tokens)',
        'sum(calls.input_uncached_tokens + calls.input_cache_read_tokens + calls.input_cache_write_tokens)') }} as cache_hit_rate,
    {{ tokenpnl.ratio('count(*) filter (where calls.input_cache_read_tokens > 0)', 'count(*)') }} as request_cache_hit_rate,
    {{ tokenpnl.ratio('sum(calls.output_reasoning_tokens)',
        'sum(calls.output_visible_tokens + calls.output_reasoning_tokens)') }} as reasoning_token_ratio,
    {{ tokenpnl.ratio('coalesce(sum(calls.total_tokens) filter (where calls.is_retry), 0)', 'sum(calls.total_tokens)') }} as retry_token_ratio
from {{ tokenpnl.changed_rows(ref('fct_llm_calls'), 'int_pnl_days_changed', ['day']) }} as calls
left join {{ ref('fct_workflows') }} as workflows
    on workflows.workflow_id = calls.workflow_id
group by all
