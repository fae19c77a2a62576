{{ config(schema='staging', materialized='table') }}

{#-
  One row per local adjustment code of each code map loaded, with the
  category (canonical name) and the two flags the reconciliation uses:
  is_contractual (a write-off the provider absorbs under contract) and
  is_denial_writeoff (a deliberate write-off of a denial). Empty until a
  ledger is loaded.
-#}

{%- set columns = [
    ('code_map_id', 'varchar'), ('line_number', 'integer'),
    ('local_adj_code', 'varchar'), ('category', 'varchar'),
    ('category_as_sent', 'varchar'), ('is_contractual', 'boolean'),
    ('is_denial_writeoff', 'boolean'), ('description', 'varchar'),
] -%}

with

codes as (

    {{ ledger_source_or_empty('ledger_codes', columns) }}

),

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
