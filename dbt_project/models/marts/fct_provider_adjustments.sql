with

provider_adjustments as (

    select * from {{ ref('stg_era__provider_adjustments') }}

),

remittances as (

    select * from {{ ref('int_remittances_joined') }}

),

reason_codes as (

    select * from {{ ref('plb_reason_codes') }}

),

final as (

    select
        provider_adjustments.provider_adjustment_id,
        provider_adjustments.remittance_id,
        provider_adjustments.file_id,
        provider_adjustments.segment_pos,
        provider_adjustments.pair_position,

        provider_adjustments.provider_identifier,
        provider_adjustments.fiscal_period_date,
        provider_adjustments.reason_code,
        provider_adjustments.reference_id,
        cast(provider_adjustments.amount as decimal(18, 2)) as amount,
        reason_codes.description as reason_description,
        reason_codes.usual_effect,
        reason_codes.plb_reason_code is not null as is_known_reason,

        remittances.payer_id,
        remittances.payee_id,
        remittances.trace_number,
        remittances.payment_date,
        remittances.is_duplicate_payment

    from provider_adjustments
    inner join remittances
        on provider_adjustments.remittance_id = remittances.remittance_id
    left join reason_codes
        on provider_adjustments.reason_code = reason_codes.plb_reason_code

)

select * from final
