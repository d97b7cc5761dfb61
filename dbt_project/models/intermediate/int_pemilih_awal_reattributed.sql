-- Moves of pemilih awal to their end-of-period location and sex. Recaps count
-- every voter where the record is at the end of the period, so a voter who
-- was active at the start and changed desa or sex during the period is taken
-- out of the start location's awal and put into the end location's awal.
-- Only records with a version starting in the period are involved.
with history as (

    select * from {{ ref('stg_core__voter_history') }}

),

periods as (

    select period from {{ ref('stg_core__periods') }}

),

-- The version visible at the start of period P for a record changed in P.
start_versions as (

    select
        dpid,
        valid_to_period as period,
        kode_wilayah,
        jenis_kelamin,
        is_aktif
    from history
    where valid_to_period is not null
        and valid_from_period < valid_to_period

),

-- The version visible at the end of period P for a record changed in P. Only
-- versions starting in a period where some version ended can meet one: the
-- filter keeps the join to the month's changes instead of the whole list.
end_versions as (

    select
        dpid,
        valid_from_period as period,
        kode_wilayah,
        jenis_kelamin
    from history
    where (valid_to_period is null or valid_to_period > valid_from_period)
        and valid_from_period in (select start_versions.period from start_versions)

),

moved as (

    select
        start_versions.period,
        start_versions.dpid,
        start_versions.kode_wilayah as kode_wilayah_awal,
        start_versions.jenis_kelamin as jenis_kelamin_awal,
        end_versions.kode_wilayah as kode_wilayah_akhir,
        end_versions.jenis_kelamin as jenis_kelamin_akhir
    from start_versions
    inner join end_versions
        on start_versions.dpid = end_versions.dpid
        and start_versions.period = end_versions.period
    inner join periods
        on start_versions.period = periods.period
    where start_versions.is_aktif
        and (
            start_versions.kode_wilayah is distinct from end_versions.kode_wilayah
            or start_versions.jenis_kelamin is distinct from end_versions.jenis_kelamin
        )

),

deltas as (

    select
        period,
        kode_wilayah_awal as kode_wilayah,
        jenis_kelamin_awal as jenis_kelamin,
        -1 as awal_delta
    from moved

    union all

    select
        period,
        kode_wilayah_akhir as kode_wilayah,
        jenis_kelamin_akhir as jenis_kelamin,
        1 as awal_delta
    from moved

),

final as (

    select
        period,
        kode_wilayah,
        jenis_kelamin,
        cast(sum(awal_delta) as bigint) as awal_delta
    from deltas
    group by period, kode_wilayah, jenis_kelamin

)

select * from final
