{#-
  Incremental (keyed on service_line_id): the lines of new files, plus
  every line of a remittance whose is_duplicate_payment changed since
  the table was written (macros/incremental_files.sql).
-#}

{{ config(materialized='incremental', unique_key='service_line_id') }}

with

remittances as (

    select * from {{ ref('int_remittances_joined') }}

),

repriced as (

    {{ repriced_remittances('remittances') }}

),

service_lines as (

    select * from {{ ref('int_service_lines_joined') }}
    where {{ new_or_repriced() }}

),

claims as (

    select * from {{ ref('int_claims_joined') }}
    where {{ new_or_repriced() }}

),

assessments as (

    select * from {{ ref('int_sequestration_assessments') }}
    where {{ new_or_repriced() }}

),

line_assessments as (

    select * from assessments where sequestration_level = 'line'

),

final as (

    select
        service_lines.service_line_id,
        service_lines.claim_id,
        service_lines.remittance_id,
        service_lines.file_id,
        service_lines.transaction_seq,
        service_lines.claim_seq,
        service_lines.line_seq,
        service_lines.segment_pos,

        service_lines.procedure_qualifier,
        service_lines.procedure_code,
        service_lines.modifier_1,
        service_lines.modifier_2,
        service_lines.modifier_3,
        service_lines.modifier_4,
        service_lines.procedure_description,
        service_lines.revenue_code,
        service_lines.submitted_procedure_code,
        service_lines.line_item_control_number,

        service_lines.service_date_from,
        service_lines.service_date_to,
        service_lines.service_date,
        service_lines.service_date_source,

        cast(service_lines.charge_amount as decimal(18, 2)) as charge_amount,
        cast(service_lines.paid_amount as decimal(18, 2)) as paid_amount,
        cast(service_lines.allowed_amount as decimal(18, 2))
            as allowed_amount,
        service_lines.units_paid,
        service_lines.units_submitted,
        cast(service_lines.total_adjustment_amount as decimal(18, 2))
            as total_adjustment_amount,
        cast(service_lines.patient_responsibility_amount as decimal(18, 2))
            as patient_responsibility_amount,
        cast(service_lines.denial_amount as decimal(18, 2)) as denial_amount,
        cast(service_lines.sequestration_amount as decimal(18, 2))
            as sequestration_amount,
        line_assessments.sequestration_rate,
        line_assessments.expected_sequestration_amount,
        line_assessments.sequestration_difference,
        line_assessments.is_within_tolerance
            as is_sequestration_within_tolerance,
        service_lines.line_balance_difference,

        claims.payer_id,
        claims.payee_id,
        claims.claim_filing_indicator_code,
        claims.program,
        claims.payment_date,
        claims.is_reversal,
        remittances.is_duplicate_payment

    from service_lines
    inner join claims
        on service_lines.claim_id = claims.claim_id
    inner join remittances
        on service_lines.remittance_id = remittances.remittance_id
    left join line_assessments
        on service_lines.service_line_id = line_assessments.service_line_id

)

select * from final
