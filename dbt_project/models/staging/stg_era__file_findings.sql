{{ config(materialized='view') }}

with

source as (

    select * from {{ source('raw', 'file_findings') }}

),

files as (

    select file_id from {{ ref('stg_era__files') }}

),

renamed as (

    select
        source.file_id,
        source.segment_pos,
        source.segment_id,
        source.finding_code,
        source.detail

    from source
    inner join files
        on source.file_id = files.file_id

)

select * from renamed
