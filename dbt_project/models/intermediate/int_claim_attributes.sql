{{ config(materialized='incremental', unique_key='file_id') }}

{#-
  One row per claim (CLP) with its program and dates of service: what the
  classification of its adjustments needs (CARC 223 counts as
  sequestration only on Medicare FFS claims with 2013 dates of service)
  before the claim totals are made. int_claims_joined carries them on.

  Program: a payer_program_overrides row for the payer and this CLP06
  wins, then one for the payer with no CLP06, then the CLP06 mapping of
  the claim_filing_indicators seed, else 'other'.

  Dates: statement from/through (DTM*232/233); service_date_from is 232,
  else the earliest line date, else 233; service_date_to is 233, else
  the latest line date, else 232.
-#}

with

claims as (

    select * from {{ ref('stg_era__claims') }}
    where {{ new_files_only() }}

),

claim_dates as (

    select * from {{ ref('stg_era__claim_dates') }}
    where {{ new_files_only() }}

),

line_dates as (

    select * from {{ ref('int_service_line_dates') }}
    where {{ new_files_only() }}

),

remittances as (

    select * from {{ ref('int_remittances_joined') }}

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

line_date_ranges as (

    select
        claim_id,
        min(service_date_from) as first_line_service_date,
        max(service_date_to) as last_line_service_date

    from line_dates
    group by claim_id

),

programs as (

    select
        claims.claim_id,
        claims.file_id,
        claims.remittance_id,
        remittances.payer_id,

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

    from claims
    inner join remittances
        on claims.remittance_id = remittances.remittance_id
    left join overrides as payer_code_override
        on remittances.payer_id = payer_code_override.payer_id
        and claims.claim_filing_indicator_code
        = payer_code_override.claim_filing_indicator_code
    left join overrides as payer_override
        on remittances.payer_id = payer_override.payer_id
        and payer_override.claim_filing_indicator_code is null
    left join filing_indicators
        on claims.claim_filing_indicator_code
        = filing_indicators.claim_filing_indicator_code

),

final as (

    select
        programs.*,

        claim_date_pivot.statement_from_date,
        claim_date_pivot.statement_to_date,
        claim_date_pivot.claim_received_date,
        coalesce(
            claim_date_pivot.statement_from_date,
            line_date_ranges.first_line_service_date,
            claim_date_pivot.statement_to_date
        ) as service_date_from,
        coalesce(
            claim_date_pivot.statement_to_date,
            line_date_ranges.last_line_service_date,
            claim_date_pivot.statement_from_date
        ) as service_date_to

    from programs
    left join claim_date_pivot
        on programs.claim_id = claim_date_pivot.claim_id
    left join line_date_ranges
        on programs.claim_id = line_date_ranges.claim_id

)

select * from final
