{{ config(materialized='view') }}

with

source as (

    select * from {{ source('raw', 'file_manifest') }}

),

renamed as (

    select
        file_id,
        file_name,
        source_uri,
        size_bytes,
        received_at,
        loaded_at,
        status as file_status,
        x12_version,
        interchange_count,
        transaction_count,
        claim_count,
        segment_count,
        run_id,

        -- arrival order, used to tell an original payment from a repeat
        row_number() over (
            order by received_at, loaded_at, file_id
        ) as file_order

    from source
    where status = 'loaded'

)

select * from renamed
