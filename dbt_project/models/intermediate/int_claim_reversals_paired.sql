{#-
  One row per reversal (CLP02 = 22) with the original claim it takes
  back. The original is a non-reversal claim of the same payer with the
  same patient control number (CLP01) whose payer claim control number
  (CLP07) equals the reversal's CLP07, or failing that its REF*F8, and
  that was paid before the reversal. The latest such claim wins. The
  corrected claim that usually follows the reversal comes after it and so
  is never taken as the original. No match: an orphan reversal.

  A table, rebuilt every run: a reversal in a new file takes back a claim
  of an old one, and an original paid earlier but loaded later can still
  pair with an old reversal. Only claims whose CLP01 some reversal
  carries are read into the ordering, which keeps it small.
-#}

with

claims as (

    select * from {{ ref('int_claims_joined') }}

),

remittances as (

    select * from {{ ref('int_remittances_joined') }}

),

reversed_patients as (

    select distinct patient_control_number
    from claims
    where is_reversal

),

ordered as (

    -- the order in which payments happened: payment date, then arrival
    select
        claims.*,
        remittances.is_duplicate_payment,

        row_number() over (
            order by
                claims.payment_date nulls last,
                remittances.file_order,
                claims.transaction_seq,
                claims.claim_seq
        ) as claim_order

    from claims
    inner join reversed_patients
        on claims.patient_control_number
        = reversed_patients.patient_control_number
    inner join remittances
        on claims.remittance_id = remittances.remittance_id

),

reversal_claims as (

    select claim_id from claims where is_reversal

),

reversals as (

    select * from ordered where is_reversal

),

originals as (

    select * from ordered where not is_reversal

),

candidates as (

    select
        reversals.claim_id as reversal_claim_id,
        originals.claim_id as original_claim_id,
        case
            when originals.payer_claim_control_number
                = reversals.payer_claim_control_number
                then 'clp01_clp07'
            else 'clp01_ref_f8'
        end as match_method,
        coalesce(
            reversals.charge_amount = -originals.charge_amount
            and reversals.paid_amount = -originals.paid_amount,
            false
        ) as amounts_negate_original,

        row_number() over (
            partition by reversals.claim_id
            order by
                case
                    when originals.payer_claim_control_number
                        = reversals.payer_claim_control_number
                        then 0
                    else 1
                end,
                case when originals.is_duplicate_payment then 1 else 0 end,
                originals.claim_order desc
        ) as candidate_rank

    from reversals
    inner join originals
        on reversals.patient_control_number
        = originals.patient_control_number
        and coalesce(reversals.payer_id, '')
        = coalesce(originals.payer_id, '')
        and (
            reversals.payer_claim_control_number
            = originals.payer_claim_control_number
            or reversals.original_reference_number
            = originals.payer_claim_control_number
        )
        and originals.claim_order < reversals.claim_order

),

paired as (

    select
        reversals.claim_id as reversal_claim_id,
        candidates.original_claim_id,
        coalesce(candidates.match_method, 'unmatched') as match_method,
        candidates.original_claim_id is null as is_orphan_reversal,
        coalesce(candidates.amounts_negate_original, false)
            as amounts_negate_original

    from reversal_claims as reversals
    left join candidates
        on reversals.claim_id = candidates.reversal_claim_id
        and candidates.candidate_rank = 1

)

select * from paired
