with source as (

    select * from {{ source('core', 'dedupe_proposals') }}

),

renamed as (

    select
        cluster_id,
        dpid,
        survivor_dpid,
        cast(match_probability as double) as match_probability,
        decision,
        proposed_at,
        decided_by,
        decided_at,
        applied_period
    from source

)

select * from renamed
