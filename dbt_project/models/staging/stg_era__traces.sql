-- TRN in the header: the check or EFT trace and the payer's identifier.
with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

trn as (

    select
        remittance_id,
        file_id,
        transaction_seq,
        segment_pos,

        e01 as trace_type_code,
        e02 as trace_number,
        e03 as trace_payer_id,
        e04 as originating_company_supplemental_code,

        row_number() over (
            partition by remittance_id
            order by segment_pos
        ) as trn_rank

    from segments
    where segment_id = 'TRN'
        and loop_id = 'header'

),

final as (

    select
        remittance_id,
        file_id,
        transaction_seq,
        segment_pos,
        trace_type_code,
        trace_number,
        trace_payer_id,
        originating_company_supplemental_code

    from trn
    where trn_rank = 1

)

select * from final
