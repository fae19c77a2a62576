{{ config(materialized='incremental', unique_key='file_id') }}

{#-
  One row per service line (SVC) with its dates (int_service_line_dates:
  DTM*472, else 150/151, else the claim's 232/233), line item control
  number, allowed amount and line-level adjustment totals.
-#}

with

service_lines as (

    select * from {{ ref('stg_era__service_lines') }}
    where {{ new_files_only() }}

),

line_dates as (

    select * from {{ ref('int_service_line_dates') }}
    where {{ new_files_only() }}

),

line_references as (

    select * from {{ ref('stg_era__service_line_references') }}
    where {{ new_files_only() }}

),

amounts as (

    select * from {{ ref('stg_era__amounts') }}
    where {{ new_files_only() }}

),

adjustments as (

    select * from {{ ref('int_adjustments_classified') }}
    where {{ new_files_only() }}

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

        line_dates.service_date_from,
        line_dates.service_date_to,
        line_dates.service_date,
        line_dates.service_date_source,

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
    left join line_dates
        on service_lines.service_line_id = line_dates.service_line_id
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
