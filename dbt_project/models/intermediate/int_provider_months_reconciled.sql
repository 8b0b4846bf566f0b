-- List cost of each provider's calls per month against what the provider billed for usage.
with calls as (
    select
        provider,
        cast(date_trunc('month', occurred_at) as date) as month,
        count(*) as calls,
        sum(list_cost_usd) as list_cost_usd,
        sum(gateway_reported_cost_usd) as gateway_reported_cost_usd
    from {{ ref('int_llm_calls_priced') }}
    group by all
),

invoices as (
    select
        provider,
        month,
        sum(effective_cost_usd) filter (where charge_category = 'Usage') as invoice_usage_cost_usd,
        -- Purchases, taxes, credits and adjustments are reported, never allocated to calls.
        coalesce(sum(effective_cost_usd) filter (where charge_category <> 'Usage'), 0) as non_usage_charges_usd
    from {{ ref('int_invoice_charges_converted') }}
    group by all
),

joined as (
    select
        coalesce(calls.provider, invoices.provider) as provider,
        coalesce(calls.month, invoices.month) as month,
        coalesce(calls.calls, 0) as calls,
        calls.list_cost_usd,
        calls.gateway_reported_cost_usd,
        invoices.invoice_usage_cost_usd,
        coalesce(invoices.non_usage_charges_usd, 0) as non_usage_charges_usd
    from calls
    full outer join invoices
        on invoices.provider = calls.provider
        and invoices.month = calls.month
)

select
    *,
    invoice_usage_cost_usd - list_cost_usd as variance_usd,
    {{ tokenpnl.ratio('invoice_usage_cost_usd - list_cost_usd', 'list_cost_usd') }} * 100 as variance_pct,
    {{ tokenpnl.ratio('invoice_usage_cost_usd', 'list_cost_usd') }} as allocation_factor,
    case
        when invoice_usage_cost_usd is null then 'awaiting_invoice'
        when coalesce(list_cost_usd, 0) = 0 then 'unallocated'
        when abs({{ tokenpnl.ratio('invoice_usage_cost_usd - list_cost_usd', 'list_cost_usd') }} * 100)
            > {{ var('reconciliation_tolerance_pct') }} then 'over_tolerance'
        else 'reconciled'
    end as status
from joined
