"""Link a period's events to the voter list: one decision per event.

The link stage of the pipeline. Four steps, in order: (a) an exact pass on a
valid NIK, trusted only when the name or birth date corroborates it, never
linking to the NIK's holder when the NIK plainly belongs to someone else; (b)
Splink `predict_between(events, reference)` for the rest, cut by the two
thresholds after three safety-net rules (a relative born years apart, two
different trusted NIKs, a lower prior for events about people off the list);
(c) clerical decisions (SAMA/BEDA) replace REVIEW outcomes; (d) Splink
`predict_within(events)` and shared targets mark the same happening reported
twice as DUPLICATE_EVENT. Everything runs on a private in-memory DuckDB
connection, never the warehouse, so the stage is a pure function of its inputs.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from splink import DuckDBAPI, Linker

from linkage.frames import (
    FRAME_SCHEMA,
    REFERENCE_BATCH_ROWS,
    event_frame,
    event_uid,
    reference_frame,
    table_batches,
)
from linkage.settings import NIK_CONFLICT_SQL, SERIAL_ONLY_SQL, aliased
from linkage.train import DEFAULT_MODEL_PATH

logger = logging.getLogger(__name__)

RESULT_SCHEMA = pa.schema(
    [
        ("sumber", pa.string()),
        ("event_id", pa.string()),
        ("decision", pa.string()),
        ("target_id", pa.string()),
        ("match_method", pa.string()),
        ("match_probability", pa.float64()),
        ("duplicate_of", pa.string()),
        ("flag", pa.string()),
    ]
)

# Share of events expected to concern someone already on the list. The trained
# prior describes duplicates inside the list; an event's prior is "one of the
# N records is this person", so it is rescaled by the size of the reference.
EVENT_MATCH_SHARE = 0.5
# Candidates within this match weight of the best are treated as the same
# score (a person registered twice); then AKTIF, a record with its own NIK,
# the higher score and the lowest id win, in that order.
ALIKE_WEIGHT = 1.0
# Name similarity (Jaro-Winkler on normalised names) that corroborates a NIK.
CORROBORATING_NAME_SIMILARITY = 0.85
SUMBER_PRIORITY = {"DUKCAPIL": 0}
# Events about someone who is usually NOT an active voter: a new 17-year-old, a
# retired soldier or policeman, restored voting rights. Their prior odds of
# being on the list are this factor times the others' (log2: about -4.3 bits),
# so a borderline candidate (a same-named relative in the household) makes
# the event NEW rather than taking a living voter's record.
OFF_LIST_KINDS = frozenset({"PENDUDUK_BARU", "PURNA_TNI", "PURNA_POLRI", "HAK_PILIH_PULIH"})
OFF_LIST_PRIOR_FACTOR = 0.05
# Birth dates further apart than this, with different first names: two people,
# whatever the household and the rest say (a parent, a sibling). Within a year
# stays possible: unknown dates are recorded as 01-07 or 31-12 of the year.
DECISIVE_BIRTH_GAP_DAYS = 366
# Two people of one household (same family card) whose scores for an event
# are within this many bits of each other: the event cannot tell them apart
# by score (twins with names one letter apart, a son with his father's name,
# alike-named siblings), only by a field that discriminates (`_AGREES`).
HOUSEHOLD_MARGIN = 8.0
# Flags of events that wait for an operator because two relatives could be
# meant; the review file shows them in words (pdpb.review).
FLAG_TWINS = "KEMUNGKINAN_KEMBAR"
FLAG_RELATIVES = "KELUARGA_MIRIP"
FLAG_NAMESAKES = "ORANG_SENAMA"


def _twin_birth(a: str, b: str) -> str:
    """SQL: two birth dates that make relatives look like twins: the same day,
    other than a default written for an unknown date (01-07, 31-12), which an
    elderly couple often share."""
    return f"""coalesce({a} = {b}
        and not ((day({a}) = 1 and month({a}) = 7) or (day({a}) = 31 and month({a}) = 12)), false)"""


@dataclass
class Outcome:
    decision: str
    target_id: str | None = None
    match_method: str = "NONE"
    match_probability: float | None = None
    duplicate_of: str | None = None
    flag: str | None = None


def _event_prior(reference_rows: int) -> float:
    return min(EVENT_MATCH_SHARE / max(reference_rows, 1), 0.5)


# The exact pass's corroboration, on the event (e) and NIK holder (r) frames.
# A NIK encodes its holder's birth date (DDMMYY) and sex, so a record that
# carries the event's NIK by mistake (a typo that gave another person's
# serial, often someone born the same day in the same kecamatan) agrees on
# them too: a birth date alone corroborates only when the two also share a
# family card or a desa. The name corroborates on its own only when the
# holder's NIK agrees with the holder's own birth date and sex: a NIK that
# contradicts its holder may be a copy of the event person's.
_NAME_AGREES = f"""coalesce(jaro_winkler_similarity(e.nama_norm, r.nama_norm)
        >= {CORROBORATING_NAME_SIMILARITY} or e.nama_sorted = r.nama_sorted, false)"""
_DATE_AGREES = """(coalesce(e.tanggal_lahir = r.tanggal_lahir, false)
        or coalesce(day(e.tanggal_lahir) = month(r.tanggal_lahir)
                    and month(e.tanggal_lahir) = day(r.tanggal_lahir)
                    and year(e.tanggal_lahir) = year(r.tanggal_lahir), false))"""
_HOME_AGREES = "(coalesce(e.nkk = r.nkk, false) or coalesce(e.wilayah = r.wilayah, false))"


# Records of the holder's household (or the event's) that are a person other
# than the NIK holder, yet carry the event's full name and a birth date within
# a year of the event's: a twin, or a son with his father's name when the
# event carries the father's NIK. Then the NIK alone does not say who is
# meant. A record with the holder's own name and birth date is read as the
# holder registered twice, not as a relative. Asked only for holders that
# would be linked without having both the event's name and birth date; one
# join per card (the holder's, the event's): an OR in the join would compare
# every pair.
_HOUSEHOLD_RIVALS = """
    with held as (select * from nik_held where corroborated and not described),
    near as (
        select h.uid, h.holder, o.uid as other, o.nik, o.nama_norm, o.nama_sorted, o.tanggal_lahir
        from held h join ref_frame o on o.nkk = h.holder_nkk
        union all
        select h.uid, h.holder, o.uid, o.nik, o.nama_norm, o.nama_sorted, o.tanggal_lahir
        from held h join ref_frame o on o.nkk = h.event_nkk
    )
    select distinct n.uid, n.holder
    from near n join held h on h.uid = n.uid and h.holder = n.holder
    where n.other <> n.holder
      and not coalesce(n.nik = h.holder_nik, false)
      and (n.nama_norm = h.nama_norm or n.nama_sorted = h.nama_sorted)
      and coalesce(abs(date_diff('day', n.tanggal_lahir, h.tanggal_lahir)) <= 366, false)
      and not (coalesce(n.nama_norm = h.holder_nama, false)
               and coalesce(n.tanggal_lahir = h.holder_lahir, false))
"""


def _exact_pass(
    con: duckdb.DuckDBPyConnection, valid_uids: list[str]
) -> tuple[dict[str, Outcome], dict[str, str]]:
    """Events whose valid NIK is on the list: linked when corroborated. When
    several records carry the NIK (a person registered twice, or a record
    holding a mistyped NIK that is someone else's), the AKTIF record that
    agrees most wins: the same name, then birth date, then name similarity,
    desa and family card. When the NIK holder is clearly someone else (sex,
    birth date and name all differ), or agrees on the birth date only with no
    home in common, the event is a suspect, returned as {uid: NIK holder} and
    left to Splink (see `_resolve_suspect`). When another member of the
    household carries the event's full name and birth date while the holder
    does not have both the event's full name and birth date
    (`_HOUSEHOLD_RIVALS`), two relatives could be meant: the event goes to
    REVIEW against the holder."""
    con.execute(
        "create or replace temp table nik_valid_uid as select unnest(?::varchar[]) as uid",
        [valid_uids],
    )
    # Each event with every holder of its NIK, once; the decision reads it in
    # preference order, the rival check reads the holders it would link.
    con.execute(
        f"""
        create or replace temp table nik_held as
        select e.uid, r.uid as holder,
            ({_NAME_AGREES} and (coalesce(r.nik_ok, false) or {_DATE_AGREES} or {_HOME_AGREES}))
            or ({_DATE_AGREES} and {_HOME_AGREES}) as corroborated,
            {_DATE_AGREES} or (
                coalesce(e.jenis_kelamin <> r.jenis_kelamin, false)
                and coalesce(e.tanggal_lahir <> r.tanggal_lahir, false)
                and coalesce(jaro_winkler_similarity(e.nama_norm, r.nama_norm) < 0.75, false)
            ) as suspect,
            coalesce(e.nama_norm = r.nama_norm or e.nama_sorted = r.nama_sorted, false)
                and coalesce(e.tanggal_lahir = r.tanggal_lahir, false) as described,
            {_twin_birth("e.tanggal_lahir", "r.tanggal_lahir")} as twin_birth,
            row_number() over (
                partition by e.uid order by (s.status = 'AKTIF') desc,
                coalesce(e.nama_norm = r.nama_norm or e.nama_sorted = r.nama_sorted, false) desc,
                coalesce(e.tanggal_lahir = r.tanggal_lahir, false) desc,
                coalesce(jaro_winkler_similarity(e.nama_norm, r.nama_norm), 0) desc,
                coalesce(e.wilayah = r.wilayah, false) desc,
                coalesce(e.nkk = r.nkk, false) desc,
                r.uid
            ) as preference,
            r.nik as holder_nik, r.nkk as holder_nkk, r.nama_norm as holder_nama,
            r.tanggal_lahir as holder_lahir, e.nkk as event_nkk, e.nama_norm, e.nama_sorted,
            e.tanggal_lahir
        from ev_frame e
        join nik_valid_uid v using (uid)
        join ref_frame r on e.nik = r.nik
        join ref_status s on s.uid = r.uid
        """
    )
    rows = con.execute(
        """select uid, holder, corroborated, suspect, described, twin_birth
           from nik_held order by uid, preference"""
    ).fetchall()
    rivals = set(con.execute(_HOUSEHOLD_RIVALS).fetchall())
    outcomes: dict[str, Outcome] = {}
    suspects: dict[str, str] = {}
    for uid, target_id, corroborated, suspect, described, twin_birth in rows:
        if uid in outcomes:
            continue
        if corroborated and not described and (uid, target_id) in rivals:
            flag = FLAG_TWINS if twin_birth else FLAG_RELATIVES
            outcomes[uid] = Outcome("REVIEW", target_id, "NIK_EXACT", 1.0, flag=flag)
        elif corroborated:
            outcomes[uid] = Outcome("LINK", target_id, "NIK_EXACT", 1.0)
        elif suspect and uid not in suspects:
            suspects[uid] = target_id
    return outcomes, {u: t for u, t in suspects.items() if u not in outcomes}


@dataclass(frozen=True)
class Candidate:
    """An event's chosen reference record: `capped` means it may not be linked
    automatically (REVIEW at most), `flag` says why in the review file."""

    target_id: str
    probability: float
    capped: bool
    flag: str | None = None


def _resolve_suspect(best: Candidate | None, holder: str, nik_ok: bool, upper: float) -> Outcome:
    """An event carrying a relative's NIK (a death reported with the spouse's
    card) is about the person it describes, never the NIK's holder. Splink's
    best candidate (name, birth date, household) is linked when it is someone
    other than the holder, scores at least `upper`, and the event's NIK
    contradicts the event's own birth date or sex (so the NIK is not its own).
    Otherwise the event waits for review against the NIK holder. The flag stays."""
    flag = "NIK_MISUSE_SUSPECTED"
    if (
        best is not None
        and not nik_ok
        and best.target_id != holder
        and best.probability >= upper
        and not best.capped
    ):
        return Outcome("LINK", best.target_id, "SPLINK", best.probability, flag=flag)
    return Outcome("REVIEW", holder, "NONE", None, flag=flag)


# A candidate agrees with the event on a field that tells relatives apart:
# the whole name after normalisation, or the event's NIK being the
# candidate's own (trusted on both sides).
_AGREES = """(coalesce(e.nama_norm = f.nama_norm or e.nama_sorted = f.nama_sorted, false)
    or coalesce(e.nik_ok and f.nik_ok and e.nik = f.nik, false))"""
# Two records of a household that may be one person registered twice rather
# than two relatives: the same NIK, or the same name and birth date without
# two trusted NIKs that differ.
_SAME_PERSON = """(coalesce(a.nik = b.nik, false)
    or (coalesce(a.nama_norm = b.nama_norm, false)
        and coalesce(a.tanggal_lahir = b.tanggal_lahir, false)
        and not coalesce(a.nik_ok and b.nik_ok and a.nik <> b.nik, false)))"""


def _best_candidates(
    con: duckdb.DuckDBPyConnection, predictions_table: str
) -> dict[str, Candidate]:
    """Best reference record per event.

    Before choosing: a candidate born more than a year apart with another
    first name is dropped (decisive: a parent or sibling, not a typo); the
    off-list kinds get their lower prior. Near-equal scores (a person
    registered twice) prefer AKTIF, then a record whose NIK agrees with its
    own birth date and sex, then the higher score, then the lowest id.

    Then the household rule: when another person (not the same person:
    `_SAME_PERSON`) of the chosen record's household (same family card)
    scores within `HOUSEHOLD_MARGIN` of the best, or any other person within
    `ALIKE_WEIGHT` (namesakes born the same day in one desa), the event is
    decided by what tells them apart (`_AGREES`): if exactly one of them
    agrees, that one is the candidate; otherwise it is capped at REVIEW and
    flagged (twins, a father and son of one name, alike-named siblings,
    namesakes).

    A candidate is also capped when its trusted NIK differs from the event's
    trusted NIK (settings.NIK_CONFLICT_SQL; flagged as possible twins when
    only the serial differs)."""
    shift = math.log2(OFF_LIST_PRIOR_FACTOR)
    con.execute(
        f"""
        create or replace temp table pdpb_candidates as
        with candidates as (
            select p.uid_l as uid, p.uid_r as target_id, s.status, f.nkk,
                   p.match_weight + case when k.jenis in ({_sql_list(OFF_LIST_KINDS)})
                                         then {shift} else 0 end as weight,
                   f.nik_ok as own_nik, {_AGREES} as agrees
            from {predictions_table} p
            join ref_reachable_status s on s.uid = p.uid_r
            join ev_kind k on k.uid = p.uid_l
            join ev_frame e on e.uid = p.uid_l
            join ref_reachable f on f.uid = p.uid_r
            where not coalesce(
                abs(date_diff('day', e.tanggal_lahir, f.tanggal_lahir)) > {DECISIVE_BIRTH_GAP_DAYS}
                and e.bk_first <> f.bk_first, false)
        )
        select *, max(weight) over (partition by uid) as best_weight from candidates
        """
    )
    rows = con.execute(
        f"""
        with chosen as (
            select uid, target_id, nkk, weight, agrees, best_weight
            from pdpb_candidates
            where weight >= best_weight - {ALIKE_WEIGHT}
            qualify row_number() over (
                partition by uid order by (status = 'AKTIF') desc, coalesce(own_nik, false) desc,
                    weight desc, target_id
            ) = 1
        ), relatives as (
            -- Other people close to the best: of the chosen record's
            -- household within HOUSEHOLD_MARGIN, anyone within ALIKE_WEIGHT.
            select c.uid, o.target_id, o.weight, o.agrees,
                   coalesce(o.nkk = c.nkk, false) as same_card,
                   coalesce(o.nkk = c.nkk, false)
                   and {_twin_birth("a.tanggal_lahir", "b.tanggal_lahir")} as twin
            from chosen c
            join pdpb_candidates o on o.uid = c.uid and o.target_id <> c.target_id
                and (o.nkk = c.nkk and o.weight >= c.best_weight - {HOUSEHOLD_MARGIN}
                     or o.weight >= c.best_weight - {ALIKE_WEIGHT})
            join ref_reachable a on a.uid = c.target_id
            join ref_reachable b on b.uid = o.target_id
            where not {_SAME_PERSON}
        ), options as (
            select c.uid, c.target_id, c.weight, c.agrees, true as is_chosen,
                   exists (select 1 from relatives r where r.uid = c.uid) as has_relatives
            from chosen c
            union all
            select r.uid, r.target_id, r.weight, r.agrees, false, true
            from relatives r
        ), decided as (
            -- Without relatives close by, the chosen record. With them, the one
            -- option that agrees, if exactly one does; else the chosen record,
            -- for review.
            select *, count(*) filter (where agrees) over (partition by uid) as agreeing
            from options
            qualify case when not has_relatives then is_chosen
                         when agreeing = 1 then agrees
                         else is_chosen end
        )
        -- The NIK checks only for the decided candidate: they decide whether
        -- it may be linked, not which one is chosen. (Two trusted NIKs that
        -- differ in any way cap it; that includes settings.DIFFERENT_NIKS_SQL.)
        select d.uid, d.target_id, 1 / (1 + pow(2, -d.weight)) as probability,
               coalesce({aliased(NIK_CONFLICT_SQL)}, false) as nik_conflict,
               coalesce({aliased(SERIAL_ONLY_SQL)}, false) as serial_only,
               d.has_relatives and d.agreeing <> 1 as ambiguous,
               coalesce((select bool_or(r.twin) from relatives r where r.uid = d.uid), false),
               coalesce((select bool_or(r.same_card) from relatives r where r.uid = d.uid), false)
        from decided d
        join ev_frame e on e.uid = d.uid
        join ref_reachable f on f.uid = d.target_id
        """
    ).fetchall()
    best = {}
    for uid, target_id, probability, conflict, serial_only, ambiguous, twin, card in rows:
        flag = None
        if serial_only or (ambiguous and twin):
            flag = FLAG_TWINS
        elif ambiguous:
            flag = FLAG_RELATIVES if card else FLAG_NAMESAKES
        best[uid] = Candidate(target_id, probability, conflict or ambiguous, flag)
    return best


def _sql_list(values: frozenset[str]) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values))


def _decide(candidate: Candidate, upper: float, lower: float) -> Outcome:
    """LINK at or above `upper` unless capped, NEW below `lower`, otherwise
    REVIEW with the candidate and its flag."""
    probability = candidate.probability
    if probability >= upper and not candidate.capped:
        return Outcome("LINK", candidate.target_id, "SPLINK", probability)
    if probability < lower:
        return Outcome("NEW", None, "NONE", probability)
    return Outcome("REVIEW", candidate.target_id, "SPLINK", probability, flag=candidate.flag)


def _apply_decisions(outcomes: dict[str, Outcome], decisions: pa.Table | None) -> None:
    """Clerical decisions replace REVIEW outcomes only: SAMA links, BEDA is new."""
    if decisions is None:
        return
    for row in decisions.to_pylist():
        uid = event_uid(row["sumber"], row["event_id"])
        current = outcomes.get(uid)
        if current is None or current.decision != "REVIEW":
            continue
        keputusan = (row.get("keputusan") or "").upper()
        if keputusan == "SAMA":
            target = row.get("target_id") or current.target_id
            outcomes[uid] = Outcome(
                "LINK", target, "REVIEW_DECISION", current.match_probability, flag=current.flag
            )
        elif keputusan == "BEDA":
            outcomes[uid] = Outcome("NEW", None, "REVIEW_DECISION", current.match_probability)


class _Groups:
    """Union-find over event uids."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _mark_duplicates(
    events: pa.Table, outcomes: dict[str, Outcome], within_pairs: list[tuple[str, str]]
) -> None:
    """Same jenis_peristiwa, same person: every event after the first of its
    group becomes DUPLICATE_EVENT of it. A within-period pair whose events
    were linked to two different records is two people, not one."""
    rows = events.select(["sumber", "event_id", "jenis_peristiwa", "tanggal_peristiwa"]).to_pylist()
    info = {event_uid(r["sumber"], r["event_id"]): r for r in rows}
    groups = _Groups()
    for a, b in within_pairs:
        linked_apart = (
            outcomes[a].decision == outcomes[b].decision == "LINK"
            and outcomes[a].target_id != outcomes[b].target_id
        )
        if info[a]["jenis_peristiwa"] == info[b]["jenis_peristiwa"] and not linked_apart:
            groups.union(a, b)
    by_target: dict[tuple[str, str], str] = {}
    for uid, outcome in outcomes.items():
        if outcome.decision == "LINK" and outcome.target_id is not None:
            key = (info[uid]["jenis_peristiwa"], outcome.target_id)
            if key in by_target:
                groups.union(uid, by_target[key])
            else:
                by_target[key] = uid

    def order(uid: str) -> tuple:
        r = info[uid]
        date = r["tanggal_peristiwa"]
        return (
            date is None,
            date.isoformat() if date is not None else "",
            SUMBER_PRIORITY.get(r["sumber"], 1),
            r["event_id"],
            r["sumber"],
        )

    members: dict[str, list[str]] = {}
    for uid in list(groups.parent):
        members.setdefault(groups.find(uid), []).append(uid)
    for group in members.values():
        if len(group) < 2:
            continue
        first, *later = sorted(group, key=order)
        for uid in later:
            outcomes[uid].decision = "DUPLICATE_EVENT"
            outcomes[uid].duplicate_of = first


def reachable_sql(model: dict, candidates: str, probes: str) -> str:
    """The uids of `candidates` that the model's blocking rules can pair with
    at least one row of `probes`, as `predict_between(probes, candidates)`
    applies them (left `l.` is the probe, right `r.` the candidate). A uid
    may repeat (one per rule that reaches it): callers test membership."""
    selects = []
    for rule in model["blocking_rules_to_generate_predictions"]:
        sql = rule["blocking_rule"] if isinstance(rule, dict) else str(rule)
        on = re.sub(r"\br\.", "c.", re.sub(r"\bl\.", "p.", sql))
        selects.append(f"select c.uid from {candidates} c semi join {probes} p on {on}")
    return " union all ".join(selects)


@dataclass(frozen=True)
class ReferenceCounts:
    """The size and name counts of a whole reference, for a caller that passes
    `link_events` only the records the events can reach (the link stage
    selects them in the warehouse, see `reachable_sql`): `records` counts the
    reference's rows, `names` (nama_norm, n) its rows per non-null nama_norm."""

    records: int
    names: pa.Table


def _load_reference(
    con: duckdb.DuckDBPyConnection,
    reference: pa.Table | pa.RecordBatchReader,
    model: dict,
    counts: ReferenceCounts | None = None,
) -> tuple[int, int]:
    """Read the reference a batch at a time into `ref_frame` and `ref_status`
    on `con` (which holds ev_frame), keeping only the records an event can
    meet: the holders of an event's NIK (the exact pass) and the records that
    share a key of the model's blocking rules with an event (Splink). A
    province's list is tens of millions of records; an event reaches a few
    dozen, so neither its raw rows nor its whole frame are ever held (at
    36 M voters, some 6 and 4 GB). Name frequencies (`pdpb_tf_nama_norm`,
    Splink's formula: the share of non-null names that are this name) count
    every record. Given `counts`, the reference holds only reachable records
    (a superset of those this keeps is fine) and `counts` gives the whole
    reference's size and name counts. Returns the number of records and of
    those kept."""
    keeps = f"""select uid from ref_batch semi join ev_frame e on ref_batch.nik = e.nik
                union all {reachable_sql(model, "ref_batch", "ev_frame")}"""
    frames, statuses, names = [], [], []
    records = 0
    for rows in table_batches(reference, REFERENCE_BATCH_ROWS):
        frame = reference_frame(rows)
        status = pc.dictionary_encode(rows.column("status").cast(pa.string()))
        status = pa.table({"uid": frame.column("uid"), "status": status})
        records += frame.num_rows
        if counts is None:
            con.register("ref_batch", frame)
            keep = con.sql(keeps).to_arrow_table().column("uid")
            names.append(
                con.sql(
                    """select nama_norm, count(*) as n from ref_batch
                       where nama_norm is not null group by nama_norm"""
                ).to_arrow_table()
            )
            con.unregister("ref_batch")
            mask = pc.is_in(frame.column("uid"), value_set=keep.combine_chunks())
            frame, status = frame.filter(mask), status.filter(mask)
        # Else the caller chose these records; a record beyond what the
        # filter above keeps changes nothing: the exact pass joins on NIK
        # and the candidates are re-chosen against the unlinked events.
        frames.append(frame)
        statuses.append(status)
    kept = pa.concat_tables(frames or [FRAME_SCHEMA.empty_table()])
    status = pa.concat_tables(
        statuses
        or [pa.table({"uid": pa.array([], pa.string()), "status": pa.array([], pa.string())})]
    )
    con.register("ref_frame", kept)
    con.register("ref_status", status)
    if counts is not None:
        records, names = counts.records, [counts.names.select(["nama_norm", "n"])]
    con.register(
        "ref_name_counts",
        pa.concat_tables(names)
        if names
        else pa.table({"nama_norm": pa.array([], pa.string()), "n": pa.array([], pa.int64())}),
    )
    con.execute(
        """create temp table pdpb_tf_nama_norm as
           select nama_norm, sum(n)::double / sum(sum(n)) over () as tf_nama_norm
           from ref_name_counts group by nama_norm"""
    )
    con.unregister("ref_name_counts")
    return records, kept.num_rows


class _Timer:
    """Logs the seconds of each step of a link run (the benchmark reads them)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        logger.info("link: %s in %.1f s", step, now - self.last)
        self.last = now


def link_events(
    events: pa.Table,
    reference: pa.Table | pa.RecordBatchReader,
    *,
    upper: float,
    lower: float,
    model_path: Path | None = None,
    decisions: pa.Table | None = None,
    counts: ReferenceCounts | None = None,
) -> pa.Table:
    """One row per event: LINK, NEW, REVIEW or DUPLICATE_EVENT (see docs/linkage.md).

    `reference` (voters and future voters: target_id, the identity columns and
    status) may be a stream, e.g. a warehouse query's reader, consumed once.
    Given `counts` (the whole reference's), `reference` may hold only the
    records that share a blocking key with an event. Events and reference may
    carry stored name forms (`frames.FORM_COLUMNS`)."""
    timer = _Timer()
    ev = event_frame(events)
    uids = ev.column("uid").to_pylist()
    if len(set(uids)) != len(uids):
        raise ValueError("events must be unique by (sumber, event_id)")
    model = json.loads(Path(model_path or DEFAULT_MODEL_PATH).read_text())
    con = duckdb.connect()
    try:
        con.register("ev_frame_arrow", ev)
        con.execute("create temp table ev_frame as select * from ev_frame_arrow")
        con.unregister("ev_frame_arrow")
        records, kept = _load_reference(con, reference, model, counts)
        model["probability_two_random_records_match"] = _event_prior(records)
        timer.lap(f"comparison frames ({ev.num_rows} events, {records} records, {kept} kept)")
        outcomes, within_pairs = _link_with_connection(con, events, ev, model, upper, lower, timer)
    finally:
        con.close()
    _apply_decisions(outcomes, decisions)
    _mark_duplicates(events, outcomes, within_pairs)
    return _result_table(events, outcomes)


def _link_with_connection(
    con: duckdb.DuckDBPyConnection,
    events: pa.Table,
    ev: pa.Table,
    model: dict,
    upper: float,
    lower: float,
    timer: _Timer,
) -> tuple[dict[str, Outcome], list[tuple[str, str]]]:
    """Steps (a), (b) and the within-period pairs of (d) on one connection
    holding ev_frame and `_load_reference`'s tables."""
    valid = [
        event_uid(s, e)
        for s, e, v in zip(
            events.column("sumber").to_pylist(),
            events.column("event_id").to_pylist(),
            events.column("nik_valid").to_pylist(),
            strict=True,
        )
        if v
    ]
    outcomes, suspects = _exact_pass(con, valid)
    kinds = pa.table({"uid": ev.column("uid"), "jenis": events.column("jenis_peristiwa")})
    con.register("ev_kind_arrow", kinds)
    con.execute("create temp table ev_kind as select * from ev_kind_arrow")
    con.unregister("ev_kind_arrow")

    rest = [u for u in ev.column("uid").to_pylist() if u not in outcomes]
    con.execute(
        "create temp table ev_rest as select * from ev_frame where uid in (select unnest(?::varchar[]))",
        [rest],
    )
    # Only the voters that share a blocking key with an event still unlinked
    # can be paired with one.
    con.execute(
        f"""create temp table ref_reachable as
            select * from ref_frame where uid in ({reachable_sql(model, "ref_frame", "ev_rest")})"""
    )
    # Candidates are chosen among these only.
    con.execute(
        """create temp table ref_reachable_status as
           select s.* from ref_status s semi join ref_reachable r on r.uid = s.uid"""
    )
    db_api = DuckDBAPI(con)
    rest_sdf = db_api.register("ev_rest", table_name="pdpb_events_rest")
    reachable_sdf = db_api.register("ref_reachable", table_name="pdpb_reference_reachable")
    # Splink's settings validation (SQL parsing, a few tenths of a second a
    # run) only warns of model columns missing from the frame; the frame's
    # schema is fixed, and a test runs the validation once.
    linker = Linker(reachable_sdf, model, log_level=logging.WARNING, validate_settings=False)
    linker.table_management.register_term_frequency_lookup(
        db_api.register("pdpb_tf_nama_norm", table_name="pdpb_tf_nama_norm"), "nama_norm"
    )
    timer.lap("exact pass, reachable voters and name frequencies")
    predictions = linker.inference.predict_between(rest_sdf, reachable_sdf, warning_mode="never")
    reachable = con.execute("select count(*) from ref_reachable").fetchone()[0]
    scored = con.execute(f"select count(*) from {predictions.physical_name}").fetchone()[0]
    timer.lap(f"predict_between ({len(rest)} events, {reachable} reachable voters, {scored} pairs)")
    best = _best_candidates(con, predictions.physical_name)
    timer.lap("best candidates")
    nik_ok = dict(zip(ev.column("uid").to_pylist(), ev.column("nik_ok").to_pylist(), strict=True))
    for uid in rest:
        if uid in suspects:
            outcomes[uid] = _resolve_suspect(best.get(uid), suspects[uid], nik_ok[uid], upper)
        elif uid in best:
            outcomes[uid] = _decide(best[uid], upper, lower)
        else:
            outcomes[uid] = Outcome("NEW", None, "NONE", 0.0)

    all_sdf = db_api.register("ev_frame", table_name="pdpb_events_all")
    within = linker.inference.predict_within(
        all_sdf, threshold_match_probability=upper, warning_mode="never"
    )
    # Two events are one happening reported twice only when nothing tells
    # their people apart: never two different trusted NIKs (twins turning 17
    # in one month, each with their own), and the same name after
    # normalisation or the same NIK; twins, triplets and alike-named siblings
    # score as high as a repeat on everything else. A repeat whose name a
    # source misspelt is still found when both events link to one record.
    pairs = con.execute(
        f"""select p.uid_l, p.uid_r
            from {within.physical_name} p
            join ev_frame e on e.uid = p.uid_l
            join ev_frame f on f.uid = p.uid_r
            where not coalesce({aliased(NIK_CONFLICT_SQL)}, false)
              and coalesce(e.nama_norm = f.nama_norm or e.nama_sorted = f.nama_sorted
                           or e.nik = f.nik, false)"""
    ).fetchall()
    timer.lap("decisions and predict_within")
    return outcomes, pairs


def _result_table(events: pa.Table, outcomes: dict[str, Outcome]) -> pa.Table:
    rows = []
    for sumber, event_id in zip(
        events.column("sumber").to_pylist(), events.column("event_id").to_pylist(), strict=True
    ):
        o = outcomes[event_uid(sumber, event_id)]
        rows.append(
            {
                "sumber": sumber,
                "event_id": event_id,
                "decision": o.decision,
                "target_id": o.target_id,
                "match_method": o.match_method,
                "match_probability": o.match_probability,
                "duplicate_of": o.duplicate_of,
                "flag": o.flag,
            }
        )
    return pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)
