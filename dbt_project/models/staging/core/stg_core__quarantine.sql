with source as (

    select * from {{ source('core', 'quarantine') }}

),

renamed as (

    select
        period,
        file_name,
        row_number as row_number_in_file,
        sumber,
        event_id,
        reason,
        detail
    from source

)

select * from renamed
