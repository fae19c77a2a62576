{#-
  One row per claim (CLP) with its remittance context (payer, payee,
  payment date, duplicate flag), dates, program, adjustment totals at
  claim and line level, and service line totals.

  Program: a payer_program_overrides row for the payer and this CLP06
  wins, then one for the payer with no CLP06, then the CLP06 mapping of
  the claim_filing_indicators seed, else 'other'.
-#}

with

claims as (

    select * from {{ ref('stg_era__claims') }}

),

remittances as (

    select * from {{ ref('int_remittances_joined') }}

),

claim_dates as (

    select * from {{ ref('stg_era__claim_dates') }}

),

claim_references as (

    select * from {{ ref('stg_era__claim_references') }}

),

adjustments as (

    select * from {{ ref('int_adjustments_classified') }}

),

service_lines as (

    select * from {{ ref('int_service_lines_joined') }}

),

filing_indicators as (

    select * from {{ ref('claim_filing_indicators') }}

),

overrides as (

    select * from {{ ref('payer_program_overrides') }}

),

claim_date_pivot as (

    select
        claim_id,
        min(case when date_qualifier = '232' then date_value end)
            as statement_from_date,
        max(case when date_qualifier = '233' then date_value end)
            as statement_to_date,
        min(case when date_qualifier = '050' then date_value end)
            as claim_received_date

    from claim_dates
    group by claim_id

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
        sum(paid_amount) as line_paid_amount,
        min(service_date_from) as first_line_service_date,
        max(service_date_to) as last_line_service_date

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
        remittances.file_order,
        remittances.is_duplicate_payment,

        original_references.original_reference_number,
        claim_date_pivot.statement_from_date,
        claim_date_pivot.statement_to_date,
        claim_date_pivot.claim_received_date,
        coalesce(
            claim_date_pivot.statement_from_date,
            line_totals.first_line_service_date,
            claim_date_pivot.statement_to_date
        ) as service_date_from,
        coalesce(
            claim_date_pivot.statement_to_date,
            line_totals.last_line_service_date,
            claim_date_pivot.statement_from_date
        ) as service_date_to,

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
    left join claim_date_pivot
        on claims.claim_id = claim_date_pivot.claim_id
    left join original_references
        on claims.claim_id = original_references.claim_id
    left join claim_adjustments
        on claims.claim_id = claim_adjustments.claim_id
    left join line_totals
        on claims.claim_id = line_totals.claim_id

),

programs as (

    select
        joined.*,

        coalesce(
            payer_code_override.program,
            payer_override.program,
            filing_indicators.program,
            'other'
        ) as program,
        case
            when payer_code_override.program is not null
                or payer_override.program is not null
                then 'payer_override'
            when filing_indicators.program is not null
                then 'claim_filing_indicator'
            else 'default'
        end as program_source,
        coalesce(filing_indicators.may_be_medicare_advantage, false)
            as may_be_medicare_advantage

    from joined
    left join overrides as payer_code_override
        on joined.payer_id = payer_code_override.payer_id
        and joined.claim_filing_indicator_code
        = payer_code_override.claim_filing_indicator_code
    left join overrides as payer_override
        on joined.payer_id = payer_override.payer_id
        and payer_override.claim_filing_indicator_code is null
    left join filing_indicators
        on joined.claim_filing_indicator_code
        = filing_indicators.claim_filing_indicator_code

),

final as (

    select
        *,

        -- CLP03 − Σ CAS (claim and lines) − CLP04, kept as found
        cast(
            charge_amount - total_adjustment_amount - paid_amount
            as decimal(18, 2)
        ) as claim_balance_difference,

        -- order in which payments happened, for reversal pairing
        row_number() over (
            order by
                payment_date nulls last,
                file_order,
                transaction_seq,
                claim_seq
        ) as claim_order

    from programs

)

select * from final
