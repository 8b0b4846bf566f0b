-- Fails the run when LANDING/fx_rates/ gives two different rates for the same currency and day:
-- money depends on the rate, so a conflict is not settled silently. Until then the first row (by
-- file path and line) is the rate, and the other is in marts.quarantine. The rows returned name
-- the currency and day, the file and line of both rows and both rates: remove the wrong row.
-- Reads the quarantine mart (not int_source_keys_conflicted) so that the mart is built first and
-- the build file shows the conflict.
{{ config(store_failures=true, meta={'dagster': {'asset_key': ['marts', 'quarantine']}}) }}
select source_file, line, reason, raw_excerpt
from {{ ref('quarantine') }}
where source_kind = 'fx_rates' and reason like 'conflict:%'
