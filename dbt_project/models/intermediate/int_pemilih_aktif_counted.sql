-- Active voters per period, desa and sex at the start (at the location each
-- record had then) and at the end of the period, from voter_history alone.
-- Built as running sums of +1/-1 at the periods a version starts and ends, so
-- the cost grows with the number of versions, not voters x periods.
with history as (

    select * from {{ ref('stg_core__voter_history') }}

),

periods as (

    select period from {{ ref('stg_core__periods') }}

),

-- Intermediate versions (valid_from = valid_to) are never visible at a
-- period's start or end, so they carry no weight.
aktif_versions as (

    select
        valid_from_period,
        valid_to_period,
        kode_wilayah,
        jenis_kelamin
    from history
    where is_aktif
        and (valid_to_period is null or valid_to_period > valid_from_period)

),

deltas as (

    select valid_from_period as delta_period, kode_wilayah, jenis_kelamin, 1 as delta
    from aktif_versions

    union all

    select valid_to_period as delta_period, kode_wilayah, jenis_kelamin, -1 as delta
    from aktif_versions
    where valid_to_period is not null

),

deltas_by_period as (

    select
        delta_period,
        kode_wilayah,
        jenis_kelamin,
        sum(delta) as delta
    from deltas
    group by delta_period, kode_wilayah, jenis_kelamin

),

locations as (

    select distinct kode_wilayah, jenis_kelamin
    from deltas_by_period

),

axis as (

    select period from periods
    union
    select delta_period as period from deltas_by_period

),

grid as (

    select
        axis.period,
        locations.kode_wilayah,
        locations.jenis_kelamin,
        coalesce(deltas_by_period.delta, 0) as delta
    from axis
    cross join locations
    left join deltas_by_period
        on axis.period = deltas_by_period.delta_period
        and locations.kode_wilayah is not distinct from deltas_by_period.kode_wilayah
        and locations.jenis_kelamin is not distinct from deltas_by_period.jenis_kelamin

),

running as (

    select
        period,
        kode_wilayah,
        jenis_kelamin,
        sum(delta) over (
            partition by kode_wilayah, jenis_kelamin
            order by period
            rows between unbounded preceding and current row
        ) as aktif_akhir,
        delta
    from grid

),

final as (

    select
        running.period,
        running.kode_wilayah,
        running.jenis_kelamin,
        cast(running.aktif_akhir - running.delta as bigint) as aktif_awal,
        cast(running.aktif_akhir as bigint) as aktif_akhir
    from running
    inner join periods
        on running.period = periods.period
    where running.aktif_akhir <> 0 or running.delta <> 0

)

select * from final
