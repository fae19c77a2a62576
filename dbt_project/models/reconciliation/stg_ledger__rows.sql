{{ config(schema='staging', materialized='table') }}

{#-
  One row per data line of every loaded ledger file, with what the
  reconciliation needs to know about it:

  - posting_kind from the txn type (payment, writeoff, transfer,
    provider, other), from the ledger_txn_types seed;
  - the local code's category and flags, from the code map the file was
    loaded with (stg_ledger__codes by code_map_id);
  - era_kind: when the row carries a CARC, which ERA amount it posts,
    classified by (group, reason) exactly as the ERA adjustments are:
    patient_responsibility (group PR), prior_payer (OA-23), more_coming,
    denial, sequestration (CO-253), else contractual. Null when the row
    carries only a local code;
  - is_current: a transaction exported again in a later file
    (same source_system and ledger_txn_id) is the later file's version.

  Empty until a ledger is loaded.
-#}

{%- set columns = [
    ('file_id', 'varchar'), ('line_number', 'integer'),
    ('ledger_txn_id', 'varchar'), ('source_system', 'varchar'),
    ('posted_date', 'date'), ('deposit_date', 'date'),
    ('patient_control_number', 'varchar'),
    ('payer_claim_control_number', 'varchar'),
    ('original_payer_claim_control_number', 'varchar'),
    ('payer_id', 'varchar'), ('trace_payer_id', 'varchar'),
    ('trace_number', 'varchar'), ('service_line_ref', 'varchar'),
    ('procedure_code', 'varchar'), ('modifiers', 'varchar'),
    ('service_date', 'date'), ('responsibility_seq', 'varchar'),
    ('txn_type', 'varchar'), ('amount', 'decimal(18, 2)'),
    ('group_code', 'varchar'), ('carc', 'varchar'), ('rarc', 'varchar'),
    ('local_adj_code', 'varchar'), ('posted_by', 'varchar'),
    ('reversal_of_txn_id', 'varchar'), ('era_file_ref', 'varchar'),
] -%}

with

ledger_rows as (

    {{ ledger_source_or_empty('ledger_rows', columns) }}

),

files as (

    select * from {{ ref('stg_ledger__files') }}

),

codes as (

    select * from {{ ref('stg_ledger__codes') }}

),

txn_types as (

    select * from {{ ref('ledger_txn_types') }}

),

reasons as (

    select * from {{ ref('int_adjustment_reasons') }}

),

typed as (

    select
        ledger_rows.file_id || '-' || {{ as_text('ledger_rows.line_number') }}
            as ledger_row_id,
        ledger_rows.file_id as ledger_file_id,
        ledger_rows.line_number,
        files.file_order,
        files.file_name as ledger_file_name,

        ledger_rows.ledger_txn_id,
        ledger_rows.source_system,
        ledger_rows.posted_date,
        ledger_rows.deposit_date,
        ledger_rows.patient_control_number,
        ledger_rows.payer_claim_control_number,
        ledger_rows.original_payer_claim_control_number,
        ledger_rows.payer_id as ledger_payer_id,
        ledger_rows.trace_payer_id,
        ledger_rows.trace_number,
        ledger_rows.service_line_ref,
        ledger_rows.procedure_code,
        ledger_rows.modifiers,
        ledger_rows.service_date,
        ledger_rows.responsibility_seq,
        ledger_rows.responsibility_seq in ('P', 'S', 'T') as is_payer_row,
        ledger_rows.txn_type,
        coalesce(txn_types.posting_kind, 'other') as posting_kind,
        cast(ledger_rows.amount as decimal(18, 2)) as amount,
        ledger_rows.group_code,
        ledger_rows.carc,
        ledger_rows.rarc,
        ledger_rows.local_adj_code,
        codes.code_category,
        coalesce(codes.is_contractual, false) as is_contractual_code,
        coalesce(codes.is_denial_writeoff, false) as is_denial_writeoff_code,
        ledger_rows.posted_by,
        ledger_rows.reversal_of_txn_id,
        ledger_rows.era_file_ref,

        case
            when ledger_rows.carc is null then null
            when ledger_rows.group_code = 'PR' then 'patient_responsibility'
            when ledger_rows.group_code = 'OA' and ledger_rows.carc = '23'
                then 'prior_payer'
            when coalesce(reasons.more_coming, false) then 'more_coming'
            when coalesce(reasons.is_denial, false) then 'denial'
            when ledger_rows.group_code = 'CO' and ledger_rows.carc = '253'
                then 'sequestration'
            else 'contractual'
        end as era_kind,

        row_number() over (
            partition by ledger_rows.source_system, ledger_rows.ledger_txn_id
            order by files.file_order desc, ledger_rows.line_number
        ) = 1 as is_current

    from ledger_rows
    inner join files
        on ledger_rows.file_id = files.file_id
    left join codes
        on files.code_map_id = codes.code_map_id
        and ledger_rows.local_adj_code = codes.local_adj_code
    left join txn_types
        on ledger_rows.txn_type = txn_types.txn_type
    left join reasons
        on ledger_rows.group_code || '-' || ledger_rows.carc
        = reasons.adjustment_reason_id

)

select * from typed
