-- DTM in loop 2110: 472 (service date), 150 (service period start),
-- 151 (service period end).
with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

dtm as (

    select
        service_line_id,
        claim_id,
        file_id,
        segment_pos,
        e01 as date_qualifier,
        {{ x12_date('e02') }} as date_value

    from segments
    where segment_id = 'DTM'
        and loop_id = '2110'

)

select * from dtm
