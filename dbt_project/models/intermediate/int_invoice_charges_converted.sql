-- Invoice charges in USD with normalised provider names. Non-USD amounts use the rate of the
-- charge's ChargePeriodStart day; a missing rate leaves the amount NULL and fails the
-- `assert_fx_rate_for_every_charge` test, so the run stops and the last publication stays.
select
    charges.row_hash,
    'focus' as invoice_source,
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
        else cast(charges.effective_cost * fx.usd_per_unit as decimal(38, 14))
    end as effective_cost_usd,
    charges.billing_currency <> 'USD' and fx.usd_per_unit is null as is_missing_fx_rate,
    charges.invoice_id,
    charges.source_file,
    charges.source_line
from {{ ref('stg_focus__charges') }} as charges
left join {{ ref('stg_providers__aliases') }} as aliases
    on aliases.alias = charges.provider_raw
left join {{ ref('stg_fx__rates') }} as fx
    on fx.currency = charges.billing_currency
    and fx.day = charges.charge_day
where charges.charge_period_start < {{ tokenpnl.as_of_instant() }}
