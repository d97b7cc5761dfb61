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
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pdpb.config import PdpbError, next_period, parse_period
from pdpb.synth.events import Event, ListState, PeriodSimulator, init_state, period_bounds
from pdpb.synth.landing import assign_event_ids, render_rows, write_period
from pdpb.synth.names import build_vocab
from pdpb.synth.population import (
    ALIVE,
    Population,
    assign_nik_serials,
    build_households,
    ymd,
)
from pdpb.synth.regions import Regions, load_regions
from pdpb.synth.render import fmt_dates, place_names, render_identity
from pdpb.synth.voterlist import Records, build_records, listable, write_voters

DUPLICATE_SHARE = 0.0075
MINOR_SHARE = 0.0004
REL_NAMES = np.array(["KEPALA", "PASANGAN", "ORANG_TUA", "ANAK"], dtype=object)
JOB_NAMES = np.array(["SIPIL", "TNI", "POLRI"], dtype=object)
PERSON_CHUNK = 250_000


def generate(
    out_dir: Path,
    province: str = "36",
    voters: int = 50_000,
    periods: int = 3,
    start: str = "2026-01",
    seed: int = 7,
) -> dict:
    """Write voters.csv, landing/<period>/, truth/ and manifest.json under out_dir.

    Returns the manifest: parameters and counts (plus `elapsed_seconds`, which is
    kept out of manifest.json so that the file is identical for a seed)."""
    t0 = time.perf_counter()
    parse_period(start)
    if voters < 100 or periods < 1:
        raise PdpbError(f"synth needs at least 100 voters and 1 period (got {voters}, {periods})")
    out_dir = Path(out_dir)
    (out_dir / "truth").mkdir(parents=True, exist_ok=True)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    regions = load_regions(province, rngs[0])
    vocab = build_vocab()
    y, m = parse_period(start)
    ref = date(y, m, 1) - timedelta(days=1)  # the initial list is the state at the previous cut-off

    pop = _population(voters, regions, vocab, ref, rngs[1])
    listed = listable(pop, ref)
    n_base = int(listed.sum())
    n_minor = max(2, round(n_base * MINOR_SHARE))
    recs = build_records(
        pop, listed, max(0, voters - n_base - n_minor), regions, vocab, ref, rngs[2]
    )
    places = list(place_names(regions, []))
    n_initial_persons = len(pop)

    write_voters(out_dir / "voters.csv", recs, pop, regions, vocab, np.array(places, dtype=object))
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
    _write_voter_truth(out_dir / "truth", recs, pop)

    ls = init_state(pop, recs)
    sim = PeriodSimulator(pop, recs, ls, regions, vocab, places, rngs[3], voters)
    truth = {"events": [], "changes": [], "outcomes": [], "files": []}
    period_list, period = [], start
    joined: dict[int, str] = {}
    for i in range(periods):
        n_before = len(pop)
        events, promotions = sim.run(period)
        malformed = sim.malformed(max(3, round(len(events) * 0.003)))
        all_events = events + malformed
        assign_event_ids(all_events, period, rngs[4])
        # Files list rows by event id, so that row order says nothing about the kind.
        order = sorted(
            range(len(all_events)), key=lambda j: (all_events[j].sumber, all_events[j].event_id)
        )
        position = {j: k for k, j in enumerate(order)}
        for ev in all_events:
            if ev.duplicate_of >= 0:
                ev.duplicate_of = position[ev.duplicate_of]
        all_events = [all_events[j] for j in order]
        _resolve_future(ls)
        rows = render_rows(all_events, pop, regions, vocab, places, rngs[5])
        files = write_period(
            out_dir / "landing" / period, period, rows, redeliver=i == min(1, periods - 1)
        )
        _collect_truth(truth, period, all_events, promotions, files)
        joined.update({p: period for p in range(n_before, len(pop))})
        period_list.append(period)
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
    _write_truth_tables(out_dir / "truth", truth, regions, period_list)

    manifest = _manifest(
        locals_for_manifest(province, voters, periods, start, seed, period_list),
        recs,
        n_initial_persons,
        len(new_people),
        truth,
        ls,
    )
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return {**manifest, "elapsed_seconds": round(time.perf_counter() - t0, 2)}


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
    voters: int, regions: Regions, vocab, ref: date, rng: np.random.Generator
) -> Population:
    """Households until the listed count reaches the target, then trimmed to it."""
    target = round(voters / (1 + DUPLICATE_SHARE)) - max(2, round(voters * MINOR_SHARE))
    pop = build_households(max(50, round(target / 2.1)), regions, vocab, ref, rng, 0)
    while listable(pop, ref).sum() < target:
        more = build_households(
            max(50, round(target / 8)), regions, vocab, ref, rng, int(pop.hh.max()) + 1
        )
        pop.extend(more)
    per_hh = np.bincount(pop.hh, weights=listable(pop, ref))
    last_hh = int(np.searchsorted(np.cumsum(per_hh), target))
    pop = pop.take(np.flatnonzero(pop.hh <= last_hh))
    pop.nik = assign_nik_serials(pop.nik)
    heads = np.flatnonzero(pop.member == 0)
    hh_nkk = assign_nik_serials(pop.nkk[heads])
    pop.nkk = hh_nkk[np.searchsorted(pop.hh[heads], pop.hh)]
    return pop


def _resolve_future(ls: ListState) -> None:
    for person, ref in list(ls.future.items()):
        if isinstance(ref, Event):
            ls.future[person] = f"{ref.sumber}|{ref.event_id}"


def _collect_truth(
    truth: dict, period: str, events: list[Event], promotions: list[dict], files: list[dict]
) -> None:
    file_of = {}
    for f in files:
        if not f["copy_of"]:
            file_of.setdefault(f["sumber"], []).append(f)
    counters = Counter()
    for ev in events:
        src_files = file_of[ev.sumber]
        pos = counters[ev.sumber]
        counters[ev.sumber] += 1
        # Dukcapil rows are split over files in event order; see landing._split.
        fname = src_files[min(pos // 50_000, len(src_files) - 1)]["file_name"]
        dup = events[ev.duplicate_of] if ev.duplicate_of >= 0 else None
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
                "duplicate_of": f"{dup.sumber}|{dup.event_id}" if dup else "",
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


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: _cell(r[c]) for c in columns})


def _bools(values: np.ndarray) -> list[str]:
    return np.where(values, "true", "false").tolist()


def _cell(v: object) -> object:
    return ("true" if v else "false") if isinstance(v, bool | np.bool_) else v


def _write_truth_tables(
    folder: Path, truth: dict, regions: Regions, period_list: list[str]
) -> None:
    _write_csv(folder / "events.csv", truth["events"], list(truth["events"][0]))
    _write_csv(folder / "expected_outcomes.csv", truth["outcomes"], list(truth["outcomes"][0]))
    changes = sorted(
        truth["changes"],
        key=lambda r: (r["period"], r["sumber"], r["event_id"], r["change_type"] != "TMS"),
    )
    _write_csv(folder / "expected_changes.csv", changes, CHANGE_COLUMNS)
    _write_csv(
        folder / "files.csv",
        truth["files"],
        ["period", "file_name", "sumber", "rows", "sha256", "copy_of"],
    )
    counts = Counter(
        (c["period"], c["kode_wilayah"][:5], c["change_type"], c["jenis_kelamin"]) for c in changes
    )
    rekap = []
    for period in period_list:
        for kab in regions.kab_code:
            row = {"period": period, "kode_kabkota": kab}
            for ct in ("BARU", "TMS", "UBAH"):
                lo, pe = counts[(period, kab, ct, "L")], counts[(period, kab, ct, "P")]
                row.update({f"{ct.lower()}_l": lo, f"{ct.lower()}_p": pe, ct.lower(): lo + pe})
            rekap.append(row)
    _write_csv(folder / "rekap_kabkota.csv", rekap, list(rekap[0]))


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
    mode = "w" if header else "a"
    with path.open(mode, encoding="utf-8", newline="") as fh:
        for s in range(0, len(idx), PERSON_CHUNK):
            part = idx[s : s + PERSON_CHUNK]
            ident = render_identity(pop, part, regions, vocab, place_arr)
            death = pop.death[part]
            cols = {
                "person_id": part.astype(str).tolist(),
                "household_id": pop.hh[part].astype(str).tolist(),
                "hubungan": REL_NAMES[pop.rel[part]].tolist(),
                **ident,
                "kecamatan_terbit": [
                    c or o[:8]
                    for c, o in zip(
                        kec[pop.kec_issue[part]].tolist(),
                        pop.origin_desa[part].tolist(),
                        strict=True,
                    )
                ],
                "pekerjaan": JOB_NAMES[pop.job[part]].tolist(),
                "hak_pilih_dicabut": _bools(pop.revoked[part]),
                "tanggal_meninggal": [
                    d if a != ALIVE else ""
                    for d, a in zip(
                        fmt_dates(np.minimum(death, 10**6), "iso"), death.tolist(), strict=True
                    )
                ],
                "kembar": _bools(pop.twin[part]),
                "nama_sama_ayah": _bools(pop.junior[part]),
                "kode_wilayah_asal": pop.origin_desa[part].tolist(),
                "periode_masuk": [joined] * len(part),
            }
            table = pa.table({k: pa.array(vals, pa.string()) for k, vals in cols.items()})
            buf = pa.BufferOutputStream()
            pacsv.write_csv(
                table,
                buf,
                pacsv.WriteOptions(include_header=header and s == 0, quoting_style="needed"),
            )
            fh.write(buf.getvalue().to_pybytes().decode())


def _write_voter_truth(folder: Path, recs: Records, pop: Population) -> None:
    order = np.argsort(recs.dpid, kind="stable")
    rows, dup_rows = [], []
    for r in order.tolist():
        primary = int(recs.primary[r])
        rows.append(
            {
                "dpid": recs.dpid[r],
                "person_id": recs.person[r],
                "is_primary": primary == r,
                "primary_dpid": recs.dpid[primary],
                "dead_at_start": bool(recs.dead_at_start[r]),
                "minor_wrong_birth": bool(recs.minor[r]),
                "nik_wrong": bool(recs.noise[r] & 2),
                "noise": ";".join(recs.noise_kind.get(r, []))
                + (";umur_salah" if recs.minor[r] else ""),
            }
        )
    clusters = {}
    for r in order.tolist():
        clusters.setdefault(int(recs.person[r]), []).append(r)
    for person, members in sorted(clusters.items(), key=lambda kv: recs.dpid[kv[1][0]]):
        if len(members) > 1:
            for r in members:
                dup_rows.append(
                    {
                        "cluster_id": f"G{recs.dpid[recs.primary[r]]}",
                        "dpid": recs.dpid[r],
                        "person_id": person,
                        "is_primary": recs.primary[r] == r,
                    }
                )
    _write_csv(folder / "voters.csv", rows, list(rows[0]))
    _write_csv(
        folder / "duplicates.csv", dup_rows, ["cluster_id", "dpid", "person_id", "is_primary"]
    )


def _manifest(
    params: dict, recs: Records, n_persons: int, n_new: int, truth: dict, ls: ListState
) -> dict:
    events_by = Counter(
        f"{e['period']}|{e['sumber']}|{e['jenis_peristiwa']}" for e in truth["events"]
    )
    return {
        "parameters": params,
        "counts": {
            "persons_initial": n_persons,
            "persons_moved_in": n_new,
            "voter_records": len(recs),
            "duplicate_records": int((recs.primary != np.arange(len(recs))).sum()),
            "dead_at_start": int(recs.dead_at_start.sum()),
            "minors_listed": int(recs.minor.sum()),
            "events": len(truth["events"]),
            "events_by_period_source_type": dict(sorted(events_by.items())),
            "changes_by_rule": dict(sorted(Counter(c["rule"] for c in truth["changes"]).items())),
            "outcomes": dict(sorted(Counter(o["outcome"] for o in truth["outcomes"]).items())),
            "files": len(truth["files"]),
            "future_voters_pending": len(ls.future),
        },
    }


__all__ = ["generate", "ymd"]
