-- The fingerprints this build made good, read by the next night's int_llm_call_days_changed and
-- int_provider_months_changed. Built after every incremental model (depends_on below): when any of
-- them fails, the old fingerprints stay and the next night rebuilds the same calls again.
-- depends_on: {{ ref('int_llm_calls_deduplicated') }}
-- depends_on: {{ ref('int_llm_calls_priced') }}
-- depends_on: {{ ref('int_llm_calls_allocated') }}
-- depends_on: {{ ref('fct_llm_calls') }}
-- depends_on: {{ ref('int_workflows_aggregated') }}
-- depends_on: {{ ref('fct_workflows') }}
-- depends_on: {{ ref('token_pnl_daily') }}
select 'day' as scope, cast(day as varchar) as key, fingerprint
from {{ ref('int_llm_call_days_changed') }}
where fingerprint is not null
union all
select 'provider_month' as scope, provider || '|' || cast(month as varchar) as key, fingerprint
from {{ ref('int_provider_months_changed') }}
where fingerprint is not null
