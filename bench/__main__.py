"""`make bench SCALE=...`: what one period costs, stage by stage.

Generates the scale's synthetic data once (cached under `<home>/bench/`),
loads the initial list into a fresh warehouse, then runs the first period's
stages one by one, timing each (wall seconds, rows per second, the process's
peak RSS so far). A floor is measured in the same run: a plain DuckDB hash
join of the period's events to the voter list on NIK, the least work any
period can do; every stage is also reported as a ratio to it. Results are
written as JSON under `<home>/bench/` and printed as a table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import sys
import time
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

SCALES = {
    # name: (voters, periods, province code)
    "small": (20_000, 1, "36"),
    "kabupaten": (1_000_000, 1, "36"),
    "banten": (8_900_000, 1, "36"),
    "jabar": (36_000_000, 1, "32"),  # Jawa Barat's own regencies and desa
}
PACKAGES = ("duckdb", "splink", "dbt-core", "dbt-duckdb", "great-expectations", "apache-airflow")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cached_data(home: Path, scale: str, seed: int) -> Path:
    from pdpb.synth import generate

    voters, periods, province = SCALES[scale]
    out = home / "bench" / f"data-{scale}-{seed}"
    if not (out / "manifest.json").exists():
        if out.exists():
            shutil.rmtree(out)
        started = time.perf_counter()
        generate(out, province=province, voters=voters, periods=periods, start="2026-01", seed=seed)
        print(
            f"generated {scale} data in {time.perf_counter() - started:.1f} s -> {out}",
            file=sys.stderr,
        )
    return out


def floor_seconds(warehouse: Path, period: str) -> float:
    """The least work a period can do: join its events to the list on NIK."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    started = time.perf_counter()
    con.execute(
        "select count(*) from core.events e join core.voters v on e.nik = v.nik where e.period = ?",
        [period],
    ).fetchall()
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def run(
    scale: str,
    seed: int,
    home: Path,
    dedupe: bool = True,
    with_peer: bool = True,
    init_only: bool = False,
) -> dict:
    from pdpb import pipeline
    from pdpb.config import Settings
    from pdpb.voterlist import init_voters

    data = cached_data(home, scale, seed)
    run_home = home / "bench" / f"run-{scale}"
    if run_home.exists():
        shutil.rmtree(run_home)
    settings = Settings.load(run_home)
    period = sorted(p.name for p in (data / "landing").iterdir())[0]
    shutil.copytree(data / "landing" / period, settings.landing_dir(period))

    stages: list[dict] = []

    def timed(name: str, fn, rows: int | None = None) -> dict:
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        stages.append(
            {
                "stage": name,
                "seconds": round(seconds, 3),
                "rows": rows,
                "peak_rss_mb": round(peak_rss_mb()),
            }
        )
        print(f"  {name:12} {seconds:8.2f} s", file=sys.stderr)
        return result

    # The initial list is loaded once per cached data set: later runs start
    # from a copy of the initialised warehouse and report the measured init.
    initialised = data / "initialised.duckdb"
    init_record = data / "init.json"
    if initialised.exists() and init_record.exists():
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(initialised, settings.warehouse_path)
        stages.append({**json.loads(init_record.read_text()), "cached": True})
    else:
        counts = timed("init", lambda: init_voters(settings, data / "voters.csv"))
        stages[-1]["rows"] = counts["rows_in"]
        shutil.copyfile(settings.warehouse_path, initialised)
        init_record.write_text(json.dumps(stages[-1]))
    if init_only:
        return {"scale": scale, "init": stages[-1]}
    cutoff = pipeline.resolve_cutoff(period, None)
    pipeline.start_period(settings, period, cutoff)
    period_started = time.perf_counter()
    events = 0
    for name, fn in pipeline.stages(settings, period, cutoff):
        result = timed(
            name, lambda fn=fn, name=name: pipeline.run_stage(settings, period, name, fn)
        )
        if name == "ingest":
            events = result["rows_in"]
    pipeline.finish_period(settings, period)
    stages.append({"stage": "period", "seconds": round(time.perf_counter() - period_started, 3),
                   "rows": events, "peak_rss_mb": round(peak_rss_mb())})  # fmt: skip
    if dedupe:
        from pdpb.dedupe import run_dedupe

        found = timed("dedupe", lambda: run_dedupe(settings))
        stages[-1]["rows"] = found["voters"]
        stages[-1]["proposals"] = found["proposals"]
    floor = floor_seconds(settings.warehouse_path, period)
    for s in stages:
        rows = s["rows"] if s["rows"] is not None else events
        s["rows_per_second"] = round(rows / s["seconds"]) if s["seconds"] else None
        s["ratio_to_floor"] = round(s["seconds"] / floor, 1) if floor else None
    result = {
        "scale": scale, "voters": SCALES[scale][0], "events": events, "period": period, "seed": seed,
        "floor_seconds": round(floor, 4), "stages": stages,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "versions": {p: version(p) for p in PACKAGES},
        "finished_at": datetime.now().isoformat(timespec="seconds"),
    }  # fmt: skip
    if with_peer:
        from bench import peer

        # The peer links the same task at a scale it can finish (kabupaten at most).
        peer_data = (
            data if scale in ("small", "kabupaten") else cached_data(home, "kabupaten", seed)
        )
        result["peer"] = peer.run(home, peer_data)
    return result


def table(result: dict) -> str:
    lines = [
        f"scale {result['scale']}: {result['voters']:,} voters, {result['events']:,} events, period {result['period']}",
        f"floor (DuckDB hash join on NIK): {result['floor_seconds']:.4f} s",
        f"{'stage':12} {'seconds':>9} {'rows/s':>10} {'x floor':>9} {'peak MB':>8}",
    ]
    for s in result["stages"]:
        lines.append(
            f"{s['stage']:12} {s['seconds']:9.2f} {s['rows_per_second'] or 0:10,} "
            f"{s['ratio_to_floor'] or 0:9,.0f} {s['peak_rss_mb']:8,}"
        )
    return "\n".join(lines)


def main() -> int:
    from pdpb.config import Settings

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", help="pipeline home (default: $PDPB_HOME or ./var)")
    parser.add_argument("--no-dedupe", action="store_true", help="skip the whole-list dedupe")
    parser.add_argument("--no-peer", action="store_true", help="skip the recordlinkage peer")
    parser.add_argument(
        "--init-only", action="store_true", help="generate and load the cached list, then stop"
    )
    args = parser.parse_args()
    # The link stage logs the seconds of each of its steps.
    step_log = logging.getLogger("linkage.link")
    step_log.setLevel(logging.INFO)
    step_log.addHandler(logging.StreamHandler(sys.stderr))
    home = Settings.load(args.home).home
    result = run(
        args.scale, args.seed, home, dedupe=not args.no_dedupe, with_peer=not args.no_peer,
        init_only=args.init_only,
    )  # fmt: skip
    if args.init_only:
        print(json.dumps(result))
        return 0
    out = home / "bench" / f"result-{args.scale}-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=1))
    print(table(result))
    if "peer" in result:
        from bench import peer

        print(peer.table(result["peer"]))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
