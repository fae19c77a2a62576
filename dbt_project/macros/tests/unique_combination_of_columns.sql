{#- Grain test: no two rows share the same values of these columns. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set columns_csv = combination_of_columns | join(', ') %}

select
    {{ columns_csv }},
    count(*) as row_count
from {{ model }}
group by {{ columns_csv }}
having count(*) > 1

{% endtest %}
