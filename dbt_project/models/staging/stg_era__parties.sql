-- N1 of loops 1000A (payer) and 1000B (payee), one row per transaction
-- and role.
with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

n1 as (

    select
        remittance_id,
        file_id,
        transaction_seq,
        segment_pos,

        case loop_id
            when '1000A' then 'payer'
            when '1000B' then 'payee'
        end as party_role,

        e01 as entity_identifier_code,
        e02 as party_name,
        e03 as party_id_qualifier,
        e04 as party_identifier,

        row_number() over (
            partition by remittance_id, loop_id
            order by segment_pos
        ) as n1_rank

    from segments
    where segment_id = 'N1'
        and loop_id in ('1000A', '1000B')

),

final as (

    select
        remittance_id,
        file_id,
        transaction_seq,
        segment_pos,
        party_role,
        entity_identifier_code,
        party_name,
        party_id_qualifier,
        party_identifier

    from n1
    where n1_rank = 1

)

select * from final
