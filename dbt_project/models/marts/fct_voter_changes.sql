-- One row per change to the list (the by-name change lists and audit read
-- it), with the TMS category name and the desa the recaps count it under.
with changes as (

    select * from {{ ref('int_changes_attributed') }}

),

final as (

    select
        period,
        change_id,
        sumber,
        event_id,
        dpid,
        change_type,
        tms_code,
        tms_nama,
        rule,
        reason,
        changed_fields,
        match_method,
        match_probability,
        kode_wilayah,
        jenis_kelamin,
        kode_wilayah_rekap,
        jenis_kelamin_rekap
    from changes

)

select * from final
