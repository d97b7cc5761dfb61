"""No voter loses their vote to a relative: twins, triplets, a father and son
of one name, on the generator's families.

The small province (`small_synth`: 3,000 voters, two periods) carries the
generator's planted family cases each period (docs/synth.md, "hard_case"):
a twin's death with and without a NIK, both twins dying in one period, twins
turning 17 together, a death of a father or of the son who carries his name.
Both periods are run through the stages, then every family case is checked
against the truth: the change falls on the person the event is about, never
on a relative. Rhyming twin names and triplets are checked on a larger list
of the same generator, with the link stage itself.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from pdpb.config import Settings
from pdpb.dedupe import export_dedupe, run_dedupe
from pdpb.evaluation import evaluate
from pdpb.warehouse import connect

PERIODS = ("2026-01", "2026-02")


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def families(small_synth, tmp_path_factory, linked_home):
    """Both periods of the small province run through the stages; returns the
    home, the truth and the stored decisions."""
    settings = linked_home(small_synth, tmp_path_factory.mktemp("families"), PERIODS)
    truth = small_synth / "truth"
    persons = {r["person_id"]: r for r in _rows(truth / "persons.csv")}
    records: dict[str, list[str]] = {}
    for r in _rows(truth / "voters.csv"):
        records.setdefault(r["person_id"], []).append(r["dpid"])
    con = connect(settings, read_only=True)
    try:
        outcomes = {
            (p, s, e): (o, d)
            for p, s, e, o, d in con.execute(
                "select period, sumber, event_id, outcome, dpid from core.event_outcomes"
            ).fetchall()
        }
        changes = con.execute(
            "select period, sumber, event_id, dpid, change_type, tms_code from core.changes"
        ).fetchall()
    finally:
        con.close()
    return {
        "settings": settings,
        "truth": truth,
        "events": _rows(truth / "events.csv"),
        "persons": persons,
        "records": records,
        "outcomes": outcomes,
        "changes": changes,
    }


def _cases(families: dict, hard_case: str, jenis: str) -> list[dict]:
    cases = [
        e
        for e in families["events"]
        if e["hard_case"] == hard_case and e["jenis_peristiwa"] == jenis
    ]
    assert cases, f"the generator planted no {hard_case} {jenis}"
    return cases


def _relatives(families: dict, person: str) -> set[str]:
    """Records of the person's twins (or triplets) and household."""
    me = families["persons"][person]
    household = {
        p for p, r in families["persons"].items() if r["household_id"] == me["household_id"]
    } - {person}
    return {d for p in household for d in families["records"].get(p, [])}


def _tms_on(families: dict, dpids: set[str]) -> list[tuple]:
    return [c for c in families["changes"] if c[4] == "TMS" and c[3] in dpids]


def _key(event: dict) -> tuple[str, str, str]:
    return (event["period"], event["sumber"], event["event_id"])


def test_twin_death_with_her_own_nik_removes_that_twin_and_no_relative(families):
    for event in _cases(families, "KEMBAR", "MENINGGAL"):
        own = set(event["dpids"].split(";"))

        outcome, dpid = families["outcomes"][_key(event)]

        assert (outcome, dpid in own) == ("APPLIED", True), event
        assert _tms_on(families, _relatives(families, event["person_id"])) == []


def test_twin_death_without_nik_never_removes_the_other_twin(families):
    for event in _cases(families, "KEMBAR_TANPA_NIK", "MENINGGAL"):
        own = set(event["dpids"].split(";"))

        outcome, dpid = families["outcomes"][_key(event)]

        # The right twin, or an operator's look; never a relative.
        assert outcome in ("APPLIED", "REVIEW"), event
        assert outcome == "REVIEW" or dpid in own
        assert _tms_on(families, _relatives(families, event["person_id"])) == []


def test_both_twins_dying_in_one_period_are_two_deaths(families):
    deaths = _cases(families, "KEMBAR_BERSAMA", "MENINGGAL")
    pairs: dict[tuple[str, frozenset], list[dict]] = {}
    for event in deaths:
        twins = families["persons"][event["person_id"]]["kembar_dengan"].split(";")
        pairs.setdefault((event["period"], frozenset([event["person_id"], *twins])), []).append(
            event
        )

    for both in (p for p in pairs.values() if len(p) == 2):
        removed = {
            c[3]
            for e in both
            for c in families["changes"]
            if c[:3] == _key(e) and c[4] == "TMS" and c[5] == 1
        }
        own = {d for e in both for d in e["dpids"].split(";") if d}

        assert [families["outcomes"][_key(e)][0] for e in both] == ["APPLIED", "APPLIED"]
        assert removed == own
    assert any(len(p) == 2 for p in pairs.values())


def test_twins_turning_17_together_both_become_voters(families):
    births = _cases(families, "KEMBAR_BERSAMA", "PENDUDUK_BARU")
    expected = {
        (r["period"], r["sumber"], r["event_id"]): r["outcome"]
        for r in _rows(families["truth"] / "expected_outcomes.csv")
    }

    for event in births:
        outcome, _ = families["outcomes"][_key(event)]

        assert outcome != "DUPLICATE_EVENT", event
        assert outcome == expected[_key(event)] in ("APPLIED", "FUTURE_VOTER")
    assert len(births) >= 2


def test_a_father_or_son_of_one_name_dies_and_only_he_is_removed(families):
    for event in _cases(families, "NAMA_AYAH_ANAK", "MENINGGAL"):
        own = set(event["dpids"].split(";"))

        outcome, dpid = families["outcomes"][_key(event)]

        assert outcome == "REVIEW" or (outcome, dpid in own) == ("APPLIED", True), event
        assert _tms_on(families, _relatives(families, event["person_id"])) == []


def test_no_period_makes_a_wrongful_tms_and_no_link_goes_to_a_relative(families):
    result = evaluate(families["settings"], families["truth"])

    assert result["wrongful_tms"] == 0, result["wrongful_tms_examples"]
    assert result["wrongful_links"] == 0, result["wrong_examples"]
    assert result["precision"] == 1.0 and result["recall"] >= 0.99


def test_twins_are_never_deduplicated_automatically_and_are_labelled_for_the_operator(
    families, tmp_path
):
    from pdpb.synth.truth import relation

    settings = Settings.load(tmp_path / "home")
    settings.warehouse_path.parent.mkdir(parents=True)
    shutil.copyfile(families["settings"].warehouse_path, settings.warehouse_path)
    person = {d: p for p, ds in families["records"].items() for d in ds}
    persons = families["persons"]

    run_dedupe(settings)
    exported = export_dedupe(settings)

    con = connect(settings, read_only=True)
    try:
        proposals = con.execute(
            "select dpid, survivor_dpid, decision from core.dedupe_proposals"
        ).fetchall()
    finally:
        con.close()
    related = [
        (relation(persons[person[d]], persons[person[s]]), decision)
        for d, s, decision in proposals
        if d in person and s in person
    ]
    assert ("kembar", "REVIEW") in related
    assert [r for r, decision in related if decision == "AUTO" and r != "orang_sama"] == []
    rows = _rows(Path(exported["csv"]))
    twins = [
        r
        for r in rows
        if r["DPID_GANDA"] in person
        and relation(persons[person[r["DPID_GANDA"]]], persons[person[r["DPID_BERTAHAN"]]])
        == "kembar"
    ]
    assert twins and all("kemungkinan kembar" in r["CATATAN_SISTEM"] for r in twins)


# --- the link stage on a larger list: rhyming twins and triplets -----------------------


@pytest.fixture(scope="module")
def larger_list(tmp_path_factory):
    """A 60,000-voter list of the generator (one period) with its truth."""
    from pdpb.synth import generate

    out = tmp_path_factory.mktemp("families_large") / "data"
    generate(out, province="36", voters=60_000, periods=1, start="2026-01", seed=23)
    return out


def _reference(data: Path) -> pa.Table:
    from pdpb.normalize import parse_date

    rows = _rows(data / "voters.csv")
    columns = ["nik", "nkk", "nama", "tempat_lahir", "jenis_kelamin", "status_kawin", "alamat"]
    table = {c: [r[c] or None for r in rows] for c in columns}
    table.update(
        target_id=[r["dpid"] for r in rows],
        gelar=[None] * len(rows),
        tanggal_lahir=[parse_date(r["tanggal_lahir"]) for r in rows],
        rt=[r["rt"] for r in rows],
        rw=[r["rw"] for r in rows],
        kode_wilayah=[r["kode_wilayah"] for r in rows],
        status=["AKTIF"] * len(rows),
    )
    return pa.table(table)


def _death_without_nik(person: dict, event_id: str) -> dict:
    """The death of `person` as a residents' report writes it: the person's
    true name, birth date and address, no NIK and no family card."""
    return {
        "sumber": "MASYARAKAT", "event_id": event_id, "jenis_peristiwa": "MENINGGAL",
        "tanggal_peristiwa": date(2026, 1, 15), "nik": None, "nik_valid": False, "nkk": None,
        "nama": person["nama"], "gelar": None, "tempat_lahir": person["tempat_lahir"],
        "tanggal_lahir": date.fromisoformat(person["tanggal_lahir"]),
        "jenis_kelamin": person["jenis_kelamin"], "status_kawin": person["status_kawin"],
        "alamat": person["alamat"], "rt": person["rt"], "rw": person["rw"],
        "kode_wilayah": person["kode_wilayah"], "kode_wilayah_asal": None,
    }  # fmt: skip


def _link_deaths(data: Path, group: list[dict]) -> dict[str, dict]:
    from linkage.link import link_events

    events = [_death_without_nik(p, f"MSY-{p['person_id']}") for p in group]
    result = link_events(
        pa.Table.from_pylist(events), _reference(data), upper=0.99, lower=0.5
    ).to_pylist()
    return {r["event_id"]: r for r in result}


def _listed_groups(data: Path, size: int) -> list[list[dict]]:
    """Twin (size 2) or triplet (size 3) groups whose members are all on the list."""
    persons = {r["person_id"]: r for r in _rows(data / "truth" / "persons.csv")}
    primary = {
        r["person_id"]: r["dpid"]
        for r in _rows(data / "truth" / "voters.csv")
        if r["is_primary"] == "true"
    }
    groups = []
    for p in persons.values():
        others = [o for o in p["kembar_dengan"].split(";") if o]
        members = [p["person_id"], *others]
        if (
            len(members) == size
            and p["person_id"] == min(members)
            and set(members) <= primary.keys()
        ):
            groups.append([{**persons[m], "dpid": primary[m]} for m in members])
    return groups


def _one_letter_apart(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


def test_rhyming_twin_names_never_give_one_twins_death_to_the_other(larger_list):
    rhyming = [
        g
        for g in _listed_groups(larger_list, 2)
        if not _one_letter_apart(g[0]["nama"].split()[0], g[1]["nama"].split()[0])
    ]
    assert rhyming, "the generator made no rhyming twins on this list"

    for group in rhyming[:10]:
        out = _link_deaths(larger_list, group)

        for person in group:
            decision = out[f"MSY-{person['person_id']}"]
            assert decision["decision"] in ("LINK", "REVIEW", "DUPLICATE_EVENT"), decision
            if decision["decision"] == "LINK":
                assert decision["target_id"] == person["dpid"], (person["nama"], decision)


def test_triplets_deaths_each_go_to_their_own_record_or_to_review(larger_list):
    triplets = _listed_groups(larger_list, 3)
    assert triplets, "the generator made no listed triplets on this list"

    for group in triplets:
        out = _link_deaths(larger_list, group)

        for person in group:
            decision = out[f"MSY-{person['person_id']}"]
            assert decision["decision"] in ("LINK", "REVIEW"), decision
            if decision["decision"] == "LINK":
                assert decision["target_id"] == person["dpid"], (person["nama"], decision)
