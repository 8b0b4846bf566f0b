-- The calls this run rebuilds: every (source_format, call_id) with a raw version on a changed
-- day. All versions of such a call are de-duplicated again, whichever day they fall on.
-- Empty when every day changed: the per-call models then take every call without it.
select distinct calls.source_format, calls.call_id
from {{ source('raw', 'llm_calls') }} as calls
semi join {{ ref('int_llm_call_days_changed') }} as days
    on days.day = cast(calls.occurred_at as date)
    and days.is_changed
where exists (select 1 from {{ ref('int_llm_call_days_changed') }} where not is_changed)
