{{ config(materialized='incremental', unique_key='file_id') }}

{#-
  One row per service line (SVC) with its dates of service.

  DTM*472 (service date), else DTM*150/151 (period start/end), else the
  claim's statement dates DTM*232/233. service_date is the date that
  keys the sequestration rate: the line's date of service, the period
  start for rentals and supplies (150), else the claim's through date.
  A model of its own because the classification of the adjustments
  (CARC 223 counts as sequestration only for 2013 dates) needs the dates
  before the line totals are made.
-#}

with

service_lines as (

    select * from {{ ref('stg_era__service_lines') }}
    where {{ new_files_only() }}

),

line_dates as (

    select * from {{ ref('stg_era__service_line_dates') }}
    where {{ new_files_only() }}

),

claim_dates as (

    select * from {{ ref('stg_era__claim_dates') }}
    where {{ new_files_only() }}

),

line_date_pivot as (

    select
        service_line_id,
        min(case when date_qualifier = '472' then date_value end)
            as service_date_472,
        min(case when date_qualifier = '150' then date_value end)
            as period_start_150,
        max(case when date_qualifier = '151' then date_value end)
            as period_end_151

    from line_dates
    group by service_line_id

),

claim_date_pivot as (

    select
        claim_id,
        min(case when date_qualifier = '232' then date_value end)
            as statement_from_date,
        max(case when date_qualifier = '233' then date_value end)
            as statement_to_date

    from claim_dates
    group by claim_id

),

dated as (

    select
        service_lines.service_line_id,
        service_lines.claim_id,
        service_lines.file_id,

        coalesce(
            line_date_pivot.service_date_472,
            line_date_pivot.period_start_150,
            claim_date_pivot.statement_from_date,
            claim_date_pivot.statement_to_date
        ) as service_date_from,
        coalesce(
            line_date_pivot.service_date_472,
            line_date_pivot.period_end_151,
            line_date_pivot.period_start_150,
            claim_date_pivot.statement_to_date,
            claim_date_pivot.statement_from_date
        ) as service_date_to,
        coalesce(
            line_date_pivot.service_date_472,
            line_date_pivot.period_start_150,
            line_date_pivot.period_end_151,
            claim_date_pivot.statement_to_date,
            claim_date_pivot.statement_from_date
        ) as service_date,
        case
            when line_date_pivot.service_date_472 is not null
                or line_date_pivot.period_start_150 is not null
                or line_date_pivot.period_end_151 is not null
                then 'line'
            when claim_date_pivot.statement_from_date is not null
                or claim_date_pivot.statement_to_date is not null
                then 'claim'
        end as service_date_source

    from service_lines
    left join line_date_pivot
        on service_lines.service_line_id = line_date_pivot.service_line_id
    left join claim_date_pivot
        on service_lines.claim_id = claim_date_pivot.claim_id

)

select * from dated
