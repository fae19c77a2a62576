{#-
  CAS: one row per reason/amount/quantity triplet. A CAS segment carries
  a group code (CAS01) and up to six triplets in elements 2-4, 5-7, ...,
  17-19; every non-empty triplet counts. Claim level is loop 2100, line
  level is loop 2110. A triplet with an amount but no reason code is kept
  (reason null, later classified 'unknown') so that balancing still sees it.
-#}
{%- set triplet_count = 6 -%}

with

segments as (

    select * from {{ ref('stg_era__segments') }}
    where {{ new_files_only() }}

),

cas as (

    select *
    from segments
    where segment_id = 'CAS'
        and loop_id in ('2100', '2110')

),

triplet_positions as (

    {% for n in range(1, triplet_count + 1) -%}
    select {{ n }} as cas_position
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

),

unpivoted as (

    select
        cas.file_id,
        cas.segment_pos,
        cas.remittance_id,
        cas.claim_id,
        cas.loop_id,
        cas.service_line_id,
        cas.line_seq,
        cas.e01 as group_code,
        triplet_positions.cas_position,

        case triplet_positions.cas_position
            {% for n in range(1, triplet_count + 1) -%}
            when {{ n }} then cas.e{{ '%02d' % (3 * n - 1) }}
            {% endfor -%}
        end as reason_code,

        case triplet_positions.cas_position
            {% for n in range(1, triplet_count + 1) -%}
            when {{ n }} then cas.e{{ '%02d' % (3 * n) }}
            {% endfor -%}
        end as amount_text,

        case triplet_positions.cas_position
            {% for n in range(1, triplet_count + 1) -%}
            when {{ n }} then cas.e{{ '%02d' % (3 * n + 1) }}
            {% endfor -%}
        end as quantity_text

    from cas
    cross join triplet_positions

),

final as (

    select
        file_id
            || '-' || {{ as_text('segment_pos') }}
            || '-' || {{ as_text('cas_position') }} as adjustment_id,
        remittance_id,
        claim_id,
        case when loop_id = '2110' then service_line_id end
            as service_line_id,
        case when loop_id = '2110' then line_seq end as line_seq,
        case when loop_id = '2110' then 'line' else 'claim' end
            as adjustment_level,
        file_id,
        segment_pos,
        cas_position,

        group_code,
        reason_code,
        {{ x12_money('amount_text') }} as amount,
        cast(quantity_text as decimal(18, 4)) as quantity

    from unpivoted
    where reason_code is not null
        or amount_text is not null

)

select * from final
