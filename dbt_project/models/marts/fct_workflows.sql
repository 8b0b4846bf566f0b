-- One row per workflow with its linked outcome's status. With no outcome it is `pending`
-- until outcome_grace_days after its start, then `no_outcome`.
select
    workflows.workflow_id,
    workflows.workflow_type,
    workflows.team,
    workflows.started_at,
    workflows.ended_at,
    workflows.month,
    workflows.calls,
    workflows.retry_calls,
    workflows.evaluator_calls,
    workflows.total_tokens,
    workflows.input_uncached_tokens,
    workflows.input_cache_read_tokens,
    workflows.input_cache_write_tokens,
    workflows.output_visible_tokens,
    workflows.output_reasoning_tokens,
    workflows.list_cost_usd,
    workflows.invoice_cost_usd,
    workflows.unpriced_calls,
    links.outcome_id,
    case
        when outcomes.status is not null then outcomes.status
        when {{ tokenpnl.window_passed('workflows.started_at', var('outcome_grace_days')) }} then 'no_outcome'
        else 'pending'
    end as outcome_status
from {{ ref('int_workflows_aggregated') }} as workflows
left join {{ ref('int_workflows_linked') }} as links
    on links.workflow_id = workflows.workflow_id
left join {{ ref('int_outcomes_verified') }} as outcomes
    on outcomes.outcome_id = links.outcome_id
