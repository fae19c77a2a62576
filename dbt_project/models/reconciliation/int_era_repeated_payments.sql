{{ config(schema='staging', materialized='table') }}

{#-
  One row per 835 transaction that repeats a payment an earlier loaded
  file already carried: the same trace (TRN03 + TRN02, the marts'
  is_duplicate_payment) or the same envelope (ISA06 + ISA13 + ST02, a
  DUPLICATE_PAYMENT finding of the loader). The posting ledger is never
  expected to post these a second time.
-#}

with

remittances as (

    select * from {{ ref('fct_remittances') }}

),

findings as (

    select * from {{ ref('stg_era__file_findings') }}

),

segments as (

    -- the TRN or ST a DUPLICATE_PAYMENT finding points at: read from the
    -- typed staging tables rather than by a scan of raw.segments every run
    select file_id, segment_pos, remittance_id
    from {{ ref('stg_era__traces') }}

    union all

    select file_id, segment_pos, remittance_id
    from {{ ref('stg_era__transactions') }}

),

by_trace as (

    select
        remittance_id,
        'same_trace' as repeat_basis

    from remittances
    where is_duplicate_payment

),

by_envelope as (

    select
        segments.remittance_id,
        case
            when findings.detail like 'same TRN03+TRN02%' then 'same_trace'
            else 'same_envelope'
        end as repeat_basis

    from findings
    inner join segments
        on findings.file_id = segments.file_id
        and findings.segment_pos = segments.segment_pos
    where findings.finding_code = 'DUPLICATE_PAYMENT'

),

repeats as (

    select
        remittance_id,
        -- same_trace sorts after same_envelope: the trace, when both apply
        max(repeat_basis) as repeat_basis

    from (
        select * from by_trace
        union all
        select * from by_envelope
    ) as both_kinds
    group by remittance_id

)

select * from repeats
