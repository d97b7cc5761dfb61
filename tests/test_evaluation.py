"""Rules of `pdpb linkage evaluate`: a small generated period scored against its truth."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from pdpb.config import Settings
from pdpb.evaluation import _read_csv, _truth_persons, _wrongful_tms, evaluate

PERIOD = "2026-01"


@pytest.fixture(scope="module")
def evaluated(small_synth, tmp_path_factory, linked_home):
    settings = linked_home(small_synth, tmp_path_factory.mktemp("eval_home"), (PERIOD,))
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

    wrong, other_record = _wrongful_tms(truth_dir, tms, truth, {}, {})

    assert other_record == [(*key(twice), other, code)]
    assert wrong == [(*key(twice), stranger, code)]


def test_a_tms_2_is_judged_by_the_person_behind_the_two_records(small_synth):
    """Dedupe's TMS 2 takes a vote away only when the retired record and the
    one kept are not one person; retiring the truth's primary of a person
    registered twice keeps that person on the list (another record)."""
    truth_dir = small_synth / "truth"
    with (truth_dir / "duplicates.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    pair = [r for r in rows if r["cluster_id"] == rows[0]["cluster_id"]][:2]
    primary = next(r["dpid"] for r in pair if r["is_primary"] == "true")
    duplicate = next(r["dpid"] for r in pair if r["is_primary"] != "true")
    one, twin = _twin_of_a_listed_twin(truth_dir)
    tms = [
        (PERIOD, "DEDUPE", f"G{duplicate}", primary, 2),  # the person's other record kept
        (PERIOD, "DEDUPE", f"G{primary}", duplicate, 2),  # the truth's own choice
        (PERIOD, "DEDUPE", f"G{twin}", one, 2),  # a twin retired for the other
    ]
    survivors = {(e, d): e.removeprefix("G") for _, _, e, d, _ in tms}

    wrong, other_record = _wrongful_tms(truth_dir, tms, {}, survivors, {})

    assert wrong == [tms[2]]
    assert other_record == [tms[0]]


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


def _home_copy(settings: Settings, tmp_path: Path) -> Settings:
    copy = Settings.load(tmp_path / "home")
    copy.warehouse_path.parent.mkdir(parents=True)
    shutil.copyfile(settings.warehouse_path, copy.warehouse_path)
    return copy


def _twin_of_a_listed_twin(truth_dir: Path) -> tuple[str, str]:
    """(dpid, dpid) of two listed twins of the generator's truth."""
    primary = {
        r["person_id"]: r["dpid"]
        for r in _read_csv(truth_dir / "voters.csv")
        if r["is_primary"] == "true"
    }
    for p in _read_csv(truth_dir / "persons.csv"):
        for twin in filter(None, p["kembar_dengan"].split(";")):
            if p["person_id"] in primary and twin in primary:
                return primary[p["person_id"]], primary[twin]
    raise AssertionError("the generator listed no twins")


def test_a_death_given_to_the_twin_is_a_wrongful_tms_of_a_twin_and_strict_fails(
    evaluated, small_synth, tmp_path, capsys
):
    from pdpb.cli import main
    from pdpb.warehouse import connect

    settings = _home_copy(evaluated[0], tmp_path)
    truth_dir = small_synth / "truth"
    # A twin's death of the period (the generator plants one), removed from
    # the other twin's record instead.
    event = next(
        r
        for r in _read_csv(truth_dir / "events.csv")
        if r["period"] == PERIOD
        and r["hard_case"] == "KEMBAR"
        and r["jenis_peristiwa"] == "MENINGGAL"
    )
    twins = next(
        p["kembar_dengan"].split(";")
        for p in _read_csv(truth_dir / "persons.csv")
        if p["person_id"] == event["person_id"]
    )
    twin_record = next(
        r["dpid"] for r in _read_csv(truth_dir / "voters.csv") if r["person_id"] in twins
    )
    con = connect(settings)
    try:
        con.execute(
            """insert into core.changes (period, change_id, sumber, event_id, dpid,
                   change_type, tms_code, rule) values (?, 'X1', ?, ?, ?, 'TMS', 1, 'TMS_MENINGGAL')""",
            [PERIOD, event["sumber"], event["event_id"], twin_record],
        )
    finally:
        con.close()

    result = evaluate(settings, truth_dir, PERIOD)
    code = main(["--home", str(settings.home), "linkage", "evaluate", "--truth", str(truth_dir),
                 "--period", PERIOD, "--strict"])  # fmt: skip

    assert result["wrongful_tms"] == 1
    assert result["wrongful_tms_by_relation"] == {
        **dict.fromkeys(result["wrongful_tms_by_relation"], 0),
        "kembar": 1,
    }
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 wrongful TMS" in err[0] and "kembar 1" in err[0]


def test_strict_evaluation_passes_when_no_voter_is_wrongly_removed(evaluated, small_synth):
    from pdpb.cli import main

    code = main(["--home", str(evaluated[0].home), "linkage", "evaluate",
                 "--truth", str(small_synth / "truth"), "--period", PERIOD, "--strict"])  # fmt: skip

    assert code == 0


def test_an_auto_dedupe_of_twins_is_a_wrongful_tms_2_of_twins_and_strict_fails(
    evaluated, small_synth, tmp_path, capsys
):
    from datetime import datetime

    from pdpb.cli import main
    from pdpb.dedupe import evaluate_dedupe
    from pdpb.warehouse import connect

    settings = _home_copy(evaluated[0], tmp_path)
    truth_dir = small_synth / "truth"
    one, other = _twin_of_a_listed_twin(truth_dir)
    con = connect(settings)
    try:
        con.execute(
            """insert into core.dedupe_proposals (cluster_id, dpid, survivor_dpid,
                   match_probability, decision, proposed_at) values (?, ?, ?, 0.999, 'AUTO', ?)""",
            [f"G{other}", one, other, datetime.now()],
        )
    finally:
        con.close()

    result = evaluate_dedupe(settings, truth_dir)
    code = main(["--home", str(settings.home), "dedupe", "evaluate", "--truth", str(truth_dir),
                 "--strict"])  # fmt: skip

    assert result["wrongful_tms"] == 1 and result["auto_precision"] == 0.0
    assert result["wrongful_tms_by_relation"]["kembar"] == 1
    assert code == 1 and "wrongful TMS" in capsys.readouterr().err
