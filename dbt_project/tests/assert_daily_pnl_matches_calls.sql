-- The daily P&L and the call ledger hold the same calls, tokens and list cost.
{{ config(meta={'dagster': {'asset_key': ['marts', 'token_pnl_daily']}}) }}
with daily as (
    select sum(calls) as calls, sum(total_tokens) as tokens, sum(list_cost_usd) as cost from {{ ref('token_pnl_daily') }}
), ledger as (
    select count(*) as calls, sum(total_tokens) as tokens, sum(list_cost_usd) as cost from {{ ref('fct_llm_calls') }}
)
select * from daily, ledger
where daily.calls <> ledger.calls or daily.tokens <> ledger.tokens or daily.cost is distinct from ledger.cost
