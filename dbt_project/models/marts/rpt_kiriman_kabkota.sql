-- One row per period, source and kab/kota: the source's loaded events about
-- the kab/kota (by the kab/kota of kode_wilayah, else kode_wilayah_asal),
-- beside their median over the last six periods before this one. A kab/kota
-- that delivered every one of those periods (at least two, median at least
-- 8 events, so that silence is not chance: a month without any of 8
-- expected events happens 3 times in 10,000) and nothing now is flagged
-- TIDAK_ADA_KIRIMAN (e.g. a blank-spot
-- region whose Excel delivery has not arrived); otherwise the figure is
-- flagged as the source figures are (macro quality_flag, at least 10 events
-- off). Rows from the pair's first delivery on.
with periods as (

    select period from {{ ref('stg_core__periods') }}

),

events as (

    select * from {{ ref('stg_core__events') }}

),

recap as (

    select * from {{ ref('rpt_rekap_kabkota') }}

),

located as (

    select
        period,
        sumber,
        left(coalesce(kode_wilayah, kode_wilayah_asal), 5) as kode_kabkota
    from events

),

counted as (

    select
        period,
        sumber,
        kode_kabkota,
        count(*) as peristiwa
    from located
    where kode_kabkota is not null
    group by period, sumber, kode_kabkota

),

first_seen as (

    select
        sumber,
        kode_kabkota,
        min(period) as first_period
    from counted
    group by sumber, kode_kabkota

),

spine as (

    select
        periods.period,
        first_seen.sumber,
        first_seen.kode_kabkota
    from periods
    inner join first_seen
        on periods.period >= first_seen.first_period

),

figures as (

    select
        spine.period,
        spine.sumber,
        spine.kode_kabkota,
        recap.nama_wilayah as nama_kabkota,
        recap.awal_total as pemilih_awal,
        coalesce(counted.peristiwa, 0) as peristiwa,
        coalesce(
            1000.0 * coalesce(counted.peristiwa, 0) / nullif(recap.awal_total, 0), 0.0
        ) as peristiwa_per_1000
    from spine
    left join counted
        on spine.period = counted.period
        and spine.sumber = counted.sumber
        and spine.kode_kabkota = counted.kode_kabkota
    left join recap
        on spine.period = recap.period
        and spine.kode_kabkota = recap.kode_wilayah

),

medians as (

    select
        *,
        median(peristiwa) over preceding as median_peristiwa,
        count(*) over preceding as periode_pembanding,
        count(*) filter (where peristiwa > 0) over preceding as periode_terkirim
    from figures
    window preceding as (
        partition by sumber, kode_kabkota
        order by period {{ quality_window() }}
    )

),

final as (

    select
        *,
        case
            when
                peristiwa = 0
                and periode_pembanding >= 2
                and periode_terkirim = periode_pembanding
                and median_peristiwa >= 8
                then 'TIDAK_ADA_KIRIMAN'
            else {{ quality_flag(
                'peristiwa', 'median_peristiwa', 'periode_pembanding', 10
            ) }}
        end as tanda
    from medians

)

select * from final
