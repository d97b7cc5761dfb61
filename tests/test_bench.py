"""The benchmark's peer and scaling helpers on small generated data (no timings asserted)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from bench import peer, scaling
from pdpb import pipeline
from pdpb.config import Settings
from pdpb.voterlist import init_voters

PERIOD = "2026-01"


def _ingested(home: Path, data: Path, landing: Path) -> dict:
    settings = Settings.load(home)
    init_voters(settings, data / "voters.csv")
    shutil.copytree(landing, settings.landing_dir(PERIOD))
    pipeline.start_period(settings, PERIOD, pipeline.resolve_cutoff(PERIOD, None))
    return pipeline.ingest(settings, PERIOD)


def test_subsample_keeps_the_requested_events_in_each_files_format(small_synth, tmp_path):
    src = small_synth / "landing" / PERIOD
    available = scaling.event_ids(src)
    assert len(available) > 20

    for count in (5, 20):
        dst = tmp_path / f"e{count}" / PERIOD
        assert scaling.subsample(src, dst, count, seed=3) == count
        kept = scaling.event_ids(dst)
        assert len(kept) == count and kept <= available
        assert sorted(p.name for p in dst.iterdir()) == sorted(p.name for p in src.iterdir())

    # The same seed gives the same events; ingest reads every rewritten file.
    again = tmp_path / "again" / PERIOD
    scaling.subsample(src, again, 20, seed=3)
    assert scaling.event_ids(again) == scaling.event_ids(tmp_path / "e20" / PERIOD)
    counts = _ingested(tmp_path / "home", small_synth, tmp_path / "e20" / PERIOD)
    assert counts["rows_in"] == 20

    # Keeping every event rewrites each CSV byte for byte (encoding, delimiter, line ends).
    whole = tmp_path / "all" / PERIOD
    scaling.subsample(src, whole, len(available))
    for path in src.glob("*.csv"):
        assert (whole / path.name).read_bytes() == path.read_bytes(), path.name

    with pytest.raises(ValueError, match="fewer than"):
        scaling.subsample(src, tmp_path / "too_many" / PERIOD, len(available) + 1)


def test_subsample_keeps_a_redelivered_copy_identical(small_synth, tmp_path):
    src = small_synth / "landing" / "2026-02"
    copies = list(src.glob("*_kirim_ulang.csv"))
    assert copies, "the generator re-delivers one file in the second period"
    dst = tmp_path / "2026-02"
    scaling.subsample(src, dst, 15, seed=5)
    for copy in copies:
        original = copy.name.replace("_kirim_ulang", "")
        assert (dst / copy.name).read_bytes() == (dst / original).read_bytes()


def _truth_links(truth: Path) -> dict[tuple[str, str], str]:
    with (truth / "events.csv").open(newline="", encoding="utf-8") as fh:
        return {
            (r["sumber"], r["event_id"]): r["dpids"].split(";")[0]
            for r in csv.DictReader(fh)
            if r["period"] == PERIOD and r["is_malformed"] == "false" and r["dpids"]
        }


def test_peer_scoring_follows_the_truth(small_synth):
    truth = small_synth / "truth"
    right = _truth_links(truth)
    events = sorted(right)

    perfect = peer.score(right, events, PERIOD, truth)
    assert perfect["precision"] == 1.0 and perfect["recall"] == 1.0
    assert perfect["links"] == perfect["true_pairs"] == len(right)

    # Every event linked to the next event's record: all wrong.
    targets = [right[e] for e in events]
    shifted = dict(zip(events, targets[1:] + targets[:1], strict=True))
    wrong = peer.score(shifted, events, PERIOD, truth)
    assert wrong["precision"] == 0.0 and wrong["recall"] == 0.0
    assert wrong["wrongful_links"] == len(events)

    half = {e: right[e] for e in events[::2]}
    assert peer.score(half, events, PERIOD, truth)["recall"] == pytest.approx(
        len(half) / len(right), abs=1e-4
    )


@pytest.mark.integration
def test_peer_and_our_linker_on_the_same_small_period(small_synth, tmp_path):
    reason = peer.missing_reason()
    if reason:
        pytest.skip(reason)

    data = tmp_path / "data"  # the run caches the initialised warehouse beside the data
    shutil.copytree(small_synth, data)
    result = peer.run(tmp_path, data, repeats=2)

    assert result["period"] == PERIOD and result["events"] > 20
    assert result["voters"] == 3_000
    for scores in (result["ours"], *result["peer"]["scores"].values()):
        assert 0.0 <= scores["precision"] <= 1.0 and 0.0 <= scores["recall"] <= 1.0
        assert scores["links"] > 0
        assert scores["true_pairs"] == result["ours"]["true_pairs"]
    ecm = result["peer"]["scores"]["ecm"]
    # The peer links most of the people who are on the list, and mostly rightly.
    assert ecm["recall"] > 0.8 and ecm["precision"] > 0.8
    assert result["peer"]["candidate_pairs"] >= ecm["links"]
    # The peer's clock covers its reading and writing as ours does; its link
    # time alone gives the lower ratio.
    assert result["peer"]["seconds"] >= result["peer"]["link_seconds"] > 0
    assert (
        result["ratios"]["peer_seconds_over_ours"]
        >= result["ratios"]["peer_link_seconds_over_ours"]
        > 0
    )
