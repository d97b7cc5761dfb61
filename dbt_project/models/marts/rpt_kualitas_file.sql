-- One row per period and delivered file: rows in, loaded and quarantined
-- (rows in = loaded + quarantined) and the quarantined rows by reason, in the
-- words of the alasan_karantina seed, most frequent first. The ledger names a
-- file's source from its loaded rows; a file whose rows were all quarantined
-- takes it from its quarantined rows. Periods of core.periods only (not the
-- initial list's ledger row).
with periods as (

    select period from {{ ref('stg_core__periods') }}

),

files as (

    select * from {{ ref('stg_core__files') }}
    where period in (select periods.period from periods)

),

quarantine as (

    select * from {{ ref('stg_core__quarantine') }}

),

reasons as (

    select * from {{ ref('alasan_karantina') }}

),

by_reason as (

    select
        quarantine.period,
        quarantine.file_name,
        coalesce(reasons.keterangan, quarantine.reason) as keterangan,
        min(quarantine.sumber) as quarantined_sumber,
        count(*) as baris
    from quarantine
    left join reasons
        on quarantine.reason = reasons.reason
    group by
        quarantine.period,
        quarantine.file_name,
        coalesce(reasons.keterangan, quarantine.reason)

),

per_file as (

    select
        period,
        file_name,
        string_agg(
            keterangan || ': ' || baris, '; '
            order by baris desc, keterangan asc
        ) as alasan_karantina,
        min(quarantined_sumber) as quarantined_sumber
    from by_reason
    group by period, file_name

),

final as (

    select
        files.period,
        coalesce(files.sumber, per_file.quarantined_sumber) as sumber,
        files.file_name,
        files.status,
        files.message,
        per_file.alasan_karantina,
        coalesce(files.rows_in, 0) as baris_masuk,
        coalesce(files.rows_loaded, 0) as baris_dimuat,
        coalesce(files.rows_quarantined, 0) as baris_karantina
    from files
    left join per_file
        on files.period = per_file.period
        and files.file_name = per_file.file_name

)

select * from final
