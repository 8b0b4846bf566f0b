-- Generic outcome events, every restatement (the latest wins in intermediate), one per outcome_id and
-- occurred_at: the first copy by file and line; a later copy of the same statement with other
-- content is quarantined by int_source_keys_conflicted.
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
{{ tokenpnl.keep_first_copy('generic_outcomes') }}
