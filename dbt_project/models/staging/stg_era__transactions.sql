-- One row per 835 transaction (ST...SE: one payment to one payee), with
-- the envelope control numbers in force. Built from every segment of the
-- transaction so that a transaction is listed even without a usable ST.
with

segments as (

    select * from {{ ref('stg_era__segments') }}

),

transactions as (

    select
        remittance_id,
        file_id,
        transaction_seq,
        min(interchange_seq) as interchange_seq,
        min(group_seq) as group_seq,
        min(segment_pos) as first_segment_pos,
        max(segment_pos) as last_segment_pos,
        count(*) as segment_count,
        min(isa13) as interchange_control_number,
        min(gs06) as group_control_number,
        min(st02) as transaction_control_number,
        max(case when segment_id = 'ST' then e03 end)
            as implementation_reference

    from segments
    group by
        remittance_id,
        file_id,
        transaction_seq

)

select * from transactions
