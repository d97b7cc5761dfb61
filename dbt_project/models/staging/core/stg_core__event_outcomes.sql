with source as (

    select * from {{ source('core', 'event_outcomes') }}

),

renamed as (

    select
        period,
        sumber,
        event_id,
        outcome,
        dpid,
        match_method,
        cast(match_probability as double) as match_probability,
        detail
    from source

)

select * from renamed
