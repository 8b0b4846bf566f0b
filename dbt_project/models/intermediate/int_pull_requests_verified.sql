-- One row per pull request with its trusted-outcome verdict (spec rules.md section 3, GitHub).
-- A PR's state is its latest delivery by received_at; only deliveries up to the as-of instant count.
with events as (
    select * from {{ ref('stg_github__pull_request_events') }}
    where received_at < {{ tokenpnl.as_of_instant() }}
),

latest as (
    select
        *,
        min(received_at) over (partition by repo, pr_number) as first_event_at
    from events
    qualify row_number() over (partition by repo, pr_number order by received_at desc, delivery_id desc) = 1
),

-- The latest completed suite per (head sha, app) counts, so a failed run re-run green is fine.
checks as (
    select repo, head_sha, app, conclusion
    from {{ ref('stg_github__check_suite_events') }}
    where received_at < {{ tokenpnl.as_of_instant() }}
        and (action = 'completed' or check_status = 'completed')
        and conclusion is not null
    qualify row_number() over (partition by repo, head_sha, app order by received_at desc, delivery_id desc) = 1
),

failed_heads as (
    select distinct repo, head_sha
    from checks
    where conclusion not in (
        {%- for c in var('check_ok_conclusions') %}'{{ c }}'{{ ", " if not loop.last }}{% endfor -%}
    )
),

merged as (
    select * from latest where is_merged and merged_at is not null
),

-- A revert is a merged PR whose body says `Reverts owner/repo#N` or whose title is
-- `Revert "<title>"` in the same repository; it counts when merged inside the window.
-- Both are equality joins (on the referenced PR, on the quoted title), never repo × repo.
revert_refs as (
    select repo, pr_number, merged_at,
        unnest({{ tokenpnl.regex_all("lower(coalesce(pr_body, ''))", 'reverts\\s+([a-z0-9_.-]+/[a-z0-9_.-]+#[0-9]+)') }}) as reverted_ref
    from merged
),

revert_titles as (
    select repo, pr_number, merged_at, substr(pr_title, 9, length(pr_title) - 9) as reverted_title  -- Revert "<title>"
    from merged
    where pr_title like 'Revert "%"'
),

revert_candidates as (
    select original.repo, original.pr_number, original.merged_at, revert.pr_number as revert_pr_number, revert.merged_at as revert_merged_at
    from merged as original
    inner join revert_refs as revert
        on revert.repo = original.repo
        and revert.reverted_ref = original.repo || '#' || original.pr_number
    union all
    select original.repo, original.pr_number, original.merged_at, revert.pr_number, revert.merged_at
    from merged as original
    inner join revert_titles as revert
        on revert.repo = original.repo
        and revert.reverted_title = original.pr_title
),

reverted as (
    select distinct repo, pr_number
    from revert_candidates
    where revert_pr_number <> pr_number
        and revert_merged_at >= merged_at
        and revert_merged_at < {{ tokenpnl.add_days('merged_at', var('revert_window_days')) }}
),

verdicts as (
    select
        latest.*,
        coalesce(latest.pr_state, case when latest.action = 'closed' then 'closed' else 'open' end) = 'closed' as is_closed,
        failed_heads.head_sha is not null as has_failed_check,
        reverted.pr_number is not null as is_reverted
    from latest
    left join failed_heads
        on failed_heads.repo = latest.repo
        and failed_heads.head_sha = latest.head_sha
    left join reverted
        on reverted.repo = latest.repo
        and reverted.pr_number = latest.pr_number
)

select
    'github:' || repo_full_name || '#' || pr_number as outcome_id,
    'github' as outcome_source,
    repo_full_name || '#' || pr_number as external_ref,
    repo,
    pr_number,
    head_sha,
    case
        when is_merged then
            case
                when has_failed_check then 'checks_failed'
                when is_reverted then 'reverted'
                when not {{ tokenpnl.window_passed('merged_at', var('revert_window_days')) }} then 'window_open'
                else 'merged'
            end
        when is_closed then 'closed_unmerged'
        else 'open'
    end as status_reason,
    case
        when status_reason = 'merged' then 'verified_success'
        when status_reason in ('window_open', 'open') then 'pending'
        else 'failed'
    end as status,
    is_merged as is_claimed,
    case when is_merged then merged_at when is_closed then closed_at end as resolved_at,
    cast(null as decimal(38, 14)) as value_usd,
    first_event_at,
    -- Links: `Workflow-Id: <id>` trailer lines (any number, any case), else an anchored head
    -- branch agent/<id> or ai/<id> (GitHub's revert-<N>-agent/<id> branches do not link).
    {%- set trailers = tokenpnl.regex_all("coalesce(pr_body, '')", '(?im)^[ \\t]*workflow-id:[ \\t]*([^ \\t\\r\\n]+)[ \\t]*\\r?$') %}
    case
        when len({{ trailers }}) > 0 then {{ trailers }}
        when regexp_matches(coalesce(head_ref, ''), '^(agent|ai)/.+$')
            then [regexp_extract(head_ref, '^(?:agent|ai)/(.+)$', 1)]
        else []
    end as linked_workflow_ids
from verdicts
