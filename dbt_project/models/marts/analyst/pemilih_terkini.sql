-- The voter list for analysts: current values with NIK and NKK masked by the
-- warehouse's one masking rule (core.mask_nik), and without the generator's
-- truth key. A view, so it always shows the current list without a copy.
with voters as (

    select * from {{ ref('stg_core__voters') }}

),

tms_codes as (

    select * from {{ ref('tms_codes') }}

),

final as (

    select
        voters.dpid,
        core.mask_nik(voters.nkk) as nkk,
        core.mask_nik(voters.nik) as nik,
        voters.nama,
        voters.gelar,
        voters.tempat_lahir,
        voters.tanggal_lahir,
        voters.jenis_kelamin,
        voters.status_kawin,
        voters.alamat,
        voters.rt,
        voters.rw,
        voters.disabilitas,
        voters.ktp_el,
        voters.kode_wilayah,
        voters.tps,
        voters.sumber,
        voters.keterangan,
        voters.status,
        voters.tms_code,
        tms_codes.nama as tms_nama,
        voters.updated_period
    from voters
    left join tms_codes
        on voters.tms_code = tms_codes.code

)

select * from final
