"""Rules of `pdpb linkage evaluate`: a small generated period scored against its truth."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from pdpb.config import Settings, default_cutoff
from pdpb.evaluation import _read_csv, _truth_persons, _wrongful_tms, evaluate
from pdpb.pipeline import apply, ingest, link, start_period
from pdpb.voterlist import init_voters

PERIOD = "2026-01"


@pytest.fixture(scope="module")
def evaluated(small_synth, tmp_path_factory):
    settings = Settings.load(tmp_path_factory.mktemp("eval_home"))
    init_voters(settings, small_synth / "voters.csv")
    shutil.copytree(small_synth / "landing" / PERIOD, settings.landing_dir(PERIOD))
    cutoff = default_cutoff(PERIOD)
    start_period(settings, PERIOD, cutoff)
    ingest(settings, PERIOD)
    link(settings, PERIOD)
    apply(settings, PERIOD, cutoff)
    return settings, evaluate(settings, small_synth / "truth", PERIOD)


def test_small_period_has_precision_one_and_no_wrongful_tms(evaluated):
    _, result = evaluated

    assert result["links"] > 0
    assert result["precision"] == 1.0 and result["wrongful_links"] == 0
    assert result["wrongful_tms"] == 0
    assert result["recall"] >= 0.95


def test_precision_recall_chart_is_self_contained_svg(evaluated):
    settings, result = evaluated

    svg = Path(result["chart"]).read_text(encoding="utf-8")

    assert result["chart"].startswith(str(settings.home / "reports" / "evaluation"))
    assert svg.startswith("<svg") and "<polyline" in svg and "<script" not in svg


def test_tms_on_the_persons_other_record_is_counted_apart_from_wrongful(small_synth):
    truth_dir = small_synth / "truth"
    truth, _ = _truth_persons(truth_dir)
    expected = [
        r for r in _read_csv(truth_dir / "expected_changes.csv") if r["change_type"] == "TMS"
    ]

    def key(r: dict) -> tuple:
        return (r["period"], r["sumber"], r["event_id"])

    # A person registered twice whose death or move the truth puts on one
    # record (the generator's duplicates.csv names the other record).
    with (truth_dir / "duplicates.csv").open(encoding="utf-8") as fh:
        duplicate = next(r["dpid"] for r in csv.DictReader(fh) if r["is_primary"] != "true")
    twice = next(r for r in expected if r["dpid"] != "NEW")
    person, dpids = truth[key(twice)]
    truth = {**truth, key(twice): (person, {*dpids, duplicate})}
    other = duplicate
    stranger = next(
        r["dpid"] for r in expected if truth[key(r)][0] != person and r["dpid"] != "NEW"
    )
    code = twice["tms_code"]
    tms = [(*key(twice), d, code) for d in (twice["dpid"], other, stranger)]

    wrong, other_record = _wrongful_tms(truth_dir, tms, truth)

    assert other_record == [(*key(twice), other, code)]
    assert wrong == [(*key(twice), stranger, code)]


def test_review_proposals_of_the_right_record_count_only_for_recall_if_review_decided():
    from pdpb.evaluation import Link, pairwise_scores

    truth = {(PERIOD, "DUKCAPIL", f"E{i}"): (f"P{i}", {f"D{i}"}) for i in range(4)}
    person_of = {("DUKCAPIL", f"E{i}"): f"P{i}" for i in range(4)}
    matches = [
        Link(PERIOD, "DUKCAPIL", "E0", "LINK", "D0", 1.0),
        Link(PERIOD, "DUKCAPIL", "E1", "REVIEW", "D1", 0.9),  # the right record proposed
        Link(PERIOD, "DUKCAPIL", "E2", "REVIEW", "D3", 0.9),  # another person's record
        Link(PERIOD, "DUKCAPIL", "E3", "NEW", None, 0.1),
    ]
    scores = pairwise_scores(matches, truth, {}, person_of)[0]
    assert scores["links"] == 1 and scores["true_pairs"] == 4
    assert scores["recall"] == 0.25
    assert scores["recall_if_review_decided"] == 0.5
