with source as (

    select * from {{ source('core', 'voters') }}

),

renamed as (

    select
        dpid,
        nkk,
        nik,
        nama,
        gelar,
        tempat_lahir,
        cast(tanggal_lahir as date) as tanggal_lahir,
        jenis_kelamin,
        status_kawin,
        alamat,
        rt,
        rw,
        disabilitas,
        ktp_el,
        kode_wilayah,
        tps,
        sumber,
        keterangan,
        status,
        cast(tms_code as integer) as tms_code,
        updated_period
    from source

)

select * from renamed
