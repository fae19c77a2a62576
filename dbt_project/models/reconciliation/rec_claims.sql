{{ config(schema='marts', materialized='table') }}

{#-
  Claim-level reconciliation: one row per ERA claim (CLP) of a payment
  that does not repeat an earlier one, with what the ledger posted to it
  (matched by CLP01 + CLP07, see int_ledger_rows_matched) beside what the
  ERA says.

  A claim is reconciled when the ledger posted its payment (the trace):
  then its payments must add up to CLP04, and a reversal (CLP02 22) must
  be posted with the sign of its CLP04 (negative: the payer took the money
  back). Reversals are applied in file order: the original, its reversal
  and the correction are each reconciled against the payment that carried
  them, and reversed_claim_id names the original a reversal takes back.
-#}

with

claims as (

    select * from {{ ref('fct_claims') }}

),

repeats as (

    select * from {{ ref('int_era_repeated_payments') }}

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

claim_totals as (

    select
        claim_id,
        count(*) as ledger_row_count,
        sum(case when posting_kind = 'payment' then amount else 0 end)
            as posted_payment_amount,
        sum(case when posting_kind = 'writeoff' then amount else 0 end)
            as posted_writeoff_amount,
        sum(case when posting_kind = 'transfer' then amount else 0 end)
            as posted_transfer_amount

    from postings
    where claim_id is not null
    group by claim_id

),

joined as (

    select
        claims.claim_id,
        claims.remittance_id,
        claims.file_id,
        claims.transaction_seq,
        claims.claim_seq,
        claims.patient_control_number,
        claims.payer_claim_control_number,
        claims.payer_id,
        claims.claim_status_code,
        claims.program,
        claims.is_reversal,
        claims.reversed_claim_id,
        claims.payment_date,

        claims.charge_amount,
        claims.paid_amount,
        claims.patient_responsibility_amount,
        cast(
            claims.total_adjustment_amount
            - claims.patient_responsibility_adjustment_amount
            as decimal(18, 2)
        ) as era_provider_adjustment_amount,

        covered_remittances.remittance_id is not null as is_reconciled,
        coalesce(claim_totals.ledger_row_count, 0) as ledger_row_count,
        cast(coalesce(claim_totals.posted_payment_amount, 0) as decimal(18, 2))
            as posted_payment_amount,
        cast(coalesce(claim_totals.posted_writeoff_amount, 0) as decimal(18, 2))
            as posted_writeoff_amount,
        cast(coalesce(claim_totals.posted_transfer_amount, 0) as decimal(18, 2))
            as posted_transfer_amount

    from claims
    left join repeats
        on claims.remittance_id = repeats.remittance_id
    left join covered_remittances
        on claims.remittance_id = covered_remittances.remittance_id
    left join claim_totals
        on claims.claim_id = claim_totals.claim_id
    where repeats.remittance_id is null

),

judged as (

    select
        *,

        (posted_payment_amount > 0 and paid_amount < 0)
        or (posted_payment_amount < 0 and paid_amount > 0)
            as is_payment_sign_flipped,
        (posted_writeoff_amount > 0 and era_provider_adjustment_amount < 0)
        or (posted_writeoff_amount < 0 and era_provider_adjustment_amount > 0)
            as is_writeoff_sign_flipped

    from joined

),

final as (

    select
        claim_id,
        remittance_id,
        file_id,
        transaction_seq,
        claim_seq,
        patient_control_number,
        payer_claim_control_number,
        payer_id,
        claim_status_code,
        program,
        is_reversal,
        reversed_claim_id,
        payment_date,
        charge_amount,
        paid_amount,
        patient_responsibility_amount,
        era_provider_adjustment_amount,
        is_reconciled,
        ledger_row_count,
        posted_payment_amount,
        posted_writeoff_amount,
        posted_transfer_amount,

        case
            when not is_reversal or not is_reconciled then null
            when ledger_row_count = 0 then 'not_posted'
            when is_payment_sign_flipped or is_writeoff_sign_flipped
                then 'wrong_sign'
            else 'posted'
        end as reversal_posting_status,

        cast(
            case
                when not is_reversal or not is_reconciled then 0
                when ledger_row_count = 0 then abs(paid_amount)
                when is_payment_sign_flipped or is_writeoff_sign_flipped
                    then abs(posted_payment_amount - paid_amount)
                        + case
                            when is_writeoff_sign_flipped
                                then 2 * abs(posted_writeoff_amount)
                            else 0
                        end
                else 0
            end as decimal(18, 2)
        ) as reversal_amount_at_stake,

        -- posted minus CLP04, for claims whose payment the ledger posted
        -- (reversals only once posted with the right sign)
        cast(
            case
                when not is_reconciled then null
                when is_reversal and (
                    ledger_row_count = 0
                    or is_payment_sign_flipped or is_writeoff_sign_flipped
                ) then null
                else posted_payment_amount - paid_amount
            end as decimal(18, 2)
        ) as payment_variance_amount

    from judged

)

select * from final
