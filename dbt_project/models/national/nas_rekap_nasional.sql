-- The national recap: one row per national period, the sum of the provinces
-- that completed it. `lengkap` says whether every province of the deployment
-- did; an incomplete recap is published marked TIDAK LENGKAP.
{{ config(alias='rpt_rekap_nasional') }}

with provinsi as (

    select * from {{ ref('nas_rekap_provinsi') }}

),

periods as (

    select period, status, provinces, provinces_completed from {{ source('nasional', 'periods') }}

),

summed as (

    select
        period,
        count(*) as jumlah_provinsi,
        {{ recap_sums() }}
    from provinsi
    group by period

)

select
    periods.period,
    'ID' as kode_wilayah,
    'INDONESIA' as nama_wilayah,
    cast(null as varchar) as kode_induk,
    periods.status = 'COMPLETE' as lengkap,
    cast(coalesce(summed.jumlah_provinsi, 0) as integer) as jumlah_provinsi,
    cast(coalesce(summed.jumlah_kecamatan, 0) as integer) as jumlah_kecamatan,
    cast(coalesce(summed.jumlah_desa, 0) as integer) as jumlah_desa,
    {% for column in recap_count_columns() -%}
        cast(coalesce(summed.{{ column }}, 0) as bigint) as {{ column }}
        {%- if not loop.last %},{% endif %}
    {% endfor %}
from periods
left join summed on periods.period = summed.period
