-- One row per distinct call. A newer record of the same request replaces the earlier one:
-- newer = later end time, ties broken by the file path that sorts later (then the later line).
-- Streaming gateways log growing usage, so versions are never summed. Incremental: a night
-- rebuilds only the calls with a version on a changed day (macros/incremental.sql).
-- Almost every call has one version: only keys seen more than once are ranked (a window over
-- every call costs a sort of the whole day).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
          pre_hook=before_begin("{{ tokenpnl.delete_changed_calls() }}")) }}
-- depends_on: {{ ref('int_llm_call_days_changed') }}
-- depends_on: {{ ref('int_llm_call_keys_changed') }}
-- depends_on: {{ ref('int_llm_call_versions_changed') }}
with versions as (
    -- Incrementally: every version of the changed calls (see macros/incremental.sql).
    select * from {{ tokenpnl.changed_calls('stg_gateway__llm_calls') }} as versions
),

repeated as (
    select source_format, call_id
    from versions
    group by all
    having count(*) > 1
),

latest as (
    select versions.*
    from versions
    anti join repeated
        on repeated.source_format = versions.source_format
        and repeated.call_id = versions.call_id
    union all
    select versions.*
    from versions
    semi join repeated
        on repeated.source_format = versions.source_format
        and repeated.call_id = versions.call_id
    qualify row_number() over (
        partition by versions.source_format, versions.call_id
        order by versions.ended_at desc, versions.source_file desc, versions.source_line desc
    ) = 1
)

select
    latest.* exclude (provider_raw),
    coalesce(aliases.provider, latest.provider_raw) as provider,
    lower(latest.model) as model_key,
    -- Dated snapshots (gpt-4o-2024-08-06, claude-sonnet-4-5-20250929) fall back to their base model.
    lower(regexp_replace(latest.model, '-([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{8})$', '')) as base_model_key,
    latest.input_uncached_tokens + latest.input_cache_read_tokens + latest.input_cache_write_tokens as total_input_tokens,
    {{ tokenpnl.built_at() }} as _built_at
from latest
left join {{ ref('stg_providers__aliases') }} as aliases
    on aliases.alias = latest.provider_raw
-- Records stamped after the as-of instant stay in raw; they appear in a later run's marts.
where latest.occurred_at < {{ tokenpnl.as_of_instant() }}
