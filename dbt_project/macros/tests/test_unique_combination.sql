{#
  A composite key is unique and complete. Written here rather than taken from
  dbt_utils because the project must build offline (no `dbt deps`).
#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
    {%- for column in columns %}
    or bool_or({{ column }} is null)
    {%- endfor %}

{% endtest %}
