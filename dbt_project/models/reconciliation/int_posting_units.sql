{{ config(schema='staging', materialized='table') }}

{#-
  One row per posting unit of every claim (not a reversal) in an ERA
  payment the ledger posted, with the ERA's adjustments and the ledger's
  rows summed by kind, side by side: the input of rec_posting_lines.

  A posting unit is a service line (SVC) when every ledger row of the
  claim names its line (claim_mode by_line), else the claim as a whole
  (whole_claim; always so for claims without lines). Claim-level CAS of a
  claim reconciled by line form one more, claim-level, unit.

  ERA kinds (the same rule classifies a ledger row that carries its CARC):
  patient_responsibility (group PR), prior_payer (OA-23), more_coming
  (the CARC seed's more_coming flag), denial, sequestration (CO-253),
  contractual (everything else). Ledger sums: transfer_* and writeoff_*
  by the kind of their CARC, or lumped (rows with a local code only); a
  write-off is booked as a denial write-off or otherwise by its local
  code (no local code: otherwise).
-#}

{%- set kinds = [
    'contractual', 'sequestration', 'denial', 'more_coming', 'prior_payer',
    'patient_responsibility',
] -%}

with

claims as (

    select * from {{ ref('fct_claims') }}

),

service_lines as (

    select * from {{ ref('fct_service_lines') }}

),

adjustments as (

    select * from {{ ref('fct_adjustments') }}

),

matched_rows as (

    select * from {{ ref('int_ledger_rows_matched') }}

),

postings as (

    select *
    from matched_rows
    where match_status = 'matched'
        and not is_duplicate_posting

),

covered_remittances as (

    select distinct remittance_id from postings

),

claim_postings as (

    select *
    from postings
    where posting_kind in ('payment', 'writeoff', 'transfer')

),

claims_without_line_keys as (

    select distinct claim_id
    from claim_postings
    where service_line_id is null

),

claim_modes as (

    select
        claims.claim_id,
        claims.remittance_id,
        claims.file_id,
        claims.payer_id,
        claims.claim_status_code,
        claims.paid_amount,
        claims.claim_status_code in ('19', '20', '21') as is_forwarded,
        case
            when claims.service_line_count = 0
                or claims_without_line_keys.claim_id is not null
                then 'whole_claim'
            else 'by_line'
        end as claim_mode

    from claims
    inner join covered_remittances
        on claims.remittance_id = covered_remittances.remittance_id
    left join claims_without_line_keys
        on claims.claim_id = claims_without_line_keys.claim_id
    where not claims.is_reversal

),

claims_with_claim_level_cas as (

    select distinct claim_id
    from adjustments
    where adjustment_level = 'claim'

),

units as (

    select
        service_lines.service_line_id as posting_unit_id,
        'line' as unit_level,
        claim_modes.claim_id,
        service_lines.service_line_id,
        claim_modes.remittance_id,
        claim_modes.file_id,
        claim_modes.payer_id,
        claim_modes.claim_status_code,
        claim_modes.is_forwarded,
        service_lines.paid_amount as era_paid_amount

    from claim_modes
    inner join service_lines
        on claim_modes.claim_id = service_lines.claim_id
    where claim_modes.claim_mode = 'by_line'

    union all

    select
        claim_modes.claim_id as posting_unit_id,
        'claim' as unit_level,
        claim_modes.claim_id,
        cast(null as varchar) as service_line_id,
        claim_modes.remittance_id,
        claim_modes.file_id,
        claim_modes.payer_id,
        claim_modes.claim_status_code,
        claim_modes.is_forwarded,
        case
            when claim_modes.claim_mode = 'whole_claim'
                then claim_modes.paid_amount
        end as era_paid_amount

    from claim_modes
    left join claims_with_claim_level_cas
        on claim_modes.claim_id = claims_with_claim_level_cas.claim_id
    where claim_modes.claim_mode = 'whole_claim'
        or claims_with_claim_level_cas.claim_id is not null

),

era_amounts as (

    select
        case
            when claim_modes.claim_mode = 'by_line'
                and adjustments.service_line_id is not null
                then adjustments.service_line_id
            else adjustments.claim_id
        end as posting_unit_id,
        adjustments.amount,
        case
            when adjustments.group_code = 'PR' then 'patient_responsibility'
            when adjustments.group_code = 'OA'
                and adjustments.reason_code = '23' then 'prior_payer'
            when adjustments.more_coming then 'more_coming'
            when adjustments.is_denial then 'denial'
            when adjustments.is_sequestration then 'sequestration'
            else 'contractual'
        end as era_kind

    from adjustments
    inner join claim_modes
        on adjustments.claim_id = claim_modes.claim_id

),

era_sums as (

    select
        posting_unit_id,
        {% for kind in kinds -%}
        sum(case when era_kind = '{{ kind }}' then amount else 0 end)
            as era_{{ kind }}_amount
        {%- if not loop.last %},{% endif %}
        {% endfor %}

    from era_amounts
    group by posting_unit_id

),

ledger_amounts as (

    select
        case
            when claim_modes.claim_mode = 'by_line'
                then claim_postings.service_line_id
            else claim_postings.claim_id
        end as posting_unit_id,
        claim_postings.posting_kind,
        claim_postings.era_kind,
        claim_postings.is_denial_writeoff_code,
        claim_postings.amount

    from claim_postings
    inner join claim_modes
        on claim_postings.claim_id = claim_modes.claim_id

),

ledger_sums as (

    select
        posting_unit_id,
        count(*) as ledger_row_count,
        {% for kind in ['payment', 'writeoff', 'transfer'] -%}
        sum(case when posting_kind = '{{ kind }}' then amount else 0 end)
            as posted_{{ kind }}_amount,
        {% endfor %}

        sum(case when posting_kind = 'transfer'
            and era_kind = 'patient_responsibility'
            then amount else 0 end) as transfer_carc_patient_responsibility,
        sum(case when posting_kind = 'transfer' and era_kind = 'sequestration'
            then amount else 0 end) as transfer_carc_sequestration,
        sum(case when posting_kind = 'transfer' and era_kind in (
            'contractual', 'denial', 'more_coming', 'prior_payer')
            then amount else 0 end) as transfer_carc_provider_liability,
        sum(case when posting_kind = 'transfer' and era_kind is null
            then amount else 0 end) as transfer_lumped,

        {% for kind in kinds if kind != 'denial' -%}
        sum(case when posting_kind = 'writeoff' and era_kind = '{{ kind }}'
            then amount else 0 end) as writeoff_carc_{{ kind }},
        {% endfor %}
        sum(case when posting_kind = 'writeoff' and era_kind = 'denial'
            and is_denial_writeoff_code
            then amount else 0 end) as writeoff_carc_denial_by_denial_code,
        sum(case when posting_kind = 'writeoff' and era_kind = 'denial'
            and not is_denial_writeoff_code
            then amount else 0 end) as writeoff_carc_denial_by_other_code,
        sum(case when posting_kind = 'writeoff' and era_kind is null
            and is_denial_writeoff_code
            then amount else 0 end) as writeoff_lumped_denial_code,
        sum(case when posting_kind = 'writeoff' and era_kind is null
            and not is_denial_writeoff_code
            then amount else 0 end) as writeoff_lumped_other_code

    from ledger_amounts
    group by posting_unit_id

),

final as (

    select
        units.*,

        {% for kind in kinds -%}
        cast(coalesce(era_sums.era_{{ kind }}_amount, 0) as decimal(18, 2))
            as era_{{ kind }}_amount,
        {% endfor %}

        coalesce(ledger_sums.ledger_row_count, 0) as ledger_row_count,
        {% for column in [
            'posted_payment_amount', 'posted_writeoff_amount',
            'posted_transfer_amount', 'transfer_carc_patient_responsibility',
            'transfer_carc_sequestration', 'transfer_carc_provider_liability',
            'transfer_lumped', 'writeoff_carc_contractual',
            'writeoff_carc_sequestration', 'writeoff_carc_more_coming',
            'writeoff_carc_prior_payer', 'writeoff_carc_patient_responsibility',
            'writeoff_carc_denial_by_denial_code',
            'writeoff_carc_denial_by_other_code', 'writeoff_lumped_denial_code',
            'writeoff_lumped_other_code',
        ] -%}
        cast(coalesce(ledger_sums.{{ column }}, 0) as decimal(18, 2))
            as {{ column }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}

    from units
    left join era_sums
        on units.posting_unit_id = era_sums.posting_unit_id
    left join ledger_sums
        on units.posting_unit_id = ledger_sums.posting_unit_id

)

select * from final
