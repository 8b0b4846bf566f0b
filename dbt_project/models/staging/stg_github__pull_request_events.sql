-- pull_request deliveries, one per delivery_id (a redelivery is the same delivery).
select
    delivery_id,
    received_at,
    action,
    lower(repo_full_name) as repo,
    repo_full_name,
    pr_number,
    pr_title,
    pr_body,
    pr_state,
    coalesce(pr_merged, false) as is_merged,
    pr_merged_at as merged_at,
    pr_closed_at as closed_at,
    pr_created_at as created_at,
    head_ref,
    head_sha
-- A redelivery is the same delivery: keep the copy received first, wherever it was filed (a later
-- copy with other content is a conflict, quarantined by int_source_keys_conflicted).
from (
    select * from {{ source('raw', 'github_deliveries') }}
    {{ tokenpnl.keep_first_copy('github_deliveries') }}
) as deliveries
where event = 'pull_request'
