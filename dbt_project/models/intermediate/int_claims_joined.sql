{{ config(materialized='incremental', unique_key='file_id') }}

{#-
  One row per claim (CLP) with its remittance context (payer, payee,
  payment date), dates, program, adjustment totals at claim and line
  level, and service line totals. Incremental on the file: every value
  comes from the claim's own file and the seeds. What depends on other
  files (the duplicate flag, the order of payments) is joined later, from
  int_remittances_joined.

  Program and dates of service come from int_claim_attributes.
-#}

with

claims as (

    select * from {{ ref('stg_era__claims') }}
    where {{ new_files_only() }}

),

remittances as (

    select * from {{ ref('int_remittances_joined') }}

),

attributes as (

    select * from {{ ref('int_claim_attributes') }}
    where {{ new_files_only() }}

),

claim_references as (

    select * from {{ ref('stg_era__claim_references') }}
    where {{ new_files_only() }}

),

adjustments as (

    select * from {{ ref('int_adjustments_classified') }}
    where {{ new_files_only() }}

),

service_lines as (

    select * from {{ ref('int_service_lines_joined') }}
    where {{ new_files_only() }}

),

original_references as (

    select
        claim_id,
        min(reference_value) as original_reference_number

    from claim_references
    where reference_qualifier = 'F8'
    group by claim_id

),

claim_adjustments as (

    select
        claim_id,
        count(*) as adjustment_count,
        sum(amount) as total_adjustment_amount,
        sum(case when adjustment_level = 'claim' then amount else 0 end)
            as claim_level_adjustment_amount,
        sum(case when group_code = 'PR' then amount else 0 end)
            as patient_responsibility_adjustment_amount,
        sum(
            case when adjustment_category = 'contractual' then amount else 0 end
        ) as contractual_amount,
        sum(case when is_sequestration then amount else 0 end)
            as sequestration_amount,
        sum(
            case
                when is_sequestration and adjustment_level = 'claim'
                    then amount
                else 0
            end
        ) as claim_level_sequestration_amount,
        count(
            case
                when is_sequestration and adjustment_level = 'claim' then 1
            end
        ) as claim_level_sequestration_count,
        count(case when is_sequestration then 1 end)
            as sequestration_adjustment_count,
        sum(case when is_denial then amount else 0 end) as denial_amount,
        count(case when is_denial then 1 end) as denial_adjustment_count,
        count(case when more_coming then 1 end)
            as more_coming_adjustment_count

    from adjustments
    group by claim_id

),

line_totals as (

    select
        claim_id,
        count(*) as service_line_count,
        sum(charge_amount) as line_charge_amount,
        sum(paid_amount) as line_paid_amount

    from service_lines
    group by claim_id

),

joined as (

    select
        claims.*,

        remittances.payer_id,
        remittances.payer_name,
        remittances.payee_id,
        remittances.payee_name,
        remittances.payment_date,
        remittances.trace_number,
        remittances.trace_payer_id,

        original_references.original_reference_number,
        attributes.statement_from_date,
        attributes.statement_to_date,
        attributes.claim_received_date,
        attributes.service_date_from,
        attributes.service_date_to,
        attributes.program,
        attributes.program_source,
        attributes.may_be_medicare_advantage,

        coalesce(line_totals.service_line_count, 0) as service_line_count,
        line_totals.line_charge_amount,
        line_totals.line_paid_amount,

        coalesce(claim_adjustments.adjustment_count, 0) as adjustment_count,
        coalesce(claim_adjustments.total_adjustment_amount, 0)
            as total_adjustment_amount,
        coalesce(claim_adjustments.claim_level_adjustment_amount, 0)
            as claim_level_adjustment_amount,
        coalesce(claim_adjustments.patient_responsibility_adjustment_amount, 0)
            as patient_responsibility_adjustment_amount,
        coalesce(claim_adjustments.contractual_amount, 0)
            as contractual_amount,
        coalesce(claim_adjustments.sequestration_amount, 0)
            as sequestration_amount,
        coalesce(claim_adjustments.claim_level_sequestration_amount, 0)
            as claim_level_sequestration_amount,
        coalesce(claim_adjustments.claim_level_sequestration_count, 0) > 0
            as has_claim_level_sequestration,
        coalesce(claim_adjustments.sequestration_adjustment_count, 0) > 0
            as has_sequestration,
        coalesce(claim_adjustments.denial_amount, 0) as denial_amount,
        coalesce(claim_adjustments.denial_adjustment_count, 0) > 0
            as has_denial,
        coalesce(claim_adjustments.more_coming_adjustment_count, 0) > 0
            as has_more_coming

    from claims
    inner join remittances
        on claims.remittance_id = remittances.remittance_id
    inner join attributes
        on claims.claim_id = attributes.claim_id
    left join original_references
        on claims.claim_id = original_references.claim_id
    left join claim_adjustments
        on claims.claim_id = claim_adjustments.claim_id
    left join line_totals
        on claims.claim_id = line_totals.claim_id

),

final as (

    select
        *,

        -- CLP03 − Σ CAS (claim and lines) − CLP04, kept as found
        cast(
            charge_amount - total_adjustment_amount - paid_amount
            as decimal(18, 2)
        ) as claim_balance_difference

    from joined

)

select * from final
