"""The peer: the Python Record Linkage Toolkit on our link task, scored like our linker.

`run(home, data)` starts a fresh warehouse under `<home>/bench/peer-<data
name>/` with the list of `data` (a generator's output; loaded once and cached
beside it as `make bench` does), ingests the period's landing files, and then
links the same events to the same reference twice:

- ours: the link stage (`pipeline.link`, under `run_stage` as in a period),
  scored by `pdpb.evaluation.evaluate` against the generator's truth;
- the peer: `recordlinkage` 0.16 in the configuration of
  bench/peer_worker.py, run as a subprocess in its own environment on the
  events and reference exported as Parquet with the link stage's own queries,
  its links scored with the same truth reading and the same definitions
  (pairwise precision = right links / links, recall = right links / events
  whose person is on the list).

Both clocks span inputs at rest to decisions at rest: ours the whole link
stage (it reads the warehouse and writes core.matches), the peer's its
reading of the Parquet files, its linking and its writing of the links. The
peer's linking alone (`link_seconds`) and the lower ratio it gives
(`peer_link_seconds_over_ours`) are reported beside them.

Why a subprocess: recordlinkage 0.16 (its latest release) requires
pandas < 3 and the project pins pandas 3, so the peer lives in its own
virtual environment pinned by bench/peer-constraints.txt (`make peer`). The
peer's Python is `$PDPB_PEER_PYTHON`, else `.venv/peer/bin/python` in the
checkout; without it, `run` returns `{"skipped": reason}`.

`python -m bench.peer --data DIR [--home H]` runs it alone and prints the
comparison (the data are e.g. `<home>/bench/data-<scale>-<seed>`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import first_period, initialised, start_from

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PEER_PYTHON = ROOT / ".venv" / "peer" / "bin" / "python"
CLASSIFIERS = ("ecm", "sum_rule")


def peer_python() -> Path:
    return Path(os.environ.get("PDPB_PEER_PYTHON") or DEFAULT_PEER_PYTHON)


def missing_reason() -> str | None:
    """Why the peer cannot run here, or None when its environment works."""
    python = peer_python()
    if not python.exists():
        return f"the peer's environment is not installed (no {python}; run `make peer`)"
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; "
         "print(' '.join(m for m in ('recordlinkage', 'pandas', 'pyarrow') if not u.find_spec(m)))"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    missing = probe.stdout.strip() if probe.returncode == 0 else probe.stderr.strip()[-300:]
    if missing:
        return f"the peer's environment {python} lacks {missing} (run `make peer`)"
    return None


def prepare(run_home: Path, data: Path, period: str | None = None):
    """A fresh home with `data`'s list loaded (from `make bench`'s cache of the
    initialised warehouse) and the period ingested; (settings, period)."""
    from pdpb import pipeline

    settings = start_from(initialised(data)[0], run_home)
    period = period or first_period(data)
    shutil.copytree(data / "landing" / period, settings.landing_dir(period))
    pipeline.start_period(settings, period, pipeline.resolve_cutoff(period, None))
    pipeline.run_stage(settings, period, "ingest", lambda: pipeline.ingest(settings, period))
    return settings, period


def export(settings, period: str, out: Path) -> tuple[Path, Path]:
    """The link stage's events and reference (`pdpb.linking.read_link_inputs`)
    as Parquet files in `out`."""
    import pyarrow.parquet as pq

    from pdpb.linking import read_link_inputs
    from pdpb.warehouse import connect

    out.mkdir(parents=True, exist_ok=True)
    events, reference = out / "events.parquet", out / "reference.parquet"
    con = connect(settings, read_only=True)
    try:
        event_table, reference_rows, _, _ = read_link_inputs(con, period)
        with pq.ParquetWriter(reference, reference_rows.schema) as writer:
            for batch in reference_rows:
                writer.write_batch(batch)
    finally:
        con.close()
    pq.write_table(event_table, events)
    return events, reference


def run_peer(events: Path, reference: Path, out: Path) -> dict:
    """Run the worker in the peer's environment; its timings plus the wall time."""
    started = time.perf_counter()
    proc = subprocess.run(
        [str(peer_python()), "-m", "bench.peer_worker", str(events), str(reference), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise RuntimeError(f"the peer failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    timings = json.loads(proc.stdout.strip().splitlines()[-1])
    timings["process_seconds"] = time.perf_counter() - started
    return timings


def read_links(path: Path) -> dict[str, dict[tuple[str, str], str]]:
    """{classifier: {(sumber, event_id): target_id}} from the worker's CSV."""
    import csv

    links: dict[str, dict[tuple[str, str], str]] = {name: {} for name in CLASSIFIERS}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            sumber, event_id = row["uid"].split("|", 1)
            links[row["classifier"]][(sumber, event_id)] = row["target_id"]
    return links


def score(
    links: dict[tuple[str, str], str],
    events: list[tuple[str, str]],
    period: str,
    truth_dir: Path,
    futures: dict | None = None,
) -> dict:
    """Pairwise precision and recall of one link per event, as `pdpb linkage evaluate`
    scores the link stage (`pdpb.evaluation.pairwise_scores`)."""
    from pdpb.evaluation import Link, _truth_persons, pairwise_scores

    truth, person_of = _truth_persons(Path(truth_dir))
    matches = [
        Link(period, s, e, "LINK" if (s, e) in links else "NEW", links.get((s, e)), None)
        for s, e in events
    ]
    return pairwise_scores(matches, truth, futures or {}, person_of)[0]


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


# Each linker runs this many times; the median time counts. Run to run, both
# vary by a third on this kind of shared 2-core machine.
REPEATS = 5


def _forget_period_names(settings) -> None:
    """Back to the name forms that init stored (those of the list), so that
    every run of our stage computes the period's new names as a real period's
    first run does."""
    from pdpb.warehouse import connect

    con = connect(settings)
    try:
        con.execute(
            """delete from core.name_forms where nama not in
               (select nama from core.voters where nama is not null
                union all select nama from core.future_voters where nama is not null)"""
        )
    finally:
        con.close()


def run(home: Path, data: Path, period: str | None = None, repeats: int = REPEATS) -> dict:
    """Our link stage and the peer on `data`'s period; times, scores and ratios.

    `data` is a generator output folder (voters.csv, landing/, truth/). Each
    linker runs `repeats` times on the same inputs, in turns; its median time counts
    (every run's time is kept), its scores are those of the last run (both
    are deterministic). The peer's scores and the ratios are given for both
    its classifiers (the indexing and comparisons, which take the time, are
    shared). Returns `{"skipped": reason}` when the peer's environment is
    missing."""
    from pdpb import pipeline
    from pdpb.evaluation import evaluate
    from pdpb.warehouse import connect

    reason = missing_reason()
    if reason:
        return {"skipped": reason}
    data = Path(data)
    run_home = Path(home) / "bench" / f"peer-{data.name}"
    settings, period = prepare(run_home, data, period)
    events_path, reference_path = export(settings, period, run_home / "peer")

    con = connect(settings, read_only=True)
    try:
        events = con.execute(
            "select sumber, event_id from core.events where period = ? order by all", [period]
        ).fetchall()
        voters = con.execute("select count(*) from core.voters").fetchone()[0]
    finally:
        con.close()

    # Both clocks start after the imports: the worker times itself once its
    # libraries (recordlinkage, pandas) are loaded, and Splink is loaded here
    # before our stage, with pandas, which pyarrow.compute imports on first use.
    import pandas  # noqa: F401

    import linkage  # noqa: F401

    # Rounds of one peer run then one of ours: a slower spell of the machine
    # then falls on both linkers, not on one of them.
    peer_out = run_home / "peer" / "links.csv"
    runs, ours_runs = [], []
    for _ in range(repeats):
        runs.append(run_peer(events_path, reference_path, peer_out))
        _forget_period_names(settings)
        started = time.perf_counter()
        pipeline.run_stage(settings, period, "link", lambda: pipeline.link(settings, period))
        ours_runs.append(time.perf_counter() - started)
    timings = sorted(runs, key=lambda t: t["end_to_end_seconds"])[len(runs) // 2]
    link_seconds = statistics.median(t["seconds"] for t in runs)
    links = read_links(peer_out)
    truth = data / "truth"
    peer_scores = {name: score(links[name], events, period, truth) for name in CLASSIFIERS}

    ours_seconds = statistics.median(ours_runs)
    ours = evaluate(settings, truth, period)
    ours_scores = {k: ours[k] for k in ("links", "true_pairs", "precision", "recall", "f1")}
    ours_scores["wrongful_links"] = ours["wrongful_links"]
    ours_scores["recall_if_review_decided"] = ours["recall_if_review_decided"]
    ours_scores["review"] = ours["review"]

    return {
        "data": data.name,
        "period": period,
        "voters": voters,
        "events": len(events),
        "repeats": repeats,
        "ours": {
            "seconds": round(ours_seconds, 3),
            "runs_seconds": [round(t, 3) for t in ours_runs],
            **ours_scores,
        },
        "peer": {
            "toolkit": "recordlinkage",
            "versions": timings["versions"],
            # Reading the Parquet inputs, linking, writing the links: the
            # span our stage's clock covers (it reads and writes the warehouse).
            "seconds": round(timings["end_to_end_seconds"], 3),
            "runs_seconds": [round(t["end_to_end_seconds"], 3) for t in runs],
            # From the loaded frames to the chosen links only (its own median).
            "link_seconds": round(link_seconds, 3),
            "process_seconds": round(timings["process_seconds"], 3),
            "stage_seconds": {
                k.removesuffix("_seconds"): round(timings[k], 3)
                for k in (
                    "read_seconds",
                    "prepare_seconds",
                    "index_seconds",
                    "compare_seconds",
                    "classify_seconds",
                    "write_seconds",
                )
            },
            "candidate_pairs": timings["candidate_pairs"],
            "peak_rss_mb": round(timings["peak_rss_mb"]),
            "scores": peer_scores,
        },
        # Above 1: ours is faster / more precise / finds more.
        "ratios": {
            "peer_seconds_over_ours": _ratio(timings["end_to_end_seconds"], ours_seconds),
            # The conservative one: the peer without its reading and writing,
            # ours with them.
            "peer_link_seconds_over_ours": _ratio(link_seconds, ours_seconds),
            **{
                name: {
                    "ours_precision_over_peer": _ratio(ours["precision"], s["precision"]),
                    "ours_recall_over_peer": _ratio(ours["recall"], s["recall"]),
                }
                for name, s in peer_scores.items()
            },
        },
    }


def run_fresh(home: Path, data: Path) -> dict:
    """`run` in a fresh Python process (`python -m bench.peer`), as the peer
    runs in its own: our stage's clock then does not depend on what the
    calling process did before (`make bench` has run a whole period and a
    whole-list dedupe by then; there our stage took 4.3 s against 2.3-3.0 s
    in a fresh process, for a reason not found: turning the garbage
    collector off made no difference)."""
    reason = missing_reason()
    if reason:
        return {"skipped": reason}
    out = Path(home) / "bench" / f"peer-{Path(data).name}.json"
    out.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.peer", "--data", str(data), "--home", str(home)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode or not out.exists():
        raise RuntimeError(f"bench.peer failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(out.read_text())


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(result: dict) -> str:
    if "skipped" in result:
        return f"peer skipped: {result['skipped']}"
    peer, ours, ratios = result["peer"], result["ours"], result["ratios"]
    lines = [
        f"link task {result['data']} {result['period']}: "
        f"{result['events']:,} events x {result['voters']:,} voters; "
        f"median of {result['repeats']} runs each",
        f"{'linker':26} {'seconds':>9} {'precision':>10} {'recall':>8} {'links':>7} {'wrong':>6}"
        f" {'P ours/peer':>12} {'R ours/peer':>12}",
        f"{'ours (link stage)':26} {ours['seconds']:9.2f} {ours['precision']:10.4f} "
        f"{ours['recall']:8.4f} {ours['links']:7,} {ours['wrongful_links']:6,}",
    ]
    for name in CLASSIFIERS:
        s = peer["scores"][name]
        lines.append(
            f"{'recordlinkage ' + name:26} {peer['seconds']:9.2f} {s['precision']:10.4f} "
            f"{s['recall']:8.4f} {s['links']:7,} {s['wrongful_links']:6,}"
            f" {_num(ratios[name]['ours_precision_over_peer']):>12}"
            f" {_num(ratios[name]['ours_recall_over_peer']):>12}"
        )
    lines.append(
        f"ours leaves {ours['review']:,} events to review; recall if each is decided: "
        f"{ours['recall_if_review_decided']:.4f}"
    )
    lines.append(
        f"peer: {peer['candidate_pairs']:,} candidate pairs, peak RSS {peer['peak_rss_mb']:,} MB, "
        f"seconds {peer['stage_seconds']}",
    )
    lines.append(
        f"time peer/ours {_num(ratios['peer_seconds_over_ours'])} (both from inputs at rest to "
        f"decisions at rest); {_num(ratios['peer_link_seconds_over_ours'])} with the peer's "
        f"reading and writing left out ({peer['link_seconds']:.2f} s)"
    )
    lines.append(f"runs: ours {ours['runs_seconds']} s, peer {peer['runs_seconds']} s")
    return "\n".join(lines)


def main() -> int:
    from pdpb.config import Settings

    parser = argparse.ArgumentParser(
        prog="python -m bench.peer", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", required=True, help="a generator output folder")
    parser.add_argument("--period", help="default: the first period in DATA/landing")
    parser.add_argument("--home", help="pipeline home (default: $PDPB_HOME or ./var)")
    parser.add_argument(
        "--repeats", type=int, default=REPEATS, help=f"runs of each linker (default {REPEATS})"
    )
    args = parser.parse_args()
    home = Settings.load(args.home).home
    result = run(home, Path(args.data), args.period, max(args.repeats, 1))
    print(table(result))
    if "skipped" in result:
        return 1
    out = home / "bench" / f"peer-{result['data']}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
