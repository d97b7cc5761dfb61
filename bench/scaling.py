"""`python -m bench.scaling --sizes A,B,C --events X,Y,Z`: how the cost of a period grows.

Two series, each point a whole period timed stage by stage as `make bench`
does (bench/common.py's helpers):

- list sizes: voter lists of sizes A, B, C (one generated province each,
  seed fixed) with the same number of events, min(X, Y, Z);
- event counts: the largest list, max(A, B, C), with X, Y and Z events
  (`--events-at N`: the list of size N, one of the sizes, instead).

A point is a month as every month after the first runs: the list's first
period is run once, whole (it writes the analysts' snapshot whole), and
kept beside the data (`first-month/`, bench/common.py's
`after_first_month`); each point starts from a copy of that home and times
the second period. The generator has no event-rate knob (its budget is about
1.1% of the voter count), so a point's events are a fixed-seed random
subsample of the second period's landing files, each file rewritten in its own format (encoding,
delimiter, line ends; the XLSX as a sheet "data"); a re-delivered copy keeps
the same rows, so it stays a copy. An event count is the number of distinct
event ids in the landing files, which is what ingest reports as `rows_in`.
A count above what the list's period holds is refused.

Each list is loaded once (`make bench`'s cache beside the data:
`initialised.duckdb` and `init.json`); each point runs in its own process, so that its peak RSS is its own. The libraries the
stages use (Great Expectations, Splink, dbt) are imported before the point's
clock starts and their import time is reported apart (`imports_seconds`):
it is the same at every size and would only blur the growth. Unlike `make
bench`, a point's first stages therefore do not pay for those imports. Data are cached
under `<home>/bench/` (lists of a `make bench` scale's size reuse that
scale's data); results go to `<home>/bench/scaling-<time>.json` and a table
is printed, with the growth exponent of each series (the slope of log time
against log size between its smallest and largest point: 1 is linear,
below 1 sub-linear).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import math
import random
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bench.common import (
    SCALES,
    after_first_month,
    cached_data,
    floor_seconds,
    generated_once,
    initialised,
    machine,
    periods_of,
    start_from,
    time_period,
    versions,
)

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("ingest", "gate_events", "link", "apply", "transform", "publish", "period")
# Imported before a point's clock starts (their time is reported apart as
# `imports_seconds`): a fixed cost of a fresh process that would blur the growth.
WARM_IMPORTS = ("pdpb.ingest", "pdpb.quality", "great_expectations", "linkage", "splink",
                "pdpb.apply", "pdpb.transform", "dbt.cli.main", "pdpb.publish", "openpyxl")  # fmt: skip


# --------------------------------------------------------------------------- data


def cached_list(home: Path, voters: int, seed: int) -> Path:
    """A generated province of `voters` voters and two periods, generated once."""
    for scale, (size, periods, _province) in SCALES.items():
        if size == voters and periods == 2:
            return cached_data(home, scale, seed)
    return generated_once(home / "bench" / f"data-v{voters}-{seed}", voters, 2, "36", seed)


def timed_period(data: Path) -> str:
    """The month a point times: the second, after the first has run whole."""
    return periods_of(data)[1]


def _read_csv(path: Path) -> tuple[list[list[str]], dict]:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        try:
            raw.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
    text = raw.decode(encoding)
    header = text.split("\n", 1)[0]
    fmt = {
        "encoding": encoding,
        "delimiter": ";" if header.count(";") > header.count(",") else ",",
        "lineterminator": "\r\n" if header.endswith("\r") else "\n",
    }
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=fmt["delimiter"]))
    return rows, fmt


def _write_csv(path: Path, rows: list[list[str]], fmt: dict) -> None:
    with path.open("w", encoding=fmt["encoding"], newline="") as fh:
        csv.writer(fh, delimiter=fmt["delimiter"], lineterminator=fmt["lineterminator"]).writerows(
            rows
        )


def _read_xlsx(path: Path) -> tuple[str, list[list]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        ws = wb["data"] if "data" in wb.sheetnames else wb.worksheets[0]
        return ws.title, [list(r) for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def _write_xlsx(path: Path, title: str, rows: list[list]) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title)
    for row in rows:
        ws.append(row)
    wb.save(path)


def _landing_rows(folder: Path) -> dict[Path, tuple[list[list], object]]:
    """{file: (rows with the header first, how to write it back)} of a landing folder."""
    files: dict[Path, tuple[list[list], object]] = {}
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix == ".csv":
            rows, fmt = _read_csv(path)
            files[path] = (rows, fmt)
        elif suffix == ".xlsx":
            title, rows = _read_xlsx(path)
            files[path] = (rows, title)
        else:
            raise ValueError(f"cannot subsample {path.name}: only .csv and .xlsx landing files")
        if not rows or "event_id" not in rows[0]:
            raise ValueError(f"{path.name} has no event_id column")
    return files


def event_ids(folder: Path) -> set[str]:
    """The distinct event ids of a landing folder (what ingest counts as rows_in)."""
    ids: set[str] = set()
    for rows, _ in _landing_rows(folder).values():
        col = rows[0].index("event_id")
        ids.update(str(r[col]) for r in rows[1:] if r)
    return ids


def subsample(src: Path, dst: Path, count: int, seed: int = 1) -> int:
    """Copy the landing folder `src` to `dst` keeping `count` of its events, chosen at
    random with `seed`; each file keeps its format. Returns the number kept."""
    files = _landing_rows(src)
    ids: set[str] = set()
    for rows, _ in files.values():
        col = rows[0].index("event_id")
        ids.update(str(r[col]) for r in rows[1:] if r)
    if count > len(ids):
        raise ValueError(f"{src} holds {len(ids):,} events, fewer than the {count:,} asked for")
    keep = set(random.Random(seed).sample(sorted(ids), count))
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for path, (rows, how) in files.items():
        col = rows[0].index("event_id")
        kept = [rows[0], *(r for r in rows[1:] if r and str(r[col]) in keep)]
        if path.suffix.lower() == ".csv":
            _write_csv(dst / path.name, kept, how)
        else:
            _write_xlsx(dst / path.name, how, kept)
    return len(keep)


def cached_landing(home: Path, data: Path, voters: int, count: int, seed: int) -> Path:
    """The timed period's landing of `data` cut to `count` events; a folder named as the period."""
    period = timed_period(data)
    out = home / "bench" / "scaling" / f"landing-v{voters}-e{count}-{seed}" / period
    if not (out.parent / "done").exists():
        subsample(data / "landing" / period, out, count, seed)
        (out.parent / "done").write_text(str(count))
    return out


# --------------------------------------------------------------------------- one point


def time_point(start: Path, run_home: Path, landing: Path) -> dict:
    """Start from a copy of the home `start`, deliver `landing`, run its period
    stage by stage; the timings."""
    started = time.perf_counter()
    for module in WARM_IMPORTS:
        importlib.import_module(module)
    imports_seconds = time.perf_counter() - started
    settings = start_from(start, run_home)
    period = landing.name
    shutil.copytree(landing, settings.landing_dir(period))
    stages, events = time_period(settings, period)
    return {
        "events": events,
        "imports_seconds": round(imports_seconds, 3),
        "floor_seconds": round(floor_seconds(settings.warehouse_path, period), 4),
        "stages": stages,
    }


def run_point(start: Path, run_home: Path, landing: Path, keep: bool = False) -> dict:
    """`time_point` in a fresh process (its own peak RSS); the run home is removed after."""
    out = run_home.with_name(run_home.name + ".json")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.scaling",
            "--point",
            *map(str, (start, run_home, landing, out)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise RuntimeError(f"point {run_home.name} failed: {proc.stderr.strip()[-3000:]}")
    if not keep:
        shutil.rmtree(run_home, ignore_errors=True)
    return json.loads(out.read_text())


# --------------------------------------------------------------------------- series


def run(
    home: Path,
    sizes: list[int],
    events: list[int],
    seed: int = 7,
    keep: bool = False,
    events_at: int | None = None,
) -> dict:
    """Both series; a point shared by the two is run once. The event series
    runs on the list of size `events_at` (default: the largest)."""
    sizes, events = sorted(sizes), sorted(events)
    fixed_events, fixed_size = events[0], sizes[-1] if events_at is None else events_at
    if fixed_size not in sizes:
        raise SystemExit(f"--events-at {fixed_size:,} is not one of the sizes {sizes}")
    wanted = [(v, fixed_events, "sizes") for v in sizes]
    wanted += [(fixed_size, e, "events") for e in events if e != fixed_events]
    data = {v: cached_list(home, v, seed) for v in sizes}
    for v, e, _ in wanted:  # refuse impossible counts before any long run
        available = len(event_ids(data[v] / "landing" / timed_period(data[v])))
        if e > available:
            raise SystemExit(f"{v:,} voters give {available:,} events in a period; asked {e:,}")
    points, inits = [], {}
    for v in sizes:
        _, init, _ = initialised(data[v])
        inits[v] = round(init["seconds"], 3)
        start = after_first_month(data[v])
        for size, count, series in wanted:
            if size != v:
                continue
            landing = cached_landing(home, data[v], v, count, seed)
            run_home = home / "bench" / "scaling" / f"run-v{v}-e{count}"
            print(f"  {v:>12,} voters {count:>9,} events ...", file=sys.stderr, flush=True)
            point = run_point(start, run_home, landing, keep)
            point.update({"voters": v, "requested_events": count})
            point["series"] = (
                ["sizes", "events"] if (v == fixed_size and count == fixed_events) else [series]
            )
            points.append(point)
            print(
                f"  {'':>12} period {_seconds(point, 'period'):.2f} s", file=sys.stderr, flush=True
            )
    return {
        "sizes": sizes,
        "events": events,
        "fixed_events": fixed_events,
        "fixed_size": fixed_size,
        "seed": seed,
        "init_seconds": inits,
        "points": points,
        "growth": growth(points),
        "machine": _machine(),
        "finished_at": datetime.now().isoformat(timespec="seconds"),
    }


def _seconds(point: dict, stage: str) -> float:
    return next(s["seconds"] for s in point["stages"] if s["stage"] == stage)


def growth(points: list[dict]) -> dict:
    """Per series and stage: log(t_max/t_min) / log(x_max/x_min) between the end points."""
    out = {}
    for series, key in (("sizes", "voters"), ("events", "events")):
        pts = sorted((p for p in points if series in p["series"]), key=lambda p: p[key])
        if len(pts) < 2 or pts[0][key] == pts[-1][key]:
            continue
        lo, hi = pts[0], pts[-1]
        span = math.log(hi[key] / lo[key])
        out[series] = {
            s: round(math.log(_seconds(hi, s) / _seconds(lo, s)) / span, 2)
            for s in SHOWN
            if _seconds(lo, s) > 0 and _seconds(hi, s) > 0
        }
    return out


def _machine() -> dict:
    return {**machine(), "versions": versions()}


def table(result: dict) -> str:
    head = f"{'series':13} {'voters':>11} {'events':>8}" + "".join(f" {s:>11}" for s in SHOWN)
    lines = [
        f"seconds per stage; list sizes at {result['fixed_events']:,} events, "
        f"event counts at {result['fixed_size']:,} voters",
        head + f" {'peak MB':>8}",
    ]
    for p in sorted(result["points"], key=lambda p: (p["voters"], p["events"])):
        lines.append(
            f"{'+'.join(p['series']):13} {p['voters']:11,} {p['events']:8,}"
            + "".join(f" {_seconds(p, s):11.2f}" for s in SHOWN)
            + f" {p['stages'][-1]['peak_rss_mb']:8,}"
        )
    imports = [p["imports_seconds"] for p in result["points"]]
    lines.append(
        f"libraries imported before each point's clock: {min(imports):.1f}-{max(imports):.1f} s"
    )
    for series, slopes in result["growth"].items():
        label = "growth exponent vs " + ("list size" if series == "sizes" else "events")
        lines.append(
            f"{label:34}" + "".join(f" {slopes.get(s, float('nan')):11.2f}" for s in SHOWN)
        )
    return "\n".join(lines)


def _ints(text: str) -> list[int]:
    values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    if len(values) < 2:
        raise argparse.ArgumentTypeError("give at least two comma-separated numbers")
    return values


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--point"]:  # internal: one point in this process
        start, run_home, landing, out = (Path(a) for a in argv[1:5])
        out.write_text(json.dumps(time_point(start, run_home, landing)))
        return 0
    from pdpb.config import Settings

    parser = argparse.ArgumentParser(
        prog="python -m bench.scaling", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sizes", type=_ints, default=[20_000, 40_000, 80_000],
                        help="voter-list sizes, comma-separated (default 20000,40000,80000)")  # fmt: skip
    parser.add_argument("--events", type=_ints, default=[200, 400, 800],
                        help="event counts, comma-separated (default 200,400,800)")  # fmt: skip
    parser.add_argument("--events-at", type=int,
                        help="list size of the event series, one of SIZES (default: the largest)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", help="pipeline home (default: $PDPB_HOME or ./var)")
    parser.add_argument("--keep", action="store_true", help="keep each point's run home")
    args = parser.parse_args(argv)
    home = Settings.load(args.home).home
    result = run(home, args.sizes, args.events, args.seed, args.keep, args.events_at)
    out = home / "bench" / f"scaling-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=1))
    print(table(result))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
