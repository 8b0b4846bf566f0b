-- Fails the run when a non-USD charge has no rate for its ChargePeriodStart day: the rows
-- returned name the currency and the day to add to LANDING/fx_rates/.
{{ config(store_failures=true, meta={'dagster': {'asset_key': ['intermediate', 'int_invoice_charges_converted']}}) }}
select billing_currency as currency, charge_day as day, count(*) as charges, min(source_file) as example_file
from {{ ref('int_invoice_charges_converted') }}
where is_missing_fx_rate
group by all
