{#
  Incremental per-call models. A night rebuilds only the calls whose inputs changed since the
  last complete build: int_llm_call_days_changed compares each UTC day's raw records with the
  fingerprint int_increments_committed kept, int_llm_call_keys_changed lists the calls of the
  changed days, and each per-call model deletes those calls and inserts them again (allocation
  also whole provider-months whose invoice or list total changed). The commit is the last model
  of the chain, so a failed build leaves the old fingerprints and the next night redoes the work.
  `tokenpnl rebuild` (or dbt --full-refresh) builds everything from raw.
#}

{# The dbt project's own checksum (set by the job, see pipelines/dbt.py): new logic, all calls again. #}
{% macro logic_checksum() -%}
    {{ return(env_var('TOKENPNL_DBT_CHECKSUM', 'by-hand')) }}
{%- endmacro %}

{# The fingerprint stored by the last complete build for `scope`, as (key, fingerprint) rows. #}
{% macro committed_fingerprints(scope) -%}
    {%- set committed = adapter.get_relation(database=this.database, schema=this.schema, identifier='int_increments_committed') -%}
    {%- if committed is not none and not flags.FULL_REFRESH -%}
        select key, fingerprint from {{ committed }} where scope = '{{ scope }}'
    {%- else -%}
        select null::varchar as key, null::varchar as fingerprint where false
    {%- endif -%}
{%- endmacro %}

{# Pre-hook of a per-call model: drop the calls this run rebuilds (and, with by_month, every call
   of a provider-month whose allocation changed). A no-op on a full build. #}
{% macro delete_changed_calls(by_month=false) -%}
    {%- if is_incremental() and tokenpnl.every_day_changed() -%}
        delete from {{ this }}
    {%- elif is_incremental() -%}
        delete from {{ this }} as built
        using {{ ref('int_llm_call_keys_changed') }} as changed
        where changed.source_format = built.source_format and changed.call_id = built.call_id;
        {%- if by_month %}
        delete from {{ this }} as built
        using {{ ref('int_provider_months_changed') }} as changed
        where changed.is_changed and changed.provider = built.provider
            and changed.month = cast(date_trunc('month', built.occurred_at) as date);
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{# A per-call model's input: on an incremental run only the changed calls (and, with by_month,
   every call of a re-allocated provider-month), as a subquery to select from. Semi joins, not
   OR-ed EXISTS filters: with nothing changed they read nothing. #}
{% macro changed_calls(relation, by_month=false) -%}
    {%- if is_incremental() and not tokenpnl.every_day_changed() -%}
    (
        select calls.* from {{ relation }} as calls
        semi join {{ ref('int_llm_call_keys_changed') }} as changed
            on changed.source_format = calls.source_format and changed.call_id = calls.call_id
        {%- if by_month %}
        union all
        select calls.* from {{ relation }} as calls
        semi join (select * from {{ ref('int_provider_months_changed') }} where is_changed) as changed
            on changed.provider = calls.provider
            and changed.month = cast(date_trunc('month', calls.occurred_at) as date)
        anti join {{ ref('int_llm_call_keys_changed') }} as changed_call
            on changed_call.source_format = calls.source_format and changed_call.call_id = calls.call_id
        {%- endif %}
    )
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}

{# The same pair for models keyed by something else (int_workflows_aggregated by workflow_id):
   `changed` names the model listing this run's keys. #}
{% macro delete_changed(changed, keys) -%}
    {%- if is_incremental() and tokenpnl.every_day_changed() -%}
        delete from {{ this }}
    {%- elif is_incremental() -%}
        delete from {{ this }} as built
        using {{ ref(changed) }} as changed
        where {% for key in keys %}changed.{{ key }} = built.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    {%- endif -%}
{%- endmacro %}

{% macro changed_rows(relation, changed, keys) -%}
    {%- if is_incremental() and not tokenpnl.every_day_changed() -%}
    (
        select rows.* from {{ relation }} as rows
        semi join {{ ref(changed) }} as changed
            on {% for key in keys %}changed.{{ key }} = rows.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    )
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}

{# Every day changed (new logic, price books or aliases; a first incremental build): the models
   empty themselves and take every call, cheaper than deleting and filtering call by call. #}
{% macro every_day_changed() -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set unchanged = run_query("select count(*) from " ~ ref('int_llm_call_days_changed') ~ " where not is_changed") -%}
    {{ return(unchanged.columns[0].values()[0] == 0) }}
{%- endmacro %}
