-- BPR: the payment (check or EFT) of each 835 transaction.
with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

bpr as (

    select
        remittance_id,
        file_id,
        transaction_seq,
        segment_pos,

        e01 as transaction_handling_code,
        {{ x12_money('e02') }} as payment_amount,
        e03 as credit_debit_flag_code,
        e04 as payment_method_code,
        e05 as payment_format_code,
        {{ x12_date('e16') }} as payment_date,

        row_number() over (
            partition by remittance_id
            order by segment_pos
        ) as bpr_rank

    from segments
    where segment_id = 'BPR'

),

final as (

    select
        remittance_id,
        file_id,
        transaction_seq,
        segment_pos,
        transaction_handling_code,
        payment_amount,
        credit_debit_flag_code,
        payment_method_code,
        payment_format_code,
        payment_date

    from bpr
    where bpr_rank = 1

)

select * from final
