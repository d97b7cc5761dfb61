with source as (

    select * from {{ source('core', 'events') }}

),

renamed as (

    select
        period,
        sumber,
        event_id,
        jenis_peristiwa,
        cast(tanggal_peristiwa as date) as tanggal_peristiwa,
        nik,
        nik_valid,
        nik_flag,
        nkk,
        nama,
        gelar,
        tempat_lahir,
        cast(tanggal_lahir as date) as tanggal_lahir,
        jenis_kelamin,
        status_kawin,
        alamat,
        rt,
        rw,
        kode_wilayah,
        kode_wilayah_asal,
        is_late,
        file_name,
        row_number as row_number_in_file
    from source

)

select * from renamed
