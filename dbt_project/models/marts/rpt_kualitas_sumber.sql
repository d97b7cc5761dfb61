-- One row per period and source (sumber): what the source delivered and how
-- good it was, each figure beside its median over the last six periods before
-- this one and a flag when it is far outside it (macro quality_flag). Shares
-- are of the source's loaded events, except pct_karantina (of rows in).
-- Shares of bad rows are flagged only upwards, volumes both ways.
-- Events per 1,000 voters count the province's active voters at the start of
-- the period (pemilih awal of the recap).
{%- set shares = [
    ('nik_kosong', 'pct_nik_kosong'),
    ('nik_tidak_sah', 'pct_nik_tidak_sah'),
    ('terlambat', 'pct_terlambat'),
    ('tidak_ditemukan', 'pct_tidak_ditemukan'),
    ('review', 'pct_review'),
] %}
{%- set figures = ['baris_masuk', 'pct_karantina', 'peristiwa_per_1000']
    + shares | map(attribute=1) | list %}
with periods as (

    select period from {{ ref('stg_core__periods') }}

),

files as (

    select * from {{ ref('rpt_kualitas_file') }}

),

events as (

    select * from {{ ref('stg_core__events') }}

),

outcomes as (

    select * from {{ ref('fct_event_outcomes') }}

),

recap as (

    select * from {{ ref('rpt_rekap_kabkota') }}

),

first_seen as (

    select
        sumber,
        min(period) as first_period
    from files
    where sumber is not null
    group by sumber

),

-- Every source in every period since its first delivery: a source that
-- sent nothing this month still has its row (with zeros).
spine as (

    select
        periods.period,
        first_seen.sumber
    from periods
    inner join first_seen
        on periods.period >= first_seen.first_period

),

delivered as (

    select
        period,
        sumber,
        count(*) filter (where status = 'LOADED') as jumlah_file,
        sum(baris_masuk)::bigint as baris_masuk,
        sum(baris_dimuat)::bigint as baris_dimuat,
        sum(baris_karantina)::bigint as baris_karantina
    from files
    group by period, sumber

),

event_counts as (

    select
        period,
        sumber,
        count(*) as peristiwa,
        count(*) filter (where nik is null) as nik_kosong,
        count(*) filter (where nik is not null and not nik_valid) as nik_tidak_sah,
        count(*) filter (where is_late) as terlambat
    from events
    group by period, sumber

),

outcome_counts as (

    select
        period,
        sumber,
        count(*) filter (where outcome = 'NOT_FOUND') as tidak_ditemukan,
        count(*) filter (where outcome = 'REVIEW') as review
    from outcomes
    group by period, sumber

),

voters as (

    select
        period,
        sum(awal_total) as pemilih_awal
    from recap
    group by period

),

figures as (

    select
        spine.period,
        spine.sumber,
        voters.pemilih_awal,
        coalesce(delivered.jumlah_file, 0) as jumlah_file,
        coalesce(delivered.baris_masuk, 0) as baris_masuk,
        coalesce(delivered.baris_dimuat, 0) as baris_dimuat,
        coalesce(delivered.baris_karantina, 0) as baris_karantina,
        coalesce(event_counts.peristiwa, 0) as peristiwa,
        coalesce(event_counts.nik_kosong, 0) as nik_kosong,
        coalesce(event_counts.nik_tidak_sah, 0) as nik_tidak_sah,
        coalesce(event_counts.terlambat, 0) as terlambat,
        coalesce(outcome_counts.tidak_ditemukan, 0) as tidak_ditemukan,
        coalesce(outcome_counts.review, 0) as review
    from spine
    left join delivered
        on spine.period = delivered.period and spine.sumber = delivered.sumber
    left join event_counts
        on spine.period = event_counts.period and spine.sumber = event_counts.sumber
    left join outcome_counts
        on spine.period = outcome_counts.period and spine.sumber = outcome_counts.sumber
    left join voters
        on spine.period = voters.period

),

shares as (

    select
        *,
        {%- for count, share in shares %}
            coalesce({{ count }} / nullif(peristiwa, 0), 0.0) as {{ share }},
        {%- endfor %}
        coalesce(baris_karantina / nullif(baris_masuk, 0), 0.0) as pct_karantina,
        coalesce(1000.0 * peristiwa / nullif(pemilih_awal, 0), 0.0) as peristiwa_per_1000
    from figures

),

medians as (

    select
        *,
        {%- for figure in figures %}
            median({{ figure }}) over preceding as median_{{ figure }},
        {%- endfor %}
        count(*) over preceding as periode_pembanding
    from shares
    window preceding as (
        partition by sumber
        order by period {{ quality_window() }}
    )

),

-- Enough rows for a figure to be flagged: small counts do not flap.
sized as (

    select
        *,
        peristiwa >= 20 as cukup_peristiwa,
        baris_masuk >= 20 as cukup_baris,
        greatest(peristiwa, median_baris_masuk) >= 20 as cukup_volume
    from medians

),

flagged as (

    select
        *,
        {{ quality_flag(
            'baris_masuk', 'median_baris_masuk', 'periode_pembanding', 10
        ) }} as tanda_baris_masuk,
        {{ quality_flag(
            'pct_karantina', 'median_pct_karantina', 'periode_pembanding', 0.05,
            'cukup_baris', up_only='true', base='baris_masuk', min_rows=5
        ) }} as tanda_pct_karantina,
        {{ quality_flag(
            'peristiwa_per_1000', 'median_peristiwa_per_1000',
            'periode_pembanding', 2, 'cukup_volume'
        ) }} as tanda_peristiwa_per_1000,
    {%- for _, figure in shares %}
        {{ quality_flag(
            figure, 'median_' ~ figure, 'periode_pembanding', 0.05,
            'cukup_peristiwa', up_only='true', base='peristiwa', min_rows=5
        ) }} as tanda_{{ figure }}{{ ',' if not loop.last }}
    {%- endfor %}
    from sized

),

final as (

    select
        *,
        {%- for figure in figures %}
            (tanda_{{ figure }} is not null)::integer
            {{- ' +' if not loop.last }}
        {%- endfor %} as jumlah_tanda
    from flagged

)

select * from final
