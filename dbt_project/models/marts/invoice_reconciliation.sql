-- One row per provider x month: list cost of the calls against the provider's usage invoice.
select
    provider,
    month,
    calls,
    list_cost_usd,
    gateway_reported_cost_usd,
    invoice_usage_cost_usd,
    variance_usd,
    variance_pct,
    allocation_factor,
    non_usage_charges_usd,
    status
from {{ ref('int_provider_months_reconciled') }}
