{{ config(schema='staging', materialized='table') }}

{#-
  One row per local adjustment code of each code map loaded, with the
  category (canonical name) and the two flags the reconciliation uses:
  is_contractual (a write-off the provider absorbs under contract) and
  is_denial_writeoff (a deliberate write-off of a denial). Empty until a
  ledger is loaded.
-#}

{%- set source_relation = source('ledger_raw', 'ledger_codes') -%}
{%- set source_exists = execute and adapter.get_relation(
    database=source_relation.database,
    schema=source_relation.schema,
    identifier=source_relation.identifier,
) is not none -%}

with

{% if source_exists %}

codes as (

    select * from {{ source_relation }}

),

{% else %}

codes as (

    select
        cast(null as varchar) as code_map_id,
        cast(null as integer) as line_number,
        cast(null as varchar) as local_adj_code,
        cast(null as varchar) as category,
        cast(null as varchar) as category_as_sent,
        cast(null as boolean) as is_contractual,
        cast(null as boolean) as is_denial_writeoff,
        cast(null as varchar) as description

    where 1 = 0

),

{% endif %}

renamed as (

    select
        code_map_id,
        local_adj_code,
        category as code_category,
        category_as_sent,
        is_contractual,
        is_denial_writeoff,
        description as code_description

    from codes

)

select * from renamed
