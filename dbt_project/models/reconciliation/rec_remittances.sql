{{ config(schema='marts', materialized='table') }}

{#-
  Transaction-level reconciliation: one row per 835 transaction (one
  payment, BPR02) with the cash the ledger posted against its trace.

  BPR02 = Σ CLP04 − Σ PLB. The ledger's cash for the trace is its claim
  payments plus its provider-level rows (RECOUPMENT for a PLB WO,
  INTEREST for L6, PROVIDER_ADJUSTMENT for FB and the rest, each signed as
  its effect on the cash). The gap between BPR02 and that cash splits into
  claim payments not posted as paid (see rec_claims) and PLB items not
  booked (plb_unbooked_amount), exactly.

  posting_status: posted (the ledger has rows for the trace), not_posted
  (no rows, though the payment date falls inside the period the ledger
  covers), outside_ledger_period, no_ledger (no ledger loaded at all) or
  repeat_payment (the transaction repeats an earlier one and is never
  expected in the ledger).
-#}

with

remittances as (

    select * from {{ ref('fct_remittances') }}

),

repeats as (

    select * from {{ ref('int_era_repeated_payments') }}

),

ledger_rows as (

    select * from {{ ref('stg_ledger__rows') }}

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

ledger_period as (

    select
        min(coalesce(deposit_date, posted_date)) as first_day,
        max(coalesce(deposit_date, posted_date)) as last_day,
        count(*) as ledger_row_count

    from ledger_rows
    where is_current and is_payer_row

),

trace_totals as (

    select
        remittance_id,
        count(*) as ledger_row_count,
        sum(case when posting_kind = 'payment' then amount else 0 end)
            as ledger_claim_payment_amount,
        sum(case when posting_kind = 'provider' then amount else 0 end)
            as ledger_provider_amount

    from postings
    group by remittance_id

),

joined as (

    select
        remittances.remittance_id,
        remittances.file_id,
        remittances.transaction_seq,
        remittances.payer_id,
        remittances.payee_id,
        remittances.trace_payer_id,
        remittances.trace_number,
        remittances.payment_date,
        repeats.repeat_basis,

        remittances.payment_amount,
        remittances.total_paid_amount as era_claim_payment_amount,
        remittances.total_provider_adjustment_amount
            as era_provider_adjustment_amount,
        remittances.transaction_balance_difference,

        coalesce(trace_totals.ledger_row_count, 0) as ledger_row_count,
        cast(coalesce(trace_totals.ledger_claim_payment_amount, 0)
            as decimal(18, 2)) as ledger_claim_payment_amount,
        cast(coalesce(trace_totals.ledger_provider_amount, 0)
            as decimal(18, 2)) as ledger_provider_amount,

        case
            when repeats.remittance_id is not null then 'repeat_payment'
            when trace_totals.remittance_id is not null then 'posted'
            when coalesce(ledger_period.ledger_row_count, 0) = 0
                then 'no_ledger'
            when remittances.payment_date between ledger_period.first_day
                and ledger_period.last_day then 'not_posted'
            else 'outside_ledger_period'
        end as posting_status

    from remittances
    cross join ledger_period
    left join repeats
        on remittances.remittance_id = repeats.remittance_id
    left join trace_totals
        on remittances.remittance_id = trace_totals.remittance_id

),

final as (

    select
        *,

        cast(ledger_claim_payment_amount + ledger_provider_amount
            as decimal(18, 2)) as ledger_cash_amount,
        cast(
            payment_amount
            - ledger_claim_payment_amount
            - ledger_provider_amount
            as decimal(18, 2)
        ) as cash_gap_amount,
        cast(era_claim_payment_amount - ledger_claim_payment_amount
            as decimal(18, 2)) as claim_payment_gap_amount,
        -- what the PLB took (+) or added (-), less what the ledger booked
        cast(
            -era_provider_adjustment_amount - ledger_provider_amount
            as decimal(18, 2)
        ) as plb_gap_amount,
        cast(
            case
                when posting_status = 'posted'
                    then abs(
                        era_provider_adjustment_amount + ledger_provider_amount
                    )
                else 0
            end as decimal(18, 2)
        ) as plb_unbooked_amount

    from joined

)

select * from final
