"""`make bench SCALE=...`: what one period costs, stage by stage.

Generates the scale's synthetic data once (cached under `<home>/bench/`),
loads the initial list into a fresh warehouse, then runs the first period's
stages one by one, timing each (wall seconds, rows per second, the period's
peak RSS so far), and the next month's the same way when the scale has one
(`next_month`: a month as every later one runs, with the analysts' snapshot
and dbt's parsed project already there). A floor is measured in the same run: a plain DuckDB hash
join of the period's events to the voter list on NIK, the least work any
period can do; every stage is also reported as a ratio to it. Results are
written as JSON under `<home>/bench/` and printed as a table. The scale
`national` times a national period instead, sequential against parallel
(bench/national.py). The scales, the caches and the timing helpers it shares
with the other runs are in bench/common.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

from bench.common import (
    SCALES,
    cached_data,
    first_period,
    floor_seconds,
    initialised,
    machine,
    peak_rss_mb,
    periods_of,
    start_from,
    time_period,
    versions,
)


def run(
    scale: str,
    seed: int,
    home: Path,
    dedupe: bool = True,
    with_peer: bool = True,
    init_only: bool = False,
    anchor: bool = True,
) -> dict:
    data = cached_data(home, scale, seed)
    if scale == "national":
        from bench import national

        if init_only:
            return {"scale": scale, "init": national.initialised_provinces(data)[1]}
        return national.run(home, data, seed, anchor=anchor)
    period = first_period(data)
    # The initial list is loaded once per cached data set: later runs start
    # from a copy of the initialised warehouse and report the measured init.
    db, init, cached = initialised(data)
    stages: list[dict] = [{**init, "cached": True} if cached else init]
    if init_only:
        return {"scale": scale, "init": init}
    settings = start_from(db, home / "bench" / f"run-{scale}")
    period_stages, events = _delivered_and_timed(settings, data, period)
    stages += period_stages
    # The next month as every later one runs: the list and the analysts'
    # snapshot already there, dbt's project already parsed.
    month = None
    if len(periods_of(data)) > 1:
        next_period = periods_of(data)[1]
        print(f"next month, {next_period}:", file=sys.stderr)
        month_stages, month_events = _delivered_and_timed(settings, data, next_period)
        month = {"period": next_period, "events": month_events, "stages": month_stages}
    if dedupe:
        from pdpb.dedupe import run_dedupe

        started = time.perf_counter()
        found = run_dedupe(settings)
        seconds = time.perf_counter() - started
        print(f"  {'dedupe':12} {seconds:8.2f} s", file=sys.stderr)
        stages.append({"stage": "dedupe", "seconds": round(seconds, 3), "rows": found["voters"],
                       "peak_rss_mb": round(peak_rss_mb()), "proposals": found["proposals"]})  # fmt: skip
    quality = evaluate_quality(settings, data, period, dedupe)
    floor = floor_seconds(settings.warehouse_path, period)
    _rates(stages, events, floor)
    result = {
        "scale": scale, "voters": SCALES[scale][0], "events": events, "period": period, "seed": seed,
        "floor_seconds": round(floor, 4), "stages": stages, "quality": quality,
        "machine": machine(), "versions": versions(),
        "finished_at": datetime.now().isoformat(timespec="seconds"),
    }  # fmt: skip
    if month is not None:
        month["floor_seconds"] = round(floor_seconds(settings.warehouse_path, month["period"]), 4)
        _rates(month["stages"], month["events"], month["floor_seconds"])
        result["next_month"] = month
    if with_peer:
        from bench import peer

        # The peer links the same task at a scale it can finish (kabupaten at most).
        peer_data = (
            data if scale in ("small", "kabupaten") else cached_data(home, "kabupaten", seed)
        )
        result["peer"] = peer.run_fresh(home, peer_data)
    return result


def _delivered_and_timed(settings, data: Path, period: str) -> tuple[list[dict], int]:
    """Deliver `period`'s landing files and time its stages (bench.common's
    time_period); the whole period's row carries the events."""
    shutil.copytree(data / "landing" / period, settings.landing_dir(period))
    stages, events = time_period(settings, period, echo=True)
    for s in stages:
        s["rows"] = events if s["stage"] == "period" else None
    return stages, events


def _rates(stages: list[dict], events: int, floor: float) -> None:
    for s in stages:
        rows = s["rows"] if s["rows"] is not None else events
        s["rows_per_second"] = round(rows / s["seconds"]) if s["seconds"] else None
        s["ratio_to_floor"] = round(s["seconds"] / floor, 1) if floor else None


def evaluate_quality(settings, data: Path, period: str, dedupe: bool) -> dict:
    """The period's links and, when run, the dedupe proposals against the
    generator's truth: precision, recall, review share, wrongful TMS by the
    relation they confused (`pdpb linkage evaluate`, `pdpb dedupe evaluate`)."""
    from pdpb.evaluation import evaluate

    linked = evaluate(settings, data / "truth", period)
    keys = ("precision", "recall", "recall_if_review_decided", "review_share", "wrongful_links",
            "wrong_links_by_relation", "wrongful_tms", "wrongful_tms_by_relation",
            "promotions_expected", "promotions_made")  # fmt: skip
    quality = {"link": {k: linked[k] for k in keys}}
    if dedupe:
        from pdpb.dedupe import evaluate_dedupe

        found = evaluate_dedupe(settings, data / "truth")
        keys = ("auto", "auto_precision", "review", "review_true", "recall_if_review_decided",
                "wrongful_tms", "wrongful_tms_by_relation", "review_by_relation")  # fmt: skip
        quality["dedupe"] = {k: found[k] for k in keys}
    return quality


def quality_table(quality: dict) -> str:
    from pdpb.evaluation import format_relations

    link = quality["link"]
    lines = [
        f"link: precision {link['precision']:.4f}, recall {link['recall']:.4f} "
        f"({link['recall_if_review_decided']:.4f} if review is decided), review "
        f"{link['review_share']:.2%}, wrong links {link['wrongful_links']} "
        f"({format_relations(link['wrong_links_by_relation'])}), wrongful TMS "
        f"{link['wrongful_tms']} ({format_relations(link['wrongful_tms_by_relation'])})"
    ]
    if "dedupe" in quality:
        d = quality["dedupe"]
        lines.append(
            f"dedupe: AUTO {d['auto']:,} at precision {d['auto_precision']:.4f}, REVIEW "
            f"{d['review']:,} ({d['review_true']:,} duplicates; two people: "
            f"{format_relations(d['review_by_relation'])}), recall if review is decided "
            f"{d['recall_if_review_decided']:.4f}, wrongful TMS 2 {d['wrongful_tms']} "
            f"({format_relations(d['wrongful_tms_by_relation'])})"
        )
    return "\n".join(lines)


def table(result: dict) -> str:
    lines = [
        f"scale {result['scale']}: {result['voters']:,} voters, {result['events']:,} events, period {result['period']}",
        f"floor (DuckDB hash join on NIK): {result['floor_seconds']:.4f} s",
        f"{'stage':12} {'seconds':>9} {'rows/s':>10} {'x floor':>9} {'peak MB':>8}",
    ]
    lines += _stage_lines(result["stages"])
    if month := result.get("next_month"):
        lines += [
            f"next month {month['period']}: {month['events']:,} events, floor "
            f"{month['floor_seconds']:.4f} s",
            *_stage_lines(month["stages"]),
        ]
    return "\n".join(lines)


def _stage_lines(stages: list[dict]) -> list[str]:
    return [
        f"{s['stage']:12} {s['seconds']:9.2f} {s['rows_per_second'] or 0:10,} "
        f"{s['ratio_to_floor'] or 0:9,.0f} {s['peak_rss_mb']:8,}"
        for s in stages
    ]


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
    parser.add_argument(
        "--no-anchor", action="store_true",
        help="national: skip the big province run alone that anchors the model",
    )  # fmt: skip
    args = parser.parse_args()
    # The link stage logs the seconds of each of its steps: reading its
    # inputs (pdpb.pipeline), then linking them (linkage.link).
    steps = logging.StreamHandler(sys.stderr)
    steps.addFilter(lambda record: record.getMessage().startswith("link: "))
    for name in ("pdpb.pipeline", "linkage.link"):
        logging.getLogger(name).setLevel(logging.INFO)
        logging.getLogger(name).addHandler(steps)
    home = Settings.load(args.home).home
    result = run(
        args.scale, args.seed, home, dedupe=not args.no_dedupe, with_peer=not args.no_peer,
        init_only=args.init_only, anchor=not args.no_anchor,
    )  # fmt: skip
    if args.init_only:
        print(json.dumps(result))
        return 0
    out = home / "bench" / f"result-{args.scale}-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=1, default=str))
    if args.scale == "national":
        from bench import national

        print(national.table(result))
        print(f"\nresults: {out}")
        return 0
    print(table(result))
    print(quality_table(result["quality"]))
    if "peer" in result:
        from bench import peer

        print(peer.table(result["peer"]))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
