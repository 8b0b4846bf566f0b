{#
  The as-of instant: `--vars as_of: D` means the run knows everything up to the end of UTC day D,
  i.e. D + 1 day at 00:00 UTC. Without the var, yesterday (the nightly default).
#}
{% macro as_of_instant() %}{{ return(adapter.dispatch('as_of_instant', 'tokenpnl')()) }}{% endmacro %}

{% macro default__as_of_instant() -%}
    {%- set as_of = var('as_of', none) -%}
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
