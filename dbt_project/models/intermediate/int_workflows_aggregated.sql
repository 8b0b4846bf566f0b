-- One row per workflow: the calls sharing a workflow_id. Its start is its first call; its type
-- and team are those of its first call that names them; it belongs to the month it started in.
-- Incremental: a night aggregates again only the workflows of changed calls (int_workflows_changed).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
          pre_hook=before_begin("{{ tokenpnl.delete_changed('int_workflows_changed', ['workflow_id']) }}")) }}
-- depends_on: {{ ref('int_llm_call_days_changed') }}
-- depends_on: {{ ref('int_workflows_changed') }}
select
    workflow_id,
    {{ tokenpnl.first_named('workflow_type', 'occurred_at, call_id') }} as workflow_type,
    {{ tokenpnl.first_named('team', 'occurred_at, call_id') }} as team,
    min(occurred_at) as started_at,
    max(occurred_at) as ended_at,
    cast(date_trunc('month', min(occurred_at)) as date) as month,
    count(*) as calls,
    count(*) filter (where attempt > 1) as retry_calls,
    count(*) filter (where step = 'evaluate') as evaluator_calls,
    sum(input_uncached_tokens) as input_uncached_tokens,
    sum(input_cache_read_tokens) as input_cache_read_tokens,
    sum(input_cache_write_tokens) as input_cache_write_tokens,
    sum(output_visible_tokens) as output_visible_tokens,
    sum(output_reasoning_tokens) as output_reasoning_tokens,
    sum(input_uncached_tokens + input_cache_read_tokens + input_cache_write_tokens
        + output_visible_tokens + output_reasoning_tokens) as total_tokens,
    sum(list_cost_usd) as list_cost_usd,
    sum(invoice_cost_usd) as invoice_cost_usd,
    count(*) filter (where not is_priced) as unpriced_calls
from {{ tokenpnl.changed_rows(ref('int_llm_calls_allocated'), 'int_workflows_changed', ['workflow_id']) }} as calls
where workflow_id is not null
group by workflow_id
