{#
  Engine-specific SQL lives here and in money.sql / as_of.sql, dispatched per adapter, so the
  models stay portable (a Spark implementation adds `spark__` versions of these macros).
#}

{# t + n days (n may be a var). #}
{% macro add_days(t, n) %}{{ return(adapter.dispatch('add_days', 'tokenpnl')(t, n)) }}{% endmacro %}
{% macro default__add_days(t, n) -%}({{ t }} + interval ({{ n }}) day){%- endmacro %}

{# Every match of capture group `group` of a regular expression, as a list. #}
{% macro regex_all(text, pattern, group=1) %}{{ return(adapter.dispatch('regex_all', 'tokenpnl')(text, pattern, group)) }}{% endmacro %}
{% macro default__regex_all(text, pattern, group) -%}regexp_extract_all({{ text }}, '{{ pattern }}', {{ group }}){%- endmacro %}

{# Does a list contain a value? #}
{% macro list_has(list, value) %}{{ return(adapter.dispatch('list_has', 'tokenpnl')(list, value)) }}{% endmacro %}
{% macro default__list_has(list, value) -%}list_contains({{ list }}, {{ value }}){%- endmacro %}

{# First value of `column` in `order_by` order among rows where it is not null (an aggregate). #}
{% macro first_named(column, order_by) %}{{ return(adapter.dispatch('first_named', 'tokenpnl')(column, order_by)) }}{% endmacro %}
{% macro default__first_named(column, order_by) -%}
    first({{ column }} order by {{ order_by }}) filter (where {{ column }} is not null)
{%- endmacro %}
