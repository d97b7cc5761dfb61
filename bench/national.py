"""`make bench SCALE=national`: a national period, sequential against parallel.

The national data set (`generate_national`, several provinces delivered as
one nation) is generated once and cached under `<home>/bench/` as the other
scales are (bench/common.py's `cached_data`), and each province's list is
loaded once into a cached warehouse beside its data (bench/common.py's
`initialised`). The first period then runs twice, each time in a fresh
process on fresh copies of those warehouses: with the provinces one at a
time (`jobs=1`, sequential) and two at a time (`jobs=2`, parallel). Each run
times routing, each province's period (wall seconds and the peak RSS of its
own process, `pdpb.national.run.run_province`), the provinces' phase as a
whole, reconciliation, the national marts (dbt) and the national publish,
then scores the national home against the data set's truth
(`evaluate_national`). The two runs must give the same national recap.

The national set stays at a few million voters (about a million a
province), which generates and loads in minutes. One big province anchors the model: the
`banten` scale's list (8.9 M voters, cached as `make bench SCALE=banten`
caches it) runs its first period alone, as a province of a national run
does (`run_province`). From the sequential run's provinces and that anchor
a linear model is fitted (seconds of a province's period and its peak RSS
against its voters) and projected onto the national list: 38 provinces
sized as the DPT 2024 list scaled to the national total, on N workers that
each run one province at a time, the largest first (`projection`).
bench/README.md gives the figures and the assumptions.
"""

from __future__ import annotations

import heapq
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    cached_data,
    first_period,
    initialised,
    machine,
    own_peak_rss_mb,
    start_from,
    versions,
)

ROOT = Path(__file__).resolve().parents[1]
MODES = {"sequential": 1, "parallel": 2}
ANCHOR_SCALE = "banten"
# The national list the projection is for (issue "The national list").
NATIONAL_VOTERS = 212_000_000
NATIONAL_EVENTS = 2_000_000  # a month
WORKERS = (1, 4, 8, 16)


# --------------------------------------------------------------------------- one run


def national_home(run_home: Path, dbs: dict[str, Path], landing: Path):
    """A fresh national home at `run_home`: each province's warehouse a copy of
    its initialised one, the period's national deliveries in its landing."""
    from pdpb.config import Settings
    from pdpb.national.home import PROVINCES_DIR

    if run_home.exists():
        shutil.rmtree(run_home)
    for kode, db in sorted(dbs.items()):
        start_from(db, run_home / PROVINCES_DIR / kode)
    settings = Settings.load(run_home)
    shutil.copytree(landing, settings.landing_dir(landing.name))
    return settings


def _events(home, period: str) -> int:
    from pdpb.warehouse import connect

    con = connect(home, read_only=True)
    try:
        return con.execute(
            "select count(*) from core.events where period = ?", [period]
        ).fetchone()[0]
    finally:
        con.close()


def _recap(settings, period: str) -> dict | None:
    import duckdb

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        cursor = con.execute("select * from marts.rpt_rekap_nasional where period = ?", [period])
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
    finally:
        con.close()
    return None if row is None else {n: v for n, v in zip(names, row, strict=True)}


def time_national(
    run_home: Path, dbs: dict[str, Path], landing: Path, truth: Path, jobs: int
) -> dict:
    """One national period on fresh copies of `dbs`, step by step; the timings."""
    from pdpb.national.evaluation import evaluate_national
    from pdpb.national.home import province_homes
    from pdpb.national.publish import publish_national
    from pdpb.national.reconcile import reconcile_period
    from pdpb.national.route import route_period
    from pdpb.national.run import run_provinces
    from pdpb.transform import build_national_marts

    settings = national_home(run_home, dbs, landing)
    period = landing.name
    steps: list[dict] = []

    def timed(step: str, fn, **extra):
        started = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - started
        steps.append({"step": step, "seconds": round(seconds, 3), "peak_mb": round(own_peak_rss_mb()),
                      **{k: f(out) for k, f in extra.items()}})  # fmt: skip
        print(f"  jobs={jobs} {step:10} {seconds:8.2f} s", file=sys.stderr, flush=True)
        return out

    route = timed("route", lambda: route_period(settings, period),
                  rows=lambda r: r["rows_in"], moves=lambda r: r["moves"])  # fmt: skip
    homes = province_homes(settings)
    ran = timed("provinces", lambda: run_provinces(settings, homes, period, jobs))
    rec = timed("reconcile", lambda: reconcile_period(settings, period),
                moves=lambda r: r["moves"], ganda=lambda r: r["ganda_proposed"])  # fmt: skip
    if rec["provinces_completed"]:
        timed("marts", lambda: build_national_marts(settings))
    timed("publish", lambda: publish_national(settings, period))
    provinces = {
        kode: {**r, "events": _events(homes[kode], period), "routed": route["provinces"][kode]}
        for kode, r in ran.items()
    }
    return {
        "jobs": jobs,
        "steps": steps,
        "seconds": round(sum(s["seconds"] for s in steps), 3),
        "provinces": provinces,
        "reconcile": rec,
        "recap": _recap(settings, period),
        "evaluation": evaluate_national(settings, truth),
    }


def run_fresh(run_home: Path, dbs: dict[str, Path], landing: Path, truth: Path, jobs: int) -> dict:
    """`time_national` in a fresh process (the steps' peak RSS is its own)."""
    spec = {"run_home": str(run_home), "dbs": {k: str(v) for k, v in dbs.items()},
            "landing": str(landing), "truth": str(truth), "jobs": jobs}  # fmt: skip
    out = run_home.with_name(run_home.name + ".json")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.national", json.dumps(spec), str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=None,
        check=False,
    )
    if proc.returncode:
        raise RuntimeError(f"the national run with jobs={jobs} failed (exit {proc.returncode})")
    return json.loads(out.read_text())


def time_anchor(home: Path, seed: int) -> dict:
    """The `ANCHOR_SCALE` province's first period alone, in its own process,
    on a copy of its cached initialised list: run_province's result, its
    voters and events."""
    from pdpb.national.run import run_province

    data = cached_data(home, ANCHOR_SCALE, seed)
    db, init, _ = initialised(data)
    period = first_period(data)
    run_home = home / "bench" / "run-national-anchor"
    settings = start_from(db, run_home)
    shutil.copytree(data / "landing" / period, settings.landing_dir(period))
    result = run_province(settings, period)
    result.update(scale=ANCHOR_SCALE, voters=init["rows"], events=_events(settings, period))
    shutil.rmtree(run_home, ignore_errors=True)
    print(f"  anchor {ANCHOR_SCALE} {init['rows']:,} voters {result['seconds']:8.2f} s",
          file=sys.stderr, flush=True)  # fmt: skip
    return result


# --------------------------------------------------------------------------- the scale


def initialised_provinces(data: Path) -> tuple[dict[str, Path], dict[str, dict]]:
    """Each province's list of the national data set `data` loaded once into a
    warehouse cached beside its data; (code -> warehouse, code -> init's record)."""
    dbs, inits = {}, {}
    for folder in sorted(p for p in (data / "provinces").iterdir() if (p / "voters.csv").exists()):
        db, init, cached = initialised(folder)
        dbs[folder.name], inits[folder.name] = db, {**init, "cached": cached}
        print(f"  init {folder.name} {init['rows']:>11,} voters {init['seconds']:8.2f} s"
              + (" (cached)" if cached else ""), file=sys.stderr, flush=True)  # fmt: skip
    return dbs, inits


def run(
    home: Path,
    data: Path,
    seed: int,
    keep: bool = False,
    modes: dict | None = None,
    anchor: bool = True,
) -> dict:
    """Both runs on the national data set `data` (generated and cached by the
    caller), then, with `anchor`, the big province that anchors the model."""
    period = first_period(data)
    dbs, inits = initialised_provinces(data)
    runs = {}
    for mode, jobs in (modes or MODES).items():
        run_home = home / "bench" / f"run-national-{mode}"
        runs[mode] = run_fresh(run_home, dbs, data / "landing" / period, data / "truth", jobs)
        if not keep:
            shutil.rmtree(run_home, ignore_errors=True)
    recaps = [r["recap"] for r in runs.values()]
    voters = {k: inits[k]["rows"] for k in sorted(inits)}
    result = {
        "scale": "national",
        "provinces": sorted(voters),
        "voters": sum(voters.values()),
        "voters_by_province": voters,
        "events": next(iter(runs.values()))["steps"][0]["rows"],
        "period": period,
        "seed": seed,
        "generation": _generation(data),
        "init": inits,
        "runs": runs,
        "recaps_identical": recaps[0] is not None and all(r == recaps[0] for r in recaps),
        "machine": machine(),
        "versions": versions(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    base = runs.get("sequential") or next(iter(runs.values()))
    points = [{**r, "voters": voters[k]} for k, r in sorted(base["provinces"].items())]
    if anchor:
        result["anchor"] = time_anchor(home, seed)
        points.append(result["anchor"])
    result["model"] = fit(points)
    result["projection"] = projection(result["model"], base, result["voters"])
    return result


def _generation(data: Path) -> dict | None:
    record = data / "generated.json"
    return json.loads(record.read_text()) if record.exists() else None


# --------------------------------------------------------------------------- model


def _line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares intercept and slope of ys against xs."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    return my - slope * mx, slope


def fit(runs: list[dict]) -> dict:
    """A province's period against its size, from provinces run one at a time
    (none shares the machine), each a `run_province` result with its
    `voters` and `events`: seconds = a + b * voters in millions, peak MB =
    m0 + m1 * voters in millions. Events are about a fixed share of each
    list in the generated data, so their own cost cannot be told apart from
    the list's and is folded into b."""
    points = [(r["voters"] / 1e6, r["seconds"], r["peak_mb"], r["events"])
              for r in runs if not r.get("skipped")]  # fmt: skip
    xs = [p[0] for p in points]
    a, b = _line(xs, [p[1] for p in points])
    m0, m1 = _line(xs, [p[2] for p in points])
    return {
        "points": [
            {"voters_m": round(v, 4), "seconds": s, "peak_mb": m, "events": e}
            for v, s, m, e in points
        ],  # fmt: skip
        "seconds_a": round(a, 2),
        "seconds_b_per_million": round(b, 2),
        "peak_mb_0": round(m0),
        "peak_mb_per_million": round(m1),
        "events_per_voter": round(sum(p[3] for p in points) / (sum(xs) * 1e6), 5),
    }


def national_sizes(total: int = NATIONAL_VOTERS) -> dict[str, int]:
    """The 38 provinces at their DPT 2024 proportions, scaled to `total`."""
    from pdpb.synth.national import DPT_2024

    dpt = sum(DPT_2024.values())
    return {k: round(v * total / dpt) for k, v in DPT_2024.items()}


def schedule(durations: list[float], workers: int) -> float:
    """Wall seconds of the jobs on `workers` machines, one job each at a time,
    the longest first, each started on the machine free first."""
    free = [0.0] * workers
    for d in sorted(durations, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free)


def projection(model: dict, run: dict, bench_voters: int, workers=WORKERS) -> dict:
    """The national period on N workers: each province's period from the
    model, scheduled largest first; route scaled by events, reconciliation by
    voters (its join reads every province's identity columns), the national
    marts and publish as measured (their input is one row per kab/kota)."""
    sizes = national_sizes()
    seconds = {
        k: model["seconds_a"] + model["seconds_b_per_million"] * v / 1e6 for k, v in sizes.items()
    }
    peak = {
        k: model["peak_mb_0"] + model["peak_mb_per_million"] * v / 1e6 for k, v in sizes.items()
    }
    step = {s["step"]: s for s in run["steps"]}
    central = {
        "route": step["route"]["seconds"] * NATIONAL_EVENTS / step["route"]["rows"],
        "reconcile": step["reconcile"]["seconds"] * NATIONAL_VOTERS / bench_voters,
        "marts": step.get("marts", {}).get("seconds", 0.0),
        "publish": step["publish"]["seconds"],
    }
    largest = max(sizes, key=sizes.get)
    central_seconds = sum(central.values())
    rows = []
    for n in workers:
        provinces = schedule(list(seconds.values()), n)
        rows.append({
            "workers": n,
            "work_per_worker": round(sum(seconds.values()) / n),
            "provinces_wall": round(provinces),
            "bounded_by": "largest province" if provinces <= seconds[largest] + 1e-6 else "total work",
            "wall": round(provinces + central_seconds),
        })  # fmt: skip
    return {
        "voters": sum(sizes.values()),
        "events": NATIONAL_EVENTS,
        "largest": {
            "kode": largest,
            "voters": sizes[largest],
            "seconds": round(seconds[largest]),
            "peak_mb": round(peak[largest]),
        },  # fmt: skip
        "total_work": round(sum(seconds.values())),
        "central": {k: round(v, 1) for k, v in central.items()},
        "rows": rows,
    }


# --------------------------------------------------------------------------- output


def table(result: dict) -> str:
    runs = result["runs"]
    lines = [
        f"scale national: provinces {','.join(result['provinces'])}, {result['voters']:,} voters "
        f"({', '.join(f'{k} {v:,}' for k, v in result['voters_by_province'].items())}), "
        f"{result['events']:,} events, period {result['period']}",
        f"{'step':16} " + " ".join(f"{m + ' s':>13} {'peak MB':>8}" for m in runs),
    ]
    names = [s["step"] for s in next(iter(runs.values()))["steps"]]
    for name in names:
        cells = []
        for r in runs.values():
            s = next(s for s in r["steps"] if s["step"] == name)
            cells.append(f"{s['seconds']:13.2f} {s['peak_mb']:8,}")
        lines.append(f"{name:16} " + " ".join(cells))
        if name == "provinces":
            for kode in result["provinces"]:
                cells = [
                    f"{r['provinces'][kode].get('seconds', 0):13.2f} "
                    f"{r['provinces'][kode].get('peak_mb', 0):8,}"
                    for r in runs.values()
                ]
                lines.append(f"  provinsi {kode:6} " + " ".join(cells))
    lines.append(
        f"{'national period':16} " + " ".join(f"{r['seconds']:13.2f} {'':8}" for r in runs.values())
    )
    ev = next(iter(runs.values()))["evaluation"]
    lines.append(f"national recaps identical: {result['recaps_identical']}; evaluation: "
                 + json.dumps({k: v for k, v in ev.items() if not isinstance(v, dict | list)}))  # fmt: skip
    if "anchor" in result:
        a = result["anchor"]
        lines.append(f"anchor: {a['scale']} alone, {a['voters']:,} voters, {a['events']:,} events: "
                     f"{a['seconds']:.2f} s, {a['peak_mb']:,} MB")  # fmt: skip
    m = result["model"]
    lines.append(
        f"model: seconds = {m['seconds_a']} + {m['seconds_b_per_million']} x voters (M); "
        f"peak MB = {m['peak_mb_0']} + {m['peak_mb_per_million']} x voters (M); "
        f"{m['events_per_voter']:.2%} events per voter"
    )
    p = result["projection"]
    lines.append(
        f"projection: {p['voters']:,} voters in 38 provinces, {p['events']:,} events; largest "
        f"{p['largest']['kode']} {p['largest']['voters']:,}: {p['largest']['seconds']:,} s, "
        f"{p['largest']['peak_mb']:,} MB; central steps {p['central']}"
    )
    lines.append(
        f"{'workers':>8} {'work/worker s':>14} {'provinces s':>12} {'wall s':>8}  bounded by"
    )
    for r in p["rows"]:
        lines.append(f"{r['workers']:8} {r['work_per_worker']:14,} {r['provinces_wall']:12,} "
                     f"{r['wall']:8,}  {r['bounded_by']}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Internal: one national run in this process (`run_fresh`)."""
    argv = sys.argv[1:] if argv is None else argv
    spec, out = json.loads(argv[0]), Path(argv[1])
    result = time_national(
        Path(spec["run_home"]), {k: Path(v) for k, v in spec["dbs"].items()},
        Path(spec["landing"]), Path(spec["truth"]), spec["jobs"],
    )  # fmt: skip
    out.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
