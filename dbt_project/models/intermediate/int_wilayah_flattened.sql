-- The region seed with each region's ancestors as columns, so that a desa
-- code alone gives its kecamatan, kab/kota and provinsi.
with wilayah as (

    select * from {{ ref('wilayah') }}

),

nasional as (

    select
        'ID' as kode_wilayah,
        'INDONESIA' as nama_wilayah,
        'nasional' as tingkat,
        cast(null as varchar) as kode_induk,
        'nasional' as jenis,
        cast(null as varchar) as kode_pos

),

regions as (

    select
        kode_wilayah,
        upper(nama_wilayah) as nama_wilayah,
        tingkat,
        -- Provinces hang under the nation so that every recap row has a parent.
        coalesce(nullif(kode_induk, ''), 'ID') as kode_induk,
        jenis,
        nullif(kode_pos, '') as kode_pos
    from wilayah

    union all

    select * from nasional

),

flattened as (

    select
        regions.kode_wilayah,
        regions.nama_wilayah,
        regions.tingkat,
        regions.kode_induk,
        regions.jenis,
        regions.kode_pos,
        case when regions.tingkat <> 'nasional' then left(regions.kode_wilayah, 2) end
            as kode_provinsi,
        case
            when regions.tingkat in ('kabkota', 'kecamatan', 'desa')
                then left(regions.kode_wilayah, 5)
        end as kode_kabkota,
        case
            when regions.tingkat in ('kecamatan', 'desa')
                then left(regions.kode_wilayah, 8)
        end as kode_kecamatan
    from regions

),

final as (

    select
        flattened.*,
        provinsi.nama_wilayah as nama_provinsi,
        kabkota.nama_wilayah as nama_kabkota,
        kecamatan.nama_wilayah as nama_kecamatan
    from flattened
    left join regions as provinsi
        on flattened.kode_provinsi = provinsi.kode_wilayah
    left join regions as kabkota
        on flattened.kode_kabkota = kabkota.kode_wilayah
    left join regions as kecamatan
        on flattened.kode_kecamatan = kecamatan.kode_wilayah

)

select * from final
