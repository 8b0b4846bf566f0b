{#- Every row satisfies a boolean SQL expression (e.g. an accounting identity). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select * from {{ model }} where not coalesce(({{ expression }}), false)
{% endtest %}
