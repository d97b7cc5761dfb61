{#
  A recap level built from the level below: one row per period and region of
  `tingkat` in scope (zero rows included), counts summed over the child rows
  whose kode_induk is the region. Used for kecamatan, kab/kota and provinsi so
  that the levels add up by construction and the tests check it anyway.
#}
{% macro rekap_rollup(child_model, tingkat) %}

with children as (

    select * from {{ ref(child_model) }}

),

regions as (

    select * from {{ ref('int_wilayah_scoped') }}
    where tingkat = '{{ tingkat }}'

),

periods as (

    select period from {{ ref('stg_core__periods') }}

),

children_summed as (

    select
        period,
        kode_induk as kode_wilayah,
        {{ recap_sums() }}
    from children
    group by period, kode_induk

),

final as (

    select
        periods.period,
        regions.kode_wilayah,
        regions.nama_wilayah,
        regions.kode_induk,
        {% if tingkat == 'kecamatan' -%}
        cast(1 as integer) as jumlah_kecamatan,
        {%- else -%}
        cast(coalesce(children_summed.jumlah_kecamatan, 0) as integer) as jumlah_kecamatan,
        {%- endif %}
        cast(coalesce(children_summed.jumlah_desa, 0) as integer) as jumlah_desa,
        {%- for column in recap_count_columns() %}
        cast(coalesce(children_summed.{{ column }}, 0) as bigint) as {{ column }}
            {{- "," if not loop.last }}
        {%- endfor %}
    from periods
    cross join regions
    left join children_summed
        on periods.period = children_summed.period
        and regions.kode_wilayah = children_summed.kode_wilayah

)

select * from final

{% endmacro %}
