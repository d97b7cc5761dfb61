{#
  Models land exactly in the schema their folder names (staging,
  intermediate, marts, reference), not dbt's default "<target>_<custom>",
  because analysts, GX suites and publish read marts.* by fixed names.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
