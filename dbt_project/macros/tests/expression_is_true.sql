{#- Returns the rows where the boolean expression is false or null. Usable
    on a model or on a column (column_name is then ignored). -#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
