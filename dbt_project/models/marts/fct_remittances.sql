with

remittances as (

    select * from {{ ref('int_remittances_joined') }}

),

final as (

    select
        remittance_id,
        file_id,
        file_name,
        transaction_seq,
        interchange_control_number,
        group_control_number,
        transaction_control_number,
        x12_version,

        payer_id,
        payer_name,
        payer_id_qualifier,
        payer_n1_identifier,
        payee_id,
        payee_name,
        payee_id_qualifier,

        trace_type_code,
        trace_number,
        trace_payer_id,
        transaction_handling_code,
        credit_debit_flag_code,
        payment_method_code,
        payment_date,

        cast(payment_amount as decimal(18, 2)) as payment_amount,
        claim_count,
        cast(total_charge_amount as decimal(18, 2)) as total_charge_amount,
        cast(total_paid_amount as decimal(18, 2)) as total_paid_amount,
        provider_adjustment_count,
        cast(total_provider_adjustment_amount as decimal(18, 2))
            as total_provider_adjustment_amount,
        transaction_balance_difference,

        is_duplicate_payment,
        duplicate_of_remittance_id,
        received_at,
        loaded_at

    from remittances

)

select * from final
