-- CLP: one row per claim payment information segment (loop 2100).
with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

clp as (

    select
        claim_id,
        remittance_id,
        file_id,
        transaction_seq,
        claim_seq,
        header_seq,
        segment_pos,

        e01 as patient_control_number,
        e02 as claim_status_code,
        {{ x12_money('e03') }} as charge_amount,
        {{ x12_money('e04') }} as paid_amount,
        {{ x12_money('e05') }} as patient_responsibility_amount,
        e06 as claim_filing_indicator_code,
        e07 as payer_claim_control_number,
        e08 as facility_type_code,
        e09 as claim_frequency_code,
        e11 as drg_code,
        {{ x12_try_decimal('e12', 'decimal(18, 4)') }} as drg_weight,

        coalesce(e02 = '22', false) as is_reversal

    from segments
    where segment_id = 'CLP'

)

select * from clp
