-- One row per distinct LLM call up to the as-of instant. Incremental like its input.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
          pre_hook=before_begin("{{ tokenpnl.delete_changed_calls(by_month=true) }}")) }}
-- depends_on: {{ ref('int_llm_call_days_changed') }}
-- depends_on: {{ ref('int_llm_call_keys_changed') }}
-- depends_on: {{ ref('int_llm_call_versions_changed') }}
-- depends_on: {{ ref('int_provider_months_changed') }}
select
    call_id,
    source_format,
    occurred_at,
    day,
    provider,
    model,
    workflow_id,
    workflow_type,
    step,
    attempt,
    attempt > 1 as is_retry,
    coalesce(step = 'evaluate', false) as is_evaluator,
    team,
    user_key,
    status,
    input_uncached_tokens,
    input_cache_read_tokens,
    input_cache_write_tokens,
    input_cache_write_1h_tokens,
    output_visible_tokens,
    output_reasoning_tokens,
    input_uncached_tokens + input_cache_read_tokens + input_cache_write_tokens
        + output_visible_tokens + output_reasoning_tokens as total_tokens,
    cost_input_uncached_usd,
    cost_input_cache_read_usd,
    cost_input_cache_write_usd,
    cost_output_visible_usd,
    cost_output_reasoning_usd,
    list_cost_usd,
    is_priced,
    priced_model,
    invoice_cost_usd,
    gateway_reported_cost_usd,
    price_tier,
    routed_from_model,
    api,
    latency_ms,
    api_key_pseudonym,
    source_file,
    source_line
from {{ tokenpnl.changed_calls('int_llm_calls_allocated', by_month=true) }} as allocated
