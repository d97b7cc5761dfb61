{#
  No count in a recap is negative. Checks every numeric column of the model,
  so a column added later is covered without editing the test.
#}
{% test counts_non_negative(model) %}

{%- set numeric_columns = [] -%}
{%- for column in adapter.get_columns_in_relation(model) -%}
    {%- if column.is_numeric() or column.is_integer() -%}
        {%- do numeric_columns.append(column.name) -%}
    {%- endif -%}
{%- endfor %}

select *
from {{ model }}
where false
{%- for column in numeric_columns %}
   or {{ column }} < 0
{%- endfor %}

{% endtest %}
