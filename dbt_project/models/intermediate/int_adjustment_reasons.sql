{#-
  Every (group code, reason code) pair the marts can meet, classified.
  The pairs are each group code of the claim_adjustment_groups seed times
  each reason code of the carc_reasons seed, plus any pair seen in the
  data (so an unknown code or a legacy group still gets a row).

  Classification keys on the pair: a carc_reasons row for the exact group
  wins (PR-45 is a patient balance, CO-45 a contractual write-off); else
  the row with no group applies to every group; else 'unknown'.
-#}

with

groups as (

    select * from {{ ref('claim_adjustment_groups') }}

),

carc_reasons as (

    select * from {{ ref('carc_reasons') }}

),

adjustments as (

    select * from {{ ref('stg_era__adjustments') }}

),

seed_reason_codes as (

    select distinct reason_code from carc_reasons

),

pairs as (

    select
        groups.group_code,
        seed_reason_codes.reason_code

    from groups
    cross join seed_reason_codes

    union

    select
        group_code,
        reason_code

    from adjustments
    where reason_code is not null

),

classified as (

    select
        coalesce(pairs.group_code, '') || '-' || pairs.reason_code
            as adjustment_reason_id,
        pairs.group_code,
        pairs.reason_code,

        coalesce(
            for_group.adjustment_category,
            any_group.adjustment_category,
            'unknown'
        ) as adjustment_category,
        coalesce(for_group.is_denial, any_group.is_denial, false)
            as is_denial,
        coalesce(for_group.appealable, any_group.appealable)
            as appealable,
        coalesce(for_group.more_coming, any_group.more_coming, false)
            as more_coming,
        coalesce(for_group.description, any_group.description)
            as reason_description,

        case
            when for_group.reason_code is not null then 'group_and_reason'
            when any_group.reason_code is not null then 'reason'
            else 'not_in_seed'
        end as classification_basis

    from pairs
    left join carc_reasons as for_group
        on pairs.group_code = for_group.group_code
        and pairs.reason_code = for_group.reason_code
    left join carc_reasons as any_group
        on any_group.group_code is null
        and pairs.reason_code = any_group.reason_code

)

select * from classified
