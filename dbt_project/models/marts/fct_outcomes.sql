-- One row per outcome. It belongs to the group (type, team, month) of its earliest linked
-- workflow; outcomes linked to no workflow are kept with linked_workflows = 0.
with links as (
    select
        links.outcome_id,
        count(*) as linked_workflows,
        min(workflows.started_at) as first_workflow_started_at,
        arg_min(workflows.workflow_type, (workflows.started_at, workflows.workflow_id)) as workflow_type,
        arg_min(workflows.team, (workflows.started_at, workflows.workflow_id)) as team,
        arg_min(workflows.month, (workflows.started_at, workflows.workflow_id)) as month
    from {{ ref('int_workflows_linked') }} as links
    inner join {{ ref('int_workflows_aggregated') }} as workflows
        on workflows.workflow_id = links.workflow_id
    group by links.outcome_id
)

select
    outcomes.outcome_id,
    outcomes.outcome_source,
    outcomes.external_ref,
    links.workflow_type,
    links.team,
    coalesce(links.linked_workflows, 0) as linked_workflows,
    links.first_workflow_started_at,
    links.month,
    outcomes.resolved_at,
    outcomes.status,
    outcomes.status_reason,
    outcomes.is_claimed,
    outcomes.value_usd
from {{ ref('int_outcomes_verified') }} as outcomes
left join links
    on links.outcome_id = outcomes.outcome_id
