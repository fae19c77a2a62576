-- DTM in loop 2100: claim dates such as 232 (statement from), 233
-- (statement through), 050 (received), 036 (coverage expiration).
with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

dtm as (

    select
        claim_id,
        file_id,
        segment_pos,
        e01 as date_qualifier,
        {{ x12_date('e02') }} as date_value

    from segments
    where segment_id = 'DTM'
        and loop_id = '2100'

)

select * from dtm
