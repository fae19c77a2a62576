-- REF in loop 2110: line references such as 6R (line item control
-- number, the echo of the 837 REF*6R) and LU (location number).
with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

ref as (

    select
        service_line_id,
        claim_id,
        file_id,
        segment_pos,
        e01 as reference_qualifier,
        e02 as reference_value

    from segments
    where segment_id = 'REF'
        and loop_id = '2110'

)

select * from ref
