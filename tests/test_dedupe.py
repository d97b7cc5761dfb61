"""Rules of the whole-list dedupe job: truth's duplicates found, survivor rule kept."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from linkage.dedupe import survivor_key
from pdpb.config import Settings
from pdpb.dedupe import run_dedupe
from pdpb.voterlist import init_voters
from pdpb.warehouse import connect


def test_survivor_is_valid_nik_first_then_most_complete_then_latest_then_lowest_dpid():
    full = {
        "dpid": "9",
        "nik": "x",
        "nkk": "y",
        "nama": "A",
        "alamat": "JL",
        "rt": "001",
        "updated_period": "0000-00",
    }
    sparse = {"dpid": "1", "nik": "x", "nama": "A", "rt": "000", "updated_period": "2026-02"}

    assert min([full, sparse], key=lambda v: survivor_key(v, v is sparse))["dpid"] == "1"
    assert min([full, sparse], key=lambda v: survivor_key(v, True))["dpid"] == "9"
    assert min([{**full, "dpid": "2", "updated_period": "2026-01"}, full],
               key=lambda v: survivor_key(v, True))["dpid"] == "2"  # fmt: skip
    assert min([full, {**full, "dpid": "3"}], key=lambda v: survivor_key(v, True))["dpid"] == "3"


@pytest.fixture(scope="module")
def deduped(small_synth, tmp_path_factory):
    settings = Settings.load(tmp_path_factory.mktemp("dedupe_home"))
    init_voters(settings, small_synth / "voters.csv")
    counts = run_dedupe(settings)
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            "select dpid, survivor_dpid, decision from core.dedupe_proposals"
        ).fetchall()
    finally:
        con.close()
    return settings, counts, rows


def _truth_pairs(small_synth) -> set[frozenset]:
    with (small_synth / "truth" / "duplicates.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_person: dict[str, list[str]] = {}
    for r in rows:
        by_person.setdefault(r["person_id"], []).append(r["dpid"])
    return {
        frozenset((a, b)) for d in by_person.values() for i, a in enumerate(d) for b in d[i + 1 :]
    }


def test_auto_proposals_are_all_true_duplicates_and_find_most(deduped, small_synth):
    _, _, rows = deduped
    truth = _truth_pairs(small_synth)

    auto = {frozenset((d, s)) for d, s, decision in rows if decision == "AUTO"}

    assert auto and auto <= truth
    assert len(auto) >= 0.9 * len(truth)


def test_rerunning_dedupe_replaces_open_proposals(deduped):
    settings, counts, rows = deduped

    again = run_dedupe(settings)

    con = connect(settings, read_only=True)
    try:
        stored = con.execute("select count(*) from core.dedupe_proposals").fetchall()[0][0]
    finally:
        con.close()
    assert stored == len(rows) == again["proposals"] == counts["proposals"]


def test_cluster_studio_is_written_offline(deduped):
    from linkage.scoring import remote_resources

    settings, counts, _ = deduped

    html = Path(counts["studio"]).read_text(encoding="utf-8")

    assert counts["studio"].startswith(str(settings.home / "review" / "dedupe"))
    assert remote_resources(html) == []
