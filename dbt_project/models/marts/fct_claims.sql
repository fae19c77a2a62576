{#-
  Incremental: a run writes the claims of new files, and again every old
  claim whose values that depend on other files are no longer what the
  table holds: the duplicate flag of its remittance, or its reversal
  pairing (a reversal in a new file takes back a claim of an old one).
-#}

{{ config(materialized='incremental', unique_key='claim_id') }}

with

remittances as (

    select * from {{ ref('int_remittances_joined') }}

),

reversals as (

    select * from {{ ref('int_claim_reversals_paired') }}

),

reversed_by as (

    -- an original taken back by more than one reversal keeps the first
    select
        original_claim_id,
        min(reversal_claim_id) as reversed_by_claim_id

    from reversals
    where original_claim_id is not null
    group by original_claim_id

),

repaired as (

    {% if incremental_run() -%}
    select stored.claim_id
    from {{ this }} as stored
    inner join remittances
        on stored.remittance_id = remittances.remittance_id
    left join reversals
        on stored.claim_id = reversals.reversal_claim_id
    left join reversed_by
        on stored.claim_id = reversed_by.original_claim_id
    where stored.is_duplicate_payment <> remittances.is_duplicate_payment
        or coalesce(stored.reversed_claim_id, '')
        <> coalesce(reversals.original_claim_id, '')
        or stored.is_orphan_reversal
        <> coalesce(reversals.is_orphan_reversal, false)
        or coalesce(stored.reversed_by_claim_id, '')
        <> coalesce(reversed_by.reversed_by_claim_id, '')
    {%- else -%}
    select cast(null as varchar) as claim_id
    where 1 = 0
    {%- endif %}

),

claims as (

    select * from {{ ref('int_claims_joined') }}
    where {{ new_files_only() }}
        or claim_id in (select claim_id from repaired)

),

assessments as (

    select * from {{ ref('int_sequestration_assessments') }}
    where claim_id in (select claim_id from claims)

),

claim_assessments as (

    select
        claim_id,
        max(sequestration_level) as sequestration_level,
        sum(expected_sequestration_amount) as expected_sequestration_amount,
        count(case when not is_within_tolerance then 1 end)
            as sequestration_exception_count

    from assessments
    group by claim_id

),

final as (

    select
        claims.claim_id,
        claims.remittance_id,
        claims.file_id,
        claims.transaction_seq,
        claims.claim_seq,
        claims.segment_pos,

        claims.patient_control_number,
        claims.claim_status_code,
        claims.claim_filing_indicator_code,
        claims.payer_claim_control_number,
        claims.original_reference_number,
        claims.facility_type_code,
        claims.claim_frequency_code,
        claims.drg_code,
        claims.program,
        claims.program_source,
        claims.may_be_medicare_advantage,

        claims.payer_id,
        claims.payer_name,
        claims.payee_id,
        claims.payee_name,
        claims.trace_number,
        claims.payment_date,
        claims.statement_from_date,
        claims.statement_to_date,
        claims.service_date_from,
        claims.service_date_to,

        cast(claims.charge_amount as decimal(18, 2)) as charge_amount,
        cast(claims.paid_amount as decimal(18, 2)) as paid_amount,
        cast(claims.patient_responsibility_amount as decimal(18, 2))
            as patient_responsibility_amount,
        cast(claims.total_adjustment_amount as decimal(18, 2))
            as total_adjustment_amount,
        cast(claims.claim_level_adjustment_amount as decimal(18, 2))
            as claim_level_adjustment_amount,
        cast(claims.patient_responsibility_adjustment_amount as decimal(18, 2))
            as patient_responsibility_adjustment_amount,
        cast(claims.contractual_amount as decimal(18, 2))
            as contractual_amount,
        cast(claims.denial_amount as decimal(18, 2)) as denial_amount,
        cast(claims.sequestration_amount as decimal(18, 2))
            as sequestration_amount,
        claim_assessments.sequestration_level,
        cast(claim_assessments.expected_sequestration_amount as decimal(18, 2))
            as expected_sequestration_amount,
        coalesce(claim_assessments.sequestration_exception_count, 0)
            as sequestration_exception_count,
        claims.claim_balance_difference,

        claims.service_line_count,
        claims.adjustment_count,
        claims.has_denial,
        claims.has_sequestration,
        claims.has_more_coming,

        claims.is_reversal,
        reversals.original_claim_id as reversed_claim_id,
        coalesce(reversals.is_orphan_reversal, false) as is_orphan_reversal,
        reversed_by.reversed_by_claim_id,
        reversed_by.reversed_by_claim_id is not null as is_reversed,
        remittances.is_duplicate_payment

    from claims
    inner join remittances
        on claims.remittance_id = remittances.remittance_id
    left join reversals
        on claims.claim_id = reversals.reversal_claim_id
    left join reversed_by
        on claims.claim_id = reversed_by.original_claim_id
    left join claim_assessments
        on claims.claim_id = claim_assessments.claim_id

)

select * from final
