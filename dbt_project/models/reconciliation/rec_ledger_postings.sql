{{ config(schema='marts', materialized='table') }}

{#-
  One row per ledger row of every loaded ledger file, with the ERA
  payment, claim and line it posts to and its posting_status:

  - matched: reconciled against the ERA;
  - duplicate: the same posting again under another ledger_txn_id (left
    out of the reconciliation; duplicate_of_ledger_row_id is the one kept);
  - trace_not_found / ambiguous_trace / claim_not_found: the row's keys
    fit no 835 payment or claim (or more than one payment);
  - not_reconciled: patient rows, refunds and notes, outside the 835;
  - superseded: a transaction exported again in a later file, whose later
    version is the one used.
-#}

with

all_rows as (

    select * from {{ ref('stg_ledger__rows') }}

),

matched as (

    select * from {{ ref('int_ledger_rows_matched') }}

),

remittances as (

    select * from {{ ref('fct_remittances') }}

),

final as (

    select
        all_rows.ledger_row_id,
        all_rows.ledger_file_id,
        all_rows.ledger_file_name,
        all_rows.line_number,
        all_rows.ledger_txn_id,
        all_rows.source_system,
        all_rows.posted_date,
        all_rows.deposit_date,

        all_rows.patient_control_number,
        all_rows.payer_claim_control_number,
        all_rows.ledger_payer_id,
        all_rows.trace_payer_id,
        all_rows.trace_number,
        all_rows.service_line_ref,
        all_rows.procedure_code,
        all_rows.modifiers,
        all_rows.service_date,
        all_rows.responsibility_seq,

        all_rows.txn_type,
        all_rows.posting_kind,
        all_rows.amount,
        all_rows.group_code,
        all_rows.carc,
        all_rows.local_adj_code,
        all_rows.code_category,
        all_rows.is_contractual_code,
        all_rows.is_denial_writeoff_code,
        all_rows.era_kind,

        matched.remittance_id,
        matched.claim_id,
        matched.service_line_id,
        matched.line_match_method,
        remittances.file_id as era_file_id,
        coalesce(remittances.payer_id, all_rows.ledger_payer_id) as payer_id,
        matched.duplicate_of_ledger_row_id,

        case
            when not all_rows.is_current then 'superseded'
            when matched.is_duplicate_posting then 'duplicate'
            else matched.match_status
        end as posting_status

    from all_rows
    left join matched
        on all_rows.ledger_row_id = matched.ledger_row_id
    left join remittances
        on matched.remittance_id = remittances.remittance_id

)

select * from final
