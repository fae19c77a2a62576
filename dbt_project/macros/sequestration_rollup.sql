{#-
  The body of the sequestration reports: Medicare FFS assessments
  (int_sequestration_assessments) rolled up per payer, payee and month of
  `date_column`, repeated payments left out. rpt_sequestration_monthly
  groups by date of service, rpt_sequestration_payment_monthly by
  payment date; the figures are the same otherwise.
-#}
{% macro sequestration_rollup(date_column, month_column) -%}

with

assessments as (

    select * from {{ ref('int_sequestration_assessments') }}

),

counted as (

    select
        *,
        cast(date_trunc('month', {{ date_column }}) as date)
            as {{ month_column }}

    from assessments
    where not is_duplicate_payment

),

rolled_up as (

    select
        payer_id,
        payee_id,
        {{ month_column }},
        count(distinct claim_id) as claim_count,
        count(*) as assessment_count,
        sum(paid_amount) as ffs_paid_amount,
        sum(sequestration_amount) as sequestration_amount,
        sum(expected_sequestration_amount) as expected_sequestration_amount,
        count(case when not is_within_tolerance then 1 end)
            as exception_count

    from counted
    group by
        payer_id,
        payee_id,
        {{ month_column }}

),

final as (

    select
        payer_id,
        payee_id,
        {{ month_column }},
        claim_count,
        assessment_count,
        cast(ffs_paid_amount as decimal(18, 2)) as ffs_paid_amount,
        cast(sequestration_amount as decimal(18, 2)) as sequestration_amount,
        cast(expected_sequestration_amount as decimal(18, 2))
            as expected_sequestration_amount,
        cast(
            sequestration_amount - expected_sequestration_amount
            as decimal(18, 2)
        ) as sequestration_difference,
        exception_count,

        -- CO-253 over the payment before the cut (paid + CO-253)
        cast(
            cast(sequestration_amount as decimal(18, 6))
            / nullif(ffs_paid_amount + sequestration_amount, 0)
            as decimal(10, 6)
        ) as effective_rate

    from rolled_up

)

select * from final

{%- endmacro %}
