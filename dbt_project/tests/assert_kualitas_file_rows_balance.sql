-- Every file of the quality report balances (rows in = loaded +
-- quarantined), and every quarantine reason has its words in the seed: a
-- code without them would reach operators as a bare code.
with files as (

    select * from {{ ref('rpt_kualitas_file') }}

),

quarantine as (

    select * from {{ ref('stg_core__quarantine') }}

),

reasons as (

    select * from {{ ref('alasan_karantina') }}

)

select
    files.period,
    files.file_name,
    'rows in != loaded + quarantined' as problem
from files
where files.baris_masuk != files.baris_dimuat + files.baris_karantina

union all

select
    quarantine.period,
    quarantine.file_name,
    'reason without words: ' || quarantine.reason as problem
from quarantine
where quarantine.reason not in (select reasons.reason from reasons)
