select day, upper(currency) as currency, usd_per_unit
from {{ source('raw', 'fx_rates') }}
qualify row_number() over (partition by day, upper(currency) order by usd_per_unit) = 1
