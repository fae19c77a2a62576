{#-
  Helpers that read X12 elements. raw.segments keeps elements as sent:
  1-based arrays (elements[1] is the first element after the segment id)
  with empty elements as ''. Array indexing is the same on DuckDB and
  PostgreSQL, and an index past the end gives null on both.
-#}

{% macro x12_element(position) -%}
    nullif(elements[{{ position }}], '')
{%- endmacro %}


{#- X12 money (type R) as decimal(18,2). The loader rejects files whose
    money elements are not valid decimals, so a plain cast is safe. -#}
{% macro x12_money(expression) -%}
    cast({{ expression }} as decimal(18, 2))
{%- endmacro %}


{#- Component n (1-based) of a composite element such as SVC01 HC:99214:25,
    split on the interchange's component separator (ISA16). Missing or
    empty components give null. -#}
{% macro x12_component(expression, separator, position) -%}
    {{ return(adapter.dispatch('x12_component', 'eraflow')(
        expression, separator, position)) }}
{%- endmacro %}

{% macro default__x12_component(expression, separator, position) -%}
    nullif(split_part({{ expression }}, {{ separator }}, {{ position }}), '')
{%- endmacro %}


{#- CCYYMMDD text to a date. For elements the loader has validated
    (BPR16, DTM02): invalid input raises an error. -#}
{% macro x12_date(expression) -%}
    {{ return(adapter.dispatch('x12_date', 'eraflow')(expression)) }}
{%- endmacro %}

{% macro default__x12_date(expression) -%}
    cast(
        substr({{ expression }}, 1, 4) || '-'
        || substr({{ expression }}, 5, 2) || '-'
        || substr({{ expression }}, 7, 2)
        as date
    )
{%- endmacro %}

{% macro duckdb__x12_date(expression) -%}
    cast(strptime({{ expression }}, '%Y%m%d') as date)
{%- endmacro %}

{% macro postgres__x12_date(expression) -%}
    to_date({{ expression }}, 'YYYYMMDD')
{%- endmacro %}


{#- CCYYMMDD text to a date, null when it is not a real calendar date.
    For elements the loader does not validate (PLB02). -#}
{% macro x12_try_date(expression) -%}
    {{ return(adapter.dispatch('x12_try_date', 'eraflow')(expression)) }}
{%- endmacro %}

{% macro duckdb__x12_try_date(expression) -%}
    cast(try_strptime({{ expression }}, '%Y%m%d') as date)
{%- endmacro %}

{% macro postgres__x12_try_date(expression) -%}
    case
        when {{ expression }} ~ '^[0-9]{8}$'
            and substr({{ expression }}, 1, 4) >= '1000'
            and substr({{ expression }}, 5, 2) between '01' and '12'
            and substr({{ expression }}, 7, 2) between '01' and '31'
            then case
                when cast(substr({{ expression }}, 7, 2) as integer)
                    <= extract(day from (
                        to_date(substr({{ expression }}, 1, 6) || '01',
                            'YYYYMMDD')
                        + interval '1 month' - interval '1 day'
                    ))
                    then to_date({{ expression }}, 'YYYYMMDD')
            end
    end
{%- endmacro %}


{#- Text to a decimal, null when it is not a plain decimal number. For
    quantities the loader does not validate (SVC05, SVC07). -#}
{% macro x12_try_decimal(expression, data_type='decimal(18, 4)') -%}
    {{ return(adapter.dispatch('x12_try_decimal', 'eraflow')(
        expression, data_type)) }}
{%- endmacro %}

{% macro duckdb__x12_try_decimal(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}

{% macro postgres__x12_try_decimal(expression, data_type) -%}
    case
        when {{ expression }} ~ '^-?([0-9]+[.]?[0-9]*|[.][0-9]+)$'
            then cast({{ expression }} as {{ data_type }})
    end
{%- endmacro %}


{#- Text form of a key part, for building ids with || on both adapters. -#}
{% macro as_text(expression) -%}
    cast({{ expression }} as varchar)
{%- endmacro %}
