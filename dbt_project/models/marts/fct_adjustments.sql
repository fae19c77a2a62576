with

adjustments as (

    select * from {{ ref('int_adjustments_classified') }}

),

claims as (

    select * from {{ ref('int_claims_joined') }}

),

service_lines as (

    select * from {{ ref('int_service_lines_joined') }}

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
        claims.is_duplicate_payment,
        claims.payment_date,
        case
            when adjustments.adjustment_level = 'line'
                then service_lines.service_date
            else coalesce(claims.service_date_to, claims.service_date_from)
        end as service_date

    from adjustments
    inner join claims
        on adjustments.claim_id = claims.claim_id
    left join service_lines
        on adjustments.service_line_id = service_lines.service_line_id

)

select * from final
