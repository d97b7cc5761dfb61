with source as (

    select * from {{ source('core', 'changes') }}

),

renamed as (

    select
        change_id,
        period,
        sumber,
        event_id,
        dpid,
        change_type,
        cast(tms_code as integer) as tms_code,
        rule,
        reason,
        changed_fields,
        match_method,
        cast(match_probability as double) as match_probability,
        kode_wilayah,
        jenis_kelamin
    from source

)

select * from renamed
