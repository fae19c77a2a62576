with

reasons as (

    select * from {{ ref('int_adjustment_reasons') }}

),

groups as (

    select * from {{ ref('claim_adjustment_groups') }}

),

categories as (

    select * from {{ ref('adjustment_categories') }}

),

adjustments as (

    select * from {{ ref('int_adjustments_classified') }}

),

observed as (

    select distinct adjustment_reason_id
    from adjustments
    where adjustment_reason_id is not null

),

final as (

    select
        reasons.adjustment_reason_id,
        reasons.group_code,
        reasons.reason_code,
        groups.description as group_description,
        groups.liable_party,
        coalesce(groups.is_valid_5010, false) as is_valid_group_5010,
        reasons.reason_description,
        reasons.adjustment_category,
        categories.description as category_description,
        reasons.is_denial,
        reasons.appealable,
        reasons.more_coming,
        categories.suggested_next_step,
        reasons.classification_basis,
        observed.adjustment_reason_id is not null as is_observed

    from reasons
    left join groups
        on reasons.group_code = groups.group_code
    left join categories
        on reasons.adjustment_category = categories.adjustment_category
    left join observed
        on reasons.adjustment_reason_id = observed.adjustment_reason_id

)

select * from final
