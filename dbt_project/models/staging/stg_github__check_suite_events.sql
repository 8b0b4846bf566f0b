-- check_suite deliveries, one per delivery_id.
select
    delivery_id,
    received_at,
    action,
    lower(repo_full_name) as repo,
    head_sha,
    check_suite_id,
    check_status,
    lower(check_conclusion) as conclusion,
    check_app as app
-- A redelivery is the same delivery: keep the copy received first, wherever it was filed (a later
-- copy with other content is a conflict, quarantined by int_source_keys_conflicted).
from (
    select * from {{ source('raw', 'github_deliveries') }}
    {{ tokenpnl.keep_first_copy('github_deliveries') }}
) as deliveries
where event = 'check_suite'
