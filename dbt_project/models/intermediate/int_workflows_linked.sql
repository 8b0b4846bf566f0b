-- Workflow -> outcome links. A workflow links to at most one outcome: where several name it,
-- the one whose first event came first (then the smaller outcome_id). Links to workflow ids
-- that have no calls (up to the as-of instant) are dropped.
with candidate_links as (
    select distinct
        outcomes.outcome_id,
        outcomes.first_event_at,
        unnest(outcomes.linked_workflow_ids) as workflow_id
    from {{ ref('int_outcomes_verified') }} as outcomes
)

select candidate_links.workflow_id, candidate_links.outcome_id
from candidate_links
inner join {{ ref('int_workflows_aggregated') }} as workflows
    on workflows.workflow_id = candidate_links.workflow_id
qualify row_number() over (
    partition by candidate_links.workflow_id order by candidate_links.first_event_at, candidate_links.outcome_id
) = 1
