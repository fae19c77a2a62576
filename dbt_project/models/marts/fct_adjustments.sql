{#-
  Incremental: a run writes the triplets of new files, and again those of
  any old remittance whose duplicate flag (the one value here that
  depends on other files) changed.
-#}

{{ config(materialized='incremental', unique_key='adjustment_id') }}

with

remittances as (

    select * from {{ ref('int_remittances_joined') }}

),

repriced as (

    {{ repriced_remittances('remittances') }}

),

adjustments as (

    select * from {{ ref('int_adjustments_classified') }}
    where {{ new_or_repriced() }}

),

claims as (

    select * from {{ ref('int_claims_joined') }}
    where {{ new_or_repriced() }}

),

final as (

    select
        adjustments.adjustment_id,
        adjustments.claim_id,
        adjustments.service_line_id,
        adjustments.line_seq,
        adjustments.adjustment_level,
        adjustments.remittance_id,

        adjustments.group_code,
        adjustments.reason_code,
        adjustments.adjustment_reason_id,
        cast(adjustments.amount as decimal(18, 2)) as amount,
        adjustments.quantity,
        adjustments.adjustment_category,
        adjustments.is_denial,
        adjustments.is_sequestration,
        adjustments.appealable,
        adjustments.more_coming,

        adjustments.cas_position,
        adjustments.segment_pos,
        adjustments.file_id,

        claims.payer_id,
        claims.payee_id,
        claims.claim_filing_indicator_code,
        claims.program,
        claims.claim_status_code,
        claims.is_reversal,
        remittances.is_duplicate_payment,
        claims.payment_date,
        -- the line's date of service, or the claim's through date
        adjustments.service_date

    from adjustments
    inner join claims
        on adjustments.claim_id = claims.claim_id
    inner join remittances
        on adjustments.remittance_id = remittances.remittance_id

)

select * from final
