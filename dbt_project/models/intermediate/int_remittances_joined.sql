{#-
  One row per 835 transaction with its payment (BPR), trace (TRN), payer
  (N1*PR) and payee (N1*PE), claim and PLB totals, and duplicate payment
  detection: the same trace (TRN03 + TRN02) in a different, later file is
  a repeat of the first file's payment.
-#}

with

transactions as (

    select * from {{ ref('stg_era__transactions') }}

),

files as (

    select * from {{ ref('stg_era__files') }}

),

payments as (

    select * from {{ ref('stg_era__payments') }}

),

traces as (

    select * from {{ ref('stg_era__traces') }}

),

parties as (

    select * from {{ ref('stg_era__parties') }}

),

claims as (

    select * from {{ ref('stg_era__claims') }}

),

provider_adjustments as (

    select * from {{ ref('stg_era__provider_adjustments') }}

),

payers as (

    select * from parties where party_role = 'payer'

),

payees as (

    select * from parties where party_role = 'payee'

),

claim_totals as (

    select
        remittance_id,
        count(*) as claim_count,
        sum(charge_amount) as total_charge_amount,
        sum(paid_amount) as total_paid_amount

    from claims
    group by remittance_id

),

provider_adjustment_totals as (

    select
        remittance_id,
        count(*) as provider_adjustment_count,
        sum(amount) as total_provider_adjustment_amount

    from provider_adjustments
    group by remittance_id

),

joined as (

    select
        transactions.remittance_id,
        transactions.file_id,
        transactions.transaction_seq,
        transactions.interchange_seq,
        transactions.group_seq,
        transactions.interchange_control_number,
        transactions.group_control_number,
        transactions.transaction_control_number,
        coalesce(
            transactions.implementation_reference, files.x12_version
        ) as x12_version,

        files.file_name,
        files.received_at,
        files.loaded_at,
        files.file_order,

        payments.transaction_handling_code,
        payments.payment_amount,
        payments.credit_debit_flag_code,
        payments.payment_method_code,
        payments.payment_date,

        traces.trace_type_code,
        traces.trace_number,
        traces.trace_payer_id,

        coalesce(traces.trace_payer_id, payers.party_identifier)
            as payer_id,
        payers.party_name as payer_name,
        payers.party_id_qualifier as payer_id_qualifier,
        payers.party_identifier as payer_n1_identifier,

        payees.party_identifier as payee_id,
        payees.party_name as payee_name,
        payees.party_id_qualifier as payee_id_qualifier,

        coalesce(claim_totals.claim_count, 0) as claim_count,
        coalesce(claim_totals.total_charge_amount, 0)
            as total_charge_amount,
        coalesce(claim_totals.total_paid_amount, 0) as total_paid_amount,
        coalesce(provider_adjustment_totals.provider_adjustment_count, 0)
            as provider_adjustment_count,
        coalesce(
            provider_adjustment_totals.total_provider_adjustment_amount, 0
        ) as total_provider_adjustment_amount

    from transactions
    inner join files
        on transactions.file_id = files.file_id
    left join payments
        on transactions.remittance_id = payments.remittance_id
    left join traces
        on transactions.remittance_id = traces.remittance_id
    left join payers
        on transactions.remittance_id = payers.remittance_id
    left join payees
        on transactions.remittance_id = payees.remittance_id
    left join claim_totals
        on transactions.remittance_id = claim_totals.remittance_id
    left join provider_adjustment_totals
        on transactions.remittance_id
        = provider_adjustment_totals.remittance_id

),

trace_firsts as (

    -- the first file that carried each trace, and its first transaction
    select
        remittance_id,
        min(file_order) over (
            partition by coalesce(trace_payer_id, ''), trace_number
        ) as first_file_order,
        first_value(remittance_id) over (
            partition by coalesce(trace_payer_id, ''), trace_number
            order by file_order, transaction_seq
        ) as first_remittance_id

    from joined
    where trace_number is not null

),

final as (

    select
        joined.*,

        -- Σ CLP04 − Σ PLB − BPR02, kept as found (0 when it balances)
        cast(
            joined.total_paid_amount
            - joined.total_provider_adjustment_amount
            - joined.payment_amount
            as decimal(18, 2)
        ) as transaction_balance_difference,

        coalesce(joined.file_order > trace_firsts.first_file_order, false)
            as is_duplicate_payment,
        case
            when joined.file_order > trace_firsts.first_file_order
                then trace_firsts.first_remittance_id
        end as duplicate_of_remittance_id

    from joined
    left join trace_firsts
        on joined.remittance_id = trace_firsts.remittance_id

)

select * from final
