-- Each priced call's share of its provider-month invoice: list cost x invoice / list total,
-- exact to 14 decimals. NULL while the month awaits its invoice or has no priced list cost.
-- In integer units of 1e-14 USD (see units_muldiv): priced brings most calls' list cost so, and
-- converting a DECIMAL costs more than the allocation itself.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
          pre_hook=before_begin("{{ tokenpnl.delete_changed_calls(by_month=true) }}")) }}
-- depends_on: {{ ref('int_llm_call_days_changed') }}
-- depends_on: {{ ref('int_llm_call_keys_changed') }}
-- depends_on: {{ ref('int_llm_call_versions_changed') }}
-- depends_on: {{ ref('int_provider_months_changed') }}
with calls as (
    -- Incrementally: the changed calls and every call of a re-allocated provider-month.
    select
        * exclude (list_cost_e14),
        coalesce(list_cost_e14, {{ tokenpnl.money_units('list_cost_usd') }}) as list_cost_units
    from {{ tokenpnl.changed_calls('int_llm_calls_priced', by_month=true) }} as priced
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
    calls.* exclude (list_cost_units) replace ({{ tokenpnl.built_at() }} as _built_at),
    case when calls.is_priced then
        {{ tokenpnl.units_muldiv('calls.list_cost_units', 'months.invoice_units', 'months.list_units') }}
    end as invoice_cost_usd
from calls
left join months
    on months.provider = calls.provider
    and months.month = cast(date_trunc('month', calls.occurred_at) as date)
