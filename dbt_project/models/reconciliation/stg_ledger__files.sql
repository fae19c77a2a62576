{{ config(schema='staging', materialized='table') }}

{#-
  One row per loaded ledger file, numbered in arrival order. Reads
  raw.ledger_manifest, or nothing when no ledger was ever loaded (the
  table does not exist yet), so an ERA-only warehouse builds unchanged.
-#}

{%- set source_relation = source('ledger_raw', 'ledger_manifest') -%}
{%- set source_exists = execute and adapter.get_relation(
    database=source_relation.database,
    schema=source_relation.schema,
    identifier=source_relation.identifier,
) is not none -%}

with

{% if source_exists %}

manifest as (

    select * from {{ source_relation }}

),

{% else %}

manifest as (

    select
        cast(null as varchar) as file_id,
        cast(null as varchar) as file_name,
        cast(null as varchar) as source_uri,
        cast(null as timestamp) as received_at,
        cast(null as timestamp) as loaded_at,
        cast(null as varchar) as status,
        cast(null as varchar) as run_id,
        cast(null as varchar) as file_kind,
        cast(null as integer) as row_count,
        cast(null as varchar) as code_map_id

    where 1 = 0

),

{% endif %}

ledger_files as (

    select
        file_id,
        file_name,
        source_uri,
        received_at,
        loaded_at,
        run_id,
        row_count,
        code_map_id,

        -- arrival order: a later export of the same transaction wins
        row_number() over (
            order by loaded_at, received_at, file_id
        ) as file_order

    from manifest
    where status = 'loaded'
        and file_kind = 'ledger'

)

select * from ledger_files
