-- marts.fct_link_quality agrees with itself: the automatic links by method
-- add up, the links that removed a voter are among them, and every expected
-- count lies between zero and the count it estimates (a probability outside
-- [0, 1] on an automatic link would break it).
select *
from {{ ref('fct_link_quality') }}
where auto_links <> auto_links_nik_exact + auto_links_splink
    or auto_links_tms > auto_links
    or expected_wrong_links is null
    or expected_wrong_links > auto_links
    or expected_wrongful_tms > expected_wrong_links + 1e-9
    or expected_wrongful_tms > auto_links_tms
    or links_near_upper > auto_links
