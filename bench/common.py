"""What the benchmark's runs share: the scales, their cached data and
initialised warehouses, a period timed stage by stage, the floor, and the
machine and versions a result records.

`make bench` (bench/__main__.py), the scaling series (bench/scaling.py), the
national scale (bench/national.py) and the recordlinkage peer
(bench/peer.py) import these from here and not from one another. Data are
generated once and cached under `<home>/bench/`; a list is loaded once and
kept beside its data (`initialised.duckdb`, `init.json`). Only the standard
library is imported at module level: the project and its libraries are
imported where they are used, as the scaling points time those imports
apart (`imports_seconds`).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import sys
import time
from importlib.metadata import version
from pathlib import Path

SCALES = {
    # name: (voters, periods, province code). Two periods: the first after
    # init, then a month as every later one is (`make bench` times both).
    "small": (20_000, 1, "36"),
    "kabupaten": (1_000_000, 2, "36"),
    "banten": (8_900_000, 2, "36"),
    "jabar": (36_000_000, 2, "32"),  # Jawa Barat's own regencies and desa
    # Several provinces delivered as one nation (bench/national.py).
    "national": (3_000_000, 1, "11,31,36,51"),
}
PACKAGES = ("duckdb", "splink", "dbt-core", "dbt-duckdb", "great-expectations", "apache-airflow")


# --------------------------------------------------------------------------- memory


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Start this process's peak RSS (VmHWM) afresh, so a period's peak is its
    own and not init's or an earlier period's (Linux: clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        pass


def own_peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM): ru_maxrss carries the peak of the
    process it was forked from across exec (the peer's worker, say, started by
    a harness that has run a whole period)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


# --------------------------------------------------------------------------- data cache


def cached_data(home: Path, scale: str, seed: int) -> Path:
    voters, periods, province = SCALES[scale]
    return generated_once(home / "bench" / f"data-{scale}-{seed}", voters, periods, province, seed)


def generator_version() -> str:
    """A digest of the generator's code: data cached by an older generator
    (before twins were named alike, say) is not what this code makes."""
    import hashlib

    import pdpb.synth

    code = b"".join(p.read_bytes() for p in sorted(Path(pdpb.synth.__file__).parent.glob("*.py")))
    return hashlib.sha256(code).hexdigest()[:16]


def generated_once(out: Path, voters: int, periods: int, province: str, seed: int) -> Path:
    """A synthetic province in `out` (a national data set when `province`
    lists several, e.g. "31,32,36"), generated unless a finished one made by
    this generator's code is there (its digest beside the manifest); the
    generation's seconds and peak RSS are kept beside it (generated.json)."""
    from pdpb.synth import generate, generate_national

    stamp = out / "generator.version"
    current = f"{generator_version()} {voters} voters, {periods} periods, province {province}"
    fresh = stamp.exists() and stamp.read_text() == current
    if not ((out / "manifest.json").exists() and fresh):
        if out.exists():
            shutil.rmtree(out)
        started = time.perf_counter()
        if "," in province:
            generate_national(out, province.split(","), voters=voters, periods=periods,
                              start="2026-01", seed=seed)  # fmt: skip
        else:
            generate(out, province=province, voters=voters, periods=periods, start="2026-01",
                     seed=seed)  # fmt: skip
        seconds = time.perf_counter() - started
        (out / "generated.json").write_text(
            json.dumps({"seconds": round(seconds, 1), "peak_rss_mb": round(peak_rss_mb())})
        )
        stamp.write_text(current)
        print(f"generated {voters:,} voters in {seconds:.1f} s -> {out}", file=sys.stderr)
    return out


def periods_of(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "landing").iterdir())


def first_period(data: Path) -> str:
    return periods_of(data)[0]


# --------------------------------------------------------------------------- init cache


def initialised(data: Path) -> tuple[Path, dict, bool]:
    """The warehouse with `data`'s list loaded, init's record (seconds, rows,
    peak RSS) and whether both came from the cache; loaded once and kept
    beside the data (initialised.duckdb, init.json)."""
    from pdpb.config import Settings
    from pdpb.voterlist import init_voters

    db, record = data / "initialised.duckdb", data / "init.json"
    if db.exists() and record.exists():
        return db, json.loads(record.read_text()), True
    scratch = data.parent / f".init-{data.name}-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    settings = Settings.load(scratch)
    reset_peak_rss()  # init's own peak, not the generator's run just before in this process
    started = time.perf_counter()
    counts = init_voters(settings, data / "voters.csv")
    seconds = time.perf_counter() - started
    partial = db.with_name(f"{db.name}.{os.getpid()}.tmp")
    shutil.copyfile(settings.warehouse_path, partial)
    os.replace(partial, db)  # never a half-copied cache for a concurrent reader
    done = {"stage": "init", "seconds": round(seconds, 3), "rows": counts["rows_in"],
            "peak_rss_mb": round(own_peak_rss_mb())}  # fmt: skip
    record.write_text(json.dumps(done))
    shutil.rmtree(scratch, ignore_errors=True)
    return db, done, False


def start_from(source: Path, run_home: Path):
    """A fresh home at `run_home` whose warehouse is a copy of `source` (a
    warehouse file), or a copy of the home `source` (its warehouse, analysts'
    snapshot and dbt folder); its settings."""
    from pdpb.config import Settings

    if run_home.exists():
        shutil.rmtree(run_home)
    settings = Settings.load(run_home)
    if source.is_dir():
        base = Settings.load(source)
        for folder in (base.published_dir, base.dbt_target_dir.parent):
            if folder.exists():
                shutil.copytree(folder, run_home / folder.relative_to(source))
        source = base.warehouse_path
    settings.warehouse_path.parent.mkdir(parents=True)
    shutil.copyfile(source, settings.warehouse_path)
    return settings


def after_first_month(data: Path) -> Path:
    """A home with `data`'s list loaded and its first period run (reports
    left out), kept beside the data (`first-month/`): a later month starts
    from a copy, as every month after the first does."""
    from pdpb import pipeline

    home = data / "first-month"
    if (home / "done").exists():
        return home
    db, _, _ = initialised(data)
    scratch = data / f".first-month-{os.getpid()}"
    settings = start_from(db, scratch)
    period = first_period(data)
    shutil.copytree(data / "landing" / period, settings.landing_dir(period))
    pipeline.run_period(settings, period)
    shutil.rmtree(settings.reports_dir(period), ignore_errors=True)
    (scratch / "done").write_text(period)
    shutil.rmtree(home, ignore_errors=True)
    os.replace(scratch, home)
    return home


# --------------------------------------------------------------------------- timing


def time_period(settings, period: str, echo: bool = False) -> tuple[list[dict], int]:
    """Run the delivered `period` stage by stage; (one timing per stage and one
    for the whole period, the events ingest counted)."""
    from pdpb import pipeline

    cutoff = pipeline.resolve_cutoff(period, None)
    reset_peak_rss()
    pipeline.start_period(settings, period, cutoff)
    stages, events = [], 0
    period_started = time.perf_counter()
    for name, fn in pipeline.stages(settings, period, cutoff):
        started = time.perf_counter()
        result = pipeline.run_stage(settings, period, name, fn)
        seconds = time.perf_counter() - started
        stages.append(
            {"stage": name, "seconds": round(seconds, 3), "peak_rss_mb": round(own_peak_rss_mb())}
        )
        if echo:
            print(f"  {name:12} {seconds:8.2f} s", file=sys.stderr)
        if name == "ingest":
            events = result["rows_in"]
    pipeline.finish_period(settings, period)
    stages.append({"stage": "period", "seconds": round(time.perf_counter() - period_started, 3),
                   "peak_rss_mb": round(own_peak_rss_mb())})  # fmt: skip
    return stages, events


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


# --------------------------------------------------------------------------- what a result records


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def versions() -> dict:
    return {p: version(p) for p in PACKAGES}
