{#-
  One row per service line (SVC) with its dates, line item control number,
  allowed amount and line-level adjustment totals.

  Dates: DTM*472 (service date), else DTM*150/151 (period start/end), else
  the claim's statement dates DTM*232/233. service_date is the date that
  keys the sequestration rate: the line's date of service, the period
  start for rentals and supplies (150), else the claim's through date.
-#}

with

service_lines as (

    select * from {{ ref('stg_era__service_lines') }}

),

line_dates as (

    select * from {{ ref('stg_era__service_line_dates') }}

),

line_references as (

    select * from {{ ref('stg_era__service_line_references') }}

),

amounts as (

    select * from {{ ref('stg_era__amounts') }}

),

claim_dates as (

    select * from {{ ref('stg_era__claim_dates') }}

),

adjustments as (

    select * from {{ ref('int_adjustments_classified') }}

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

control_numbers as (

    select
        service_line_id,
        min(reference_value) as line_item_control_number

    from line_references
    where reference_qualifier = '6R'
    group by service_line_id

),

allowed as (

    select
        service_line_id,
        sum(amount) as allowed_amount

    from amounts
    where amount_level = 'line'
        and amount_qualifier = 'B6'
    group by service_line_id

),

line_adjustments as (

    select
        service_line_id,
        count(*) as adjustment_count,
        sum(amount) as total_adjustment_amount,
        sum(case when group_code = 'PR' then amount else 0 end)
            as patient_responsibility_amount,
        sum(case when is_sequestration then amount else 0 end)
            as sequestration_amount,
        sum(case when is_denial then amount else 0 end) as denial_amount,
        count(case when is_sequestration then 1 end)
            as sequestration_adjustment_count,
        count(case when is_denial then 1 end)
            as denial_adjustment_count

    from adjustments
    where adjustment_level = 'line'
    group by service_line_id

),

joined as (

    select
        service_lines.*,

        control_numbers.line_item_control_number,
        allowed.allowed_amount,

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
        end as service_date_source,

        coalesce(line_adjustments.adjustment_count, 0) as adjustment_count,
        coalesce(line_adjustments.total_adjustment_amount, 0)
            as total_adjustment_amount,
        coalesce(line_adjustments.patient_responsibility_amount, 0)
            as patient_responsibility_amount,
        coalesce(line_adjustments.sequestration_amount, 0)
            as sequestration_amount,
        coalesce(line_adjustments.denial_amount, 0) as denial_amount,
        coalesce(line_adjustments.sequestration_adjustment_count, 0)
            as sequestration_adjustment_count,
        coalesce(line_adjustments.denial_adjustment_count, 0)
            as denial_adjustment_count

    from service_lines
    left join line_date_pivot
        on service_lines.service_line_id = line_date_pivot.service_line_id
    left join claim_date_pivot
        on service_lines.claim_id = claim_date_pivot.claim_id
    left join control_numbers
        on service_lines.service_line_id = control_numbers.service_line_id
    left join allowed
        on service_lines.service_line_id = allowed.service_line_id
    left join line_adjustments
        on service_lines.service_line_id = line_adjustments.service_line_id

),

final as (

    select
        *,

        -- SVC02 − Σ line CAS − SVC03, kept as found (0 when it balances)
        cast(
            charge_amount - total_adjustment_amount - paid_amount
            as decimal(18, 2)
        ) as line_balance_difference

    from joined

)

select * from final
