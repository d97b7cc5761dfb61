-- The desa recap: one row per period and desa of every province present,
-- desa without any voter or change included with zeros.
with counted as (

    select * from {{ ref('int_rekap_desa_counted') }}

),

regions as (

    select * from {{ ref('int_wilayah_scoped') }}
    where tingkat = 'desa'

),

periods as (

    select period from {{ ref('stg_core__periods') }}

),

final as (

    select
        periods.period,
        regions.kode_wilayah,
        regions.nama_wilayah,
        regions.kode_induk,
        cast(0 as integer) as jumlah_kecamatan,
        cast(1 as integer) as jumlah_desa,
        {% for column in recap_count_columns() -%}
            cast(coalesce(counted.{{ column }}, 0) as bigint) as {{ column }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from periods
    cross join regions
    left join counted
        on periods.period = counted.period
        and regions.kode_wilayah = counted.kode_wilayah

)

select * from final
