{#-
  PLB: one row per provider-level reason/amount pair. PLB03/04, 05/06,
  ..., 13/14 hold up to six pairs; the reason is a composite
  reason:reference (e.g. WO:claim number) split on the component
  separator. A positive amount lowers the payment.
-#}
{%- set pair_count = 6 -%}

with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

plb as (

    select *
    from segments
    where segment_id = 'PLB'

),

pair_positions as (

    {% for n in range(1, pair_count + 1) -%}
    select {{ n }} as pair_position
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

),

unpivoted as (

    select
        plb.file_id,
        plb.segment_pos,
        plb.remittance_id,
        plb.component_sep,
        plb.e01 as provider_identifier,
        plb.e02 as fiscal_period_text,
        pair_positions.pair_position,

        case pair_positions.pair_position
            {% for n in range(1, pair_count + 1) -%}
            when {{ n }} then plb.e{{ '%02d' % (2 * n + 1) }}
            {% endfor -%}
        end as reason_composite,

        case pair_positions.pair_position
            {% for n in range(1, pair_count + 1) -%}
            when {{ n }} then plb.e{{ '%02d' % (2 * n + 2) }}
            {% endfor -%}
        end as amount_text

    from plb
    cross join pair_positions

),

final as (

    select
        file_id
            || '-' || {{ as_text('segment_pos') }}
            || '-' || {{ as_text('pair_position') }}
            as provider_adjustment_id,
        remittance_id,
        file_id,
        segment_pos,
        pair_position,

        provider_identifier,
        {{ x12_try_date('fiscal_period_text') }} as fiscal_period_date,
        {{ x12_component('reason_composite', 'component_sep', 1) }}
            as reason_code,
        {{ x12_component('reason_composite', 'component_sep', 2) }}
            as reference_id,
        {{ x12_money('amount_text') }} as amount

    from unpivoted
    where reason_composite is not null
        or amount_text is not null

)

select * from final
