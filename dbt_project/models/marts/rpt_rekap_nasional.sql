-- The national recap: one row per period, the sum of the provinces present.
with provinsi as (

    select * from {{ ref('rpt_rekap_provinsi') }}

),

periods as (

    select period from {{ ref('stg_core__periods') }}

),

provinsi_summed as (

    select
        period,
        {{ recap_sums() }}
    from provinsi
    group by period

),

final as (

    select
        periods.period,
        'ID' as kode_wilayah,
        'INDONESIA' as nama_wilayah,
        cast(null as varchar) as kode_induk,
        cast(coalesce(provinsi_summed.jumlah_kecamatan, 0) as integer) as jumlah_kecamatan,
        cast(coalesce(provinsi_summed.jumlah_desa, 0) as integer) as jumlah_desa,
        {% for column in recap_count_columns() -%}
            cast(coalesce(provinsi_summed.{{ column }}, 0) as bigint) as {{ column }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from periods
    left join provinsi_summed
        on periods.period = provinsi_summed.period

)

select * from final
