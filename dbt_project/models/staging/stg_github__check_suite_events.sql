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
from {{ source('raw', 'github_deliveries') }}
where event = 'check_suite'
-- A redelivery is the same delivery: keep the copy received first, wherever it was filed.
qualify row_number() over (partition by delivery_id order by received_at, _source_file, _line) = 1
