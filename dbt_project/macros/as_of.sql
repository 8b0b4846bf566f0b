{#
  The as-of instant: `--vars as_of: D` (or TOKENPNL_AS_OF=D, which the nightly job sets) means the
  run knows everything up to the end of UTC day D, i.e. D + 1 day at 00:00 UTC. Without either,
  yesterday (the nightly default). The job passes the day in the environment, not in --vars: a
  change of --vars makes dbt parse the whole project again (seconds), every night.
#}
{% macro as_of_instant() %}{{ return(adapter.dispatch('as_of_instant', 'tokenpnl')()) }}{% endmacro %}

{% macro default__as_of_instant() -%}
    {%- set as_of = var('as_of', none) or env_var('TOKENPNL_AS_OF', '') -%}
    {%- if as_of -%}
        (cast('{{ as_of }}' as date) + interval 1 day)::timestamp
    {%- else -%}
        date_trunc('day', timezone('UTC', now()))::timestamp
    {%- endif -%}
{%- endmacro %}

{# "t + N days has passed" at the as-of instant. #}
{% macro window_passed(t, days) -%}
    ({{ tokenpnl.add_days(t, days) }} <= {{ tokenpnl.as_of_instant() }})
{%- endmacro %}
