{#-
  Denial rates per payer, program and payment month. A claim counts as
  denied when it carries a denial-category adjustment with a positive
  amount, or CLP02 = 4. Sequestration (CO-253) is never a denial: it is
  reported beside the rates, not in them. Reversals and repeated
  payments are left out.
-#}

with

claims as (

    select * from {{ ref('fct_claims') }}

),

counted as (

    select
        payer_id,
        program,
        cast(date_trunc('month', payment_date) as date) as payment_month,
        charge_amount,
        denial_amount,
        sequestration_amount,
        coalesce(claim_status_code = '4', false)
            or denial_amount > 0 as is_denied,
        has_sequestration

    from claims
    where not is_reversal
        and not is_duplicate_payment

),

rolled_up as (

    select
        payer_id,
        program,
        payment_month,
        count(*) as claim_count,
        count(case when is_denied then 1 end) as denied_claim_count,
        count(case when has_sequestration then 1 end)
            as sequestered_claim_count,
        sum(charge_amount) as charge_amount,
        sum(denial_amount) as denied_amount,
        sum(sequestration_amount) as sequestration_amount

    from counted
    group by
        payer_id,
        program,
        payment_month

),

final as (

    select
        payer_id,
        program,
        payment_month,
        claim_count,
        denied_claim_count,
        sequestered_claim_count,
        cast(
            cast(denied_claim_count as decimal(18, 6))
            / nullif(claim_count, 0)
            as decimal(10, 6)
        ) as claim_denial_rate,
        cast(charge_amount as decimal(18, 2)) as charge_amount,
        cast(denied_amount as decimal(18, 2)) as denied_amount,
        cast(
            cast(denied_amount as decimal(18, 6)) / nullif(charge_amount, 0)
            as decimal(10, 6)
        ) as amount_denial_rate,
        cast(sequestration_amount as decimal(18, 2)) as sequestration_amount

    from rolled_up

)

select * from final
