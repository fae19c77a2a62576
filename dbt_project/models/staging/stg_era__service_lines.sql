-- SVC: one row per service line (loop 2110), with the SVC01 composite
-- split on the interchange's component separator.
with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

svc as (

    select
        service_line_id,
        claim_id,
        remittance_id,
        file_id,
        transaction_seq,
        claim_seq,
        line_seq,
        segment_pos,

        {{ x12_component('e01', 'component_sep', 1) }} as procedure_qualifier,
        {{ x12_component('e01', 'component_sep', 2) }} as procedure_code,
        {{ x12_component('e01', 'component_sep', 3) }} as modifier_1,
        {{ x12_component('e01', 'component_sep', 4) }} as modifier_2,
        {{ x12_component('e01', 'component_sep', 5) }} as modifier_3,
        {{ x12_component('e01', 'component_sep', 6) }} as modifier_4,
        {{ x12_component('e01', 'component_sep', 7) }}
            as procedure_description,

        {{ x12_money('e02') }} as charge_amount,
        {{ x12_money('e03') }} as paid_amount,
        e04 as revenue_code,
        {{ x12_try_decimal('e05', 'decimal(18, 4)') }} as units_paid,

        {{ x12_component('e06', 'component_sep', 2) }}
            as submitted_procedure_code,
        {{ x12_try_decimal('e07', 'decimal(18, 4)') }} as units_submitted

    from segments
    where segment_id = 'SVC'
        and loop_id = '2110'

)

select * from svc
