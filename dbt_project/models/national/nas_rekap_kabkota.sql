-- The kab/kota recap of every province that completed the period, as each
-- province built and published it.
{{ config(alias='rpt_rekap_kabkota') }}

select * exclude (kode_provinsi)
from {{ source('nasional', 'rekap_kabkota') }}
