-- The regions a recap covers: every region of each province that appears in
-- the voter history, so that regions without voters still get a (zero) row.
with wilayah as (

    select * from {{ ref('int_wilayah_flattened') }}

),

history as (

    select * from {{ ref('stg_core__voter_history') }}

),

provinces_present as (

    select distinct left(kode_wilayah, 2) as kode_provinsi
    from history
    where kode_wilayah is not null

),

scoped as (

    select wilayah.*
    from wilayah
    inner join provinces_present
        on wilayah.kode_provinsi = provinces_present.kode_provinsi

)

select * from scoped
