{#-
  Custom schemas are used exactly as written (staging, marts), never
  prefixed with the target schema: ARCHITECTURE.md fixes these names for
  the expectation suites and the CLI.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
