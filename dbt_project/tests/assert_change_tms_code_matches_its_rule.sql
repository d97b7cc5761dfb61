-- A change's TMS code is the one its rule implies (change_rules seed), and
-- only TMS changes carry one: a mismatch would put a voter in the wrong
-- recap category.
with changes as (

    select * from {{ ref('stg_core__changes') }}

),

rules as (

    select * from {{ ref('change_rules') }}

)

select
    changes.change_id,
    changes.rule,
    changes.change_type,
    changes.tms_code,
    rules.change_type as rule_change_type,
    rules.tms_code as rule_tms_code
from changes
inner join rules
    on changes.rule = rules.rule
where changes.change_type <> rules.change_type
    or changes.tms_code is distinct from rules.tms_code
