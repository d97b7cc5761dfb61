with source as (

    select * from {{ source('core', 'voter_history') }}

),

renamed as (

    select
        dpid,
        cast(version as integer) as version,
        nkk,
        nik,
        nama,
        tempat_lahir,
        cast(tanggal_lahir as date) as tanggal_lahir,
        jenis_kelamin,
        status_kawin,
        kode_wilayah,
        tps,
        status,
        status = 'AKTIF' as is_aktif,
        cast(tms_code as integer) as tms_code,
        -- The initial list is period '0000-00' so that string comparison
        -- orders it before every YYYY-MM.
        valid_from_period,
        valid_to_period,
        change_id
    from source

)

select * from renamed
