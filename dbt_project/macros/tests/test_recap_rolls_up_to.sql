{#
  Each recap level sums exactly to the level above: for every period and
  parent region, the parent's counts equal the sum of its children's rows
  (children joined by kode_induk). A parent without children, or children
  whose parent is missing, also fail.
#}
{% test recap_rolls_up_to(model, parent, columns) %}

with children as (

    select
        period,
        kode_induk as kode_wilayah,
        {%- for column in columns %}
        sum({{ column }}) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
    group by period, kode_induk

),

parents as (

    select
        period,
        kode_wilayah,
        {%- for column in columns %}
        {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ parent }}

)

select
    coalesce(parents.period, children.period) as period,
    coalesce(parents.kode_wilayah, children.kode_wilayah) as kode_wilayah
from parents
full outer join children
    on parents.period = children.period
    and parents.kode_wilayah = children.kode_wilayah
where parents.kode_wilayah is null
   or children.kode_wilayah is null
   {%- for column in columns %}
   or parents.{{ column }} <> children.{{ column }}
   {%- endfor %}

{% endtest %}
