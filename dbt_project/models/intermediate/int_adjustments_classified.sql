-- One row per CAS triplet with its category from int_adjustment_reasons.
-- Unknown codes are kept with category 'unknown'; nothing is dropped.
with

adjustments as (

    select * from {{ ref('stg_era__adjustments') }}

),

reasons as (

    select * from {{ ref('int_adjustment_reasons') }}

),

classified as (

    select
        adjustments.*,

        reasons.adjustment_reason_id,
        coalesce(reasons.adjustment_category, 'unknown')
            as adjustment_category,
        coalesce(reasons.is_denial, false) as is_denial,
        reasons.appealable,
        coalesce(reasons.more_coming, false) as more_coming,

        coalesce(
            adjustments.group_code = 'CO'
            and adjustments.reason_code = '253',
            false
        ) as is_sequestration

    from adjustments
    left join reasons
        on coalesce(adjustments.group_code, '') || '-'
        || adjustments.reason_code = reasons.adjustment_reason_id

)

select * from classified
