"""The benchmark's peer and scaling helpers on small generated data (no timings asserted)."""

from __future__ import annotations

import ast
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


def _bench_imports(module: str) -> set[str]:
    """The bench modules `bench/<module>.py` imports, anywhere in the file."""
    tree = ast.parse((Path(__file__).resolve().parents[1] / "bench" / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "bench":
            names.update(f"bench.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {n for n in names if n.startswith("bench.")}


def test_the_runs_share_their_helpers_through_bench_common_only():
    # make bench, the scaling series, the national scale and the peer import
    # their shared helpers from bench.common, never from one another; make
    # bench imports the national scale and the peer only to run them.
    assert _bench_imports("__main__") == {"bench.common", "bench.national", "bench.peer"}
    for module in ("scaling", "peer", "national"):
        assert _bench_imports(module) == {"bench.common"}, module
    assert _bench_imports("common") == set()


def test_national_projection_schedules_the_largest_first():
    from bench import national

    # Largest first on the machine free first: 5 | 4 | 3+2 on three workers.
    assert national.schedule([3, 5, 2, 4], 3) == 5
    assert national.schedule([3, 5, 2, 4], 1) == 14
    sizes = national.national_sizes()
    assert len(sizes) == 38 and abs(sum(sizes.values()) - national.NATIONAL_VOTERS) < 38
    model = {"seconds_a": 30.0, "seconds_b_per_million": 20.0, "peak_mb_0": 500,
             "peak_mb_per_million": 400}  # fmt: skip
    run = {"steps": [{"step": "route", "seconds": 2.0, "rows": 20_000},
                     {"step": "reconcile", "seconds": 10.0}, {"step": "marts", "seconds": 5.0},
                     {"step": "publish", "seconds": 1.0}]}  # fmt: skip
    p = national.projection(model, run, bench_voters=2_000_000)
    assert p["central"] == {"route": 200.0, "reconcile": 1060.0, "marts": 5.0, "publish": 1.0}
    walls = [r["provinces_wall"] for r in p["rows"]]
    assert walls == sorted(walls, reverse=True)
    # Never below the largest province's period, and never above the total work.
    assert walls[-1] == p["largest"]["seconds"] and walls[0] == p["total_work"]
    assert p["rows"][-1]["bounded_by"] == "largest province"


@pytest.mark.integration
def test_national_scale_sequential_and_parallel_give_one_recap(tmp_path):
    from bench import national
    from bench.common import generated_once

    data = generated_once(tmp_path / "data", 1_500, 1, "31,36,51", seed=3)
    assert (data / "generated.json").exists()
    result = national.run(tmp_path, data, seed=3, anchor=False)

    assert result["provinces"] == ["31", "36", "51"] and result["voters"] == 1_500
    assert set(result["runs"]) == {"sequential", "parallel"}
    for mode, jobs in national.MODES.items():
        run = result["runs"][mode]
        assert run["jobs"] == jobs
        assert [s["step"] for s in run["steps"]] == [
            "route", "provinces", "reconcile", "marts", "publish"
        ]  # fmt: skip
        assert all(s["seconds"] > 0 for s in run["steps"])
        for kode, r in run["provinces"].items():
            assert r["status"] == "COMPLETED", (mode, kode, r)
            assert r["seconds"] > 0 and r["peak_mb"] > 50 and r["events"] > 0
        assert run["reconcile"]["status"] == "COMPLETE"
        assert run["evaluation"]["moves"] > 0
    # The same homes and deliveries give the same national recap, however run.
    assert result["recaps_identical"]
    recap = result["runs"]["sequential"]["recap"]
    assert recap["jumlah_provinsi"] == 3 and recap["lengkap"]
    assert result["model"]["seconds_b_per_million"] is not None
    assert [r["workers"] for r in result["projection"]["rows"]] == list(national.WORKERS)
    assert "provinsi 36" in national.table(result)
    # Both runs started from the cached warehouses, which the next run reuses.
    assert not any(i["cached"] for i in result["init"].values())
    assert all(i["cached"] for i in national.initialised_provinces(data)[1].values())
