-- The by-name change list of each period (daftar perubahan pemilih), as
-- publish writes it per kab/kota: every change with the voter's current
-- values (NIK and NKK masked, from pemilih_terkini), located in its desa,
-- kecamatan and kab/kota. A view: publish streams one period of it in order.
with changes as (

    select * from {{ ref('fct_voter_changes') }}

),

pemilih as (

    select * from {{ ref('pemilih_terkini') }}

),

wilayah as (

    select * from {{ ref('dim_wilayah') }}

),

located as (

    select
        changes.*,
        coalesce(kab.kode_wilayah, left(changes.kode_wilayah, 5)) as kode_kabkota,
        coalesce(kab.nama_wilayah, left(changes.kode_wilayah, 5)) as nama_kabkota,
        coalesce(kec.kode_wilayah, left(changes.kode_wilayah, 8)) as kode_kecamatan,
        kec.nama_wilayah as nama_kecamatan,
        desa.nama_wilayah as nama_desa
    from changes
    left join wilayah as desa on changes.kode_wilayah = desa.kode_wilayah
    left join wilayah as kec on desa.kode_induk = kec.kode_wilayah
    left join wilayah as kab on kec.kode_induk = kab.kode_wilayah

),

final as (

    select
        located.period,
        located.kode_kabkota,
        located.nama_kabkota,
        located.kode_kecamatan,
        located.nama_kecamatan,
        located.kode_wilayah as kode_desa,
        located.nama_desa,
        pemilih.tps,
        located.dpid,
        pemilih.nkk,
        pemilih.nik,
        pemilih.nama,
        coalesce(located.jenis_kelamin, pemilih.jenis_kelamin) as jenis_kelamin,
        pemilih.tanggal_lahir,
        pemilih.alamat,
        pemilih.rt,
        pemilih.rw,
        case located.change_type
            when 'BARU' then 'B'
            when 'UBAH' then 'U'
            else cast(located.tms_code as varchar)
        end as keterangan,
        located.change_type,
        located.tms_nama,
        located.reason as alasan,
        located.changed_fields as elemen_diubah,
        located.sumber,
        located.event_id,
        located.match_method as metode_pencocokan,
        round(located.match_probability, 4) as probabilitas,
        case located.change_type when 'BARU' then 1 when 'UBAH' then 2 else 3 end as urutan_jenis
    from located
    left join pemilih on located.dpid = pemilih.dpid

)

select * from final
