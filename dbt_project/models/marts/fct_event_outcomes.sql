-- One row per ingested event and period: what became of it (applied, no
-- change, not found, review, future voter, duplicate, quarantined).
with outcomes as (

    select * from {{ ref('stg_core__event_outcomes') }}

),

events as (

    select * from {{ ref('stg_core__events') }}

),

final as (

    select
        outcomes.period,
        outcomes.sumber,
        outcomes.event_id,
        outcomes.outcome,
        outcomes.dpid,
        outcomes.match_method,
        outcomes.match_probability,
        outcomes.detail,
        events.jenis_peristiwa,
        events.tanggal_peristiwa,
        events.kode_wilayah,
        events.kode_wilayah_asal,
        events.is_late,
        events.file_name
    from outcomes
    left join events
        on outcomes.period = events.period
        and outcomes.sumber = events.sumber
        and outcomes.event_id = events.event_id

)

select * from final
