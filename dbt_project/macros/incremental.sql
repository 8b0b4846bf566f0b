{#
  Incremental models. A night rebuilds only the calls whose inputs changed since the
  last complete build: int_llm_call_days_changed compares each UTC day's raw records with the
  fingerprint int_increments_committed kept, int_llm_call_keys_changed lists the calls of the
  changed days, and each per-call model deletes those calls and inserts them again (allocation
  also whole provider-months whose invoice or list total changed). int_workflows_aggregated and
  token_pnl_daily redo the workflows and days those calls touch (int_workflows_changed,
  int_pnl_days_changed). The commit follows every incremental model, so a failed build leaves
  the old fingerprints and the next night redoes the work.
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

{# Pre-hook of an incremental model: drop the rows whose keys `changed` (a model) lists, all rows
   when every day changed. A no-op on a full build. #}
{% macro delete_changed(changed, keys) -%}
    {%- if is_incremental() and tokenpnl.every_day_changed() -%}
        delete from {{ this }}
    {%- elif is_incremental() -%}
        delete from {{ this }} as built
        using {{ ref(changed) }} as changed
        where {% for key in keys %}changed.{{ key }} = built.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    {%- endif -%}
{%- endmacro %}

{# An incremental model's input: on an incremental run only the rows whose keys `changed` lists,
   as a subquery to select from. A semi join, not an EXISTS filter: with nothing changed it reads
   nothing. #}
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

{# The per-call models' pair: the changed calls (int_llm_call_keys_changed) and, with by_month,
   every call of a provider-month whose allocation changed. #}
{% macro delete_changed_calls(by_month=false) -%}
    {{ tokenpnl.delete_changed('int_llm_call_keys_changed', ['source_format', 'call_id']) }}
    {%- if by_month and is_incremental() and not tokenpnl.every_day_changed() %};
        delete from {{ this }} as built
        using {{ ref('int_provider_months_changed') }} as changed
        where changed.is_changed and changed.provider = built.provider
            and changed.month = cast(date_trunc('month', built.occurred_at) as date);
    {%- endif -%}
{%- endmacro %}

{% macro changed_calls(relation, by_month=false) -%}
    {%- set by_key = tokenpnl.changed_rows(relation, 'int_llm_call_keys_changed', ['source_format', 'call_id']) -%}
    {%- if by_month and is_incremental() and not tokenpnl.every_day_changed() -%}
    (
        select * from {{ by_key }}
        union all
        select calls.* from {{ relation }} as calls
        semi join (select * from {{ ref('int_provider_months_changed') }} where is_changed) as changed
            on changed.provider = calls.provider
            and changed.month = cast(date_trunc('month', calls.occurred_at) as date)
        anti join {{ ref('int_llm_call_keys_changed') }} as changed_call
            on changed_call.source_format = calls.source_format and changed_call.call_id = calls.call_id
    )
    {%- else -%}
    {{ by_key }}
    {%- endif -%}
{%- endmacro %}

{# Every day changed (new logic, price books or aliases; a first incremental build): the models
   empty themselves and take every call, cheaper than deleting and filtering call by call. #}
{% macro every_day_changed() -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set unchanged = run_query("select count(*) from " ~ ref('int_llm_call_days_changed') ~ " where not is_changed") -%}
    {{ return(unchanged.columns[0].values()[0] == 0) }}
{%- endmacro %}
