"""`python -m bench.link_only --home H --period P`: the link stage alone, on a home
whose period has been ingested (e.g. `<home>/bench/run-banten` after `make bench
SCALE=banten`). Reads the events and the reference and runs `linkage.link_events`
as the stage does (`pdpb.linking.link_decisions`), and prints wall seconds,
peak RSS and the decisions; the step timings are logged by the stage itself. Only the name forms that
the warehouse lacks are written (as the stage does); the decisions are not.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from collections import Counter


def main(argv: list[str] | None = None) -> int:
    from pdpb.config import Settings
    from pdpb.linking import link_decisions
    from pdpb.warehouse import connect

    parser = argparse.ArgumentParser(prog="python -m bench.link_only", description=__doc__)
    parser.add_argument("--home", required=True)
    parser.add_argument("--period", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    settings = Settings.load(args.home)
    started = time.perf_counter()
    con = connect(settings)
    try:
        events, matches = link_decisions(con, settings, args.period)
    finally:
        con.close()
    result = {
        "events": events.num_rows,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "decisions": dict(Counter(matches.column("decision").to_pylist())),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
