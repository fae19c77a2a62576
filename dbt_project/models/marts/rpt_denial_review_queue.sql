{#-
  One row per claim to review: a claim (not a reversal, not a repeated
  payment) where CO-253 stands beside a denial on the claim or its lines.
  CO-253 makes such a claim look like a routine Medicare payment, so the
  denial gets written off with it. amount_at_stake is Σ of the denial
  adjustments: the charge the denials leave unpaid. The suggested next
  step is the one of the denial category with the most dollars.
-#}

with

claims as (

    select * from {{ ref('fct_claims') }}

),

adjustments as (

    select * from {{ ref('fct_adjustments') }}

),

categories as (

    select * from {{ ref('adjustment_categories') }}

),

open_claims as (

    select *
    from claims
    where not is_reversal
        and not is_duplicate_payment

),

sequestered as (

    select
        claim_id,
        sum(amount) as sequestration_amount

    from adjustments
    where is_sequestration
    group by claim_id

),

denials as (

    select
        claim_id,
        group_code || '-' || reason_code as denial_reason_code,
        adjustment_category,
        amount

    from adjustments
    where is_denial
        -- only claims with CO-253 can be queued (the inner join below): the
        -- lists and ranks are not worked out for every denial in the warehouse
        and claim_id in (select claim_id from sequestered)

),

denial_totals as (

    select
        claim_id,
        sum(amount) as amount_at_stake

    from denials
    group by claim_id

),

denial_codes as (

    select distinct
        claim_id,
        denial_reason_code

    from denials

),

denial_code_lists as (

    select
        claim_id,
        string_agg(denial_reason_code, ',' order by denial_reason_code)
            as denial_reason_codes

    from denial_codes
    group by claim_id

),

category_amounts as (

    select
        claim_id,
        adjustment_category,
        sum(amount) as category_amount,

        row_number() over (
            partition by claim_id
            order by sum(amount) desc, adjustment_category
        ) as category_rank

    from denials
    group by claim_id, adjustment_category

),

category_lists as (

    select
        claim_id,
        string_agg(adjustment_category, ',' order by adjustment_category)
            as denial_categories

    from category_amounts
    group by claim_id

),

top_categories as (

    select
        category_amounts.claim_id,
        category_amounts.adjustment_category as primary_denial_category,
        categories.suggested_next_step

    from category_amounts
    left join categories
        on category_amounts.adjustment_category
        = categories.adjustment_category
    where category_amounts.category_rank = 1

),

final as (

    select
        open_claims.claim_id,
        open_claims.patient_control_number,
        open_claims.payer_claim_control_number,
        open_claims.payer_id,
        open_claims.payer_name,
        open_claims.payee_id,
        open_claims.program,
        open_claims.claim_status_code,
        open_claims.payment_date,
        open_claims.service_date_from,
        open_claims.service_date_to,
        open_claims.charge_amount,
        open_claims.paid_amount,

        denial_code_lists.denial_reason_codes,
        category_lists.denial_categories,
        top_categories.primary_denial_category,
        cast(sequestered.sequestration_amount as decimal(18, 2))
            as sequestration_amount,
        cast(denial_totals.amount_at_stake as decimal(18, 2))
            as amount_at_stake,
        top_categories.suggested_next_step,

        open_claims.remittance_id,
        open_claims.file_id

    from open_claims
    inner join sequestered
        on open_claims.claim_id = sequestered.claim_id
    inner join denial_totals
        on open_claims.claim_id = denial_totals.claim_id
    left join denial_code_lists
        on open_claims.claim_id = denial_code_lists.claim_id
    left join category_lists
        on open_claims.claim_id = category_lists.claim_id
    left join top_categories
        on open_claims.claim_id = top_categories.claim_id
    where denial_totals.amount_at_stake > 0

)

select * from final
