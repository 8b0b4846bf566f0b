-- FOCUS rows, one per distinct row identity (a re-delivered row adds nothing).
select
    row_hash,
    billing_account_id,
    billing_period_start,
    billing_period_end,
    charge_period_start,
    charge_period_end,
    cast(date_trunc('month', charge_period_start) as date) as charge_month,
    cast(charge_period_start as date) as charge_day,
    charge_category,
    charge_class,
    lower(trim(provider)) as provider_raw,
    service_name,
    sku_id,
    charge_description,
    consumed_quantity,
    consumed_unit,
    billed_cost,
    effective_cost,
    list_cost,
    billing_currency,
    invoice_id,
    _source_file as source_file,
    _line as source_line
from {{ source('raw', 'focus_charges') }}
qualify row_number() over (partition by row_hash order by _source_file, _line) = 1
