{#- No two rows share the key. With rebuilt_rows_only (the incremental per-call models, see the
    macro rebuilt_rows), only the keys of the rows the last build wrote are counted: older rows
    were tested when they were written, so a new duplicate must involve a rebuilt row; the full
    group-by would cost a pass over all history every night. -#}
{% test unique_combination_of_columns(model, combination_of_columns, rebuilt_rows_only=false) %}
select {% for column in combination_of_columns %}all_rows.{{ column }}, {% endfor %}count(*) as n
from {{ model }} as all_rows
{%- if rebuilt_rows_only %}
semi join (
    select distinct {{ combination_of_columns | join(', ') }}
    from {{ model }}
    where {{ tokenpnl.rebuilt_rows(model, rebuilt_rows_only) }}
) as rebuilt
    on {% for column in combination_of_columns %}rebuilt.{{ column }} = all_rows.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
{%- endif %}
group by all
having count(*) > 1
{% endtest %}
