-- AMT in loops 2100 and 2110: supplemental amounts such as AU (coverage)
-- and I (interest) on claims, B6 (allowed) on lines. Informational: they
-- take no part in balancing.
with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

amt as (

    select
        claim_id,
        file_id,
        case when loop_id = '2110' then service_line_id end
            as service_line_id,
        case when loop_id = '2110' then 'line' else 'claim' end
            as amount_level,
        segment_pos,
        e01 as amount_qualifier,
        {{ x12_money('e02') }} as amount

    from segments
    where segment_id = 'AMT'
        and loop_id in ('2100', '2110')

)

select * from amt
