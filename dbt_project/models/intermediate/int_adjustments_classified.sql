{{ config(materialized='incremental', unique_key='file_id') }}

{#-
  One row per CAS triplet with its category from int_adjustment_reasons.
  Unknown codes are kept with category 'unknown'; nothing is dropped.

  is_sequestration: the triplet matches a row of the
  sequestration_reason_codes seed for its group, reason, the claim's
  program and the triplet's date of service (the line's, or the claim's
  through date at claim level). CO-253 always; CO/OA-223 on Medicare FFS
  claims with 2013-04-01..2013-06-30 dates of service, when Medicare
  still reported the cut as 223. A matched triplet's category is
  'sequestration', whatever the pair's own category (223 is 'other').
-#}

with

adjustments as (

    select * from {{ ref('stg_era__adjustments') }}
    where {{ new_files_only() }}

),

claims as (

    select * from {{ ref('int_claim_attributes') }}
    where {{ new_files_only() }}

),

line_dates as (

    select * from {{ ref('int_service_line_dates') }}
    where {{ new_files_only() }}

),

reasons as (

    select * from {{ ref('int_adjustment_reasons') }}

),

sequestration_codes as (

    select * from {{ ref('sequestration_reason_codes') }}

),

dated as (

    select
        adjustments.*,
        claims.program,
        case
            when adjustments.adjustment_level = 'line'
                then line_dates.service_date
            else coalesce(claims.service_date_to, claims.service_date_from)
        end as service_date

    from adjustments
    left join claims
        on adjustments.claim_id = claims.claim_id
    left join line_dates
        on adjustments.service_line_id = line_dates.service_line_id

),

sequestration_matches as (

    select distinct dated.adjustment_id

    from dated
    inner join sequestration_codes
        on dated.group_code = sequestration_codes.group_code
        and dated.reason_code = sequestration_codes.reason_code
    where (
        sequestration_codes.program is null
        or dated.program = sequestration_codes.program
    )
        and (
            sequestration_codes.service_date_start is null
            or dated.service_date >= sequestration_codes.service_date_start
        )
        and (
            sequestration_codes.service_date_end is null
            or dated.service_date <= sequestration_codes.service_date_end
        )

),

classified as (

    select
        dated.adjustment_id,
        dated.remittance_id,
        dated.claim_id,
        dated.service_line_id,
        dated.line_seq,
        dated.adjustment_level,
        dated.file_id,
        dated.segment_pos,
        dated.cas_position,
        dated.group_code,
        dated.reason_code,
        dated.amount,
        dated.quantity,
        dated.service_date,

        reasons.adjustment_reason_id,
        case
            when sequestration_matches.adjustment_id is not null
                then 'sequestration'
            else coalesce(reasons.adjustment_category, 'unknown')
        end as adjustment_category,
        coalesce(reasons.is_denial, false)
        and sequestration_matches.adjustment_id is null as is_denial,
        reasons.appealable,
        coalesce(reasons.more_coming, false) as more_coming,
        sequestration_matches.adjustment_id is not null as is_sequestration

    from dated
    left join reasons
        on coalesce(dated.group_code, '') || '-'
        || dated.reason_code = reasons.adjustment_reason_id
    left join sequestration_matches
        on dated.adjustment_id = sequestration_matches.adjustment_id

)

select * from classified
