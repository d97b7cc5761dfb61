{#
  The national roll-up of a province equals the province's own
  rpt_rekap_provinsi, column by column, for every period collected.
#}
{% test national_recap_matches_provinces(model) %}

with own as (

    select * exclude (kode_provinsi, nama_wilayah, kode_induk)
    from {{ source('nasional', 'rekap_provinsi_asal') }}

),

national as (

    select * exclude (nama_wilayah, kode_induk) from {{ model }}

)

(select * from own except select * from national)
union all
(select * from national except select * from own)

{% endtest %}
