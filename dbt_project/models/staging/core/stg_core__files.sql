with source as (

    select * from {{ source('core', 'files') }}

),

renamed as (

    select
        period,
        file_name,
        sha256,
        size_bytes,
        sumber,
        rows_in,
        rows_loaded,
        rows_quarantined,
        status,
        message,
        loaded_at
    from source

)

select * from renamed
