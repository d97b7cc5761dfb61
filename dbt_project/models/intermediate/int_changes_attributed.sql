-- Each change with the place and sex it is counted under in the recaps: the
-- record's location and sex at the end of the change's period (for a TMS,
-- where the record was when it left), and the recap column that counts it.
with changes as (

    select * from {{ ref('stg_core__changes') }}

),

history as (

    select * from {{ ref('stg_core__voter_history') }}

),

rules as (

    select * from {{ ref('change_rules') }}

),

tms_codes as (

    select * from {{ ref('tms_codes') }}

),

end_of_period as (

    select
        changes.change_id,
        history.kode_wilayah as kode_wilayah_rekap,
        history.jenis_kelamin as jenis_kelamin_rekap
    from changes
    inner join history
        on changes.dpid = history.dpid
        and changes.period >= history.valid_from_period
        and (history.valid_to_period is null or changes.period < history.valid_to_period)

),

final as (

    select
        changes.*,
        tms_codes.nama as tms_nama,
        end_of_period.kode_wilayah_rekap,
        end_of_period.jenis_kelamin_rekap,
        case
            when changes.change_type = 'TMS' then tms_codes.kolom_rekap
            else rules.kolom_rekap
        end as kolom_rekap
    from changes
    left join end_of_period
        on changes.change_id = end_of_period.change_id
    left join rules
        on changes.rule = rules.rule
    left join tms_codes
        on changes.tms_code = tms_codes.code

)

select * from final
