{{ config(materialized='view') }}

{#-
  The only model that reads the elements array. Downstream models see
  plain text columns e01..e19 (elements 1..19, '' turned into null), so
  their logic and their unit tests are the same on DuckDB and PostgreSQL.
  19 covers the longest segment read (CAS; BPR is read up to BPR16).

  Kept: the segments the typed staging models read, of 835 transactions
  of loaded files; a model that needs another segment adds it here. A
  view: each typed staging table reads raw.segments through it once.
  (Materialising it as a sorted, indexed table was measured slower on
  both DuckDB and PostgreSQL: the copy costs more than the scans it saves.)
-#}
{%- set element_count = 19 -%}
{%- set segment_ids = [
    'ST', 'BPR', 'TRN', 'N1', 'CLP', 'DTM', 'REF', 'SVC', 'CAS', 'AMT', 'PLB'
] -%}

with

segments as (

    select * from {{ source('raw', 'segments') }}

),

files as (

    select file_id from {{ ref('stg_era__files') }}

),

transaction_segments as (

    select segments.*
    from segments
    inner join files
        on segments.file_id = files.file_id
    where segments.transaction_set = '835'
        and segments.transaction_seq is not null
        and segments.segment_id in (
            '{{ segment_ids | join("', '") }}'
        )

),

keyed as (

    select
        file_id,
        segment_pos,
        interchange_seq,
        group_seq,
        transaction_seq,
        header_seq,
        claim_seq,
        line_seq,
        isa13,
        gs06,
        st02,
        loop_id,
        segment_id,
        component_sep,

        file_id || '-' || {{ as_text('transaction_seq') }} as remittance_id,

        case
            when claim_seq is not null
                then file_id
                    || '-' || {{ as_text('transaction_seq') }}
                    || '-' || {{ as_text('claim_seq') }}
        end as claim_id,

        case
            when claim_seq is not null and line_seq is not null
                then file_id
                    || '-' || {{ as_text('transaction_seq') }}
                    || '-' || {{ as_text('claim_seq') }}
                    || '-' || {{ as_text('line_seq') }}
        end as service_line_id,

        {% for n in range(1, element_count + 1) -%}
        {{ x12_element(n) }} as e{{ '%02d' % n }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}

    from transaction_segments

)

select * from keyed
