-- ST: one row per 835 transaction (one payment to one payee), with the
-- envelope control numbers in force.
with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

st as (

    select
        remittance_id,
        file_id,
        transaction_seq,
        interchange_seq,
        group_seq,
        segment_pos,
        isa13 as interchange_control_number,
        gs06 as group_control_number,
        st02 as transaction_control_number,
        e03 as implementation_reference,

        row_number() over (
            partition by remittance_id
            order by segment_pos
        ) as st_rank

    from segments
    where segment_id = 'ST'

),

final as (

    select
        remittance_id,
        file_id,
        transaction_seq,
        interchange_seq,
        group_seq,
        segment_pos,
        interchange_control_number,
        group_control_number,
        transaction_control_number,
        implementation_reference

    from st
    where st_rank = 1

)

select * from final
