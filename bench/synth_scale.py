"""`python -m bench.synth_scale --voters N --periods K`: what generating the data costs.

Runs `pdpb.synth.generate` in this process (so the peak RSS is the
generator's own) and prints wall seconds, peak RSS and events per period; one
JSON line is appended to `<out>/synth_scale.jsonl` so that runs can be
compared. The issue's target is Banten (province 36, 8.9 M voters, about
100,000 events per period) in under 15 minutes and 6 GB on a 2-core machine.
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
from collections import Counter
from datetime import datetime
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def events_per_period(manifest: dict) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for key, n in manifest["counts"]["events_by_period_source_type"].items():
        counts[key.split("|")[0]] += n
    return dict(sorted(counts.items()))


def measure(voters: int, periods: int, out: Path, province: str, seed: int) -> dict:
    from pdpb.synth import generate

    data = out / f"data-{province}-{voters}-{periods}-{seed}"
    if data.exists():
        shutil.rmtree(data)
    started = time.perf_counter()
    manifest = generate(
        data, province=province, voters=voters, periods=periods, start="2026-01", seed=seed
    )
    wall = time.perf_counter() - started
    return {
        "at": datetime.now().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "province": province,
        "voters": voters,
        "periods": periods,
        "seed": seed,
        "voter_records": manifest["counts"]["voter_records"],
        "persons": manifest["counts"]["persons_initial"] + manifest["counts"]["persons_moved_in"],
        "events_per_period": events_per_period(manifest),
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(peak_rss_mb()),
        "data_mb": round(sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) / 2**20),
        "output": str(data),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synth_scale", description=__doc__)
    parser.add_argument("--voters", type=int, required=True)
    parser.add_argument("--periods", type=int, default=1)
    parser.add_argument("--province", default="36")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("/tmp/pdpb-synth-scale"))
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    result = measure(args.voters, args.periods, args.out, args.province, args.seed)
    if not args.keep:
        shutil.rmtree(result["output"])
    with (args.out / "synth_scale.jsonl").open("a") as fh:
        fh.write(json.dumps(result, sort_keys=True) + "\n")
    print(
        f"{args.voters:,} voters x {args.periods} period(s): {result['wall_seconds']} s wall, "
        f"peak RSS {result['peak_rss_mb']:,} MB, events per period {result['events_per_period']}, "
        f"{result['data_mb']:,} MB written",
        file=sys.stderr,
    )
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
