{#-
  One row per payer_id (TRN03, else N1*PR N104). The name and N1
  identifiers are the ones on the payer's latest payment.
-#}

with

remittances as (

    select * from {{ ref('int_remittances_joined') }}

),

claims as (

    select * from {{ ref('int_claims_joined') }}

),

overrides as (

    select * from {{ ref('payer_program_overrides') }}

),

latest_names as (

    select
        payer_id,
        payer_name,
        payer_id_qualifier,
        payer_n1_identifier,

        row_number() over (
            partition by payer_id
            order by payment_date desc nulls last, file_order desc,
                transaction_seq desc
        ) as name_rank

    from remittances
    where payer_id is not null

),

payment_totals as (

    select
        payer_id,
        count(*) as remittance_count,
        count(case when is_duplicate_payment then 1 end)
            as duplicate_remittance_count,
        min(payment_date) as first_payment_date,
        max(payment_date) as last_payment_date

    from remittances
    where payer_id is not null
    group by payer_id

),

program_counts as (

    select
        payer_id,
        program,
        count(*) as claim_count,

        row_number() over (
            partition by payer_id
            order by count(*) desc, program
        ) as program_rank

    from claims
    where payer_id is not null
    group by payer_id, program

),

claim_totals as (

    select
        payer_id,
        count(*) as claim_count

    from claims
    where payer_id is not null
    group by payer_id

),

override_flags as (

    select distinct payer_id from overrides

),

final as (

    select
        latest_names.payer_id,
        latest_names.payer_name,
        latest_names.payer_id_qualifier,
        latest_names.payer_n1_identifier,
        program_counts.program as main_program,
        override_flags.payer_id is not null as has_program_override,
        payment_totals.remittance_count,
        payment_totals.duplicate_remittance_count,
        coalesce(claim_totals.claim_count, 0) as claim_count,
        payment_totals.first_payment_date,
        payment_totals.last_payment_date

    from latest_names
    inner join payment_totals
        on latest_names.payer_id = payment_totals.payer_id
    left join program_counts
        on latest_names.payer_id = program_counts.payer_id
        and program_counts.program_rank = 1
    left join claim_totals
        on latest_names.payer_id = claim_totals.payer_id
    left join override_flags
        on latest_names.payer_id = override_flags.payer_id
    where latest_names.name_rank = 1

)

select * from final
