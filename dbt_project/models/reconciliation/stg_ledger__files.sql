{{ config(schema='staging', materialized='table') }}

{#-
  One row per loaded ledger file, numbered in arrival order. Reads
  raw.ledger_manifest, or nothing when no ledger was ever loaded (the
  table does not exist yet), so an ERA-only warehouse builds unchanged.
-#}

{%- set columns = [
    ('file_id', 'varchar'), ('file_name', 'varchar'), ('source_uri', 'varchar'),
    ('received_at', 'timestamp'), ('loaded_at', 'timestamp'),
    ('status', 'varchar'), ('run_id', 'varchar'), ('file_kind', 'varchar'),
    ('row_count', 'integer'), ('code_map_id', 'varchar'),
] -%}

with

manifest as (

    {{ ledger_source_or_empty('ledger_manifest', columns) }}

),

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
