"""The synthetic data generator: one call writes a voter list, periods and truth.

`generate` builds the true population of a province, lists its voters with
registration noise, simulates K monthly periods of civil-registry and
coordination events, and writes the initial Sidalih export, the landing files
of every period and the ground truth the pipeline is scored against. It is
deterministic for a seed: every stage draws from its own child of one
`numpy.random.SeedSequence`, and files are written in a fixed order.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pdpb.config import PdpbError, next_period, parse_period
from pdpb.synth.events import Event, ListState, PeriodSimulator, init_state, period_bounds
from pdpb.synth.landing import (
    SOURCES,
    assign_event_ids,
    in_kabkota,
    render_rows,
    write_period,
)
from pdpb.synth.names import build_vocab
from pdpb.synth.population import (
    ALIVE,
    JOB_SIPIL,
    KAWIN_B,
    REL_CHILD,
    REL_HEAD,
    Population,
    assign_nik_serials,
    build_households,
    name_after_father,
    plant_twins,
    seventeenth_birthday,
    to_days,
    ymd,
)
from pdpb.synth.regions import Regions, load_regions
from pdpb.synth.render import digits, fmt_dates, place_names, render_identity
from pdpb.synth.voterlist import (
    NOISE_NIK,
    Records,
    build_records,
    listable,
    noise_labels,
    record_order,
    write_voters,
)

log = logging.getLogger(__name__)
DUPLICATE_SHARE = 0.0075
MINOR_SHARE = 0.0004
REL_NAMES = np.array(["KEPALA", "PASANGAN", "ORANG_TUA", "ANAK"], dtype=object)
JOB_NAMES = np.array(["SIPIL", "TNI", "POLRI"], dtype=object)
PERSON_CHUNK = 250_000
HOUSEHOLD_BLOCK = 500_000  # about 1.8 M people per draw


def generate(
    out_dir: Path,
    province: str = "36",
    voters: int = 50_000,
    periods: int = 3,
    start: str = "2026-01",
    seed: int = 7,
    nik_kosong: tuple[str, str, float] | None = None,
    kiriman_hilang: tuple[str, str] | None = None,
) -> dict:
    """Write voters.csv, landing/<period>/, truth/ and manifest.json under out_dir.

    Two data-quality incidents are opt-in (docs/synth.md, "Incidents"); without
    them the output is byte for byte what it was:
    - `nik_kosong=(period, sumber, share)`: in that period the source leaves
      the NIK empty in `share` of its rows instead of its usual share;
    - `kiriman_hilang=(period, kode_kabkota)`: the kab/kota (e.g. "36.03") is
      a blank-spot region that delivers its Dukcapil rows as an Excel file of
      its own every period, and in that period the file does not arrive; its
      rows come late, in the next period's file (or never, in the last period).

    Returns the manifest: parameters and counts (plus `elapsed_seconds`, which is
    kept out of manifest.json so that the file is identical for a seed)."""
    t0 = time.perf_counter()
    parse_period(start)
    if voters < 100 or periods < 1:
        raise PdpbError(f"synth needs at least 100 voters and 1 period (got {voters}, {periods})")
    _check_incidents(nik_kosong, kiriman_hilang)
    out_dir = Path(out_dir)
    (out_dir / "truth").mkdir(parents=True, exist_ok=True)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    regions = load_regions(province, rngs[0])
    vocab = build_vocab()
    y, m = parse_period(start)
    ref = date(y, m, 1) - timedelta(days=1)  # the initial list is the state at the previous cut-off

    months = [start]
    while len(months) < periods:
        months.append(next_period(months[-1]))
    pop = _population(voters, regions, vocab, ref, rngs[1], months)
    _progress(t0, f"population: {len(pop):,} people")
    listed = listable(pop, ref)
    n_base = int(listed.sum())
    n_minor = max(2, round(n_base * MINOR_SHARE))
    recs = build_records(
        pop, listed, max(0, voters - n_base - n_minor), regions, vocab, ref, rngs[2]
    )
    places = list(place_names(regions, []))
    n_initial_persons = len(pop)

    _progress(t0, f"voter records: {len(recs):,}")
    write_voters(out_dir / "voters.csv", recs, pop, regions, vocab, np.array(places, dtype=object))
    _progress(t0, "voters.csv written")
    _write_persons(
        out_dir / "truth" / "persons.csv",
        pop,
        np.arange(len(pop)),
        regions,
        vocab,
        places,
        "",
        header=True,
    )
    _progress(t0, "truth/persons.csv written")
    _write_voter_truth(out_dir / "truth", recs, pop)
    _progress(t0, "truth/voters.csv and duplicates.csv written")

    ls = init_state(pop, recs)
    sim = PeriodSimulator(pop, recs, ls, regions, vocab, places, rngs[3], voters)
    tally = _Tally()
    period_list, period = [], start
    joined: dict[int, str] = {}
    blank_spot = kiriman_hilang[1] if kiriman_hilang else None
    late: list[tuple[Event, str, dict]] = []  # a blank spot's rows that did not arrive
    for i in range(periods):
        n_before = len(pop)
        events, promotions = sim.run(period)
        malformed = sim.malformed(max(3, round(len(events) * 0.003)), [e.sumber for e in events])
        all_events = events + malformed
        assign_event_ids(all_events, period, rngs[4])
        all_events = _order_by_event_id(all_events)
        _resolve_future(ls)
        spike = {nik_kosong[1]: nik_kosong[2]} if nik_kosong and nik_kosong[0] == period else None
        rows = render_rows(all_events, pop, regions, vocab, places, rngs[5], spike)
        truth: dict[str, list] = {"events": [], "changes": [], "outcomes": [], "files": []}
        if blank_spot is None:
            files = write_period(
                out_dir / "landing" / period, period, rows, redeliver=i == min(1, periods - 1)
            )
            _collect_truth(truth, period, all_events, promotions, files)
        else:
            late = _blank_spot_period(
                out_dir, truth, period, all_events, promotions, rows, late,
                blank_spot, missing=kiriman_hilang[0] == period, redeliver=i == min(1, periods - 1),
            )  # fmt: skip
        _append_truth(out_dir / "truth", truth, tally, first=i == 0)
        joined.update({p: period for p in range(n_before, len(pop))})
        period_list.append(period)
        _progress(t0, f"period {period}: {len(all_events):,} events")
        # Freed before the next period is drawn, not after: they are 100,000s of objects.
        del events, promotions, malformed, all_events, rows, truth
        period = next_period(period)

    new_people = np.array(sorted(joined), dtype=np.int64)
    for p in period_list:
        batch = (
            new_people[[joined[i] == p for i in new_people.tolist()]]
            if len(new_people)
            else new_people
        )
        if len(batch):
            persons_csv = out_dir / "truth" / "persons.csv"
            _write_persons(persons_csv, pop, batch, regions, vocab, places, p, header=False)
    _write_rekap(out_dir / "truth" / "rekap_kabkota.csv", tally.rekap, regions, period_list)

    params = locals_for_manifest(province, voters, periods, start, seed, period_list)
    if nik_kosong or kiriman_hilang:  # only then: the manifest of a plain run stays as it was
        params["insiden"] = {"nik_kosong": nik_kosong, "kiriman_hilang": kiriman_hilang}
    manifest = _manifest(
        params,
        recs,
        n_initial_persons,
        len(new_people),
        tally,
        ls,
    )
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return {**manifest, "elapsed_seconds": round(time.perf_counter() - t0, 2)}


def _check_incidents(
    nik_kosong: tuple[str, str, float] | None, kiriman_hilang: tuple[str, str] | None
) -> None:
    if nik_kosong:
        period, sumber, share = nik_kosong
        parse_period(period)
        if sumber not in SOURCES or not 0 <= share <= 1:
            raise PdpbError(
                f"nik_kosong needs a source of {', '.join(SOURCES)} and a share in 0..1 "
                f"(got {sumber}, {share})"
            )
    if kiriman_hilang:
        period, kabkota = kiriman_hilang
        parse_period(period)
        if not re.fullmatch(r"\d{2}\.\d{2}", kabkota):
            raise PdpbError(f"kiriman_hilang needs a kab/kota code like 36.03 (got {kabkota!r})")


def _blank_spot_period(
    out_dir: Path,
    truth: dict,
    period: str,
    events: list[Event],
    promotions: list[dict],
    rows: list[dict],
    late: list[tuple[Event, str, dict]],
    kabkota: str,
    missing: bool,
    redeliver: bool,
) -> list[tuple[Event, str, dict]]:
    """Write a period in which `kabkota` delivers its Dukcapil rows as its own
    Excel file, with the rows that did not arrive last period at its end (late
    events, applied now); when `missing`, the file does not arrive and this
    period's rows of the kab/kota are returned to come next period. The truth
    follows the delivery: an event belongs to the period whose files carry it."""
    held = {
        j
        for j, (ev, row) in enumerate(zip(events, rows, strict=True))
        if ev.sumber == "DUKCAPIL" and in_kabkota(row, kabkota)
    }
    file_name_of: dict[tuple[str, str], str] = {}
    own = [rows[j] for j in sorted(held)] + [row for _, _, row in late]
    files = write_period(
        out_dir / "landing" / period, period, rows, redeliver, kabkota,
        None if missing else own, file_name_of,
    )  # fmt: skip
    duplicate_of = [
        f"{events[ev.duplicate_of].sumber}|{events[ev.duplicate_of].event_id}"
        if ev.duplicate_of >= 0
        else ""
        for ev in events
    ]
    delivered = [
        (ev, duplicate_of[j]) for j, ev in enumerate(events) if j not in held or not missing
    ]
    if not missing:
        for ev, dup, _ in late:
            ev.is_late = True  # dated last period, delivered in this one
            delivered.append((ev, dup))
    _collect_truth(truth, period, [], promotions, files, file_name_of, delivered)
    if missing:
        return [(events[j], duplicate_of[j], rows[j]) for j in sorted(held)]
    return []


def _progress(t0: float, what: str) -> None:
    # Stage times and peak memory, for bench/synth_scale.py and anyone scaling up.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log.info("%7.1f s  peak %6.0f MB  %s", time.perf_counter() - t0, peak_mb, what)


def locals_for_manifest(
    province: str, voters: int, periods: int, start: str, seed: int, period_list: list[str]
) -> dict:
    return {
        "province": province,
        "voters": voters,
        "periods": periods,
        "start": start,
        "seed": seed,
        "period_list": period_list,
        "cutoffs": [period_bounds(p)[1].isoformat() for p in period_list],
    }


def _population(
    voters: int,
    regions: Regions,
    vocab,
    ref: date,
    rng: np.random.Generator,
    months: list[str],
    spread_young_spouses: bool = False,
) -> Population:
    """Households until the listed count reaches the target, then trimmed to it."""
    target = round(voters / (1 + DUPLICATE_SHARE)) - max(2, round(voters * MINOR_SHARE))
    # Households are drawn in blocks so that the temporaries of one draw stay small.
    blocks, listed, n_hh = [], 0, 0
    want = max(50, round(target / 2.1))
    while listed < target:
        size = min(HOUSEHOLD_BLOCK, want - n_hh) if n_hh < want else max(50, round(target / 8))
        block = build_households(
            min(size, HOUSEHOLD_BLOCK), regions, vocab, ref, rng, n_hh, spread_young_spouses
        )
        blocks.append(block)
        listed += int(listable(block, ref).sum())
        n_hh = int(block.hh.max()) + 1
    pop = Population.concat(blocks)
    per_hh = np.bincount(pop.hh, weights=listable(pop, ref))
    last_hh = int(np.searchsorted(np.cumsum(per_hh), target))
    pop.keep(np.flatnonzero(pop.hh <= last_hh))
    _plant_family_cases(pop, regions, vocab, ref, rng, months)
    pop.nik = assign_nik_serials(pop.nik)
    heads = np.flatnonzero(pop.member == 0)
    hh_nkk = assign_nik_serials(pop.nkk[heads])
    pop.nkk = hh_nkk[np.searchsorted(pop.hh[heads], pop.hh)]
    return pop


# Twin pairs and namesake fathers and sons a province has at least, so that a
# small one meets every family hard case: listed pairs for the deaths and
# marriages of each period, and one twin pair turning 17 in each period's month.
# Larger provinces draw more than enough.
TWIN_VOTER_PAIRS_PER_PERIOD = 3
TWIN_VOTER_PAIRS_EXTRA = 2
NAMESAKE_PAIRS_PER_PERIOD = 2
NAMESAKE_PAIRS_EXTRA = 1


def _plant_family_cases(
    pop: Population, regions: Regions, vocab, ref: date, rng: np.random.Generator, months: list[str]
) -> None:
    """Turn a few households' children into twins, or a son into his father's
    namesake, where too few were drawn. Works on index arrays of households and
    pairs, not on columns of the population's size: at province scale this runs
    while the population is the largest thing in memory."""
    ref_day = to_days(ref)
    kec_digits = regions.kec_digits()
    listed = listable(pop, ref)

    def fit(rows: np.ndarray) -> np.ndarray:
        return (
            (pop.kawin[rows] == KAWIN_B)
            & (pop.job[rows] == JOB_SIPIL)
            & ~pop.revoked[rows]
            & (pop.death[rows] == ALIVE)
        )

    def aged(rows: np.ndarray, lo: float, hi: float) -> np.ndarray:
        age = (ref_day - pop.birth[rows]) / 365.25
        return (age >= lo) & (age < hi)

    def relist(rows: np.ndarray) -> None:
        listed[rows] = listable(pop.take(rows), ref)

    tw = np.flatnonzero(pop.twin)
    first_twin = tw[np.r_[True, pop.hh[tw[1:]] != pop.hh[tw[:-1]]]] if len(tw) else tw
    # A household's last two children (twins are always a household's last children).
    last = np.r_[np.flatnonzero(np.diff(pop.hh)), len(pop) - 1]
    last = last[(pop.rel[last] == REL_CHILD) & (pop.rel[last - 1] == REL_CHILD)]
    pairs = last - 1
    pairs = pairs[~pop.twin[last] & ~pop.junior[pairs] & ~pop.junior[last]]
    pairs = pairs[fit(pairs) & fit(pairs + 1)]

    voter_pairs = int((listed[first_twin] & listed[first_twin + 1]).sum())
    want = TWIN_VOTER_PAIRS_PER_PERIOD * len(months) + TWIN_VOTER_PAIRS_EXTRA - voter_pairs
    adults = pairs[aged(pairs, 20, 40) & aged(pairs + 1, 20, 40)]
    if want > 0 and len(adults):
        chosen = np.sort(rng.choice(adults, min(want, len(adults)), replace=False))
        plant_twins(pop, chosen, pop.birth[chosen], ref, kec_digits, vocab, rng)
        relist(np.r_[chosen, chosen + 1])
        pairs = np.setdiff1d(pairs, chosen)

    bday = seventeenth_birthday(pop.birth[first_twin])
    for month in months:
        first_day, last_day = (to_days(d) for d in period_bounds(month))
        turning = (bday >= first_day) & (bday <= last_day)
        if (turning & fit(first_twin) & fit(first_twin + 1)).any():
            continue
        teens = pairs[aged(pairs, 12, 22) & aged(pairs + 1, 12, 22)]
        if not len(teens):
            continue
        chosen = teens[int(rng.integers(len(teens)))]
        y, m = parse_period(month)
        born = to_days(date(y - 17, m, int(rng.integers(1, 29))))
        plant_twins(pop, np.array([chosen]), np.array([born]), ref, kec_digits, vocab, rng)
        relist(np.array([chosen, chosen + 1]))
        pairs = pairs[pairs != chosen]

    # A listed eldest son of a listed father, outside households with twins.
    heads = np.flatnonzero(pop.rel == REL_HEAD)
    children = np.flatnonzero(pop.rel == REL_CHILD)
    eldest = children[pop.rel[children - 1] != REL_CHILD]
    father = heads[np.searchsorted(heads, eldest, side="right") - 1]
    both_listed = listed[eldest] & listed[father]
    have = int((pop.junior[eldest] & both_listed).sum())
    want = NAMESAKE_PAIRS_PER_PERIOD * len(months) + NAMESAKE_PAIRS_EXTRA - have
    last_of = np.r_[np.flatnonzero(np.diff(pop.hh)), len(pop) - 1]
    twin_household = pop.twin[last_of[np.searchsorted(last_of, eldest)]]
    sons = eldest[
        both_listed
        & (pop.sex[eldest] == 0)
        & (pop.sex[father] == 0)
        & ~pop.junior[eldest]
        & ~twin_household
    ]
    if want > 0 and len(sons):
        name_after_father(pop, np.sort(rng.choice(sons, min(want, len(sons)), replace=False)))


def _twin_partners(pop: Population) -> dict[int, str]:
    """person -> the `;`-separated ids of their twins (or triplets)."""
    rows = np.flatnonzero(pop.twin)
    out: dict[int, str] = {}
    if not len(rows):
        return out
    # Rows of a household are contiguous and households ascend, so groups are runs.
    starts = np.r_[0, np.flatnonzero(np.diff(pop.hh[rows])) + 1]
    for group in np.split(rows, starts[1:]):
        ids = group.tolist()
        for person in ids:
            out[person] = ";".join(str(x) for x in ids if x != person)
    return out


def _order_by_event_id(events: list[Event]) -> list[Event]:
    """The events in file order, by (sumber, event_id), so that row order says
    nothing about the kind; `duplicate_of` indices follow them."""
    keys = [(ev.sumber, ev.event_id) for ev in events]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    position = {j: k for k, j in enumerate(order)}
    for ev in events:
        if ev.duplicate_of >= 0:
            ev.duplicate_of = position[ev.duplicate_of]
    return [events[j] for j in order]


def _resolve_future(ls: ListState) -> None:
    for person, ref in list(ls.future.items()):
        if isinstance(ref, Event):
            ls.future[person] = f"{ref.sumber}|{ref.event_id}"


def _collect_truth(
    truth: dict,
    period: str,
    events: list[Event],
    promotions: list[dict],
    files: list[dict],
    file_name_of: dict[tuple[str, str], str] | None = None,
    delivered: list[tuple[Event, str]] | None = None,
) -> None:
    """The period's truth rows; `file_name_of` names the file of each
    (sumber, event_id) where the files hold more than these events (national,
    a blank spot). `delivered`, when given, are the events with their
    `duplicate_of` key that the files carry (instead of `events`)."""
    file_of = {}
    for f in files:
        if not f["copy_of"]:
            file_of.setdefault(f["sumber"], []).append(f)
    counters = Counter()
    if delivered is None:
        delivered = [
            (
                ev,
                f"{events[ev.duplicate_of].sumber}|{events[ev.duplicate_of].event_id}"
                if ev.duplicate_of >= 0
                else "",
            )
            for ev in events
        ]
    for ev, duplicate_of in delivered:
        src_files = file_of[ev.sumber]
        pos = counters[ev.sumber]
        counters[ev.sumber] += 1
        # Dukcapil rows are split over files in event order; see landing._split.
        fname = (
            file_name_of[(ev.sumber, ev.event_id)]
            if file_name_of is not None
            else src_files[min(pos // 50_000, len(src_files) - 1)]["file_name"]
        )
        truth["events"].append(
            {
                "period": period,
                "sumber": ev.sumber,
                "event_id": ev.event_id,
                "file_name": fname,
                "jenis_peristiwa": ev.jenis,
                "person_id": ev.person,
                "dpids": ";".join(ev.dpids),
                "hard_case": ev.hard_case,
                "is_malformed": bool(ev.malformed),
                "malformed_reason": ev.malformed,
                "is_late": ev.is_late,
                "duplicate_of": duplicate_of,
            }
        )
        truth["outcomes"].append(
            {
                "period": period,
                "sumber": ev.sumber,
                "event_id": ev.event_id,
                "person_id": ev.person,
                "outcome": ev.outcome,
                "dpid": ev.outcome_dpid,
            }
        )
        for ch in ev.changes:
            truth["changes"].append(
                {
                    "period": period,
                    "sumber": ev.sumber,
                    "event_id": ev.event_id,
                    "person_id": ev.person,
                    **ch,
                }
            )
    truth["changes"].extend(promotions)
    truth["files"].extend(files)


VOTER_TRUTH_COLUMNS = (
    "dpid",
    "person_id",
    "is_primary",
    "primary_dpid",
    "dead_at_start",
    "minor_wrong_birth",
    "nik_wrong",
    "noise",
)
EVENT_COLUMNS = [
    "period",
    "sumber",
    "event_id",
    "file_name",
    "jenis_peristiwa",
    "person_id",
    "dpids",
    "hard_case",
    "is_malformed",
    "malformed_reason",
    "is_late",
    "duplicate_of",
]
OUTCOME_COLUMNS = ["period", "sumber", "event_id", "person_id", "outcome", "dpid"]
FILE_COLUMNS = ["period", "file_name", "sumber", "rows", "sha256", "copy_of"]
CHANGE_COLUMNS = [
    "period",
    "sumber",
    "event_id",
    "person_id",
    "dpid",
    "change_type",
    "tms_code",
    "rule",
    "changed_fields",
    "kode_wilayah",
    "jenis_kelamin",
]


def _write_csv(path: Path, rows: list[dict], columns: list[str], append: bool = False) -> None:
    with path.open("a" if append else "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, columns, lineterminator="\n")
        if not append:
            w.writeheader()
        for r in rows:
            w.writerow({c: _cell(r[c]) for c in columns})


def _bools(values: np.ndarray) -> pa.Array:
    # Arrow strings, not Python ones: a list of millions of "true" costs gigabytes.
    return pc.if_else(pa.array(np.asarray(values).astype(bool)), "true", "false")


def _cell(v: object) -> object:
    return ("true" if v else "false") if isinstance(v, bool | np.bool_) else v


@dataclass
class _Tally:
    """What the manifest and the recap need from the truth rows already written."""

    events: Counter = field(default_factory=Counter)  # period|sumber|jenis
    rules: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    rekap: Counter = field(default_factory=Counter)  # (period, kab/kota, change type, sex)
    files: int = 0


def _append_truth(folder: Path, truth: dict, tally: _Tally, first: bool) -> None:
    """One period's truth rows, appended so that memory does not grow with the periods."""
    append = not first
    _write_csv(folder / "events.csv", truth["events"], EVENT_COLUMNS, append)
    _write_csv(folder / "expected_outcomes.csv", truth["outcomes"], OUTCOME_COLUMNS, append)
    # The period leads the sort key, so sorting each period alone orders the whole file.
    changes = sorted(
        truth["changes"],
        key=lambda r: (r["period"], r["sumber"], r["event_id"], r["change_type"] != "TMS"),
    )
    _write_csv(folder / "expected_changes.csv", changes, CHANGE_COLUMNS, append)
    _write_csv(folder / "files.csv", truth["files"], FILE_COLUMNS, append)
    tally.events.update(
        f"{e['period']}|{e['sumber']}|{e['jenis_peristiwa']}" for e in truth["events"]
    )
    tally.rules.update(c["rule"] for c in changes)
    tally.outcomes.update(o["outcome"] for o in truth["outcomes"])
    tally.rekap.update(
        (c["period"], c["kode_wilayah"][:5], c["change_type"], c["jenis_kelamin"]) for c in changes
    )
    tally.files += len(truth["files"])


def _write_rekap(path: Path, counts: Counter, regions: Regions, period_list: list[str]) -> None:
    rekap = []
    for period in period_list:
        for kab in regions.kab_code:
            row = {"period": period, "kode_kabkota": kab}
            for ct in ("BARU", "TMS", "UBAH"):
                lo, pe = counts[(period, kab, ct, "L")], counts[(period, kab, ct, "P")]
                row.update({f"{ct.lower()}_l": lo, f"{ct.lower()}_p": pe, ct.lower(): lo + pe})
            rekap.append(row)
    _write_csv(path, rekap, list(rekap[0]))


def _write_persons(
    path: Path,
    pop: Population,
    idx: np.ndarray,
    regions: Regions,
    vocab,
    places: list[str],
    joined: str,
    header: bool,
) -> None:
    """The true people (identity at the start, or when they moved in)."""
    kec = np.array(regions.kec_code + [""], dtype=object)
    place_arr = np.array(places, dtype=object)
    partners = _twin_partners(pop)
    with path.open("wb" if header else "ab") as fh:
        for s in range(0, len(idx), PERSON_CHUNK):
            part = idx[s : s + PERSON_CHUNK]
            ident = render_identity(pop, part, regions, vocab, place_arr)
            death = pop.death[part]
            kembar_dengan = np.full(len(part), "", dtype=object)
            twins = np.flatnonzero(pop.twin[part])
            kembar_dengan[twins] = [partners[p] for p in part[twins].tolist()]
            cols = {
                "person_id": digits(part),
                "household_id": digits(pop.hh[part]),
                "hubungan": REL_NAMES[pop.rel[part]].tolist(),
                **ident,
                "kecamatan_terbit": _issuing_kecamatan(pop, part, kec),
                "pekerjaan": JOB_NAMES[pop.job[part]].tolist(),
                "hak_pilih_dicabut": _bools(pop.revoked[part]),
                "tanggal_meninggal": pc.if_else(
                    pa.array(death == ALIVE),
                    "",
                    pa.array(fmt_dates(np.minimum(death, 10**6), "iso"), pa.string()),
                ),
                "kembar": _bools(pop.twin[part]),
                "kembar_dengan": kembar_dengan.tolist(),
                "nama_sama_ayah": _bools(pop.junior[part]),
                "kode_wilayah_asal": pop.origin_desa[part].tolist(),
                "periode_masuk": [joined] * len(part),
            }
            table = pa.table({k: _text(vals) for k, vals in cols.items()})
            opts = pacsv.WriteOptions(include_header=header and s == 0, quoting_style="needed")
            pacsv.write_csv(table, fh, opts)


def _issuing_kecamatan(pop: Population, part: np.ndarray, kec: np.ndarray) -> list[str]:
    """xx.xx.xx of the NIK: the kecamatan of issue, or the origin's for people who moved in."""
    issued = kec[pop.kec_issue[part]]
    movers = np.flatnonzero(pop.kec_issue[part] < 0)
    issued[movers] = [o[:8] for o in pop.origin_desa[part[movers]].tolist()]
    return issued.tolist()


def _write_voter_truth(folder: Path, recs: Records, pop: Population) -> None:
    """truth/voters.csv and duplicates.csv, column-wise in dpid order."""
    order = record_order(recs)
    labels, kind = noise_labels(recs)
    columns = list(VOTER_TRUTH_COLUMNS)
    with (folder / "voters.csv").open("wb") as fh:
        fh.write((",".join(columns) + "\n").encode())
        for start in range(0, len(order), PERSON_CHUNK):
            rows = order[start : start + PERSON_CHUNK]
            primary = recs.primary[rows]
            cols = {
                "dpid": digits(recs.dpid[rows]),
                "person_id": digits(recs.person[rows]),
                "is_primary": _bools(primary == rows),
                "primary_dpid": digits(recs.dpid[primary]),
                "dead_at_start": _bools(recs.dead_at_start[rows]),
                "minor_wrong_birth": _bools(recs.minor[rows]),
                "nik_wrong": _bools(recs.noise[rows] & NOISE_NIK),
                "noise": pc.take(labels, pa.array(kind[rows])),
            }
            _append_csv(fh, cols)
    # A cluster is every record of a person with more than one, listed by its first dpid.
    dup_person = np.unique(recs.person[recs.primary != np.arange(len(recs))])
    rows = order[np.isin(recs.person[order], dup_person)]
    people = recs.person[rows].tolist()
    first: dict[int, int] = {}
    for person in people:
        first.setdefault(person, len(first))
    cluster_rank = np.array([first[x] for x in people], dtype=np.int64)
    rows = rows[np.argsort(cluster_rank, kind="stable")]
    with (folder / "duplicates.csv").open("wb") as fh:
        fh.write(b"cluster_id,dpid,person_id,is_primary\n")
        _append_csv(
            fh,
            {
                "cluster_id": pc.binary_join_element_wise(
                    "G", digits(recs.dpid[recs.primary[rows]]), ""
                ),
                "dpid": digits(recs.dpid[rows]),
                "person_id": digits(recs.person[rows]),
                "is_primary": _bools(recs.primary[rows] == rows),
            },
        )


def _append_csv(fh: BinaryIO, cols: dict) -> None:
    """Rows of a plain CSV like csv.DictWriter's: these cells never need quotes."""
    table = pa.table({k: _text(v) for k, v in cols.items()})
    pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="none"))


def _text(values: object) -> pa.Array:
    return values if isinstance(values, pa.Array) else pa.array(values, pa.string())


def _manifest(
    params: dict, recs: Records, n_persons: int, n_new: int, tally: _Tally, ls: ListState
) -> dict:
    return {
        "parameters": params,
        "counts": {
            "persons_initial": n_persons,
            "persons_moved_in": n_new,
            "voter_records": len(recs),
            "duplicate_records": int((recs.primary != np.arange(len(recs))).sum()),
            "dead_at_start": int(recs.dead_at_start.sum()),
            "minors_listed": int(recs.minor.sum()),
            "events": sum(tally.events.values()),
            "events_by_period_source_type": dict(sorted(tally.events.items())),
            "changes_by_rule": dict(sorted(tally.rules.items())),
            "outcomes": dict(sorted(tally.outcomes.items())),
            "files": tally.files,
            "future_voters_pending": len(ls.future),
        },
    }


__all__ = ["generate", "ymd"]
