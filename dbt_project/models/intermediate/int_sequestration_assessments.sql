{#-
  One row per unit at which Medicare FFS sequestration is checked: a claim
  (when it carries claim-level CO-253 or has no service lines, as Part A
  inpatient claims do) or else each of its service lines.

  P, the payment before the cut, is paid + CO-253 (SVC03 for a line,
  CLP04 for a claim). Expected CO-253 is round(r × P, 2) with r from the
  sequestration_rates seed for the date of service: the line's date, or
  the claim's through date for claim-level units, so that one file can
  mix 0%, 1% and 2%. Only claims whose program is medicare_ffs are
  assessed: Medicaid is exempt and Medicare Advantage pass-through
  depends on each provider contract.

  Incremental: a run assesses the claims of new files, and again those
  of any old remittance whose duplicate flag (the one value here that
  depends on other files) changed.
-#}

{{ config(materialized='incremental', unique_key='assessment_id') }}

with

remittances as (

    select * from {{ ref('int_remittances_joined') }}

),

repriced as (

    {{ repriced_remittances('remittances') }}

),

claims as (

    select * from {{ ref('int_claims_joined') }}
    where {{ new_or_repriced() }}

),

service_lines as (

    select * from {{ ref('int_service_lines_joined') }}
    where {{ new_or_repriced() }}

),

rates as (

    select * from {{ ref('sequestration_rates') }}

),

ffs_claims as (

    select
        *,
        has_claim_level_sequestration or service_line_count = 0
            as is_claim_level

    from claims
    where program = 'medicare_ffs'

),

claim_units as (

    select
        claim_id as assessment_id,
        claim_id,
        cast(null as varchar) as service_line_id,
        'claim' as sequestration_level,
        coalesce(service_date_to, service_date_from) as service_date,
        paid_amount,
        sequestration_amount

    from ffs_claims
    where is_claim_level

),

line_units as (

    select
        service_lines.service_line_id as assessment_id,
        service_lines.claim_id,
        service_lines.service_line_id,
        'line' as sequestration_level,
        service_lines.service_date,
        service_lines.paid_amount,
        service_lines.sequestration_amount

    from service_lines
    inner join ffs_claims
        on service_lines.claim_id = ffs_claims.claim_id
    where not ffs_claims.is_claim_level

),

units as (

    select * from claim_units
    union all
    select * from line_units

),

rated as (

    select
        units.*,
        rates.sequestration_rate,
        cast(
            round(
                rates.sequestration_rate
                * (units.paid_amount + units.sequestration_amount),
                2
            ) as decimal(18, 2)
        ) as expected_sequestration_amount

    from units
    left join rates
        on units.service_date >= rates.period_start
        and units.service_date <= rates.period_end

),

final as (

    select
        rated.assessment_id,
        rated.claim_id,
        rated.service_line_id,
        rated.sequestration_level,
        ffs_claims.remittance_id,
        ffs_claims.file_id,
        ffs_claims.payer_id,
        ffs_claims.payee_id,
        ffs_claims.payment_date,
        ffs_claims.is_reversal,
        remittances.is_duplicate_payment,
        rated.service_date,
        rated.paid_amount,
        rated.sequestration_amount,
        rated.sequestration_rate,
        rated.expected_sequestration_amount,
        cast(
            rated.sequestration_amount - rated.expected_sequestration_amount
            as decimal(18, 2)
        ) as sequestration_difference,
        abs(
            rated.sequestration_amount - rated.expected_sequestration_amount
        ) <= {{ var('sequestration_tolerance') }} as is_within_tolerance

    from rated
    inner join ffs_claims
        on rated.claim_id = ffs_claims.claim_id
    inner join remittances
        on ffs_claims.remittance_id = remittances.remittance_id

)

select * from final
