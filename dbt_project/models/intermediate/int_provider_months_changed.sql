-- Each provider-month's allocation fingerprint (its usage invoice and, once invoiced, its list
-- total) against the last complete build's: a change re-allocates every call of the month.
-- A month awaiting its invoice allocates nothing, so its new calls change no other call.
with current_months as (
    select
        provider,
        month,
        concat_ws('|', '{{ tokenpnl.logic_checksum() }}', coalesce(cast(invoice_usage_cost_usd as varchar), 'awaiting'),
            case when invoice_usage_cost_usd is not null then cast(list_cost_usd as varchar) end) as fingerprint
    from {{ ref('int_provider_months_reconciled') }}
),

committed as (
    {{ tokenpnl.committed_fingerprints('provider_month') }}
)

select
    coalesce(current_months.provider, split_part(committed.key, '|', 1)) as provider,
    coalesce(current_months.month, cast(split_part(committed.key, '|', 2) as date)) as month,
    current_months.fingerprint,
    current_months.fingerprint is distinct from committed.fingerprint as is_changed
from current_months
full outer join committed
    on committed.key = current_months.provider || '|' || cast(current_months.month as varchar)
