-- Invoice charges in USD with normalised provider names: FOCUS rows, and provider cost report
-- rows (OpenAI Costs API, Anthropic cost report) as Usage charges. Amounts of all sources add
-- up for the same provider-month (a user drops each bill once). Non-USD amounts use the rate of
-- the charge's ChargePeriodStart (bucket start) day; a missing rate leaves the amount NULL and
-- fails the `assert_fx_rate_for_every_charge` test, so the run stops and the last publication stays.
with charges as (
    select
        row_hash,
        'focus' as invoice_source,
        provider_raw,
        charge_month,
        charge_day,
        charge_period_start,
        charge_category,
        charge_class,
        billing_currency,
        effective_cost,
        invoice_id,
        source_file,
        source_line
    from {{ ref('stg_focus__charges') }}

    union all

    -- Cost reports: already in currency units (Anthropic cents converted in staging).
    select
        row_key as row_hash,
        source as invoice_source,
        provider_raw,
        charge_month,
        charge_day,
        bucket_start as charge_period_start,
        'Usage' as charge_category,
        cast(null as varchar) as charge_class,
        currency as billing_currency,
        cost_in_currency as effective_cost,
        cast(null as varchar) as invoice_id,
        source_file,
        source_line
    from {{ ref('stg_provider_costs__cost_rows') }}
)

select
    charges.row_hash,
    charges.invoice_source,
    coalesce(aliases.provider, charges.provider_raw) as provider,
    charges.charge_month as month,
    charges.charge_day,
    charges.charge_period_start,
    charges.charge_category,
    charges.charge_class,
    charges.billing_currency,
    charges.effective_cost,
    case
        when charges.billing_currency = 'USD' then charges.effective_cost
        else cast(charges.effective_cost * cast(fx.usd_per_unit as decimal(20, 10)) as decimal(38, 14))
    end as effective_cost_usd,
    charges.billing_currency <> 'USD' and fx.usd_per_unit is null as is_missing_fx_rate,
    charges.invoice_id,
    charges.source_file,
    charges.source_line
from charges
left join {{ ref('stg_providers__aliases') }} as aliases
    on aliases.alias = charges.provider_raw
left join {{ ref('stg_fx__rates') }} as fx
    on fx.currency = charges.billing_currency
    and fx.day = charges.charge_day
where charges.charge_period_start < {{ tokenpnl.as_of_instant() }}
