-- Allocated invoice cost adds up to the invoice, per provider and month, up to the rounding of
-- each call's share to 14 decimals (at most half a unit of 1e-14 per call).
{{ config(meta={'dagster': {'asset_key': ['marts', 'invoice_reconciliation']}}) }}
with allocated as (
    select provider, cast(date_trunc('month', occurred_at) as date) as month,
           sum(invoice_cost_usd) as allocated_usd, count(invoice_cost_usd) as allocated_calls
    from {{ ref('fct_llm_calls') }}
    group by all
)
select months.provider, months.month, months.invoice_usage_cost_usd, allocated.allocated_usd
from {{ ref('invoice_reconciliation') }} as months
inner join allocated using (provider, month)
where months.status in ('reconciled', 'over_tolerance')
  and abs(allocated.allocated_usd - months.invoice_usage_cost_usd) > allocated.allocated_calls * 0.000000000000005
