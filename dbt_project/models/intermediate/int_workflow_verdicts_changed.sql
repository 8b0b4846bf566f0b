-- The workflows whose fct_workflows row this run writes, with the outcome each links to and its
-- status: those aggregated again (int_workflows_changed), and those whose link or status differs
-- from the row fct_workflows holds (a new outcome, a revert, a reopen, the grace period running
-- out as the as-of moves). The link and status of every workflow are computed (one join), but
-- only these rows are written: fct_workflows' other columns come from the aggregates alone.
-- Every workflow on a full build, or when every day changed.
-- depends_on: {{ ref('int_llm_call_days_changed') }}
-- depends_on: {{ ref('int_workflows_changed') }}
{%- set built = adapter.get_relation(database=this.database, schema='marts', identifier='fct_workflows') %}
{%- set only_changed = built is not none and not flags.FULL_REFRESH and not tokenpnl.every_day_changed() %}
with verdicts as (
    select
        workflows.workflow_id,
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
)

select verdicts.*
from verdicts
{%- if only_changed %}
left join {{ built }} as built
    on built.workflow_id = verdicts.workflow_id
where built.workflow_id is null
    or built.outcome_id is distinct from verdicts.outcome_id
    or built.outcome_status is distinct from verdicts.outcome_status
    or verdicts.workflow_id in (select workflow_id from {{ ref('int_workflows_changed') }})
{%- endif %}
