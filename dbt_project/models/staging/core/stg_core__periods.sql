with source as (

    select * from {{ source('core', 'periods') }}

),

renamed as (

    select
        period,
        cast(cutoff as date) as cutoff,
        status,
        started_at,
        finished_at
    from source

)

select * from renamed
