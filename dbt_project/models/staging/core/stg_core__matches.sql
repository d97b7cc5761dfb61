with source as (

    select * from {{ source('core', 'matches') }}

),

renamed as (

    select
        period,
        sumber,
        event_id,
        decision,
        target_id,
        match_method,
        cast(match_probability as double) as match_probability,
        duplicate_of,
        flag
    from source

)

select * from renamed
