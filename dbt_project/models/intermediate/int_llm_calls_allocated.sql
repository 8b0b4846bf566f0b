-- Each priced call's share of its provider-month invoice: list cost x invoice / list total,
-- exact to 14 decimals. NULL while the month awaits its invoice or has no priced list cost.
select
    calls.*,
    case when calls.is_priced then
        {{ tokenpnl.money_muldiv('calls.list_cost_usd', 'months.invoice_usage_cost_usd', 'months.list_cost_usd') }}
    end as invoice_cost_usd
from {{ ref('int_llm_calls_priced') }} as calls
left join {{ ref('int_provider_months_reconciled') }} as months
    on months.provider = calls.provider
    and months.month = cast(date_trunc('month', calls.occurred_at) as date)
