-- Every raw version of the calls this run rebuilds (int_llm_call_keys_changed), whatever day it
-- falls on: its day and workflow. Read from raw's narrow key columns once, so the models after
-- it need not: the de-duplication and the pre-hook deletes read only the range of its days,
-- and the workflows and days to aggregate again come from here.
select calls.source_format, calls.call_id, cast(calls.occurred_at as date) as day, calls.workflow_id
from {{ source('raw', 'llm_calls') }} as calls
semi join {{ ref('int_llm_call_keys_changed') }} as changed
    on changed.source_format = calls.source_format and changed.call_id = calls.call_id
