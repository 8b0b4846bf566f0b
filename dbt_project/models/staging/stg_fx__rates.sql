-- Daily FX rates (USD per unit), one per day and currency: the first row by file path and line.
-- The same rate twice is fine; a different rate for the same day and currency is quarantined
-- (int_source_keys_conflicted) and fails the run (`assert_fx_rates_unambiguous`).
select day, upper(currency) as currency, usd_per_unit, source_file, line as source_line
from {{ source('raw', 'fx_rates') }}
{{ tokenpnl.keep_first_copy('fx_rates') }}
