-- One row per period and completed province: its kab/kota rows summed, by the
-- same roll-up as a province's own recap (and tested equal to it).
{{ config(alias='rpt_rekap_provinsi') }}

with kabkota as (

    select * from {{ ref('nas_rekap_kabkota') }}

),

names as (

    select kode_wilayah, nama_wilayah from {{ ref('wilayah') }}
    where tingkat = 'provinsi'

),

summed as (

    select
        period,
        kode_induk as kode_wilayah,
        {{ recap_sums() }}
    from kabkota
    group by period, kode_induk

)

select
    summed.period,
    summed.kode_wilayah,
    upper(names.nama_wilayah) as nama_wilayah,
    'ID' as kode_induk,
    cast(summed.jumlah_kecamatan as integer) as jumlah_kecamatan,
    cast(summed.jumlah_desa as integer) as jumlah_desa,
    {% for column in recap_count_columns() -%}
        cast(summed.{{ column }} as bigint) as {{ column }}
        {%- if not loop.last %},{% endif %}
    {% endfor %}
from summed
left join names on summed.kode_wilayah = names.kode_wilayah
