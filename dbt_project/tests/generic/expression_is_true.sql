{#- Every row satisfies a boolean SQL expression (e.g. an accounting identity). With
    rebuilt_rows_only (incremental per-call models), only the rows the last build wrote. -#}
{% test expression_is_true(model, expression, column_name=none, rebuilt_rows_only=false) %}
select * from {{ model }}
where not coalesce(({{ expression }}), false)
{%- if rebuilt_rows_only %} and {{ tokenpnl.rebuilt_rows(model, rebuilt_rows_only) }}{% endif %}
{% endtest %}
