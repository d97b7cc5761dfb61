with source as (

    select * from {{ source('core', 'review_decisions') }}

),

renamed as (

    select
        period,
        sumber,
        event_id,
        target_id,
        keputusan,
        decided_by,
        decided_at
    from source

)

select * from renamed
