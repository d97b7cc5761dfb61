"""The recordlinkage peer's link run, executed inside the peer's own environment.

`python -m bench.peer_worker EVENTS.parquet REFERENCE.parquet OUT.csv` links
each event (the link stage's input, exported from the warehouse by
bench/peer.py) to at most one record of the reference with the Python Record
Linkage Toolkit (`recordlinkage` 0.16) in a standard configuration:

- indexing, the union of: blocking on NIK; blocking on the birth date;
  a sorted neighbourhood (window 9) on the cleaned name within the desa;
- comparisons: NIK, NKK, birth date, sex and desa exact; name Jaro-Winkler
  >= 0.85 and address Jaro-Winkler >= 0.85 (binary, as ECM needs);
- classifier: the unsupervised ECM (expectation-conditional maximisation)
  classifier; and, for comparison, the toolkit's documented weighted-sum rule
  (a pair is a match when more than 3 comparisons agree);
- each event keeps the matching candidate with the highest ECM probability
  (the agreeing count for the sum rule), the lowest record id on a tie.

For a PINDAH event the desa compared is the one the person moved from
(`kode_wilayah_asal`), as in our link stage. The names and dates arrive
normalised by our ingest, so both linkers see the same values.

The script imports nothing from the project but bench/common.py, which
imports only the standard library (its environment has no PDPB):
recordlinkage 0.16 requires pandas < 3 while the project pins pandas 3, so it
runs in a separate virtual environment (`make peer`, bench/peer-constraints.txt).
It writes one row per linked event (`uid, target_id, probability, classifier`)
and prints its timings and peak RSS as one JSON object on stdout: `seconds`
from the loaded frames to the chosen links, `end_to_end_seconds` also
reading the Parquet inputs and writing the CSV (the span our link stage's
clock covers: it reads the warehouse and writes its decisions).
"""

from __future__ import annotations

import json
import sys
import time

from bench.common import own_peak_rss_mb

EXACT = ("nik", "nkk", "tanggal_lahir", "jenis_kelamin", "wilayah")
SUM_RULE_MIN = 4  # the toolkit's documentation: features.sum(axis=1) > 3


def _frame(df, id_col: str, region_col: str | None):
    import pandas as pd
    from recordlinkage.preprocessing import clean

    out = pd.DataFrame(index=pd.Index(df[id_col].astype(str).to_numpy(), name="id"))
    for col in ("nik", "nkk", "jenis_kelamin"):
        out[col] = df[col].to_numpy()
    out["tanggal_lahir"] = pd.to_datetime(df["tanggal_lahir"]).dt.strftime("%Y-%m-%d").to_numpy()
    region = df["kode_wilayah"]
    if region_col is not None:
        region = df[region_col].where(df[region_col].notna(), region)
    out["wilayah"] = region.to_numpy()
    out["nama"] = clean(df["nama"].fillna("")).replace("", None).to_numpy()
    out["alamat"] = clean(df["alamat"].fillna("")).replace("", None).to_numpy()
    return out


def link(events, reference) -> tuple[dict, dict]:
    """(best link per classifier: {name: DataFrame(uid, target_id, probability)}, timings)."""
    import recordlinkage as rl

    timings: dict[str, float] = {}
    started = time.perf_counter()
    events = events.assign(uid=events["sumber"] + "|" + events["event_id"])
    a = _frame(events, "uid", "kode_wilayah_asal")
    b = _frame(reference, "target_id", None)
    timings["prepare_seconds"] = time.perf_counter() - started

    step = time.perf_counter()
    indexer = rl.Index()
    indexer.block("nik")
    indexer.block("tanggal_lahir")
    indexer.sortedneighbourhood("nama", window=9, block_on=["wilayah"])
    pairs = indexer.index(a, b)
    timings["index_seconds"] = time.perf_counter() - step

    step = time.perf_counter()
    compare = rl.Compare()
    for col in EXACT:
        compare.exact(col, col, label=col)
    compare.string("nama", "nama", method="jarowinkler", threshold=0.85, label="nama")
    compare.string("alamat", "alamat", method="jarowinkler", threshold=0.85, label="alamat")
    features = compare.compute(pairs, a, b)
    timings["compare_seconds"] = time.perf_counter() - step

    step = time.perf_counter()
    ecm = rl.ECMClassifier(binarize=None)
    ecm_matches = ecm.fit_predict(features)
    probability = ecm.prob(features)
    timings["classify_seconds"] = time.perf_counter() - step

    agreeing = features.sum(axis=1)
    best = {
        "ecm": _best(probability.loc[ecm_matches]),
        "sum_rule": _best(agreeing[agreeing >= SUM_RULE_MIN]),
    }
    timings["seconds"] = time.perf_counter() - started
    timings["candidate_pairs"] = len(pairs)
    return best, timings


def _best(scores):
    """Per event, the candidate with the highest score (lowest target id on a tie)."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "uid": scores.index.get_level_values(0),
            "target_id": scores.index.get_level_values(1),
            "probability": scores.to_numpy(dtype=float),
        }
    )
    frame = frame.sort_values(["uid", "probability", "target_id"], ascending=[True, False, True])
    return frame.drop_duplicates("uid", keep="first").reset_index(drop=True)


def main(argv: list[str]) -> int:
    import pandas as pd

    if len(argv) != 3:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    events_path, reference_path, out_path = argv
    started = time.perf_counter()
    events = pd.read_parquet(events_path)
    reference = pd.read_parquet(reference_path)
    read_seconds = time.perf_counter() - started
    best, timings = link(events, reference)
    step = time.perf_counter()
    frames = [frame.assign(classifier=name) for name, frame in best.items()]
    pd.concat(frames, ignore_index=True).to_csv(out_path, index=False)
    timings["read_seconds"] = read_seconds
    timings["write_seconds"] = time.perf_counter() - step
    # Inputs at rest to links at rest, as our link stage is timed (it reads
    # the warehouse and writes core.matches).
    timings["end_to_end_seconds"] = read_seconds + timings["seconds"] + timings["write_seconds"]
    timings["peak_rss_mb"] = own_peak_rss_mb()
    timings["events"] = len(events)
    timings["reference"] = len(reference)
    import recordlinkage

    timings["versions"] = {"recordlinkage": recordlinkage.__version__, "pandas": pd.__version__}
    print(json.dumps(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
