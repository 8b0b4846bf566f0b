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
   when every day changed. A no-op on a full build. The models run it before their transaction
   (before_begin): DuckDB refuses to commit a transaction that deletes rows from a table and then
   alters it, as dbt's on_schema_change does when a new version adds a column. A build that fails
   after the delete has not committed its fingerprints, so the next night rebuilds those rows. #}
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
   every call of a provider-month whose allocation changed. Every row a per-call model writes
   carries this run's stamp in _built_at; the rows sit together at the table's end, so DuckDB's
   zone maps let the next model read just them. A changed call's old row lies on a day of one of
   its raw versions (raw is append-only), so deletes and reads are bounded by that range of days. #}
{% macro delete_changed_calls(by_month=false) -%}
    {%- if is_incremental() and tokenpnl.every_day_changed() -%}
        delete from {{ this }}
    {%- elif is_incremental() -%}
        delete from {{ this }} as built
        using {{ ref('int_llm_call_keys_changed') }} as changed
        where changed.source_format = built.source_format and changed.call_id = built.call_id
            and {{ tokenpnl.in_changed_days('built.occurred_at') }}
        {%- if by_month %};
        delete from {{ this }} as built
        using {{ ref('int_provider_months_changed') }} as changed
        where changed.is_changed and changed.provider = built.provider
            and changed.month = cast(date_trunc('month', built.occurred_at) as date)
            and {{ tokenpnl.in_changed_months('built.occurred_at') }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{# A per-call model's input, model `name`: on an incremental run, the rows of the changed calls
   (with by_month, also every call of a re-allocated provider-month). When `name` is an
   incremental model built earlier in this same invocation, its rows stamped with this run are
   exactly those; otherwise (a view, or a partial run) they are found by key. #}
{% macro changed_calls(name, by_month=false) -%}
    {%- set relation = ref(name) -%}
    {%- if not is_incremental() or tokenpnl.every_day_changed() -%}
    {{ relation }}
    {%- else -%}
    {%- set stamped = tokenpnl.built_this_run(name) -%}
    (
        {%- if stamped %}
        select * from {{ relation }} where _built_at = {{ tokenpnl.built_at() }}
        {%- else %}
        select calls.* from {{ relation }} as calls
        semi join {{ ref('int_llm_call_keys_changed') }} as changed
            on changed.source_format = calls.source_format and changed.call_id = calls.call_id
        where {{ tokenpnl.in_changed_days('calls.occurred_at') }}
        {%- endif %}
        {%- if by_month %}
        union all
        select calls.* from {{ relation }} as calls
        semi join (select * from {{ ref('int_provider_months_changed') }} where is_changed) as changed
            on changed.provider = calls.provider
            and changed.month = cast(date_trunc('month', calls.occurred_at) as date)
        {%- if stamped %}
        where calls._built_at is distinct from {{ tokenpnl.built_at() }}
        {%- else %}
        anti join {{ ref('int_llm_call_keys_changed') }} as changed_call
            on changed_call.source_format = calls.source_format and changed_call.call_id = calls.call_id
        where true
        {%- endif %}
            and {{ tokenpnl.in_changed_months('calls.occurred_at') }}
        {%- endif %}
    )
    {%- endif -%}
{%- endmacro %}

{# This run's stamp (dbt's run_started_at, one per invocation). #}
{% macro built_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{# Whether `name` is an incremental model this invocation builds (before the caller, as dbt
   runs a model after its inputs, and skips the caller if the input failed). #}
{% macro built_this_run(name) -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ name) -%}
    {{ return(node is not none and node.config.materialized == 'incremental'
              and node.unique_id in selected_resources) }}
{%- endmacro %}

{# `column` within the UTC days of the changed calls' raw versions, as constants DuckDB can check
   against each row group's min/max. False when no call changed. #}
{% macro in_changed_days(column) -%}
    {{ tokenpnl.in_range(column, "select min(day), max(day) + 1 from " ~ ref('int_llm_call_versions_changed')) }}
{%- endmacro %}

{# `column` within the re-allocated provider-months. #}
{% macro in_changed_months(column) -%}
    {{ tokenpnl.in_range(column, "select min(month), max(month) + interval 1 month from "
                         ~ ref('int_provider_months_changed') ~ " where is_changed") }}
{%- endmacro %}

{% macro in_range(column, bounds_query) -%}
    {%- if not execute -%}true{%- else -%}
    {%- set bounds = run_query(bounds_query).rows[0] -%}
    {%- if bounds[0] is none -%}false{%- else -%}
    ({{ column }} >= cast('{{ bounds[0] }}' as timestamp) and {{ column }} < cast('{{ bounds[1] }}' as timestamp))
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{# Every day changed (new logic, price books or aliases; a first incremental build): the models
   empty themselves and take every call, cheaper than deleting and filtering call by call. #}
{% macro every_day_changed() -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set unchanged = run_query("select count(*) from " ~ ref('int_llm_call_days_changed') ~ " where not is_changed") -%}
    {{ return(unchanged.columns[0].values()[0] == 0) }}
{%- endmacro %}

{# The rows of `model` (an incremental per-call model) that the last build wrote, for the tests
   with rebuilt_rows_only: its latest stamp (_built_at) as a constant, so the test reads only the
   table's end. fct_llm_calls has no stamp (its columns are the mart's) and says 'by_day': every
   row in the days and provider-months the build rewrote calls for. Older rows were tested when
   written, and a failed test keeps the build from committing, so the next night writes them
   again. #}
{% macro rebuilt_rows(model, how) -%}
    {%- if how == 'by_day' -%}
    {%- do ref('int_llm_call_versions_changed') -%}{%- do ref('int_provider_months_changed') -%}
    ({{ tokenpnl.in_changed_days('occurred_at') }} or {{ tokenpnl.in_changed_months('occurred_at') }})
    {%- elif not execute -%}true
    {%- else -%}
    {%- set stamp = run_query("select max(_built_at) from " ~ model).columns[0].values()[0] -%}
    {%- if stamp is none -%}false{%- else -%}_built_at = cast('{{ stamp }}' as timestamp){%- endif -%}
    {%- endif -%}
{%- endmacro %}
