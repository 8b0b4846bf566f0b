-- cost_per_verified_success holds every workflow and every linked outcome exactly once.
{{ config(meta={'dagster': {'asset_key': ['marts', 'cost_per_verified_success']}}) }}
with groups as (
    select sum(workflows) as workflows, sum(list_cost_usd) as cost, sum(outcomes) as outcomes
    from {{ ref('cost_per_verified_success') }}
), workflows as (
    select count(*) as workflows, sum(list_cost_usd) as cost from {{ ref('fct_workflows') }}
), outcomes as (
    select count(*) as outcomes from {{ ref('fct_outcomes') }} where linked_workflows > 0
)
select * from groups, workflows, outcomes
where groups.workflows <> workflows.workflows or groups.cost is distinct from workflows.cost
   or groups.outcomes <> outcomes.outcomes
