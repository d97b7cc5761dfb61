"""A national synthetic data set: several provinces delivered as one nation.

`generate_national(out_dir, provinces, voters, periods, start, seed)` is what
`pdpb synth --province 31,32,36` calls. Each province is made as `generate`
makes one (its own regions, name mix, population, list and events), from its
own child of the seed, with a share of the voters in proportion to its DPT.
On top of that it plants what only a national list has:

- voters who move to another listed province: one PINDAH row, which the
  origin applies as TMS 4 on the voter's record (no BARU there) and the
  destination as a BARU (a person who moved in);
- people registered in two provinces: their record at home and a stale one
  in another province's initial list;
- twins who live in two provinces, who must never be merged.

A period's events of every province go out as ONE national file per source
(Dukcapil's split in parts), numbered per source over the nation, with no
province folder: routing by `kode_wilayah` makes those. Each province gets
its initial list and a truth folder in the single-province format, so that
after routing each province home is scored as today; the national truth
lists the moves and the planted pairs. docs/synth.md describes the layout.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from pdpb.config import PdpbError, next_period, parse_period
from pdpb.synth.events import Event, ListState, PeriodSimulator, init_state, period_bounds
from pdpb.synth.generator import (
    FILE_COLUMNS,
    MINOR_SHARE,
    _append_truth,
    _collect_truth,
    _manifest,
    _order_by_event_id,
    _population,
    _progress,
    _resolve_future,
    _Tally,
    _write_csv,
    _write_persons,
    _write_rekap,
    _write_voter_truth,
)
from pdpb.synth.landing import DUKCAPIL_FILE_ROWS, assign_event_ids, render_rows, write_period
from pdpb.synth.names import NOISE_FUNCS, Vocab, build_vocab, noisy_name
from pdpb.synth.population import (
    ALIVE,
    JOB_SIPIL,
    REL_HEAD,
    Population,
    name_alike,
    nik_prefix,
    to_days,
)
from pdpb.synth.regions import Regions, load_regions
from pdpb.synth.render import place_names, render_names
from pdpb.synth.voterlist import (
    KIND_NAMA_TYPO,
    KIND_NIK_KOSONG,
    KIND_NIK_SALAH,
    NOISE_NAMA,
    NOISE_NIK,
    SUMBER_CHOICES,
    Records,
    _assign_dpid_and_tps,
    build_records,
    listable,
    write_voters,
)

log = logging.getLogger(__name__)

# DPT Pemilu 2024 per province (KPU decree 857/2023, as the press reported the
# national plenary of 2 July 2023; Sulawesi Barat, Maluku and Maluku Utara
# from their provincial plenaries). Only the proportions matter: the national
# `--voters` is split over the listed provinces by these.
DPT_2024 = {
    "11": 3_742_037,
    "12": 10_853_940,
    "13": 4_088_606,
    "14": 4_732_174,
    "15": 2_676_107,
    "16": 6_326_348,
    "17": 1_494_828,
    "18": 6_539_128,
    "19": 1_067_434,
    "21": 1_500_974,
    "31": 8_252_897,
    "32": 35_714_901,
    "33": 28_289_413,
    "34": 2_870_974,
    "35": 31_402_838,
    "36": 8_842_646,
    "51": 3_269_516,
    "52": 3_918_291,
    "53": 4_008_475,
    "61": 3_958_561,
    "62": 1_935_116,
    "63": 3_025_220,
    "64": 2_778_644,
    "65": 504_252,
    "71": 1_969_603,
    "72": 2_236_703,
    "73": 6_670_582,
    "74": 1_867_931,
    "75": 881_206,
    "76": 985_760,
    "81": 1_341_012,
    "82": 953_978,
    "91": 727_835,
    "92": 385_465,
    "93": 367_269,
    "94": 1_128_844,
    "95": 1_306_414,
    "96": 440_826,
}
MIN_PROVINCE_VOTERS = 500
# Shares of the national list, each with a floor so that a small data set
# still meets every case: moves to another listed province per period, people
# registered in two provinces, twin pairs living in two provinces.
MOVE_SHARE, MIN_MOVES = 0.001, 3
DOUBLE_SHARE, MIN_DOUBLES = 0.0005, 3
TWIN_SHARE, MIN_TWINS = 0.0002, 2
# A stale registration keeps the NIK in most cases; otherwise it has none or a typo.
STALE_NIK_EMPTY, STALE_NIK_TYPO = 0.15, 0.15
STALE_NAME_NOISE = 0.5
HARD_CASE_MOVE = "PINDAH_ANTAR_PROVINSI"
MOVE_COLUMNS = [
    "period",
    "sumber",
    "event_id",
    "person_key",
    "kode_provinsi_asal",
    "dpid_asal",
    "kode_wilayah_asal",
    "kode_provinsi_tujuan",
    "kode_wilayah",
]
PAIR_COLUMNS = ["kode_provinsi_a", "dpid_a", "kode_provinsi_b", "dpid_b", "relasi"]


@dataclass
class _Province:
    """One province of the national data set while it is generated."""

    index: int  # position in the sorted list of provinces
    kode: str
    voters: int
    rngs: list[np.random.Generator]
    regions: Regions
    pop: Population
    places: list[str]
    folder: Path
    recs: Records | None = None
    ls: ListState | None = None
    sim: PeriodSimulator | None = None
    tally: _Tally = field(default_factory=_Tally)
    # People given a national role (moved, registered twice, a twin elsewhere).
    taken: set[int] = field(default_factory=set)
    # People with no drawn event in any period: voters who move to another
    # province, and those only registered here (they live elsewhere).
    frozen: list[int] = field(default_factory=list)
    arrivals: int = 0  # records planted for people who live in another province
    twin_niks: set[int] = field(default_factory=set)  # NIKs given to twins planted elsewhere
    pools: dict[bool, np.ndarray] = field(default_factory=dict)  # candidates, see _pick_person
    new_records: list[dict] = field(default_factory=list)  # see _add_record
    joined: dict[int, str] = field(default_factory=dict)
    n_initial: int = 0
    events: list[Event] = field(default_factory=list)
    promotions: list[dict] = field(default_factory=list)


def parse_provinces(text: str | list[str]) -> list[str]:
    """Province codes from '31,32,36' (or a list), sorted and without repeats."""
    items = text.split(",") if isinstance(text, str) else list(text)
    return sorted({c.strip() for c in items if c.strip()})


def split_voters(voters: int, provinces: list[str]) -> dict[str, int]:
    """The national total over the provinces in proportion to their DPT 2024,
    with at least MIN_PROVINCE_VOTERS each; the shares sum to `voters`."""
    floor = MIN_PROVINCE_VOTERS * len(provinces)
    if voters < floor:
        raise PdpbError(
            f"a national data set of {len(provinces)} provinces needs at least {floor} voters "
            f"({MIN_PROVINCE_VOTERS} each); got {voters}"
        )
    fixed: dict[str, int] = {}
    while True:
        free = [p for p in provinces if p not in fixed]
        rest = voters - sum(fixed.values())
        weight = sum(DPT_2024[p] for p in free)
        share = {p: rest * DPT_2024[p] / weight for p in free}
        low = [p for p in free if share[p] < MIN_PROVINCE_VOTERS]
        if not low:
            break
        fixed.update(dict.fromkeys(low, MIN_PROVINCE_VOTERS))
    base = {p: int(share[p]) for p in free}
    # Largest remainders first, so that the shares add up exactly.
    for p in sorted(free, key=lambda p: (base[p] - share[p], p))[: rest - sum(base.values())]:
        base[p] += 1
    return {p: {**fixed, **base}[p] for p in provinces}


def generate_national(
    out_dir: Path,
    provinces: list[str],
    voters: int = 50_000,
    periods: int = 3,
    start: str = "2026-01",
    seed: int = 7,
) -> dict:
    """Write manifest.json, provinces/<kode>/, landing/<period>/ and truth/ under out_dir.

    Returns the manifest (plus `elapsed_seconds`, kept out of manifest.json)."""
    t0 = time.perf_counter()
    parse_period(start)
    codes = parse_provinces(provinces)
    if len(codes) < 2:
        raise PdpbError("a national data set needs at least two provinces, e.g. --province 31,32")
    if periods < 1:
        raise PdpbError(f"synth needs at least 1 period (got {periods})")
    unknown = [c for c in codes if c not in DPT_2024]
    if unknown:
        raise PdpbError(f"province '{unknown[0]}' is not a Kemendagri province code (e.g. 36)")
    shares = split_voters(voters, codes)
    out_dir = Path(out_dir)
    seqs = np.random.SeedSequence(seed).spawn(len(codes) + 1)
    # The national draws (who moves or is planted where; event ids) have their own streams.
    rng, period_rng = (np.random.default_rng(s) for s in seqs[-1].spawn(2))
    vocab = build_vocab()
    y, m = parse_period(start)
    ref = date(y, m, 1) - timedelta(days=1)
    months = [start]
    while len(months) < periods:
        months.append(next_period(months[-1]))

    provs = []
    for index, (kode, seq) in enumerate(zip(codes, seqs, strict=False)):
        rngs = [np.random.default_rng(s) for s in seq.spawn(6)]
        regions = load_regions(kode, rngs[0])
        # Young spouses spread over birth dates: see build_households.
        pop = _population(shares[kode], regions, vocab, ref, rngs[1], months, True)
        folder = out_dir / "provinces" / kode
        (folder / "truth").mkdir(parents=True, exist_ok=True)
        places = list(place_names(regions, []))
        provs.append(_Province(index, kode, shares[kode], rngs, regions, pop, places, folder))
        _progress(t0, f"province {kode}: {len(pop):,} people")

    # Who goes where is drawn first: the receiving province lists fewer
    # duplicates of its own so that its list keeps its share of the voters.
    n_twins = max(MIN_TWINS, round(voters * TWIN_SHARE))
    n_doubles = max(MIN_DOUBLES, round(voters * DOUBLE_SHARE))
    twin_routes = [_route(provs, rng, j) for j in range(n_twins)]
    double_routes = [_route(provs, rng, j, turn=1) for j in range(n_doubles)]
    for _, b in twin_routes + double_routes:
        provs[b].arrivals += 1

    for p in provs:
        listed = listable(p.pop, ref)
        n_base = int(listed.sum())
        n_minor = max(2, round(n_base * MINOR_SHARE))
        target = max(0, p.voters - p.arrivals - n_base - n_minor)
        p.recs = build_records(p.pop, listed, target, p.regions, vocab, ref, p.rngs[2])

    pairs = []
    for a, b in twin_routes:
        pairs.append(_plant_twin(provs[a], provs[b], vocab, ref, rng))
    for a, b in double_routes:
        pairs.append(_register_twice(provs[a], provs[b], vocab, ref, rng))
    for p in provs:
        _flush_records(p)
        _assign_dpid_and_tps(p.recs, p.pop, p.regions)
    pair_rows = [
        {
            "kode_provinsi_a": provs[a].kode,
            "dpid_a": str(provs[a].recs.dpid[ra]),
            "kode_provinsi_b": provs[b].kode,
            "dpid_b": str(provs[b].recs.dpid[rb]),
            "relasi": relasi,
        }
        for a, ra, b, rb, relasi in pairs
    ]

    for p in provs:
        _write_initial(p, vocab)
        _progress(t0, f"province {p.kode}: voters.csv and truth written")

    moves = _plan_moves(provs, months, voters, ref, rng)
    shared_serials: dict[int, int] = {}
    for p in provs:
        p.ls = init_state(p.pop, p.recs)
        p.sim = PeriodSimulator(
            p.pop, p.recs, p.ls, p.regions, vocab, p.places, p.rngs[3], p.voters
        )
        p.sim.frozen = np.array(sorted(p.frozen), dtype=np.int64)
        p.sim.not_origins = tuple(codes)
        p.sim.clean_family_cases = True
        # Movers from outside the list get NIKs unique over the nation, not per province.
        p.sim.nik_taken = shared_serials

    (out_dir / "truth").mkdir(parents=True, exist_ok=True)
    national_files: list[dict] = []
    move_rows: list[dict] = []
    for i, period in enumerate(months):
        files = _run_period(
            provs, period, moves[period], out_dir, period_rng, move_rows, first=i == 0,
            redeliver=i == min(1, periods - 1),
        )  # fmt: skip
        national_files.extend(files)
        _progress(t0, f"period {period}: {sum(len(p.events) for p in provs):,} events")

    for p in provs:
        _write_movers_in(p, vocab, months)
        _write_rekap(p.folder / "truth" / "rekap_kabkota.csv", p.tally.rekap, p.regions, months)
    _write_csv(out_dir / "truth" / "moves.csv", move_rows, MOVE_COLUMNS)
    _write_csv(out_dir / "truth" / "pairs.csv", pair_rows, PAIR_COLUMNS)
    _write_csv(out_dir / "truth" / "files.csv", national_files, FILE_COLUMNS)

    manifest = _national_manifest(
        codes, shares, voters, periods, start, seed, months, provs, move_rows, pair_rows,
        national_files,
    )  # fmt: skip
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return {**manifest, "elapsed_seconds": round(time.perf_counter() - t0, 2)}


def _route(
    provs: list[_Province], rng: np.random.Generator, j: int = -1, turn: int = 0
) -> tuple[int, int]:
    """(origin, destination) provinces. The first ones of a kind (j < number
    of provinces) go round the list, so that a small data set has every
    province sending and receiving (`turn` shifts the destinations, so that
    periods cover other pairs); the others are drawn in proportion to the
    provinces' voters."""
    n = len(provs)
    if 0 <= j < n:
        return j, (j + 1 + turn % (n - 1)) % n
    w = np.array([p.voters for p in provs], dtype=float)
    a = int(rng.choice(len(provs), p=w / w.sum()))
    w[a] = 0
    return a, int(rng.choice(len(provs), p=w / w.sum()))


def _candidates(p: _Province, ref: date, clean: bool) -> np.ndarray:
    """Persons of province p fit for a national role: listed once on a record
    at their address, alive, an adult civilian with voting rights, not a twin
    nor a father's namesake (cases of their own), with a NIK issued in the
    kecamatan where they live (so the truth's kecamatan_terbit stays right
    where they are copied), not given a role yet. `clean`: the record has no
    registration noise at all; otherwise no NIK noise (the NIK is what the
    origin links the move by)."""
    recs, pop = p.recs, p.pop
    primary = recs.primary == np.arange(len(recs))
    twice = np.zeros(len(pop), bool)
    twice[recs.person[~primary]] = True
    noise_ok = recs.noise == 0 if clean else (recs.noise & NOISE_NIK) == 0
    rec = np.flatnonzero(primary & ~recs.dead_at_start & ~recs.minor & noise_ok)
    person = recs.person[rec]
    age = (to_days(ref) - pop.birth[person]) / 365.25
    ok = (
        ~twice[person]
        & (pop.death[person] == ALIVE)
        & (pop.job[person] == JOB_SIPIL)
        & ~pop.revoked[person]
        & ~pop.wna[person]
        & ~pop.twin[person]
        & ~pop.junior[person]
        & (age >= 20)
        & (age < 60)
        & (pop.kec_issue[person] == p.regions.desa_kec[pop.desa[person]])
        & (recs.desa[rec] == pop.desa[person])
        & (recs.nik[rec] == pop.nik[person])
    )
    person = person[ok]
    return person[~np.isin(person, np.array(sorted(p.taken), dtype=np.int64))]


def _pick_person(p: _Province, ref: date, rng: np.random.Generator, clean: bool) -> int:
    """A candidate drawn from a pool computed once per province: at national
    scale there are thousands of picks over millions of records."""
    if clean not in p.pools:
        p.pools[clean] = _candidates(p, ref, clean)
    while len(p.pools[clean]):
        i = int(rng.integers(len(p.pools[clean])))
        person = int(p.pools[clean][i])
        p.pools[clean] = np.delete(p.pools[clean], i)
        if person not in p.taken:
            p.taken.add(person)
            return person
    raise PdpbError(f"province {p.kode} has too few voters for the national cases")


def _copy_into(src: _Province, person: int, dst: _Province, rng: np.random.Generator) -> Population:
    """The person as a one-row population of province dst: the head of a
    household of their own at a new address there (drawn by desa weight),
    with the identity they have in src. The NIK was issued in src, which the
    truth records as the origin desa (kode_wilayah_asal)."""
    new = src.pop.take(np.array([person]))
    place = src.places[int(src.pop.place[person])]
    if place not in dst.places:
        dst.places.append(place)
    new.place[:] = dst.places.index(place)
    new.origin_desa[:] = src.regions.desa_code[int(src.pop.desa[person])]
    new.kec_issue[:] = -1
    new.rel[:], new.member[:] = REL_HEAD, 0
    new.twin[:], new.junior[:] = False, False
    new.desa[:] = rng.choice(len(dst.regions.desa_code), 1, p=dst.regions.desa_weight)
    new.addr_style[:] = rng.integers(0, 3, 1)
    new.addr_word[:] = rng.integers(0, 1000, 1)
    new.house[:] = rng.integers(1, 250, 1)
    new.rt[:], new.rw[:] = rng.integers(1, 16, 1), rng.integers(1, 11, 1)
    return new


def _new_family_card(dst: _Province, desa: int, rng: np.random.Generator) -> int:
    """A family card (NKK) issued in the desa's kecamatan, serial after the
    cards already issued there that day."""
    kec6 = int(dst.regions.kec_digits()[dst.regions.desa_kec[desa]])
    issue = int(rng.integers(to_days(date(2008, 1, 1)), to_days(date(2025, 6, 30))))
    zero = np.zeros(1, np.int64)
    prefix = kec6 * 1_000_000 + int(nik_prefix(zero, np.array([issue]), zero)[0])
    same = dst.pop.nkk[dst.pop.nkk // 10_000 == prefix]
    return prefix * 10_000 + (int((same % 10_000).max()) if len(same) else 0) + 1


def _settle(dst: _Province, new: Population, rng: np.random.Generator) -> int:
    """Append a copied person to dst's population with a card of their own; their index."""
    new.nkk[:] = _new_family_card(dst, int(new.desa[0]), rng)
    new.hh[:] = int(dst.pop.hh.max()) + 1
    dst.pop.extend(new)
    person = len(dst.pop) - 1
    dst.taken.add(person)
    return person


def _add_record(dst: _Province, person: int, rng: np.random.Generator, **values: object) -> int:
    """A record of dst's list for the person at their address there (without
    noise unless `values` say otherwise); its index once _flush_records has
    added it. dpid and TPS are assigned with the others' afterwards."""
    p = dst.pop
    dst.new_records.append(
        {
            "person": person,
            "desa": p.desa[person],
            "addr_style": p.addr_style[person],
            "addr_word": p.addr_word[person],
            "house": p.house[person],
            "rt": p.rt[person],
            "rw": p.rw[person],
            "noise": 0,
            "primary": len(dst.recs) + len(dst.new_records),
            "dead_at_start": False,
            "minor": False,
            "dpid": 0,
            "tps": 0,
            "sumber": SUMBER_CHOICES[int(rng.choice(4, p=[0.7, 0.1, 0.15, 0.05]))],
            "nik": p.nik[person],
            "birth": p.birth[person],
            "noise_kind": 0,
            **values,
        }
    )
    return len(dst.recs) + len(dst.new_records) - 1


def _flush_records(dst: _Province) -> None:
    """The planted records appended to the list at once (column by column)."""
    rows, r = dst.new_records, dst.recs
    for f in fields(Records):
        if f.name != "name_override":
            col = getattr(r, f.name)
            add = np.array([row[f.name] for row in rows], dtype=col.dtype)
            setattr(r, f.name, np.concatenate([col, add]))
    dst.new_records = []


def _primary_record(p: _Province, person: int) -> int:
    is_primary = p.recs.primary == np.arange(len(p.recs))
    return int(np.flatnonzero((p.recs.person == person) & is_primary)[0])


def _plant_twin(
    a: _Province, b: _Province, vocab: Vocab, ref: date, rng: np.random.Generator
) -> tuple[int, int, int, int, str]:
    """A listed voter of a gets a twin who lives in b: the same birth date,
    sex and place of birth, a NIK of the same kecamatan one serial apart,
    and an alike name (a pair of the alike-names table, as the generator's
    planted twins get). Both are genuine voters, each on their province's
    list; each province's truth knows only its own twin."""
    for _ in range(100):
        twin = _pick_person(a, ref, rng, clean=True)
        nik = int(a.pop.nik[twin])
        taken = set(a.pop.nik[a.pop.nik // 10_000 == nik // 10_000].tolist()) | a.twin_niks
        serial = next((s for s in (nik + 1, nik - 1) if s % 10_000 and s not in taken), None)
        if serial is not None:
            break
    else:
        raise PdpbError(f"province {a.kode} has no voter to plant a twin for")
    a.twin_niks.add(serial)
    pair = a.pop.take(np.array([twin, twin]))
    name_alike(pair, np.array([0]), np.array([2]), vocab, rng, table_share=1.0)
    a.pop.g1[twin] = pair.g1[0]
    new = _copy_into(a, twin, b, rng)
    new.g1[:], new.nik[:] = pair.g1[1], serial
    # Titles and degrees are each one's own.
    new.title[:], new.degree[:] = -1, -1
    other = _settle(b, new, rng)
    return a.index, _primary_record(a, twin), b.index, _add_record(b, other, rng), "kembar"


def _register_twice(
    a: _Province, b: _Province, vocab: Vocab, ref: date, rng: np.random.Generator
) -> tuple[int, int, int, int, str]:
    """A voter of a also listed in b: a stale record at an old address there,
    under b's numbering, with the list's registration noise (the name in half
    of them; the NIK usually kept, else missing or with a typo in the
    birth-date digits). In b's truth the record belongs to a person who lives
    elsewhere and has no events there."""
    person = _pick_person(a, ref, rng, clean=False)
    stale = _settle(b, _copy_into(a, person, b, rng), rng)
    b.frozen.append(stale)
    noise, kind, nik = 0, 0, int(b.pop.nik[stale])
    rec = len(b.recs) + len(b.new_records)
    if rng.random() < STALE_NAME_NOISE:
        k = int(rng.integers(len(NOISE_FUNCS)))
        name = render_names(b.pop, np.array([stale]), vocab)[0]
        b.recs.name_override[rec] = noisy_name(name, bool(b.pop.sex[stale]), rng, NOISE_FUNCS[k])
        noise, kind = noise | NOISE_NAMA, kind | KIND_NAMA_TYPO << k
    u = rng.random()
    if u < STALE_NIK_EMPTY:
        nik, noise, kind = -1, noise | NOISE_NIK, kind | KIND_NIK_KOSONG
    elif u < STALE_NIK_EMPTY + STALE_NIK_TYPO:
        place = 10 ** (15 - int(rng.integers(6, 12)))  # a DDMMYY digit
        digit = nik // place % 10
        nik += ((digit + int(rng.integers(1, 10))) % 10 - digit) * place
        noise, kind = noise | NOISE_NIK, kind | KIND_NIK_SALAH
    _add_record(b, stale, rng, nik=nik, noise=noise, noise_kind=kind)
    return a.index, _primary_record(a, person), b.index, rec, "orang_sama"


def _write_initial(p: _Province, vocab: Vocab) -> None:
    write_voters(
        p.folder / "voters.csv", p.recs, p.pop, p.regions, vocab, np.array(p.places, dtype=object)
    )
    _write_persons(
        p.folder / "truth" / "persons.csv",
        p.pop,
        np.arange(len(p.pop)),
        p.regions,
        vocab,
        p.places,
        "",
        header=True,
    )
    _write_voter_truth(p.folder / "truth", p.recs, p.pop)
    p.n_initial = len(p.pop)


@dataclass
class _Move:
    origin: int  # index of the province
    person: int
    dest: int


def _plan_moves(
    provs: list[_Province], months: list[str], voters: int, ref: date, rng: np.random.Generator
) -> dict[str, list[_Move]]:
    """The voters who move to another listed province in each period, chosen
    before the first period so that none of them has any other event."""
    k = max(MIN_MOVES, round(voters * MOVE_SHARE))
    plan: dict[str, list[_Move]] = {}
    for turn, month in enumerate(months):
        plan[month] = []
        for j in range(k):
            a, b = _route(provs, rng, j, turn)
            person = _pick_person(provs[a], ref, rng, clean=False)
            provs[a].frozen.append(person)
            plan[month].append(_Move(a, person, b))
    return plan


def _run_period(
    provs: list[_Province],
    period: str,
    moves: list[_Move],
    out_dir: Path,
    rng: np.random.Generator,
    move_rows: list[dict],
    first: bool,
    redeliver: bool,
) -> list[dict]:
    """One period of every province, the moves between them, the national
    landing files and each province's truth rows; returns the files' ledger."""
    n_before = {id(p): len(p.pop) for p in provs}
    for p in provs:
        p.events, p.promotions = p.sim.run(period)
    # Moves between listed provinces: the destination draws the row (its
    # identity columns are the person's there), the origin applies the same row.
    shadows: set[int] = set()
    pending = []
    for b, dest in enumerate(provs):
        mine = [mv for mv in moves if mv.dest == b]
        if not mine:
            continue
        copies = [_copy_into(provs[mv.origin], mv.person, dest, rng) for mv in mine]
        new = Population.concat(copies)
        new.hh[:] = int(dest.pop.hh.max()) + 1 + np.arange(len(mine))
        codes = new.origin_desa.tolist()
        arrived = dest.sim.arrive(new, codes, sumber="DUKCAPIL", hard_case=HARD_CASE_MOVE)
        for mv, ev in zip(mine, arrived, strict=True):
            away = provs[mv.origin].sim.move_away(mv.person, ev)
            shadows.add(id(away))
            pending.append((mv, ev, away))
    for p in provs:
        malformed = p.sim.malformed(
            max(3, round(len(p.events) * 0.003)), [e.sumber for e in p.events]
        )
        p.events = p.events + malformed
    assign_event_ids([e for p in provs for e in p.events if id(e) not in shadows], period, rng)
    for _, ev, away in pending:
        away.event_id = ev.event_id
    rows = []
    for p in provs:
        p.events = _order_by_event_id(p.events)
        _resolve_future(p.ls)
        drawn = [e for e in p.events if id(e) not in shadows]
        rows += render_rows(drawn, p.pop, p.regions, p.sim.vocab, p.places, p.rngs[5])
    rows.sort(key=lambda r: (r["sumber"], r["event_id"]))
    files = write_period(out_dir / "landing" / period, period, rows, redeliver=redeliver)
    file_name_of = _file_names(rows, files)
    for p in provs:
        held = Counter(file_name_of[(e.sumber, e.event_id)] for e in p.events)
        mine = [{**f, "rows": held[f["copy_of"] or f["file_name"]]} for f in files]
        truth: dict[str, list] = {"events": [], "changes": [], "outcomes": [], "files": []}
        _collect_truth(truth, period, p.events, p.promotions, mine, file_name_of)
        _append_truth(p.folder / "truth", truth, p.tally, first=first)
        p.joined.update({x: period for x in range(n_before[id(p)], len(p.pop))})
    for mv, ev, away in pending:
        a, b = provs[mv.origin], provs[mv.dest]
        move_rows.append(
            {
                "period": period,
                "sumber": ev.sumber,
                "event_id": ev.event_id,
                "person_key": f"{a.kode}:{mv.person}",
                "kode_provinsi_asal": a.kode,
                "dpid_asal": away.outcome_dpid,
                "kode_wilayah_asal": away.origin,
                "kode_provinsi_tujuan": b.kode,
                "kode_wilayah": b.regions.desa_code[int(b.pop.desa[ev.person])],
            }
        )
    return files


def _file_names(rows: list[dict], files: list[dict]) -> dict[tuple[str, str], str]:
    """(sumber, event_id) -> the national file that carries the row (Dukcapil's
    rows are split over parts in event order; see landing._split)."""
    by_source: dict[str, list[str]] = {}
    for f in files:
        if not f["copy_of"]:
            by_source.setdefault(f["sumber"], []).append(f["file_name"])
    seen: Counter = Counter()
    out = {}
    for r in rows:
        names = by_source[r["sumber"]]
        out[(r["sumber"], r["event_id"])] = names[
            min(seen[r["sumber"]] // DUKCAPIL_FILE_ROWS, len(names) - 1)
        ]
        seen[r["sumber"]] += 1
    return out


def _write_movers_in(p: _Province, vocab: Vocab, months: list[str]) -> None:
    """Append the people who moved in during the periods to persons.csv, period by period."""
    people = np.array(sorted(p.joined), dtype=np.int64)
    for month in months:
        batch = people[[p.joined[x] == month for x in people.tolist()]] if len(people) else people
        if len(batch):
            persons_csv = p.folder / "truth" / "persons.csv"
            _write_persons(persons_csv, p.pop, batch, p.regions, vocab, p.places, month, False)


def _national_manifest(
    codes: list[str],
    shares: dict[str, int],
    voters: int,
    periods: int,
    start: str,
    seed: int,
    months: list[str],
    provs: list[_Province],
    move_rows: list[dict],
    pair_rows: list[dict],
    files: list[dict],
) -> dict:
    per_province = {
        p.kode: _manifest({}, p.recs, p.n_initial, len(p.joined), p.tally, p.ls)["counts"]
        for p in provs
    }
    relasi = Counter(r["relasi"] for r in pair_rows)
    return {
        "parameters": {
            "provinces": codes,
            "voters": voters,
            "voters_by_province": shares,
            "periods": periods,
            "start": start,
            "seed": seed,
            "period_list": months,
            "cutoffs": [period_bounds(p)[1].isoformat() for p in months],
        },
        "provinces": per_province,
        "national": {
            "voter_records": sum(c["voter_records"] for c in per_province.values()),
            "moves": len(move_rows),
            "moves_by_period": dict(sorted(Counter(r["period"] for r in move_rows).items())),
            "moves_by_route": dict(
                sorted(
                    Counter(
                        f"{r['kode_provinsi_asal']}>{r['kode_provinsi_tujuan']}" for r in move_rows
                    ).items()
                )
            ),
            "double_registrations": relasi["orang_sama"],
            "cross_province_twins": relasi["kembar"],
            "landing_rows": sum(f["rows"] for f in files if not f["copy_of"]),
            "files": len(files),
        },
    }
