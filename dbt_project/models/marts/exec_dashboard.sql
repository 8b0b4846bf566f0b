-- One row per month: the executive tokenomics dashboard. Spend, tokens, calls and ratios cover
-- every call of the month (unattributed included); the per-workflow and per-outcome figures
-- use the workflows started in the month, exactly as cost_per_verified_success summed.
with calls as (
    select
        cast(date_trunc('month', day) as date) as month,
        count(*) as calls,
        sum(total_tokens) as total_tokens,
        sum(list_cost_usd) as list_cost_usd,
        sum(invoice_cost_usd) as invoice_cost_usd,
        coalesce(sum(total_tokens) filter (where is_retry), 0) as retry_tokens,
        sum(output_reasoning_tokens) as reasoning_tokens,
        sum(output_visible_tokens + output_reasoning_tokens) as output_tokens,
        sum(input_cache_read_tokens) as cache_read_tokens,
        sum(input_uncached_tokens + input_cache_read_tokens + input_cache_write_tokens) as input_tokens,
        coalesce(sum(list_cost_usd) filter (where is_evaluator), 0) as evaluator_cost_usd,
        count(*) filter (where not is_priced) as unpriced_calls
    from {{ ref('fct_llm_calls') }}
    group by all
),

groups as (
    select
        month,
        sum(workflows) as workflows,
        sum(list_cost_usd) as list_cost_usd,
        sum(total_tokens) as total_tokens,
        sum(verified_successes) as verified_successes,
        sum(verified_value_usd) as verified_value_usd
    from {{ ref('cost_per_verified_success') }}
    group by all
)

select
    coalesce(calls.month, groups.month) as month,
    coalesce(calls.calls, 0) as calls,
    coalesce(groups.workflows, 0) as workflows,
    coalesce(calls.total_tokens, 0) as total_tokens,
    calls.list_cost_usd,
    calls.invoice_cost_usd,
    {{ tokenpnl.money_div('calls.list_cost_usd * 1000000', 'calls.total_tokens') }} as cost_per_mtok_usd,
    {{ tokenpnl.money_div('calls.list_cost_usd', 'calls.calls') }} as cost_per_request_usd,
    {{ tokenpnl.money_div('groups.list_cost_usd', 'groups.workflows') }} as cost_per_workflow_usd,
    {{ tokenpnl.money_div('groups.list_cost_usd', 'groups.verified_successes') }} as cost_per_verified_success_usd,
    {{ tokenpnl.ratio('groups.total_tokens', 'groups.verified_successes') }} as tokens_per_verified_success,
    {{ tokenpnl.ratio('calls.retry_tokens', 'calls.total_tokens') }} as retry_token_ratio,
    {{ tokenpnl.ratio('calls.reasoning_tokens', 'calls.output_tokens') }} as reasoning_token_ratio,
    {{ tokenpnl.ratio('calls.cache_read_tokens', 'calls.input_tokens') }} as cache_hit_rate,
    {{ tokenpnl.ratio('calls.evaluator_cost_usd', 'calls.list_cost_usd') }} as eval_overhead_ratio,
    {{ tokenpnl.money_div('groups.verified_value_usd - groups.list_cost_usd', 'groups.verified_successes') }}
        as gross_margin_per_trusted_outcome_usd,
    coalesce(calls.unpriced_calls, 0) as unpriced_calls
from calls
full outer join groups
    on groups.month = calls.month
