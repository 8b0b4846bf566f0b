-- Every outcome of every source with its verdict, in one shape.
{% set columns = "outcome_id, outcome_source, external_ref, status, status_reason, is_claimed, resolved_at, value_usd, first_event_at, linked_workflow_ids" %}
select {{ columns }} from {{ ref('int_pull_requests_verified') }}
union all
select {{ columns }} from {{ ref('int_tickets_verified') }}
union all
select {{ columns }} from {{ ref('int_generic_outcomes_verified') }}
