{# SET memory_limit from TOKENPNL_MEMORY_LIMIT (validated by tokenpnl's settings); unset: DuckDB's default. #}
{% macro apply_memory_limit() -%}
    {%- set limit = env_var('TOKENPNL_MEMORY_LIMIT', '') -%}
    {%- if limit and target.type == 'duckdb' -%}
        set memory_limit = '{{ limit | replace("'", "") }}'
    {%- else -%}
        select 1 as no_memory_limit
    {%- endif -%}
{%- endmacro %}
