-- Generic outcome events, every restatement (the latest wins in intermediate).
select
    outcome_id,
    workflow_id,
    occurred_at,
    kind,
    status,
    verified,
    policy_passed,
    value_usd,
    _source_file as source_file,
    _line as source_line
from {{ source('raw', 'outcome_events') }}
