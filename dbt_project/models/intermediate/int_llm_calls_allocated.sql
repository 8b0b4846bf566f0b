-- Each priced call's share of its provider-month invoice: list cost x invoice / list total,
-- exact to 14 decimals. NULL while the month awaits its invoice or has no priced list cost.
-- In integer units of 1e-14 USD (see units_muldiv): priced brings most calls' list cost so, and
-- converting a DECIMAL costs more than the allocation itself.
with calls as (
    select
        * exclude (list_cost_e14),
        coalesce(list_cost_e14, {{ tokenpnl.money_units('list_cost_usd') }}) as list_cost_units
    from {{ ref('int_llm_calls_priced') }}
),

months as (
    select
        provider,
        month,
        {{ tokenpnl.money_units('invoice_usage_cost_usd') }} as invoice_units,
        {{ tokenpnl.money_units('list_cost_usd') }} as list_units
    from {{ ref('int_provider_months_reconciled') }}
)

select
    calls.* exclude (list_cost_units),
    case when calls.is_priced then
        {{ tokenpnl.units_muldiv('calls.list_cost_units', 'months.invoice_units', 'months.list_units') }}
    end as invoice_cost_usd
from calls
left join months
    on months.provider = calls.provider
    and months.month = cast(date_trunc('month', calls.occurred_at) as date)
