{{ config(schema='staging', materialized='table') }}

{#-
  One row per current ledger row (a re-exported transaction counts once)
  with the ERA payment, claim and line it posts to, and whether it repeats
  another posting.

  - Payment: the payer's trace, TRN02 = trace_number (and TRN03 =
    trace_payer_id when the row gives it), among 835 transactions that do
    not repeat an earlier payment. More than one candidate: ambiguous.
  - Claim (payment, write-off and transfer rows): CLP01 =
    patient_control_number inside that payment, and CLP07 =
    payer_claim_control_number when given. Candidates are ranked by the
    CLP07 match, then by reversal type (a PAYMENT_REVERSAL or
    ADJUSTMENT_REVERSAL row belongs to the CLP02 22 claim, not to the
    correction beside it), then by sign, then file order (claim_seq).
  - Line: REF*6R = service_line_ref, else procedure + modifiers + service
    date (SVC01, DTM*472). No line keys, or keys that fit no line or more
    than one: the row posts to the claim as a whole.
  - A duplicate posting: the same payer row (trace, claim keys, line keys,
    type, codes and amount) posted again under another ledger_txn_id. The
    first one, in file and line order, is kept; the others are left out of
    the reconciliation and reported as duplicates.
  Patient rows (responsibility_seq PT), refunds and notes are kept with
  match_status 'not_reconciled'.
-#}

with

ledger_rows as (

    select * from {{ ref('stg_ledger__rows') }} where is_current

),

remittances as (

    select * from {{ ref('fct_remittances') }}

),

repeats as (

    select * from {{ ref('int_era_repeated_payments') }}

),

claims as (

    select * from {{ ref('fct_claims') }}

),

service_lines as (

    select * from {{ ref('fct_service_lines') }}

),

payments as (

    select remittances.*
    from remittances
    left join repeats
        on remittances.remittance_id = repeats.remittance_id
    where repeats.remittance_id is null

),

reconcilable as (

    select *
    from ledger_rows
    where is_payer_row
        and posting_kind in ('payment', 'writeoff', 'transfer', 'provider')

),

duplicates as (

    select
        ledger_row_id,
        row_number() over (
            partition by posting_key order by file_order, line_number
        ) as posting_copy,
        first_value(ledger_row_id) over (
            partition by posting_key order by file_order, line_number
        ) as first_ledger_row_id

    from (
        select
            ledger_row_id,
            file_order,
            line_number,
            source_system || '|' || responsibility_seq || '|' || txn_type
            || '|' || coalesce(trace_payer_id, '') || '|' || trace_number
            || '|' || coalesce(patient_control_number, '')
            || '|' || coalesce(payer_claim_control_number, '')
            || '|' || coalesce(service_line_ref, '')
            || '|' || coalesce(procedure_code, '')
            || '|' || coalesce(modifiers, '')
            || '|' || coalesce({{ as_text('service_date') }}, '')
            || '|' || coalesce(group_code, '') || '|' || coalesce(carc, '')
            || '|' || coalesce(local_adj_code, '')
            || '|' || {{ as_text('amount') }} as posting_key

        from reconcilable
    ) as keyed

),

trace_candidates as (

    select
        reconcilable.ledger_row_id,
        payments.remittance_id,
        count(*) over (partition by reconcilable.ledger_row_id)
            as trace_candidate_count

    from reconcilable
    inner join payments
        on reconcilable.trace_number = payments.trace_number
        and (
            reconcilable.trace_payer_id is null
            or reconcilable.trace_payer_id = payments.trace_payer_id
        )

),

trace_matches as (

    select
        ledger_row_id,
        max(trace_candidate_count) as trace_candidate_count,
        max(case when trace_candidate_count = 1 then remittance_id end)
            as remittance_id

    from trace_candidates
    group by ledger_row_id

),

claim_candidates as (

    select
        reconcilable.ledger_row_id,
        claims.claim_id,

        row_number() over (
            partition by reconcilable.ledger_row_id
            order by
                case
                    when reconcilable.payer_claim_control_number
                        = claims.payer_claim_control_number then 0
                    else 1
                end,
                case
                    when (
                        reconcilable.txn_type
                        in ('PAYMENT_REVERSAL', 'ADJUSTMENT_REVERSAL')
                    ) = claims.is_reversal then 0
                    else 1
                end,
                case
                    when (reconcilable.amount < 0) = claims.is_reversal then 0
                    else 1
                end,
                claims.claim_seq
        ) as claim_rank

    from reconcilable
    inner join trace_matches
        on reconcilable.ledger_row_id = trace_matches.ledger_row_id
    inner join claims
        on trace_matches.remittance_id = claims.remittance_id
        and reconcilable.patient_control_number
        = claims.patient_control_number
        and (
            reconcilable.payer_claim_control_number is null
            or reconcilable.payer_claim_control_number
            = claims.payer_claim_control_number
        )
    where reconcilable.posting_kind in ('payment', 'writeoff', 'transfer')

),

claim_matches as (

    select ledger_row_id, claim_id
    from claim_candidates
    where claim_rank = 1

),

line_keys as (

    select
        service_line_id,
        claim_id,
        line_seq,
        line_item_control_number,
        procedure_code,
        coalesce(
            concat_ws(':', modifier_1, modifier_2, modifier_3, modifier_4), ''
        ) as modifiers,
        service_date,
        service_date_from

    from service_lines

),

line_candidates as (

    select
        claim_matches.ledger_row_id,
        line_keys.service_line_id,
        line_keys.line_seq,
        case
            when reconcilable.service_line_ref
                = line_keys.line_item_control_number then 'line_ref'
            else 'procedure_date'
        end as line_match_method

    from claim_matches
    inner join reconcilable
        on claim_matches.ledger_row_id = reconcilable.ledger_row_id
    inner join line_keys
        on claim_matches.claim_id = line_keys.claim_id
    where reconcilable.service_line_ref = line_keys.line_item_control_number
        or (
            reconcilable.procedure_code = line_keys.procedure_code
            and coalesce(reconcilable.modifiers, '') = line_keys.modifiers
            and (
                reconcilable.service_date is null
                or reconcilable.service_date = line_keys.service_date
                or reconcilable.service_date = line_keys.service_date_from
            )
        )

),

line_ranked as (

    select
        *,
        count(*) over (partition by ledger_row_id, line_match_method)
            as method_candidates,
        row_number() over (
            partition by ledger_row_id
            order by
                case when line_match_method = 'line_ref' then 0 else 1 end,
                line_seq
        ) as line_rank

    from line_candidates

),

line_matches as (

    select
        ledger_row_id,
        case
            when line_match_method = 'line_ref' or method_candidates = 1
                then service_line_id
        end as service_line_id,
        case
            when line_match_method = 'line_ref' or method_candidates = 1
                then line_match_method
            else 'line_ambiguous'
        end as line_match_method

    from line_ranked
    where line_rank = 1

),

matched as (

    select
        ledger_rows.*,

        trace_matches.remittance_id,
        claim_matches.claim_id,
        line_matches.service_line_id,
        case
            when claim_matches.claim_id is null then null
            when line_matches.line_match_method is not null
                then line_matches.line_match_method
            when ledger_rows.service_line_ref is not null
                or ledger_rows.procedure_code is not null
                then 'line_not_found'
            else 'claim_level'
        end as line_match_method,
        coalesce(duplicates.posting_copy > 1, false) as is_duplicate_posting,
        case
            when duplicates.posting_copy > 1
                then duplicates.first_ledger_row_id
        end as duplicate_of_ledger_row_id,

        case
            when reconcilable.ledger_row_id is null then 'not_reconciled'
            when trace_matches.trace_candidate_count is null
                then 'trace_not_found'
            when trace_matches.trace_candidate_count > 1
                then 'ambiguous_trace'
            when ledger_rows.posting_kind = 'provider' then 'matched'
            when claim_matches.claim_id is null then 'claim_not_found'
            else 'matched'
        end as match_status

    from ledger_rows
    left join reconcilable
        on ledger_rows.ledger_row_id = reconcilable.ledger_row_id
    left join duplicates
        on ledger_rows.ledger_row_id = duplicates.ledger_row_id
    left join trace_matches
        on ledger_rows.ledger_row_id = trace_matches.ledger_row_id
    left join claim_matches
        on ledger_rows.ledger_row_id = claim_matches.ledger_row_id
    left join line_matches
        on ledger_rows.ledger_row_id = line_matches.ledger_row_id

)

select * from matched
