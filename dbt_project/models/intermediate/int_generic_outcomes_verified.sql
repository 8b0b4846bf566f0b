-- One row per generic outcome: its latest statement (a restatement replaces the earlier).
with latest as (
    select
        *,
        min(occurred_at) over (partition by outcome_id) as first_event_at
    from {{ ref('stg_outcomes__events') }}
    where occurred_at < {{ tokenpnl.as_of_instant() }}
    qualify row_number() over (
        partition by outcome_id order by occurred_at desc, source_file desc, source_line desc
    ) = 1
)

select
    outcome_id,
    'generic' as outcome_source,
    outcome_id as external_ref,
    case
        when status = 'pending' then 'pending'
        when status = 'accepted' and verified is true and policy_passed is not false then 'accepted'
        when status = 'accepted' and verified is not true then 'not_verified'
        when status = 'accepted' then 'policy_failed'
        else 'rejected'
    end as status_reason,
    case status_reason
        when 'accepted' then 'verified_success'
        when 'pending' then 'pending'
        else 'failed'
    end as status,
    status = 'accepted' as is_claimed,
    case when status <> 'pending' then occurred_at end as resolved_at,
    value_usd,
    first_event_at,
    case when workflow_id is not null then [workflow_id] else [] end as linked_workflow_ids
from latest
