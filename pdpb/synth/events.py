"""Simulating the periods: which events happen and what the pipeline must do.

For each period the simulator draws about 1.1% of the voter count as events,
split by kind (deaths, 17th birthdays, moves, marriages, corrections, TNI/Polri
in and out, WNA, court rulings), updates the true state of the people
involved, and derives from the change rules the expected changes and the
expected outcome of every event. It tracks the list as the pipeline should
see it (active records, tracked future voters) so that promotions, late death
reports and hard cases (twins, a son with his father's name, a NIK reported
for the wrong person, one death reported twice) have an unambiguous truth.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from pdpb.domain import tms_code
from pdpb.synth.names import Vocab, province_mix
from pdpb.synth.population import (
    ALIVE,
    JOB_POLRI,
    JOB_SIPIL,
    JOB_TNI,
    KAWIN_B,
    KAWIN_P,
    KAWIN_S,
    REL_CHILD,
    REL_HEAD,
    Population,
    assign_names,
    nik_prefix,
    rank_within,
    seventeenth_birthday,
    to_days,
)
from pdpb.synth.regions import Regions, origin_desa
from pdpb.synth.voterlist import (
    NOISE_FIELDS,
    NOISE_NAMA,
    NOISE_NIK,
    NOISE_RT,
    NOISE_RW,
    NOISE_TGL,
    Records,
)

# Share of each kind in the period's event budget (about 1.1% of the voter count).
EVENT_RATE = 0.011
SHARES = {
    "MENINGGAL": 0.14,
    "PENDUDUK_BARU": 0.22,
    "PINDAH": 0.26,
    "KAWIN": 0.10,
    "PERUBAHAN_DATA": 0.18,
    "MASUK_TNI": 0.01,
    "MASUK_POLRI": 0.01,
    "PURNA_TNI": 0.012,
    "PURNA_POLRI": 0.012,
    "WNA": 0.004,
    "HAK_PILIH_DICABUT": 0.008,
    "HAK_PILIH_PULIH": 0.006,
}
S_NONE, S_VOTER, S_FUTURE, S_NEW, S_GONE = 0, 1, 2, 3, 4
# Family hard cases per period, as shares of the event budget; at least one each
# (both twins dying together: at least once, in the second period).
TWIN_DEATH = 0.0005  # one twin dies, the other stays listed; the row has the NIK
TWIN_DEATH_NO_NIK = 0.0002  # the same, reported by residents without NIK
TWINS_DIE_TOGETHER = 0.00005
TWINS_TURN_17 = 0.0005  # twins (or triplets) turning 17 together
JUNIOR_DEATH = 0.0002  # father or son of the same name dies
LATE_SHARE = 0.03
# Malformed rows keep a kind their source really sends.
MALFORMED_KIND = {"TNI": "MASUK_TNI", "POLRI": "MASUK_POLRI", "IMIGRASI": "WNA"}


@dataclass
class Event:
    """One event row before rendering; `person` is the true subject."""

    period: str
    sumber: str
    jenis: str
    person: int
    day: int
    dpids: list[str]
    hard_case: str = ""
    is_late: bool = False
    malformed: str = ""
    new_addr: dict | None = None  # PINDAH: desa, style, word, house, rt, rw
    origin: str = ""  # kode_wilayah_asal
    nik_of: int = -1  # person whose NIK the source wrote (NIK_ORANG_LAIN)
    duplicate_of: int = -1  # index of the primary event (LAPORAN_GANDA)
    nik_mode: str = ""  # "ADA": the row keeps the NIK; "KOSONG": the row has none
    clean_name: bool = False  # no name noise: the name is what tells the twins apart
    changes: list[dict] = field(default_factory=list)
    outcome: str = ""
    outcome_dpid: str = ""
    event_id: str = ""


@dataclass
class ListState:
    """The list as the pipeline should know it after each period."""

    state: np.ndarray  # S_* per person
    primary_rec: np.ndarray  # record of an S_VOTER person
    future: dict[int, str] = field(default_factory=dict)  # person -> 'SUMBER|event_id'
    dups: dict[int, list[int]] = field(default_factory=dict)  # person -> duplicate records


def period_bounds(period: str) -> tuple[date, date]:
    y, m = int(period[:4]), int(period[5:])
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def init_state(pop: Population, recs: Records) -> ListState:
    state = np.zeros(len(pop), np.int8)
    primary_rec = np.full(len(pop), -1, np.int64)
    is_primary = recs.primary == np.arange(len(recs))
    state[recs.person[is_primary]] = S_VOTER
    primary_rec[recs.person[is_primary]] = np.flatnonzero(is_primary)
    dups: dict[int, list[int]] = {}
    for r in np.flatnonzero(~is_primary).tolist():
        dups.setdefault(int(recs.person[r]), []).append(r)
    return ListState(state=state, primary_rec=primary_rec, dups=dups)


class PeriodSimulator:
    """Draws one period's events and their expected changes and outcomes."""

    def __init__(
        self,
        pop: Population,
        recs: Records,
        ls: ListState,
        regions: Regions,
        vocab: Vocab,
        places: list[str],
        rng: np.random.Generator,
        n_voters: int,
    ) -> None:
        self.pop, self.recs, self.ls = pop, recs, ls
        self.regions, self.vocab, self.places, self.rng = regions, vocab, places, rng
        self.budget = max(1, round(n_voters * EVENT_RATE))
        self.nik_taken: dict[int, int] = {}
        # Kept rather than recomputed each period: the date arithmetic over the whole
        # population made a dozen temporaries of its size every period.
        self.bday = seventeenth_birthday(pop.birth)
        self.runs = 0
        # Twin groups as rows of up to three members (-1 pads); movers are never twins.
        self.twin_rows = np.flatnonzero(pop.twin)
        starts = np.r_[0, np.flatnonzero(np.diff(pop.hh[self.twin_rows])) + 1]
        sizes = np.diff(np.r_[starts, len(self.twin_rows)]) if len(self.twin_rows) else starts[:0]
        self.twin_groups = np.full((len(sizes), 3), -1, np.int64)
        for j in range(3):
            has = sizes > j
            self.twin_groups[has, j] = self.twin_rows[starts[has] + j]
        # Father and son of the same name: both rows of a household are junior, head first.
        junior = np.flatnonzero(pop.junior)
        self.juniors = np.stack(
            [junior[pop.rel[junior] == REL_HEAD], junior[pop.rel[junior] == REL_CHILD]], axis=1
        )
        # A national data set (pdpb.synth.national) keeps some people out of every
        # drawn event (those it moves to another province, or who are only
        # registered here) and draws moves in from provinces outside its list.
        self.frozen = np.zeros(0, np.int64)
        self.not_origins: tuple[str, ...] = ()
        # Deaths of a twin or of a father or son of one name only where the
        # dying person's record holds their NIK, name and birth date as they
        # are: a default birth date on the record of the twin who dies, with
        # the other twin's record exact, makes a row without NIK fit the
        # living twin better, and the truth could not call that link wrong
        # on the row's evidence. Off where a province's output must stay
        # byte-for-byte what it was (see docs/synth.md); the national data set
        # turns it on.
        self.clean_family_cases = False

    # --- helpers -----------------------------------------------------------
    def _setup(self, period: str) -> None:
        self.period = period
        start, end = period_bounds(period)
        self.start_day, self.cut_day, self.cutoff = to_days(start), to_days(end), end
        self.age = (self.cut_day - self.pop.birth) / 365.25
        self.alive = self.pop.death > self.cut_day
        self.used = np.zeros(len(self.pop), bool)
        self.used[self.frozen] = True
        # Twins turning 17 soon after the cut-off get no event now: next period
        # they register together (a small province may have only one such pair).
        soon = self.bday[self.twin_rows]
        self.used[self.twin_rows[(soon > self.cut_day) & (soon <= self.cut_day + 62)]] = True
        self.events: list[Event] = []
        self.promotions: list[dict] = []
        self.spent: dict[str, int] = {}

    def _count(self, kind: str) -> int:
        """The kind's share of the budget, less what the family cases already used."""
        return max(0, round(self.budget * SHARES[kind]) - self.spent.get(kind, 0))

    def _pick(self, mask: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
        pool = np.flatnonzero(mask & ~self.used[: len(mask)])
        k = min(k, len(pool))
        if k <= 0:
            return pool[:0]
        p = None
        if weights is not None:
            w = weights[pool]
            p = w / w.sum()
        chosen = np.sort(self.rng.choice(pool, k, replace=False, p=p))
        self.used[chosen] = True
        return chosen

    def _day(self) -> tuple[int, bool]:
        if self.rng.random() < LATE_SHARE:
            return self.start_day - int(self.rng.integers(1, 28)), True
        return self.start_day + int(self.rng.integers(0, self.cut_day - self.start_day + 1)), False

    def _dpid(self, rec: int) -> str:
        return str(self.recs.dpid[rec])

    def _dpids_of(self, person: int) -> list[str]:
        out = []
        rec = self.ls.primary_rec[person]
        if rec >= 0 and self.ls.state[person] == S_VOTER:
            out.append(self._dpid(rec))
        out += [self._dpid(r) for r in self.ls.dups.get(person, [])]
        return out

    def _twin_listed(self, person: int) -> bool:
        """True for a twin whose twin (or a triplet sibling) is on the list."""
        at = int(np.searchsorted(self.twin_rows, person))
        if at == len(self.twin_rows) or self.twin_rows[at] != person:
            return False
        group = self.twin_groups[np.searchsorted(self.twin_groups[:, 0], person, "right") - 1]
        others = group[(group >= 0) & (group != person)]
        return bool((self.ls.state[others] == S_VOTER).any())

    def _voters(self) -> np.ndarray:
        return (self.ls.state == S_VOTER) & self.alive

    def _add(self, ev: Event) -> Event:
        if not ev.hard_case and self._twin_listed(ev.person):
            ev.hard_case = "KEMBAR"
        if not ev.hard_case and ev.person in self.ls.dups:
            ev.hard_case = "TERDAFTAR_GANDA"
        self.events.append(ev)
        return ev

    def _event(self, sumber: str, jenis: str, person: int, **kw: object) -> Event:
        day, late = self._day()
        ev = Event(
            self.period, sumber, jenis, int(person), day, self._dpids_of(int(person)), is_late=late
        )
        for k, v in kw.items():
            setattr(ev, k, v)
        return ev

    def _change(
        self,
        ev: Event,
        rec_or_new: int,
        change_type: str,
        rule: str,
        tms: int | None = None,
        fields: str = "",
        desa: int | None = None,
    ) -> None:
        person = ev.person
        if rec_or_new >= 0:
            dpid = self._dpid(rec_or_new)
            desa = int(self.recs.desa[rec_or_new]) if desa is None else desa
        else:
            dpid = "NEW"
            desa = int(self.pop.desa[person]) if desa is None else desa
        ev.changes.append(
            {
                "dpid": dpid,
                "change_type": change_type,
                "tms_code": "" if tms is None else str(tms),
                "rule": rule,
                "changed_fields": fields,
                "kode_wilayah": self.regions.desa_code[desa],
                "jenis_kelamin": "LP"[int(self.pop.sex[person])],
            }
        )

    def _tms(self, ev: Event, rule: str) -> None:
        rec = int(self.ls.primary_rec[ev.person])
        self._change(ev, rec, "TMS", rule, tms_code(rule))
        self.ls.state[ev.person] = S_GONE
        ev.outcome, ev.outcome_dpid = "APPLIED", self._dpid(rec)

    def _baru(self, ev: Event, rule: str) -> None:
        self._change(ev, -1, "BARU", rule)
        self.ls.state[ev.person] = S_NEW
        self.ls.future.pop(ev.person, None)
        ev.outcome, ev.outcome_dpid = "APPLIED", "NEW"

    def _eligible(self, people: np.ndarray) -> np.ndarray:
        p = self.pop
        seventeen = seventeenth_birthday(p.birth[people]) <= self.cut_day
        return (
            self.alive[people]
            & ~p.wna[people]
            & (p.job[people] == JOB_SIPIL)
            & ~p.revoked[people]
            & (seventeen | (p.kawin[people] != KAWIN_B))
        )

    # --- the period ----------------------------------------------------------
    def run(self, period: str) -> tuple[list[Event], list[dict]]:
        self._setup(period)
        self._promotions()
        self._family_cases()
        self.runs += 1
        self._deaths()
        self._penduduk_baru()
        self._hard_cases()
        self._kawin()
        self._pindah()
        self._perubahan_data()
        self._service()
        self._wna_and_courts()
        return self.events, self.promotions

    def _promotions(self) -> None:
        ls = self.ls
        for person in sorted(ls.future):
            if not self._eligible(np.array([person]))[0]:
                continue
            self.promotions.append(
                {
                    "period": self.period,
                    "sumber": "PROMOSI",
                    "event_id": ls.future[person],
                    "person_id": person,
                    "dpid": "NEW",
                    "change_type": "BARU",
                    "tms_code": "",
                    "rule": "BARU_PROMOSI",
                    "changed_fields": "",
                    "kode_wilayah": self.regions.desa_code[int(self.pop.desa[person])],
                    "jenis_kelamin": "LP"[int(self.pop.sex[person])],
                }
            )
            ls.state[person] = S_NEW
            self.used[person] = True
        for row in self.promotions:
            ls.future.pop(row["person_id"])

    def _spend(self, kind: str) -> None:
        self.spent[kind] = self.spent.get(kind, 0) + 1

    def _pick_groups(self, groups: np.ndarray, ok: np.ndarray, k: int) -> np.ndarray:
        """k rows of `groups` (members, -1 padded) whose members are all `ok` and unused."""
        valid = groups >= 0
        members = np.where(valid, groups, 0)
        fit = np.all(~valid | (ok[members] & ~self.used[members]), axis=1)
        pool = np.flatnonzero(fit)
        if k <= 0 or not len(pool):
            return groups[:0]
        chosen = groups[np.sort(self.rng.choice(pool, min(k, len(pool)), replace=False))]
        self.used[chosen[chosen >= 0]] = True
        return chosen

    def _family_cases(self) -> None:
        """Twins and a father and son of one name, where linkage confuses relatives.

        They come out of the deaths' and new voters' budgets. The other twin of
        a twin who dies gets no event in that period, so that the row has one
        right person; the name of a row without NIK carries no noise."""
        budget, voters = self.budget, self._voters()
        if self.clean_family_cases:
            voters = voters & self._identity_as_recorded()
        for hard_case, sumber, mode, share in (
            ("KEMBAR", "DUKCAPIL", "ADA", TWIN_DEATH),
            ("KEMBAR_TANPA_NIK", "MASYARAKAT", "KOSONG", TWIN_DEATH_NO_NIK),
        ):
            for group in self._pick_groups(self.twin_groups, voters, max(1, round(budget * share))):
                members = group[group >= 0]
                person = int(members[int(self.rng.integers(len(members)))])
                ev = self._event(
                    sumber,
                    "MENINGGAL",
                    person,
                    hard_case=hard_case,
                    nik_mode=mode,
                    clean_name=mode == "KOSONG",
                )
                self._add(ev)
                self._die(ev)
                self._tms(ev, "TMS_MENINGGAL")
                self._spend("MENINGGAL")
        k = round(budget * TWINS_DIE_TOGETHER) + (self.runs == 1)
        for group in self._pick_groups(self.twin_groups, voters, k):
            day, late = self._day()
            for person in group[group >= 0].tolist():
                ev = self._event(
                    "DUKCAPIL", "MENINGGAL", person, hard_case="KEMBAR_BERSAMA", nik_mode="ADA"
                )
                ev.day, ev.is_late = day, late
                self._add(ev)
                self._die(ev)
                self._tms(ev, "TMS_MENINGGAL")
                self._spend("MENINGGAL")
        self._twins_turn_17()
        for father, son in self._pick_groups(
            self.juniors, voters, max(1, round(budget * JUNIOR_DEATH))
        ).tolist():
            person = son if self.rng.random() < 0.3 else father
            ev = self._add(self._event("DUKCAPIL", "MENINGGAL", person, hard_case="NAMA_AYAH_ANAK"))
            self._die(ev)
            self._tms(ev, "TMS_MENINGGAL")
            self._spend("MENINGGAL")

    def _identity_as_recorded(self) -> np.ndarray:
        """Per person: no NIK, name or birth-date noise on their primary record."""
        out = np.ones(len(self.pop), bool)
        has = np.flatnonzero(self.ls.primary_rec >= 0)
        noise = self.recs.noise[self.ls.primary_rec[has]]
        out[has] = (noise & (NOISE_NIK | NOISE_NAMA | NOISE_TGL)) == 0
        return out

    def _twins_turn_17(self) -> None:
        """Twins registered together: both new voters, or both future voters."""
        ready = self._unmarried_civilians_off_the_list()
        first = self.twin_groups[:, 0] if len(self.twin_groups) else np.zeros(0, np.int64)
        bday = self.bday[first]
        window = (bday > self.cut_day - 75) & (bday <= self.cut_day + 330)
        k = max(1, round(self.budget * TWINS_TURN_17))
        # One pair already 17 first, so that a small province always has two new voters.
        now = self._pick_groups(self.twin_groups[window & (bday <= self.cut_day)], ready, 1)
        rest = self._pick_groups(self.twin_groups[window], ready, k - len(now))
        for group in np.concatenate([now, rest]):
            for person in group[group >= 0].tolist():
                ev = self._add(
                    self._event(
                        "DUKCAPIL",
                        "PENDUDUK_BARU",
                        person,
                        hard_case="KEMBAR_BERSAMA",
                        nik_mode="ADA",
                    )
                )
                self._spend("PENDUDUK_BARU")
                if self.bday[person] <= self.cut_day:
                    self._baru(ev, "BARU_PEMILIH_PEMULA")
                else:
                    ev.outcome = "FUTURE_VOTER"
                    self.ls.state[person] = S_FUTURE
                    self.ls.future[person] = ev

    def _die(self, ev: Event) -> None:
        if ev.day >= self.pop.death[ev.person]:
            return
        self.pop.death[ev.person] = ev.day
        self.alive[ev.person] = False

    def _deaths(self) -> None:
        n = self._count("MENINGGAL")
        w = np.exp((self.age - 50) / 12)
        voters = self._pick(self._voters(), round(n * 0.85), w)
        for person in voters:
            sumber = "DUKCAPIL" if self.rng.random() < 0.85 else "MASYARAKAT"
            ev = self._add(self._event(sumber, "MENINGGAL", person))
            self._die(ev)
            self._tms(ev, "TMS_MENINGGAL")
        # The same death reported by Dukcapil and by residents in one period.
        doubles = [e for e in self.events if e.sumber == "DUKCAPIL" and not e.hard_case][
            : max(1, len(voters) // 30)
        ]
        for primary in doubles:
            primary.hard_case = "LAPORAN_GANDA"
            dup = self._add(
                Event(
                    self.period,
                    "MASYARAKAT",
                    "MENINGGAL",
                    primary.person,
                    primary.day,
                    primary.dpids,
                    hard_case="LAPORAN_GANDA",
                )
            )
            dup.duplicate_of = self.events.index(primary)
            dup.outcome, dup.outcome_dpid = "DUPLICATE_EVENT", primary.outcome_dpid
        # A NIK written for the wrong person: the NIK of a listed relative.
        self._nik_of_relative([e for e in self.events if not e.hard_case][:2])
        # Deaths of people who are not on the list change nothing.
        others = self._pick(self.alive & (self.ls.state == S_NONE), n - len(voters), w)
        for person in others:
            ev = self._add(self._event("DUKCAPIL", "MENINGGAL", person))
            self._die(ev)
            ev.outcome = "NOT_FOUND"
        # Voters dead before the start, reported late.
        dead = np.flatnonzero(
            self.recs.dead_at_start & (self.recs.primary == np.arange(len(self.recs)))
        )
        dead = dead[
            (self.ls.state[self.recs.person[dead]] == S_VOTER) & ~self.used[self.recs.person[dead]]
        ]
        k = min(len(dead), max(1, round(len(self.recs.dead_at_start.nonzero()[0]) * 0.05)))
        for rec in np.sort(self.rng.choice(dead, k, replace=False)) if k else []:
            person = int(self.recs.person[rec])
            self.used[person] = True
            ev = self._add(
                Event(
                    self.period,
                    "DUKCAPIL",
                    "MENINGGAL",
                    person,
                    int(self.pop.death[person]),
                    self._dpids_of(person),
                    hard_case="KEMATIAN_LAMA",
                    is_late=True,
                )
            )
            self._tms(ev, "TMS_MENINGGAL")

    def _nik_of_relative(self, events: list[Event]) -> None:
        for ev in events:
            mates = np.flatnonzero(
                (self.pop.hh == self.pop.hh[ev.person]) & (self.ls.state == S_VOTER)
            )
            mates = mates[(mates != ev.person) & ~np.isin(mates, self.frozen)]
            if len(mates):
                ev.nik_of = int(mates[0])
                ev.hard_case = "NIK_ORANG_LAIN"

    def _unmarried_civilians_off_the_list(self) -> np.ndarray:
        """Living, unmarried civilians with voting rights who are not on the
        list nor tracked: who a PENDUDUK_BARU can be about."""
        p = self.pop
        return (
            self.alive
            & (self.ls.state == S_NONE)
            & (p.job == JOB_SIPIL)
            & ~p.revoked
            & ~p.wna
            & (p.kawin == KAWIN_B)
        )

    def _penduduk_baru(self) -> None:
        n = self._count("PENDUDUK_BARU")
        bday = self.bday
        base = self._unmarried_civilians_off_the_list()
        now = self._pick(base & (bday <= self.cut_day) & (bday > self.cut_day - 75), round(n * 0.8))
        for person in now:
            self._baru(
                self._add(self._event("DUKCAPIL", "PENDUDUK_BARU", person)), "BARU_PEMILIH_PEMULA"
            )
        later = self._pick(
            base & (bday > self.cut_day) & (bday <= self.cut_day + 330), n - len(now)
        )
        for person in later:
            ev = self._add(self._event("DUKCAPIL", "PENDUDUK_BARU", person))
            ev.outcome = "FUTURE_VOTER"
            self.ls.state[person] = S_FUTURE
            self.ls.future[int(person)] = ev  # resolved to 'SUMBER|event_id' once ids exist

    def _hard_cases(self) -> None:
        p, voters = self.pop, self._voters()
        twins = self._pick(
            voters & p.twin & np.r_[voters[1:] & p.twin[1:], False] & (p.kawin == KAWIN_B), 2
        )
        for person in twins:
            ev = self._add(self._event("DUKCAPIL", "KAWIN", person, hard_case="KEMBAR"))
            self._marry(ev)
        juniors = self._pick(voters & p.junior & (p.kawin == KAWIN_B), 1)
        for person in juniors:
            ev = self._add(self._event("DUKCAPIL", "KAWIN", person, hard_case="NAMA_AYAH_ANAK"))
            self._marry(ev)

    def _marry(self, ev: Event) -> None:
        rec = int(self.ls.primary_rec[ev.person])
        self.pop.kawin[ev.person] = KAWIN_S
        self._change(ev, rec, "UBAH", "UBAH_KAWIN", fields="status_kawin")
        ev.outcome, ev.outcome_dpid = "APPLIED", self._dpid(rec)

    def _kawin(self) -> None:
        n, p = self._count("KAWIN"), self.pop
        voters = self._voters()
        single = self._pick(
            voters & (p.kawin == KAWIN_B) & (self.age >= 19) & (self.age < 40), round(n * 0.82)
        )
        widowed = self._pick(voters & (p.kawin == KAWIN_P) & (self.age < 65), round(n * 0.05))
        for person in np.concatenate([single, widowed]):
            self._marry(self._add(self._event("DUKCAPIL", "KAWIN", person)))
        young = (
            self.alive
            & np.isin(self.ls.state, (S_NONE, S_FUTURE))
            & (p.kawin == KAWIN_B)
            & (p.job == JOB_SIPIL)
            & ~p.revoked
            & (self.age >= 15)
            & (self.age < 17)
        )
        for person in self._pick(young, max(1, round(n * 0.08)), np.where(p.sex == 1, 9.0, 1.0)):
            ev = self._add(self._event("DUKCAPIL", "KAWIN", person, hard_case="KAWIN_BAWAH_UMUR"))
            p.kawin[person] = KAWIN_S
            self._baru(ev, "BARU_KAWIN")
        for person in self._pick(voters & (p.kawin == KAWIN_S), round(n * 0.05)):
            ev = self._add(self._event("DUKCAPIL", "KAWIN", person))
            ev.outcome, ev.outcome_dpid = "NO_CHANGE", self._dpid(int(self.ls.primary_rec[person]))

    def _new_address(self, desa: int) -> dict:
        r = self.rng
        return {
            "desa": desa,
            "style": int(r.integers(0, 3)),
            "word": int(r.integers(0, 1000)),
            "house": int(r.integers(1, 250)),
            "rt": int(r.integers(1, 16)),
            "rw": int(r.integers(1, 11)),
        }

    def _move(self, person: int, addr: dict) -> None:
        p = self.pop
        p.desa[person], p.addr_style[person], p.addr_word[person] = (
            addr["desa"],
            addr["style"],
            addr["word"],
        )
        p.house[person], p.rt[person], p.rw[person] = addr["house"], addr["rt"], addr["rw"]

    def _pindah(self) -> None:
        n, regions = self._count("PINDAH"), self.regions
        kab = regions.desa_kab
        for person in self._pick(self._voters(), round(n * 0.45)):
            rec = int(self.ls.primary_rec[person])
            here = int(self.recs.desa[rec])
            same_kab = np.flatnonzero(kab == kab[here])
            dest = here if self.rng.random() < 0.2 else int(self.rng.choice(same_kab))
            addr = self._new_address(dest)
            ev = self._add(
                self._event(
                    self._move_source(),
                    "PINDAH",
                    person,
                    new_addr=addr,
                    origin=regions.desa_code[here],
                )
            )
            self._change(
                ev,
                rec,
                "UBAH",
                "UBAH_PINDAH_DALAM_KABKOTA",
                fields=self._moved_fields(rec, addr),
                desa=dest,
            )
            self._update_record_address(rec, addr)
            self._move(person, addr)
            ev.outcome, ev.outcome_dpid = "APPLIED", self._dpid(rec)
        for person in self._pick(self._voters(), round(n * 0.35)):
            rec = int(self.ls.primary_rec[person])
            here = int(self.recs.desa[rec])
            other = np.flatnonzero(kab != kab[here])
            if not len(other):
                self.used[person] = False
                continue
            addr = self._new_address(int(self.rng.choice(other)))
            ev = self._add(
                self._event(
                    self._move_source(),
                    "PINDAH",
                    person,
                    new_addr=addr,
                    origin=regions.desa_code[here],
                )
            )
            self._tms(ev, "TMS_PINDAH_KELUAR")
            self._move(person, addr)
            self._change(ev, -1, "BARU", "BARU_PINDAH_MASUK")
            self.ls.state[person] = S_NEW
        self._move_in(n - round(n * 0.45) - round(n * 0.35))

    def _move_source(self) -> str:
        return "DUKCAPIL" if self.rng.random() < 0.9 else "MASYARAKAT"

    def _moved_fields(self, rec: int, addr: dict) -> str:
        r, noise = self.recs, int(self.recs.noise[rec])
        old_rt = 0 if noise & NOISE_RT else int(r.rt[rec])
        old_rw = 0 if noise & NOISE_RW else int(r.rw[rec])
        changed = []
        if (r.addr_style[rec], r.addr_word[rec] % 1000, r.house[rec]) != (
            addr["style"],
            addr["word"],
            addr["house"],
        ):
            changed.append("alamat")
        if old_rt != addr["rt"]:
            changed.append("rt")
        if old_rw != addr["rw"]:
            changed.append("rw")
        if int(r.desa[rec]) != addr["desa"]:
            changed.append("kode_wilayah")
        return ",".join(changed)

    def _update_record_address(self, rec: int, addr: dict) -> None:
        r = self.recs
        r.desa[rec], r.addr_style[rec], r.addr_word[rec] = addr["desa"], addr["style"], addr["word"]
        r.house[rec], r.rt[rec], r.rw[rec] = addr["house"], addr["rt"], addr["rw"]
        r.noise[rec] &= ~np.int16(NOISE_RT | NOISE_RW)

    def _move_in(self, k: int) -> None:
        """k new adults from other provinces, each a PINDAH into the province and a BARU."""
        if k <= 0:
            return
        new, codes = self._movers(k)
        self.arrive(new, codes)

    def arrive(
        self, new: Population, codes: list[str], sumber: str = "", hard_case: str = ""
    ) -> list[Event]:
        """People moving in from the desa `codes` this period, each a PINDAH
        (from `sumber`, or Dukcapil or residents as drawn) and a BARU.

        Built as one batch and appended to the population once: appending person
        by person copied every column per mover, quadratic at province scale."""
        k = len(new)
        first = len(self.pop)
        self.pop.extend(new)
        ls = self.ls
        ls.state = np.r_[ls.state, np.full(k, S_NONE, np.int8)]
        ls.primary_rec = np.r_[ls.primary_rec, np.full(k, -1, np.int64)]
        self.used = np.r_[self.used, np.ones(k, bool)]
        self.alive = np.r_[self.alive, np.ones(k, bool)]
        self.age = np.r_[self.age, (self.cut_day - new.birth) / 365.25]
        self.bday = np.r_[self.bday, seventeenth_birthday(new.birth)]
        out = []
        for i in range(k):
            addr = {
                "desa": int(new.desa[i]),
                "style": int(new.addr_style[i]),
                "word": int(new.addr_word[i]),
                "house": int(new.house[i]),
                "rt": int(new.rt[i]),
                "rw": int(new.rw[i]),
            }
            ev = self._event(
                sumber or self._move_source(),
                "PINDAH",
                first + i,
                new_addr=addr,
                origin=codes[i],
                hard_case=hard_case,
            )
            self._baru(self._add(ev), "BARU_PINDAH_MASUK")
            out.append(ev)
        return out

    def move_away(self, person: int, like: Event) -> Event:
        """This province's side of a move to another province of a national
        data set: the destination drew the PINDAH row `like`; here it is about
        the voter's record, which it makes TMS 4, with no BARU (the destination
        province makes that one). The person gets no later event here."""
        rec = int(self.ls.primary_rec[person])
        ev = Event(
            self.period,
            like.sumber,
            like.jenis,
            int(person),
            like.day,
            self._dpids_of(int(person)),
            hard_case=like.hard_case,
            is_late=like.is_late,
            origin=self.regions.desa_code[int(self.recs.desa[rec])],
        )
        self.events.append(ev)
        self._tms(ev, "TMS_PINDAH_KELUAR")
        return ev

    def _movers(self, k: int) -> tuple[Population, list[str]]:
        """k people living in another province, with NIK and NKK issued there."""
        rng = self.rng
        origins = [origin_desa(self.regions.province, rng, self.not_origins) for _ in range(k)]
        codes = [code for code, _ in origins]
        for _, place in origins:
            if place not in self.places:
                self.places.append(place)
        place_idx = {name: i for i, name in enumerate(self.places)}
        sex = (rng.random(k) < 0.5).astype(np.int8)
        birth = self.cut_day - (rng.uniform(19, 60, k) * 365.25).astype(np.int64)
        kec6 = np.array([int(c.replace(".", "")[:6]) for c in codes], dtype=np.int64)
        prefix = nik_prefix(kec6, birth, sex)
        serial = self._serials(prefix)
        dest = rng.choice(len(self.regions.desa_code), k, p=self.regions.desa_weight)
        addr = self._new_addresses(dest)
        issue = self.cut_day - rng.integers(30, 3000, k)
        new = self.pop.take(np.zeros(k, np.int64))
        # Local household ids while names are drawn: Batak clans are drawn per household id.
        new.hh[:] = np.arange(k)
        new.member[:], new.rel[:], new.sex[:], new.birth[:] = 0, 0, sex, birth
        new.kawin[:] = np.where(rng.random(k) < 0.6, KAWIN_S, KAWIN_B)
        new.job[:], new.death[:], new.revoked[:], new.wna[:] = JOB_SIPIL, ALIVE, False, False
        new.kec_issue[:], new.nik[:] = -1, prefix * 10_000 + serial
        zeros = np.zeros(k, np.int64)
        new.nkk[:] = kec6 * 10**10 + nik_prefix(zeros, issue, zeros) * 10_000 + serial
        new.place[:] = [place_idx[place] for _, place in origins]
        new.disab[:], new.ktp[:], new.twin[:], new.junior[:] = 0, True, False, False
        new.origin_desa[:] = codes
        for col in ("g1", "g2", "pre", "patr", "binb", "title", "degree"):
            getattr(new, col)[:] = -1
        names, mix_p = province_mix(self.regions.province)
        ethnic = rng.choice(len(names), k, p=mix_p)
        age = (self.cut_day - birth) / 365.25
        assign_names(new, ethnic, names, np.zeros(k, np.int64), age, self.vocab, rng)
        new.hh[:] += int(self.pop.hh.max()) + 1
        new.desa[:], new.rt[:], new.rw[:] = dest, addr["rt"], addr["rw"]
        new.addr_style[:], new.addr_word[:] = addr["style"], addr["word"]
        new.house[:] = addr["house"]
        return new, codes

    def _serials(self, prefix: np.ndarray) -> np.ndarray:
        """NIK serials after those already issued to movers with the same prefix."""
        taken = np.array([self.nik_taken.get(int(x), 0) for x in prefix], dtype=np.int64)
        serial = rank_within(prefix) + 1 + taken
        for x, s in zip(prefix.tolist(), serial.tolist(), strict=True):
            self.nik_taken[x] = max(self.nik_taken.get(x, 0), s)
        return serial

    def _new_addresses(self, desa: np.ndarray) -> dict[str, np.ndarray]:
        r, k = self.rng, len(desa)
        return {
            "desa": desa,
            "style": r.integers(0, 3, k),
            "word": r.integers(0, 1000, k),
            "house": r.integers(1, 250, k),
            "rt": r.integers(1, 16, k),
            "rw": r.integers(1, 11, k),
        }

    def _perubahan_data(self) -> None:
        n, r = self._count("PERUBAHAN_DATA"), self.recs
        primary = r.primary == np.arange(len(r))
        minors = np.flatnonzero(primary & r.minor)
        minors = minors[self.ls.state[r.person[minors]] == S_VOTER]
        k = min(len(minors), max(1, len(np.flatnonzero(r.minor)) // 3))
        for rec in minors[:k]:
            person = int(r.person[rec])
            if self.used[person]:
                continue
            self.used[person] = True
            ev = self._add(
                self._event("DUKCAPIL", "PERUBAHAN_DATA", person, hard_case="KOREKSI_BAWAH_UMUR")
            )
            if self._eligible(np.array([person]))[0]:
                self._correct(ev, int(rec))
            else:
                self._tms(ev, "TMS_BAWAH_UMUR")
        noisy = np.zeros(len(self.pop), bool)
        ok = primary & (r.noise != 0) & ~r.minor
        noisy[r.person[ok]] = True
        for person in self._pick(noisy & self._voters(), n - k):
            self._correct(
                self._add(self._event("DUKCAPIL", "PERUBAHAN_DATA", person)),
                int(self.ls.primary_rec[person]),
            )

    def _correct(self, ev: Event, rec: int) -> None:
        noise = int(self.recs.noise[rec])
        fields = ",".join(name for bit, name in NOISE_FIELDS if noise & bit)
        self._change(ev, rec, "UBAH", "UBAH_PERUBAHAN_DATA", fields=fields)
        r, person = self.recs, int(self.recs.person[rec])
        r.noise[rec] = 0
        r.nik[rec], r.birth[rec] = self.pop.nik[person], self.pop.birth[person]
        r.name_override.pop(rec, None)
        ev.outcome, ev.outcome_dpid = "APPLIED", self._dpid(rec)

    def _service(self) -> None:
        p, voters = self.pop, self._voters()
        recruit_w = np.where(p.sex == 0, 9.0, 1.0)
        for jenis, job, sumber in (
            ("MASUK_TNI", JOB_TNI, "TNI"),
            ("MASUK_POLRI", JOB_POLRI, "POLRI"),
        ):
            for person in self._pick(
                voters & (self.age >= 18) & (self.age < 26), self._count(jenis), recruit_w
            ):
                ev = self._add(self._event(sumber, jenis, person))
                p.job[person] = job
                self._tms(ev, f"TMS_{jenis}")
        for jenis, job, sumber in (
            ("PURNA_TNI", JOB_TNI, "TNI"),
            ("PURNA_POLRI", JOB_POLRI, "POLRI"),
        ):
            pool = (
                self.alive
                & (p.job == job)
                & (self.ls.state == S_NONE)
                & ~p.revoked
                & (self.age >= 45)
            )
            for person in self._pick(pool, self._count(jenis), np.exp(self.age / 4 - 12)):
                ev = self._add(self._event(sumber, jenis, person))
                p.job[person] = JOB_SIPIL
                self._baru(ev, f"BARU_{jenis}")

    def _wna_and_courts(self) -> None:
        p, voters = self.pop, self._voters()
        for person in self._pick(voters, max(1, self._count("WNA"))):
            ev = self._add(self._event("IMIGRASI", "WNA", person))
            p.wna[person] = True
            self._tms(ev, "TMS_WNA")
        pool = voters & (p.sex == 0) & (self.age >= 20) & (self.age < 55)
        for person in self._pick(pool, max(1, self._count("HAK_PILIH_DICABUT"))):
            ev = self._add(self._event("MASYARAKAT", "HAK_PILIH_DICABUT", person))
            p.revoked[person] = True
            self._tms(ev, "TMS_HAK_PILIH_DICABUT")
        pool = self.alive & p.revoked & (self.ls.state == S_NONE) & (p.job == JOB_SIPIL) & ~p.wna
        for person in self._pick(pool, max(1, self._count("HAK_PILIH_PULIH"))):
            ev = self._add(self._event("MASYARAKAT", "HAK_PILIH_PULIH", person))
            p.revoked[person] = False
            if self._eligible(np.array([person]))[0]:
                self._baru(ev, "BARU_HAK_PILIH_PULIH")
            else:
                ev.outcome = "NO_CHANGE"

    def malformed(self, k: int, delivered: list[str]) -> list[Event]:
        """Extra rows that ingest must quarantine; they change nothing. The
        first six cover every source; the rest follow the sources' shares of
        the period's events (`delivered`), so that no small file is mostly
        broken and held by the quarantine-share gate at province scale."""
        kinds = ("NIK_HURUF", "TANGGAL_MUSTAHIL", "JENIS_TIDAK_DIKENAL")
        sources = ("DUKCAPIL", "MASYARAKAT", "TNI", "POLRI", "DUKCAPIL", "IMIGRASI")
        alive = np.flatnonzero(self.pop.death == ALIVE)
        people = self.rng.choice(alive[~np.isin(alive, self.frozen)], k, replace=False)
        extra = (
            self.rng.integers(0, len(delivered), k - len(sources))
            if k > len(sources) and delivered
            else []
        )
        out = []
        for i, person in enumerate(np.sort(people)):
            sumber = sources[i] if i < len(sources) else delivered[extra[i - len(sources)]]
            ev = self._event(
                sumber, MALFORMED_KIND.get(sumber, "MENINGGAL" if i % 2 else "KAWIN"), person
            )
            ev.malformed, ev.outcome, ev.dpids = kinds[i % 3], "QUARANTINED", []
            out.append(ev)
        return out
