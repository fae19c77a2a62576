{{ config(schema='marts', materialized='table') }}

{#-
  Line-level reconciliation: one row per posting unit (a service line, or
  the claim as a whole; see int_posting_units) of every claim, not a
  reversal, in an ERA payment the ledger posted. Each *_amount column of
  the last group is dollars the ledger posted the wrong way; zero when all
  is well.

  What the ERA allows for each kind of amount: contractual and
  sequestration (CO-253) amounts are written off; denials are worked, or
  written off with a denial write-off code once decided; more-coming
  amounts stay open, and so does the patient responsibility of a claim
  forwarded to the next payer (CLP02 19, 20, 21), which that payer will
  pay; OA-23 is never written off; patient responsibility is transferred
  to the patient or the next payer.

  How the ledger's rows are set against those amounts, in this order:
  1. transfers fill the patient responsibility, rows that carry their CARC
     first. What is left was transferred in error: sequestration when it
     equals the unit's CO-253 to the cent (or the row says CARC 253), else
     an amount the ERA puts on the provider. It uses up those amounts, so
     a write-off of the same dollars shows as posted twice;
  2. write-offs that carry their CARC are set against the ERA amount of
     that kind;
  3. write-offs with only a local code (and what a CARC row wrote off
     beyond its kind) fill what is left: those booked with a denial
     write-off code fill denials first, then contractual, sequestration,
     more-coming, OA-23, patient responsibility; the others fill
     contractual, sequestration, denial, more-coming, OA-23, patient
     responsibility. Whatever is left beyond all of it is unexplained.
  A denial filled by a write-off not booked as a denial write-off was
  written off as contractual.

  In the steps, cap_* are the ERA's amounts (never below zero) and r*_
  what is left of them: c contractual, s sequestration, d denial,
  m more-coming, o OA-23, p patient responsibility.
-#}

{%- set zero = 'cast(0 as decimal(18, 2))' -%}

with

units as (

    select * from {{ ref('int_posting_units') }}

),

capacities as (

    select
        *,
        greatest(era_contractual_amount, {{ zero }}) as cap_c,
        greatest(era_sequestration_amount, {{ zero }}) as cap_s,
        greatest(era_denial_amount, {{ zero }}) as cap_d,
        greatest(era_more_coming_amount, {{ zero }}) as cap_m,
        greatest(era_prior_payer_amount, {{ zero }}) as cap_o,
        greatest(era_patient_responsibility_amount, {{ zero }}) as cap_p,

        greatest(transfer_carc_patient_responsibility, {{ zero }}) as t_pr,
        greatest(transfer_carc_sequestration, {{ zero }}) as t_seq,
        greatest(transfer_carc_provider_liability, {{ zero }}) as t_prov,
        greatest(transfer_lumped, {{ zero }}) as t_lumped,

        greatest(writeoff_carc_contractual, {{ zero }}) as w_c,
        greatest(writeoff_carc_sequestration, {{ zero }}) as w_s,
        greatest(writeoff_carc_denial_by_denial_code, {{ zero }}) as w_dd,
        greatest(writeoff_carc_denial_by_other_code, {{ zero }}) as w_do,
        greatest(writeoff_carc_more_coming, {{ zero }}) as w_m,
        greatest(writeoff_carc_prior_payer, {{ zero }}) as w_o,
        greatest(writeoff_carc_patient_responsibility, {{ zero }}) as w_p,
        greatest(writeoff_lumped_denial_code, {{ zero }}) as w_lumped_denial,
        greatest(writeoff_lumped_other_code, {{ zero }}) as w_lumped_other

    from units

),

-- 1. transfers
transfers_to_patient_responsibility as (

    select
        *,
        least(t_pr, cap_p) as tp_carc

    from capacities

),

transfers_lumped_to_patient_responsibility as (

    select
        *,
        least(t_lumped + t_pr - tp_carc, cap_p - tp_carc) as tp_lumped

    from transfers_to_patient_responsibility

),

transfers_in_excess as (

    select
        *,
        t_lumped + t_pr - tp_carc - tp_lumped as t_excess,
        cap_p - tp_carc - tp_lumped as rp0

    from transfers_lumped_to_patient_responsibility

),

transfers_judged as (

    select
        *,
        t_seq + case
            when cap_s > 0 and abs(t_excess - cap_s) <= 0.01 then t_excess
            else {{ zero }}
        end as seq_transferred,
        t_prov + case
            when cap_s > 0 and abs(t_excess - cap_s) <= 0.01 then {{ zero }}
            else t_excess
        end as provider_transferred

    from transfers_in_excess

),

{#- a transferred provider amount uses up contractual, denial, more-coming
    and OA-23 amounts, in that order #}
{%- set used = namespace(previous='transfers_judged', terms='') %}
{%- for kind in ['c', 'd', 'm', 'o'] %}

transfers_use_{{ kind }} as (

    select
        *,
        cap_{{ kind }} - least(
            provider_transferred{{ used.terms }}, cap_{{ kind }}
        ) as r{{ kind }}0,
        least(
            provider_transferred{{ used.terms }}, cap_{{ kind }}
        ) as tu_{{ kind }}

    from {{ used.previous }}

),
{%- set used.previous = 'transfers_use_' ~ kind %}
{%- set used.terms = used.terms ~ ' - tu_' ~ kind %}
{%- endfor %}

-- 2. write-offs that carry their CARC
carc_writeoffs as (

    select
        *,
        greatest(cap_s - seq_transferred, {{ zero }}) as rs0,
        least(w_c, rc0) as u_c,
        least(w_dd, rd0) as u_dd,
        least(w_m, rm0) as u_m,
        least(w_o, ro0) as u_o,
        least(w_p, rp0) as u_p

    from transfers_use_o

),

carc_writeoffs_left as (

    select
        *,
        least(w_s, rs0) as u_s,
        least(w_do, rd0 - u_dd) as u_do

    from carc_writeoffs

),

lumps as (

    select
        *,
        rc0 - u_c as rc1,
        rs0 - u_s as rs1,
        rd0 - u_dd - u_do as rd1,
        rm0 - u_m as rm1,
        ro0 - u_o as ro1,
        rp0 - u_p as rp1,
        w_lumped_denial + w_dd - u_dd as lump_denial,
        w_lumped_other + (w_c - u_c) + (w_s - u_s) + (w_do - u_do)
        + (w_m - u_m) + (w_o - u_o) + (w_p - u_p) as lump_other

    from carc_writeoffs_left

),

{#- 3a. lumped write-offs booked as denial write-offs: denials first #}
{%- set fill = namespace(previous='lumps', terms='') %}
{%- for kind in ['d', 'c', 's', 'm', 'o', 'p'] %}

denial_lump_fills_{{ kind }} as (

    select
        *,
        least(lump_denial{{ fill.terms }}, r{{ kind }}1) as a_{{ kind }}

    from {{ fill.previous }}

),
{%- set fill.previous = 'denial_lump_fills_' ~ kind %}
{%- set fill.terms = fill.terms ~ ' - a_' ~ kind %}
{%- endfor %}

{#- 3b. the other lumped write-offs: contractual first #}
{%- set fill = namespace(previous='denial_lump_fills_p', terms='') %}
{%- for kind in ['c', 's', 'd', 'm', 'o', 'p'] %}

other_lump_fills_{{ kind }} as (

    select
        *,
        least(lump_other{{ fill.terms }}, r{{ kind }}1 - a_{{ kind }})
            as b_{{ kind }}

    from {{ fill.previous }}

),
{%- set fill.previous = 'other_lump_fills_' ~ kind %}
{%- set fill.terms = fill.terms ~ ' - b_' ~ kind %}
{%- endfor %}

final as (

    select
        posting_unit_id,
        unit_level,
        claim_id,
        service_line_id,
        remittance_id,
        file_id,
        payer_id,
        claim_status_code,
        is_forwarded,

        era_paid_amount,
        era_contractual_amount,
        era_sequestration_amount,
        era_denial_amount,
        era_more_coming_amount,
        era_prior_payer_amount,
        era_patient_responsibility_amount,

        ledger_row_count,
        posted_payment_amount,
        posted_writeoff_amount,
        posted_transfer_amount,

        cast(u_dd + a_d as decimal(18, 2)) as denial_written_off_amount,

        cast(seq_transferred as decimal(18, 2))
            as sequestration_transferred_amount,
        cast(provider_transferred as decimal(18, 2))
            as contractual_transferred_amount,
        cast(u_do + b_d as decimal(18, 2))
            as denial_written_off_as_contractual_amount,
        cast(
            case
                when is_forwarded then {{ zero }}
                else u_p + a_p + b_p
            end as decimal(18, 2)
        ) as patient_responsibility_written_off_amount,
        cast(u_o + a_o + b_o as decimal(18, 2))
            as prior_payer_written_off_amount,
        cast(
            u_m + a_m + b_m
            + case
                when is_forwarded then u_p + a_p + b_p
                else {{ zero }}
            end as decimal(18, 2)
        ) as more_coming_written_off_amount,
        cast(
            lump_denial - a_d - a_c - a_s - a_m - a_o - a_p
            + lump_other - b_c - b_s - b_d - b_m - b_o - b_p
            as decimal(18, 2)
        ) as unexplained_writeoff_amount

    from other_lump_fills_p

)

select * from final
