-- One row per ticket (Zendesk ticket or Jira issue) with its trusted-outcome verdict
-- (spec rules.md section 3, tickets). Only events before the as-of instant count. Events of a
-- ticket are ordered by occurred_at, ties by event id.
--   solved_at    the first event that makes it solved (Zendesk: status changed to SOLVED, a later
--                CLOSED keeps it solved; Jira: done category or a done status, unless its
--                resolution says it was not solved, e.g. "Won't Do" or "Duplicate").
--   escalated    at or before solved_at (ever, if never solved): Zendesk ticket in a human group
--                or the escalation tag added / present; Jira in an escalated status.
--   reopened     after the solving event and before solved_at + reopen_window_days, a move out of
--                solved. A reopen inside the window is final (a second solve does not undo it);
--                one after the window changes nothing.
--   closed       the latest known state is closed without solving (Zendesk CLOSED / DELETED /
--                ARCHIVED / SCRUBBED; Jira done with an unsolved resolution, or deleted).
{#- Configured names as SQL string literals, lower-cased where matched case-insensitively;
    `null` for an empty list, so `x in (null)` is never true (wrapped in coalesce below). -#}
{%- set human_groups = var('zendesk_human_groups') | map('string') | map('replace', "'", "''") | list %}
{%- set human_groups = ("'" ~ human_groups | join("', '") ~ "'") if human_groups else 'null' %}
{%- set done_statuses = var('jira_done_statuses') | map('string') | map('lower') | map('replace', "'", "''") | list %}
{%- set done_statuses = ("'" ~ done_statuses | join("', '") ~ "'") if done_statuses else 'null' %}
{%- set escalated_statuses = var('jira_escalated_statuses') | map('string') | map('lower') | map('replace', "'", "''") | list %}
{%- set escalated_statuses = ("'" ~ escalated_statuses | join("', '") ~ "'") if escalated_statuses else 'null' %}
{#- Jira resolutions that close an issue without solving it (a var not declared in dbt_project.yml yet). -#}
{%- set unsolved_resolutions = var('jira_unsolved_resolutions', ["Won't Do", "Won't Fix", "Cannot Reproduce", "Duplicate", "Incomplete"])
        | map('string') | map('lower') | map('replace', "'", "''") | list %}
{%- set unsolved_resolutions = ("'" ~ unsolved_resolutions | join("', '") ~ "'") if unsolved_resolutions else 'null' %}
{%- set escalation_tag = "'" ~ (var('escalation_tag') | string | replace("'", "''")) ~ "'" %}
{%- set prefix = var('ticket_workflow_tag_prefix') | string | replace("'", "''") %}

with zendesk as (
    select
        'zendesk:' || ticket_id as outcome_id,
        'zendesk:' || ticket_id as external_ref,
        event_id,
        occurred_at,
        coalesce(status_current = 'SOLVED', false) as is_solving,
        coalesce(
            status_previous in ('SOLVED', 'CLOSED') and status_current in ('NEW', 'OPEN', 'PENDING', 'HOLD'), false
        ) as is_reopening,
        coalesce(group_id in ({{ human_groups }}), false)
            or coalesce({{ tokenpnl.list_has('tags_added', escalation_tag) }}, false)
            or coalesce({{ tokenpnl.list_has('tags', escalation_tag) }}, false) as is_escalation,
        ticket_status is not null as is_state_known,
        coalesce(ticket_status in ('CLOSED', 'DELETED', 'ARCHIVED', 'SCRUBBED'), false) as is_closed_state,
        tags as link_tags
    from {{ ref('stg_zendesk__ticket_events') }}
    where occurred_at < {{ tokenpnl.as_of_instant() }}
),

jira_states as (
    select
        *,
        coalesce(status_category = 'done', false)
            or coalesce(lower(status_to) in ({{ done_statuses }}), false)
            or coalesce(lower(status_name) in ({{ done_statuses }}), false) as is_done_state,
        coalesce(lower(resolution) in ({{ unsolved_resolutions }}), false) as is_unsolved_resolution
    from {{ ref('stg_jira__issue_events') }}
    where occurred_at < {{ tokenpnl.as_of_instant() }}
),

jira as (
    select
        'jira:' || issue_key as outcome_id,
        issue_key as external_ref,
        event_key as event_id,
        occurred_at,
        is_done_state and not is_unsolved_resolution as is_solving,
        coalesce(status_category, status_to, status_name) is not null and not is_done_state as is_reopening,
        coalesce(lower(status_to) in ({{ escalated_statuses }}), false)
            or coalesce(lower(status_name) in ({{ escalated_statuses }}), false) as is_escalation,
        coalesce(status_category, status_to, status_name) is not null
            or webhook_event = 'jira:issue_deleted' as is_state_known,
        (is_done_state and is_unsolved_resolution) or webhook_event = 'jira:issue_deleted' as is_closed_state,
        labels as link_tags
    from jira_states
),

events as (
    select * from zendesk
    union all
    select * from jira
),

solved as (
    select outcome_id, occurred_at as solved_at, event_id as solved_event_id
    from events
    where is_solving
    qualify row_number() over (partition by outcome_id order by occurred_at, event_id) = 1
),

-- The ticket's latest known state, and its tags / labels as of its latest event that has them.
latest_state as (
    select outcome_id, is_closed_state
    from events
    where is_state_known
    qualify row_number() over (partition by outcome_id order by occurred_at desc, event_id desc) = 1
),

latest_tags as (
    select outcome_id, link_tags
    from events
    where link_tags is not null
    qualify row_number() over (partition by outcome_id order by occurred_at desc, event_id desc) = 1
),

tickets as (
    select
        events.outcome_id,
        any_value(events.external_ref) as external_ref,
        min(events.occurred_at) as first_event_at,
        solved.solved_at,
        coalesce(bool_or(
            events.is_escalation and (solved.solved_at is null or events.occurred_at <= solved.solved_at)
        ), false) as is_escalated,
        coalesce(bool_or(
            events.is_reopening
            and (events.occurred_at > solved.solved_at
                 or (events.occurred_at = solved.solved_at and events.event_id > solved.solved_event_id))
            and events.occurred_at < {{ tokenpnl.add_days('solved.solved_at', var('reopen_window_days')) }}
        ), false) as is_reopened
    from events
    left join solved
        on solved.outcome_id = events.outcome_id
    group by events.outcome_id, solved.solved_at
)

select
    tickets.outcome_id,
    'ticket' as outcome_source,
    tickets.external_ref,
    case when tickets.outcome_id like 'zendesk:%' then 'zendesk' else 'jira' end as ticket_system,
    case
        when tickets.is_escalated then 'escalated'
        when tickets.solved_at is not null and tickets.is_reopened then 'reopened'
        when tickets.solved_at is not null
            and not {{ tokenpnl.window_passed('tickets.solved_at', var('reopen_window_days')) }} then 'window_open'
        when tickets.solved_at is not null then 'solved'
        when coalesce(latest_state.is_closed_state, false) then 'closed_unsolved'
        else 'open'
    end as status_reason,
    case
        when status_reason = 'solved' then 'verified_success'
        when status_reason in ('window_open', 'open') then 'pending'
        else 'failed'
    end as status,
    tickets.solved_at is not null as is_claimed,
    tickets.solved_at as resolved_at,
    cast(null as decimal(38, 14)) as value_usd,
    tickets.first_event_at,
    tickets.is_escalated,
    tickets.is_reopened,
    -- Links: the ids after the prefix among the tags (Zendesk) or labels (Jira).
    coalesce(list_sort(list_distinct(list_transform(
        list_filter(latest_tags.link_tags, lambda t: starts_with(lower(t), lower('{{ prefix }}')) and length(t) > length('{{ prefix }}')),
        lambda t: substr(t, length('{{ prefix }}') + 1)
    ))), []) as linked_workflow_ids
from tickets
left join latest_state
    on latest_state.outcome_id = tickets.outcome_id
left join latest_tags
    on latest_tags.outcome_id = tickets.outcome_id
