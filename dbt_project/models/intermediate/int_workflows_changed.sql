-- The workflows this run aggregates again: every workflow named by any raw version of a changed
-- call (a newer version may move a call to another workflow, or past the as-of instant), and
-- every workflow with a call in a re-allocated provider-month. Unused when every day changed:
-- int_workflows_aggregated then takes every workflow.
select workflow_id
from {{ ref('int_llm_call_versions_changed') }}
where workflow_id is not null
union
select calls.workflow_id
from {{ ref('int_llm_calls_allocated') }} as calls
semi join (select * from {{ ref('int_provider_months_changed') }} where is_changed) as changed
    on changed.provider = calls.provider
    and changed.month = cast(date_trunc('month', calls.occurred_at) as date)
where calls.workflow_id is not null
    and {{ tokenpnl.in_changed_months('calls.occurred_at') }}
