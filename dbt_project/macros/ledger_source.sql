{#-
  A ledger source table (raw.ledger_*), or the same columns with no rows
  while no ledger was ever loaded (etl.ledger creates the tables on the
  first load), so that an ERA-only warehouse builds unchanged.
  `columns` is a list of (name, data type) pairs: the columns the model
  reads, typed as the loader writes them.
-#}
{% macro ledger_source_or_empty(table_name, columns) -%}
    {%- set relation = source('ledger_raw', table_name) -%}
    {%- set exists = execute and adapter.get_relation(
        database=relation.database,
        schema=relation.schema,
        identifier=relation.identifier,
    ) is not none -%}
    {%- if exists -%}
    select * from {{ relation }}
    {%- else -%}
    select
        {% for name, data_type in columns -%}
        cast(null as {{ data_type }}) as {{ name }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}
    where 1 = 0
    {%- endif -%}
{%- endmacro %}
