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
from {{ source('raw', 'github_deliveries') }}
where event = 'pull_request'
-- A redelivery is the same delivery: keep the copy received first, wherever it was filed.
qualify row_number() over (partition by delivery_id order by received_at, _source_file, _line) = 1
