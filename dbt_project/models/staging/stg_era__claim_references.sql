-- REF in loop 2100: claim references such as F8 (original reference
-- number), 1K (payer claim number), EA (medical record number).
with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

ref as (

    select
        claim_id,
        file_id,
        segment_pos,
        e01 as reference_qualifier,
        e02 as reference_value

    from segments
    where segment_id = 'REF'
        and loop_id = '2100'

)

select * from ref
