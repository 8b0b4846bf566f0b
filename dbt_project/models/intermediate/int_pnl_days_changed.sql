-- The days token_pnl_daily sums again: the day of every raw version of a changed call (its old
-- row's day and its new one), every day with a call of a re-aggregated workflow (a late call can
-- change the team or type the workflow lends its calls), and every day of a re-allocated
-- month. Unused when every day changed: token_pnl_daily then sums every day.
select day
from {{ ref('int_llm_call_versions_changed') }}
union
select calls.day
from {{ ref('fct_llm_calls') }} as calls
semi join {{ ref('int_workflows_changed') }} as changed
    on changed.workflow_id = calls.workflow_id
union
select cast(unnest(generate_series(month, month + interval 1 month - interval 1 day, interval 1 day)) as date)
from {{ ref('int_provider_months_changed') }}
where is_changed
