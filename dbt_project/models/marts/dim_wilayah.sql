-- Every Kemendagri region (and the nation, 'ID') with its parents: the names
-- reports print and the hierarchy recaps roll up along.
with wilayah as (

    select * from {{ ref('int_wilayah_flattened') }}

),

final as (

    select
        kode_wilayah,
        nama_wilayah,
        tingkat,
        kode_induk,
        jenis,
        kode_provinsi,
        nama_provinsi,
        kode_kabkota,
        nama_kabkota,
        kode_kecamatan,
        nama_kecamatan,
        kode_pos
    from wilayah

)

select * from final
