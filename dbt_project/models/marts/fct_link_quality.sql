-- Link quality without a truth: one row per period and job, from the
-- model's own match probabilities (docs/linkage.md, "Link quality without
-- truth"). job 'link': the link stage, the period's events linked to the
-- list; job 'dedupe': the whole-list duplicate job, its AUTO proposals counted in the
-- period whose apply turned them into TMS 2, its REVIEW backlog as it stood
-- when the period's run finished.
--
-- An automatic link is one no person decided: a LINK of the link stage by
-- NIK_EXACT or SPLINK (not REVIEW_DECISION), or an AUTO dedupe proposal. If
-- each match probability p were calibrated, sum(1 - p) over the automatic
-- links would be the expected number of wrong ones. A NIK-exact link carries
-- p = 1 and adds nothing: the estimate cannot see a wrong NIK-exact link.
--
-- The thresholds come from the run's settings as the dbt vars pdpb_link_upper
-- and pdpb_link_lower (pdpb.transform passes them). "Near" a threshold t
-- means within one bit of match weight, a factor of two in the odds
-- p / (1 - p): above t while p < 2t / (1 + t), below t while p >= t / (2 - t)
-- (upper 0.99: 0.99 <= p < 0.99497; lower 0.5: 1/3 <= p < 2/3).
with periods as (

    select
        period,
        coalesce(finished_at, started_at) as as_of,
        cast(left(period, 4) as integer) * 12 + cast(right(period, 2) as integer) as month_number
    from {{ ref('stg_core__periods') }}

),

thresholds as (

    select
        cast({{ var('pdpb_link_upper') }} as double) as upper_threshold,
        cast({{ var('pdpb_link_lower') }} as double) as lower_threshold

),

bands as (

    select
        upper_threshold,
        lower_threshold,
        upper_threshold / (2 - upper_threshold) as upper_band_bottom,
        2 * upper_threshold / (1 + upper_threshold) as upper_band_top,
        lower_threshold / (2 - lower_threshold) as lower_band_bottom,
        2 * lower_threshold / (1 + lower_threshold) as lower_band_top
    from thresholds

),

matches as (

    select * from {{ ref('stg_core__matches') }}

),

tms_events as (

    select distinct
        period,
        sumber,
        event_id
    from {{ ref('stg_core__changes') }}
    where change_type = 'TMS'

),

automatic_links as (

    select
        matches.period,
        matches.match_method,
        matches.match_probability,
        tms_events.event_id is not null as removed_a_voter
    from matches
    left join tms_events
        on matches.period = tms_events.period
        and matches.sumber = tms_events.sumber
        and matches.event_id = tms_events.event_id
    where
        matches.decision = 'LINK'
        and matches.match_method is distinct from 'REVIEW_DECISION'

),

link_automatic as (

    select
        automatic_links.period,
        count(*) as auto_links,
        count(*) filter (where automatic_links.match_method = 'NIK_EXACT') as auto_links_nik_exact,
        count(*) filter (where automatic_links.match_method = 'SPLINK') as auto_links_splink,
        sum(1 - automatic_links.match_probability) as expected_wrong_links,
        count(*) filter (where automatic_links.removed_a_voter) as auto_links_tms,
        coalesce(
            sum(1 - automatic_links.match_probability)
            filter (where automatic_links.removed_a_voter),
            0
        ) as expected_wrongful_tms,
        count(*) filter (
            where automatic_links.match_probability < bands.upper_band_top
        ) as links_near_upper
    from automatic_links
    cross join bands
    group by automatic_links.period

),

link_near as (

    -- The period's own REVIEW and NEW decisions next to a threshold.
    select
        matches.period,
        count(*) filter (
            where matches.decision = 'REVIEW'
            and matches.match_probability >= bands.upper_band_bottom
            and matches.match_probability < bands.upper_threshold
        ) as review_near_upper,
        count(*) filter (
            where matches.decision = 'REVIEW'
            and matches.match_probability >= bands.lower_threshold
            and matches.match_probability < bands.lower_band_top
        ) as review_near_lower,
        count(*) filter (
            where matches.decision = 'NEW'
            and matches.match_method = 'NONE'
            and matches.match_probability >= bands.lower_band_bottom
            and matches.match_probability < bands.lower_threshold
        ) as new_near_lower
    from matches
    cross join bands
    group by matches.period

),

reviews as (

    -- Every REVIEW outcome, with the time an operator decided it, if one did.
    select
        outcomes.period,
        cast(left(outcomes.period, 4) as integer) * 12
        + cast(right(outcomes.period, 2) as integer) as month_number,
        decisions.decided_at
    from {{ ref('stg_core__event_outcomes') }} as outcomes
    left join {{ ref('stg_core__review_decisions') }} as decisions
        on outcomes.period = decisions.period
        and outcomes.sumber = decisions.sumber
        and outcomes.event_id = decisions.event_id
    where outcomes.outcome = 'REVIEW'

),

link_backlog as (

    -- REVIEW outcomes of this or an earlier period not decided when the
    -- period's run finished.
    select
        periods.period,
        count(*) filter (where reviews.period = periods.period) as review_added,
        count(reviews.month_number) filter (
            where reviews.decided_at is null or reviews.decided_at > periods.as_of
        ) as review_open,
        min(reviews.period) filter (
            where reviews.decided_at is null or reviews.decided_at > periods.as_of
        ) as review_oldest_period,
        max(periods.month_number - reviews.month_number) filter (
            where reviews.decided_at is null or reviews.decided_at > periods.as_of
        ) as review_oldest_age_periods
    from periods
    left join reviews
        on periods.period >= reviews.period
    group by periods.period

),

proposals as (

    select * from {{ ref('stg_core__dedupe_proposals') }}

),

dedupe_automatic as (

    -- AUTO proposals the period's apply turned into TMS 2 (apply sets
    -- applied_period only on those it applied).
    select
        proposals.applied_period as period,
        count(*) as auto_links,
        sum(1 - proposals.match_probability) as expected_wrong_links,
        count(*) filter (
            where proposals.match_probability < bands.upper_band_top
        ) as links_near_upper
    from proposals
    cross join bands
    where proposals.decision = 'AUTO' and proposals.applied_period is not null
    group by proposals.applied_period

),

history as (

    select * from {{ ref('stg_core__voter_history') }}

),

dedupe_pending as (

    -- REVIEW pairs proposed before the period's run finished and not decided by then.
    select
        periods.period,
        periods.as_of,
        proposals.dpid,
        proposals.survivor_dpid,
        proposals.match_probability,
        proposals.proposed_at
    from periods
    inner join proposals
        on periods.as_of >= proposals.proposed_at
        and (proposals.decided_at is null or periods.as_of < proposals.decided_at)
    where proposals.decision in ('REVIEW', 'SAMA', 'BEDA')

),

pending_records as (

    select
        period,
        dpid
    from dedupe_pending
    union
    select
        period,
        survivor_dpid as dpid
    from dedupe_pending

),

active_at_end as (

    -- Which records of those pairs were active at the end of the period.
    select distinct
        pending_records.period,
        history.dpid
    from pending_records
    inner join history
        on pending_records.dpid = history.dpid
        and pending_records.period >= history.valid_from_period
        and (history.valid_to_period is null or pending_records.period < history.valid_to_period)
    where history.status = 'AKTIF'

),

dedupe_backlog as (

    -- The operators' queue as `pdpb dedupe export` lists it: both records
    -- still active.
    select
        dedupe_pending.period,
        count(*) as review_open,
        max(date_diff('day', dedupe_pending.proposed_at, dedupe_pending.as_of))
            as review_oldest_age_days,
        count(*) filter (
            where dedupe_pending.match_probability >= bands.upper_band_bottom
            and dedupe_pending.match_probability < bands.upper_threshold
        ) as review_near_upper,
        count(*) filter (
            where dedupe_pending.match_probability >= bands.lower_threshold
            and dedupe_pending.match_probability < bands.lower_band_top
        ) as review_near_lower
    from dedupe_pending
    cross join bands
    inner join active_at_end as kept
        on dedupe_pending.period = kept.period
        and dedupe_pending.dpid = kept.dpid
    inner join active_at_end as survivor
        on dedupe_pending.period = survivor.period
        and dedupe_pending.survivor_dpid = survivor.dpid
    group by dedupe_pending.period

),

dedupe_added as (

    -- REVIEW pairs (decided since or not) proposed during the period: after
    -- the previous period's run finished, up to this one's end.
    select
        periods.period,
        count(proposals.dpid) as review_added
    from periods
    left join periods as previous
        on periods.month_number - 1 = previous.month_number
    inner join proposals
        on periods.as_of >= proposals.proposed_at
        and (previous.as_of is null or previous.as_of < proposals.proposed_at)
    where proposals.decision in ('REVIEW', 'SAMA', 'BEDA')
    group by periods.period

),

link_rows as (

    select
        periods.period,
        'link' as job,
        bands.upper_threshold,
        bands.lower_threshold,
        coalesce(link_automatic.auto_links, 0) as auto_links,
        coalesce(link_automatic.auto_links_nik_exact, 0) as auto_links_nik_exact,
        coalesce(link_automatic.auto_links_splink, 0) as auto_links_splink,
        coalesce(link_automatic.expected_wrong_links, 0) as expected_wrong_links,
        coalesce(link_automatic.auto_links_tms, 0) as auto_links_tms,
        coalesce(link_automatic.expected_wrongful_tms, 0) as expected_wrongful_tms,
        coalesce(link_automatic.links_near_upper, 0) as links_near_upper,
        coalesce(link_near.review_near_upper, 0) as review_near_upper,
        coalesce(link_near.review_near_lower, 0) as review_near_lower,
        coalesce(link_near.new_near_lower, 0) as new_near_lower,
        link_backlog.review_added,
        link_backlog.review_open,
        link_backlog.review_oldest_period,
        link_backlog.review_oldest_age_periods,
        cast(null as bigint) as review_oldest_age_days
    from periods
    cross join bands
    left join link_automatic
        on periods.period = link_automatic.period
    left join link_near
        on periods.period = link_near.period
    left join link_backlog
        on periods.period = link_backlog.period

),

dedupe_rows as (

    select
        periods.period,
        'dedupe' as job,
        bands.upper_threshold,
        bands.lower_threshold,
        coalesce(dedupe_automatic.auto_links, 0) as auto_links,
        0 as auto_links_nik_exact,
        coalesce(dedupe_automatic.auto_links, 0) as auto_links_splink,
        coalesce(dedupe_automatic.expected_wrong_links, 0) as expected_wrong_links,
        -- every applied AUTO proposal is a TMS 2
        coalesce(dedupe_automatic.auto_links, 0) as auto_links_tms,
        coalesce(dedupe_automatic.expected_wrong_links, 0) as expected_wrongful_tms,
        coalesce(dedupe_automatic.links_near_upper, 0) as links_near_upper,
        coalesce(dedupe_backlog.review_near_upper, 0) as review_near_upper,
        coalesce(dedupe_backlog.review_near_lower, 0) as review_near_lower,
        -- pairs below the lower threshold are not stored
        cast(null as bigint) as new_near_lower,
        coalesce(dedupe_added.review_added, 0) as review_added,
        coalesce(dedupe_backlog.review_open, 0) as review_open,
        cast(null as varchar) as review_oldest_period,
        cast(null as bigint) as review_oldest_age_periods,
        dedupe_backlog.review_oldest_age_days
    from periods
    cross join bands
    left join dedupe_automatic
        on periods.period = dedupe_automatic.period
    left join dedupe_backlog
        on periods.period = dedupe_backlog.period
    left join dedupe_added
        on periods.period = dedupe_added.period

),

final as (

    select * from link_rows
    union all
    select * from dedupe_rows

)

select
    period,
    job,
    upper_threshold,
    lower_threshold,
    cast(auto_links as bigint) as auto_links,
    cast(auto_links_nik_exact as bigint) as auto_links_nik_exact,
    cast(auto_links_splink as bigint) as auto_links_splink,
    cast(expected_wrong_links as double) as expected_wrong_links,
    cast(auto_links_tms as bigint) as auto_links_tms,
    cast(expected_wrongful_tms as double) as expected_wrongful_tms,
    cast(links_near_upper as bigint) as links_near_upper,
    cast(review_near_upper as bigint) as review_near_upper,
    cast(review_near_lower as bigint) as review_near_lower,
    cast(new_near_lower as bigint) as new_near_lower,
    cast(review_added as bigint) as review_added,
    cast(review_open as bigint) as review_open,
    review_oldest_period,
    cast(review_oldest_age_periods as bigint) as review_oldest_age_periods,
    cast(review_oldest_age_days as bigint) as review_oldest_age_days
from final
