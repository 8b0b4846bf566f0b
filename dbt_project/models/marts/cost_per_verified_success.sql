-- One row per month x workflow_type x team of the workflows started in that month. Cost
-- counts every call of the group's workflows (failed, pending and no-outcome ones, retries and
-- evaluators included); outcomes count in the group of their earliest linked workflow.
with workflows as (
    select
        month,
        coalesce(workflow_type, '(unattributed)') as workflow_type,
        coalesce(team, '(unattributed)') as team,
        count(*) as workflows,
        count(*) filter (where outcome_status = 'no_outcome') as no_outcome,
        sum(list_cost_usd) as list_cost_usd,
        sum(invoice_cost_usd) as invoice_cost_usd,
        sum(total_tokens) as total_tokens
    from {{ ref('fct_workflows') }}
    group by all
),

outcomes as (
    select
        month,
        coalesce(workflow_type, '(unattributed)') as workflow_type,
        coalesce(team, '(unattributed)') as team,
        count(*) as outcomes,
        count(*) filter (where status = 'verified_success') as verified_successes,
        count(*) filter (where is_claimed) as claimed_successes,
        count(*) filter (where status = 'pending') as pending,
        count(*) filter (where status = 'failed') as failed,
        sum(value_usd) filter (where status = 'verified_success') as verified_value_usd
    from {{ ref('fct_outcomes') }}
    where linked_workflows > 0
    group by all
)

select
    workflows.month,
    workflows.workflow_type,
    workflows.team,
    workflows.workflows,
    coalesce(outcomes.outcomes, 0) as outcomes,
    coalesce(outcomes.verified_successes, 0) as verified_successes,
    coalesce(outcomes.claimed_successes, 0) as claimed_successes,
    coalesce(outcomes.pending, 0) as pending,
    coalesce(outcomes.failed, 0) as failed,
    workflows.no_outcome,
    workflows.list_cost_usd,
    workflows.invoice_cost_usd,
    workflows.total_tokens,
    outcomes.verified_value_usd,
    {{ tokenpnl.money_div('workflows.list_cost_usd', 'outcomes.verified_successes') }} as cost_per_verified_success_usd,
    {{ tokenpnl.money_div('workflows.invoice_cost_usd', 'outcomes.verified_successes') }} as invoice_cost_per_verified_success_usd,
    {{ tokenpnl.money_div('workflows.list_cost_usd', 'outcomes.claimed_successes') }} as cost_per_claimed_success_usd,
    {{ tokenpnl.ratio('workflows.total_tokens', 'outcomes.verified_successes') }} as tokens_per_verified_success,
    {{ tokenpnl.ratio('outcomes.verified_successes', 'outcomes.verified_successes + outcomes.failed') }} as verified_success_rate,
    {{ tokenpnl.money_div('outcomes.verified_value_usd - workflows.list_cost_usd', 'outcomes.verified_successes') }}
        as gross_margin_per_trusted_outcome_usd
from workflows
left join outcomes
    on outcomes.month = workflows.month
    and outcomes.workflow_type = workflows.workflow_type
    and outcomes.team = workflows.team
