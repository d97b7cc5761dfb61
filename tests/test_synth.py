"""Specification of the synthetic data generator (pdpb.synth) on a small province run."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pdpb.synth import generate

VOTERS, PERIODS, START = 3000, 2, "2026-01"
CUTOFF = {"2026-01": date(2026, 1, 31), "2026-02": date(2026, 2, 28)}
TMS_RULE_OF_EVENT = {
    "MENINGGAL": ("TMS_MENINGGAL", "1"),
    "MASUK_TNI": ("TMS_MASUK_TNI", "6"),
    "MASUK_POLRI": ("TMS_MASUK_POLRI", "7"),
    "WNA": ("TMS_WNA", "5"),
    "HAK_PILIH_DICABUT": ("TMS_HAK_PILIH_DICABUT", "9"),
}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synth") / "a"
    generate(folder, province="36", voters=VOTERS, periods=PERIODS, start=START, seed=11)
    return folder


def read(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> list[dict]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def iso(value: str) -> date:
    return date.fromisoformat(value)


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def test_voter_list_has_the_sidalih_columns_and_the_requested_size(out: Path) -> None:
    rows = read(out / "voters.csv")

    assert list(rows[0]) == [
        "dpid",
        "nkk",
        "nik",
        "nama",
        "tempat_lahir",
        "tanggal_lahir",
        "jenis_kelamin",
        "status_kawin",
        "alamat",
        "rt",
        "rw",
        "disabilitas",
        "ktp_el",
        "kode_wilayah",
        "tps",
        "sumber",
        "keterangan",
    ]
    assert len(rows) == VOTERS
    assert len({r["dpid"] for r in rows}) == VOTERS
    assert all(len(r["tanggal_lahir"].split("|")) == 3 for r in rows)
    assert all(len(r["kode_wilayah"]) == 13 and r["kode_wilayah"].startswith("36.") for r in rows)


def test_nik_encodes_kecamatan_of_issue_birth_date_and_sex(out: Path) -> None:
    persons = read(out / "truth" / "persons.csv")

    for p in persons:
        nik, born = p["nik"], iso(p["tanggal_lahir"])
        day = born.day + (40 if p["jenis_kelamin"] == "P" else 0)
        assert len(nik) == 16 and nik.isdigit()
        assert nik[:6] == p["kecamatan_terbit"].replace(".", "")
        assert nik[6:12] == f"{day:02d}{born.month:02d}{born.year % 100:02d}"
        assert nik[12:] != "0000"
    assert len({p["nik"] for p in persons}) == len(persons)


def test_household_members_share_nkk_address_and_one_head(out: Path) -> None:
    households = defaultdict(list)
    for p in read(out / "truth" / "persons.csv"):
        if not p["periode_masuk"]:
            households[p["household_id"]].append(p)

    for members in households.values():
        assert (
            len({(m["nkk"], m["alamat"], m["rt"], m["rw"], m["kode_wilayah"]) for m in members})
            == 1
        )
        assert [m["hubungan"] for m in members].count("KEPALA") == 1
        assert members[0]["nkk"][:6] == members[0]["kode_wilayah"].replace(".", "")[:6]
    assert sum(len(m) > 1 for m in households.values()) > len(households) / 2


def test_each_period_has_about_1_1_percent_of_voters_as_events(out: Path) -> None:
    events = [e for e in read(out / "truth" / "events.csv") if e["is_malformed"] == "false"]
    per_period = Counter(e["period"] for e in events)

    for period in CUTOFF:
        assert 0.009 * VOTERS <= per_period[period] <= 0.014 * VOTERS
    kinds = Counter(e["jenis_peristiwa"] for e in events)
    assert {"MENINGGAL", "PENDUDUK_BARU", "PINDAH", "KAWIN", "PERUBAHAN_DATA"} <= set(kinds)


def test_every_event_has_exactly_one_expected_outcome(out: Path) -> None:
    events = read(out / "truth" / "events.csv")
    outcomes = read(out / "truth" / "expected_outcomes.csv")

    keys = [(o["period"], o["sumber"], o["event_id"]) for o in outcomes]
    assert len(keys) == len(set(keys))
    assert set(keys) == {(e["period"], e["sumber"], e["event_id"]) for e in events}


def test_expected_changes_follow_the_change_rules(out: Path) -> None:
    persons = {p["person_id"]: p for p in read(out / "truth" / "persons.csv")}
    owner = {v["dpid"]: v["person_id"] for v in read(out / "truth" / "voters.csv")}
    events = {
        (e["period"], e["sumber"], e["event_id"]): e for e in read(out / "truth" / "events.csv")
    }
    changes = defaultdict(list)
    for c in read(out / "truth" / "expected_changes.csv"):
        changes[(c["period"], c["sumber"], c["event_id"])].append(c)

    for key, rows in changes.items():
        if key[1] == "PROMOSI":
            continue
        ev, cutoff = events[key], CUTOFF[key[0]]
        person = persons[ev["person_id"]]
        jenis = ev["jenis_peristiwa"]
        for c in rows:
            assert c["person_id"] == ev["person_id"]
            if c["dpid"] != "NEW":
                assert owner[c["dpid"]] == ev["person_id"], (
                    "a change must hit the event's own person"
                )
        rules = sorted(c["rule"] for c in rows)
        if jenis in TMS_RULE_OF_EVENT:
            assert [(c["rule"], c["tms_code"]) for c in rows] == [TMS_RULE_OF_EVENT[jenis]]
        elif jenis == "PENDUDUK_BARU":
            assert rules == ["BARU_PEMILIH_PEMULA"]
            assert age_on(iso(person["tanggal_lahir"]), cutoff) >= 17
        elif jenis == "PINDAH":
            assert rules in (
                ["UBAH_PINDAH_DALAM_KABKOTA"],
                ["BARU_PINDAH_MASUK"],
                ["BARU_PINDAH_MASUK", "TMS_PINDAH_KELUAR"],
            )
            if len(rows) == 2:
                old, new = sorted(rows, key=lambda c: c["change_type"] != "TMS")
                assert old["kode_wilayah"][:5] != new["kode_wilayah"][:5]
                assert old["tms_code"] == "4"
        elif jenis == "KAWIN":
            assert rules in (["UBAH_KAWIN"], ["BARU_KAWIN"])
            if rules == ["BARU_KAWIN"]:
                assert age_on(iso(person["tanggal_lahir"]), cutoff) < 17
        elif jenis == "PERUBAHAN_DATA":
            assert rules in (["UBAH_PERUBAHAN_DATA"], ["TMS_BAWAH_UMUR"])
            if rules == ["TMS_BAWAH_UMUR"]:
                assert age_on(iso(person["tanggal_lahir"]), cutoff) < 17
        elif jenis.startswith("PURNA_"):
            assert rules == [f"BARU_{jenis}"] and person["pekerjaan"] == jenis[6:]
        elif jenis == "HAK_PILIH_PULIH":
            assert rules == ["BARU_HAK_PILIH_PULIH"] and person["hak_pilih_dicabut"] == "true"


def test_future_voters_are_under_17_and_promoted_only_once_17(out: Path) -> None:
    persons = {p["person_id"]: p for p in read(out / "truth" / "persons.csv")}
    outcomes = read(out / "truth" / "expected_outcomes.csv")
    promotions = [
        c for c in read(out / "truth" / "expected_changes.csv") if c["sumber"] == "PROMOSI"
    ]

    future = [o for o in outcomes if o["outcome"] == "FUTURE_VOTER"]
    assert future
    for o in future:
        assert age_on(iso(persons[o["person_id"]]["tanggal_lahir"]), CUTOFF[o["period"]]) < 17
    for c in promotions:
        assert c["rule"] == "BARU_PROMOSI"
        assert age_on(iso(persons[c["person_id"]]["tanggal_lahir"]), CUTOFF[c["period"]]) >= 17


def test_a_death_reported_twice_is_one_change_and_one_duplicate_event(out: Path) -> None:
    events = read(out / "truth" / "events.csv")
    outcomes = {
        (o["sumber"], o["event_id"]): o for o in read(out / "truth" / "expected_outcomes.csv")
    }
    changes = Counter(
        (c["sumber"], c["event_id"]) for c in read(out / "truth" / "expected_changes.csv")
    )

    dups = [e for e in events if e["duplicate_of"]]
    assert dups
    for e in dups:
        primary = tuple(e["duplicate_of"].split("|"))
        assert outcomes[(e["sumber"], e["event_id"])]["outcome"] == "DUPLICATE_EVENT"
        assert changes[(e["sumber"], e["event_id"])] == 0 and changes[primary] == 1


def test_malformed_rows_are_quarantined_and_change_nothing(out: Path) -> None:
    events = [e for e in read(out / "truth" / "events.csv") if e["is_malformed"] == "true"]
    outcomes = {
        (o["sumber"], o["event_id"]): o["outcome"]
        for o in read(out / "truth" / "expected_outcomes.csv")
    }
    changed = {(c["sumber"], c["event_id"]) for c in read(out / "truth" / "expected_changes.csv")}

    assert len(events) >= 3 * PERIODS
    assert {e["malformed_reason"] for e in events} == {
        "NIK_HURUF",
        "TANGGAL_MUSTAHIL",
        "JENIS_TIDAK_DIKENAL",
    }
    for e in events:
        assert outcomes[(e["sumber"], e["event_id"])] == "QUARANTINED"
        assert (e["sumber"], e["event_id"]) not in changed


def test_rekap_kabkota_counts_the_expected_changes(out: Path) -> None:
    rekap = read(out / "truth" / "rekap_kabkota.csv")
    changes = read(out / "truth" / "expected_changes.csv")

    for change_type in ("BARU", "TMS", "UBAH"):
        for sex in "LP":
            col = f"{change_type.lower()}_{sex.lower()}"
            assert sum(int(r[col]) for r in rekap) == sum(
                c["change_type"] == change_type and c["jenis_kelamin"] == sex for c in changes
            )
    assert all(int(r["baru"]) == int(r["baru_l"]) + int(r["baru_p"]) for r in rekap)


def test_landing_files_carry_each_sources_format(out: Path) -> None:
    folder = out / "landing" / START

    assert (folder / f"tni_{START}.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    masyarakat = read(folder / f"masyarakat_{START}.csv", encoding="cp1252", delimiter=";")
    assert masyarakat and all("/" in r["tanggal_peristiwa"] for r in masyarakat)
    dukcapil = read(folder / f"dukcapil_{START}_01.csv")
    assert all(len(r["tanggal_peristiwa"].split("-")[2]) == 4 for r in dukcapil)
    sheet = load_workbook(folder / f"imigrasi_{START}.xlsx", read_only=True).active
    header, *rows = list(sheet.values)
    assert header[0] == "event_id" and rows
    assert all(isinstance(r[header.index("tanggal_peristiwa")], int) for r in rows)
    coordination = [r for r in masyarakat if r["jenis_peristiwa"] != "CERAI"]
    assert sum(r["nik"] == "" for r in coordination) >= len(coordination) / 4


def test_one_period_redelivers_an_identical_file_under_another_name(out: Path) -> None:
    files = read(out / "truth" / "files.csv")

    copies = [f for f in files if f["copy_of"]]
    assert len(copies) == 1
    folder = out / "landing" / copies[0]["period"]
    assert (folder / copies[0]["file_name"]).read_bytes() == (
        folder / copies[0]["copy_of"]
    ).read_bytes()


def test_the_same_seed_gives_the_same_bytes(out: Path, tmp_path: Path) -> None:
    again = tmp_path / "b"

    generate(again, province="36", voters=VOTERS, periods=PERIODS, start=START, seed=11)

    assert digests(again) == digests(out)


def test_registration_noise_in_the_truth_is_exactly_where_the_record_differs(out: Path) -> None:
    persons = {p["person_id"]: p for p in read(out / "truth" / "persons.csv")}
    listed = {r["dpid"]: r for r in read(out / "voters.csv")}

    for t in read(out / "truth" / "voters.csv"):
        kinds, rec, person = (
            set(t["noise"].split(";")) - {""},
            listed[t["dpid"]],
            persons[t["person_id"]],
        )
        d, m, y = rec["tanggal_lahir"].split("|")
        assert ("nik_kosong" in kinds) == (rec["nik"] == "")
        assert (t["nik_wrong"] == "true") == (rec["nik"] != person["nik"])
        assert any(k.startswith("nik_") for k in kinds) == (rec["nik"] != person["nik"])
        assert any(k.startswith("nama_") for k in kinds) == (rec["nama"] != person["nama"])
        assert bool(kinds & {"tgl_tidak_diketahui", "umur_salah"}) == (
            f"{y}-{m}-{d}" != person["tanggal_lahir"]
        )
        assert ("rtrw_000" in kinds) == ("000" in (rec["rt"], rec["rw"]))


def test_chunk_size_does_not_change_the_bytes(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pdpb.synth import generator, voterlist

    monkeypatch.setattr(voterlist, "CHUNK_ROWS", 700)
    monkeypatch.setattr(voterlist, "LISTABLE_SLICE", 1000)
    monkeypatch.setattr(generator, "PERSON_CHUNK", 900)
    small_chunks = tmp_path / "c"

    generate(small_chunks, province="36", voters=VOTERS, periods=PERIODS, start=START, seed=11)

    assert digests(small_chunks) == digests(out)


# --- families: twins, alike-named siblings, elders ---------------------------


def twin_groups(persons: list[dict]) -> list[list[dict]]:
    by_id = {p["person_id"]: p for p in persons}
    groups = {}
    for p in persons:
        if p["kembar_dengan"]:
            ids = sorted([p["person_id"], *p["kembar_dengan"].split(";")], key=int)
            groups[tuple(ids)] = [by_id[i] for i in ids]
    return list(groups.values())


def one_edit_apart(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def alike_names(a: str, b: str) -> bool:
    """Two full names that differ only in one given name, one letter apart or a table pair."""
    from pdpb.synth.names import ALIKE_PAIRS_L, ALIKE_PAIRS_LP, ALIKE_PAIRS_P, drop_titles

    pairs = {frozenset(p) for p in (*ALIKE_PAIRS_L, *ALIKE_PAIRS_P, *ALIKE_PAIRS_LP)}
    words_a, words_b = (
        [w for w in drop_titles(n).split() if w not in ("BIN", "BINTI")] for n in (a, b)
    )
    if len(words_a) != len(words_b):
        return False
    differ = [(x, y) for x, y in zip(words_a, words_b, strict=True) if x != y]
    return len(differ) == 1 and (one_edit_apart(*differ[0]) or frozenset(differ[0]) in pairs)


def is_default_date(iso_date: str) -> bool:
    return iso_date[5:] in ("07-01", "12-31")


def test_twins_share_card_address_birth_date_and_kecamatan_of_issue(out: Path) -> None:
    persons = read(out / "truth" / "persons.csv")

    groups = twin_groups(persons)
    assert len(groups) >= 8
    for members in groups:
        shared = ("household_id", "nkk", "alamat", "tanggal_lahir", "tempat_lahir")
        for column in (*shared, "kecamatan_terbit"):
            assert len({m[column] for m in members}) == 1, column
        assert all(m["hubungan"] == "ANAK" and m["kembar"] == "true" for m in members)
    assert all((p["kembar"] == "true") == bool(p["kembar_dengan"]) for p in persons)


def test_kembar_dengan_is_symmetric(out: Path) -> None:
    persons = {p["person_id"]: p for p in read(out / "truth" / "persons.csv")}

    for pid, p in persons.items():
        for other in filter(None, p["kembar_dengan"].split(";")):
            assert pid in persons[other]["kembar_dengan"].split(";")
            assert persons[other]["household_id"] == p["household_id"]


def test_same_sex_twins_have_niks_that_differ_only_in_consecutive_serials(out: Path) -> None:
    groups = twin_groups(read(out / "truth" / "persons.csv"))

    same_sex = 0
    for members in groups:
        for sex in "LP":
            niks = sorted(m["nik"] for m in members if m["jenis_kelamin"] == sex)
            for a, b in zip(niks, niks[1:], strict=False):
                assert a[:12] == b[:12]
                assert int(b[12:]) == int(a[12:]) + 1
                same_sex += 1
    assert same_sex >= len(groups) / 3


def test_twins_are_given_names_one_letter_apart_or_from_the_table(out: Path) -> None:
    groups = twin_groups(read(out / "truth" / "persons.csv"))

    for members in groups:
        for m in members:
            others = [o for o in members if o is not m]
            assert any(alike_names(m["nama"], o["nama"]) for o in others), [
                x["nama"] for x in members
            ]


def test_some_siblings_born_in_different_years_have_alike_names(out: Path) -> None:
    households = defaultdict(list)
    for p in read(out / "truth" / "persons.csv"):
        if p["hubungan"] == "ANAK" and p["kembar"] == "false":
            households[p["household_id"]].append(p)

    alike_born_apart = [
        (a, b)
        for children in households.values()
        for i, a in enumerate(children)
        for b in children[i + 1 :]
        if alike_names(a["nama"], b["nama"]) and a["tanggal_lahir"][:4] != b["tanggal_lahir"][:4]
    ]
    assert len(alike_born_apart) >= 5


def test_some_households_have_an_elderly_couple_with_default_birth_dates(out: Path) -> None:
    elders = defaultdict(list)
    for p in read(out / "truth" / "persons.csv"):
        if p["hubungan"] == "ORANG_TUA":
            elders[p["household_id"]].append(p)

    couples = [e for e in elders.values() if len(e) == 2]
    assert all(sorted(m["jenis_kelamin"] for m in c) == ["L", "P"] for c in couples)
    assert all(m["status_kawin"] == "S" for c in couples for m in c)
    defaulted = [c for c in couples if all(is_default_date(m["tanggal_lahir"]) for m in c)]
    assert len(defaulted) >= 2
    for couple in defaulted:
        for m in couple:
            born = iso(m["tanggal_lahir"])
            assert m["nik"][6:12] == (
                f"{born.day + (40 if m['jenis_kelamin'] == 'P' else 0):02d}"
                f"{born.month:02d}{born.year % 100:02d}"
            )


def landing_rows(out: Path, period: str) -> dict[tuple[str, str], dict]:
    folder = out / "landing" / period
    rows = [r for f in sorted(folder.glob("dukcapil_*.csv")) for r in read(f)]
    rows += read(folder / f"masyarakat_{period}.csv", encoding="cp1252", delimiter=";")
    return {(r["sumber"], r["event_id"]): r for r in rows}


def test_every_period_has_the_twin_and_namesake_hard_cases(out: Path) -> None:
    persons = {p["person_id"]: p for p in read(out / "truth" / "persons.csv")}
    events = [e for e in read(out / "truth" / "events.csv") if e["is_malformed"] == "false"]
    outcomes = {
        (o["sumber"], o["event_id"]): o for o in read(out / "truth" / "expected_outcomes.csv")
    }
    changes = defaultdict(list)
    for c in read(out / "truth" / "expected_changes.csv"):
        changes[(c["sumber"], c["event_id"])].append(c)

    died_together = 0
    for period in CUTOFF:
        mine = [e for e in events if e["period"] == period]
        landing = landing_rows(out, period)
        people_with_events = Counter(e["person_id"] for e in mine if not e["duplicate_of"])
        assert max(people_with_events.values()) == 1

        def of(case: str, jenis: str, mine: list[dict] = mine) -> list[dict]:
            return [e for e in mine if e["hard_case"] == case and e["jenis_peristiwa"] == jenis]

        # One twin dies, the row carries the NIK; the other twin has no event.
        with_nik = of("KEMBAR", "MENINGGAL")
        assert with_nik
        for e in with_nik:
            row = landing[(e["sumber"], e["event_id"])]
            assert row["nik"] == persons[e["person_id"]]["nik"]
            twins = persons[e["person_id"]]["kembar_dengan"].split(";")
            assert not any(t in people_with_events for t in twins)
            assert outcomes[(e["sumber"], e["event_id"])]["outcome"] == "APPLIED"
        # One twin dies, reported without NIK (residents' report).
        no_nik = of("KEMBAR_TANPA_NIK", "MENINGGAL")
        assert no_nik
        for e in no_nik:
            assert landing[(e["sumber"], e["event_id"])]["nik"] == ""
            assert [c["rule"] for c in changes[(e["sumber"], e["event_id"])]] == ["TMS_MENINGGAL"]
        # Twins turning 17 together: two new voters (or two future voters), never duplicates.
        turning = of("KEMBAR_BERSAMA", "PENDUDUK_BARU")
        assert len(turning) >= 2
        by_group = defaultdict(list)
        for e in turning:
            p = persons[e["person_id"]]
            by_group[(p["household_id"], p["tanggal_lahir"])].append(e)
            assert landing[(e["sumber"], e["event_id"])]["nik"] == p["nik"]
        for pair in by_group.values():
            assert len(pair) >= 2
            kinds = {outcomes[(e["sumber"], e["event_id"])]["outcome"] for e in pair}
            assert kinds in ({"APPLIED"}, {"FUTURE_VOTER"})
            if kinds == {"APPLIED"}:
                assert all(
                    [c["rule"] for c in changes[(e["sumber"], e["event_id"])]]
                    == ["BARU_PEMILIH_PEMULA"]
                    for e in pair
                )
        # A father or a son of the same name dies.
        assert of("NAMA_AYAH_ANAK", "MENINGGAL")
        together = of("KEMBAR_BERSAMA", "MENINGGAL")
        assert len(together) != 1
        died_together += len(together)
    assert died_together >= 2


def test_household_draws_have_twins_at_about_1_percent_of_children_and_a_few_triplets() -> None:
    import numpy as np

    from pdpb.synth.names import build_vocab
    from pdpb.synth.population import REL_CHILD, build_households
    from pdpb.synth.regions import load_regions

    rng = np.random.default_rng(5)
    pop = build_households(
        200_000, load_regions("36", rng), build_vocab(), date(2025, 12, 31), rng, 0
    )

    children = pop.rel == REL_CHILD
    assert 0.008 <= pop.twin[children].mean() <= 0.012
    _, size = np.unique(pop.hh[pop.twin], return_counts=True)
    assert set(size.tolist()) == {2, 3}
    assert 0.005 <= (size == 3).mean() <= 0.05
    first = np.flatnonzero(pop.twin & np.r_[True, pop.hh[1:] != pop.hh[:-1] | ~pop.twin[:-1]])
    assert 0.6 <= (pop.sex[first] == pop.sex[first + 1]).mean() <= 0.73


def test_relation_of_two_persons_follows_household_role_and_twins() -> None:
    from pdpb.synth.truth import relation

    def person(pid: str, hh: str, role: str, twins: str = "") -> dict:
        return {"person_id": pid, "household_id": hh, "hubungan": role, "kembar_dengan": twins}

    head, spouse = person("1", "9", "KEPALA"), person("2", "9", "PASANGAN")
    grandpa, grandma = person("3", "9", "ORANG_TUA"), person("4", "9", "ORANG_TUA")
    twin_a, twin_b = person("5", "9", "ANAK", "6"), person("6", "9", "ANAK", "5")
    sister, stranger = person("7", "9", "ANAK"), person("8", "10", "KEPALA")

    assert relation(twin_a, twin_b) == "kembar"
    assert relation(twin_a, sister) == relation(sister, twin_b) == "saudara"
    assert relation(head, twin_a) == relation(sister, spouse) == "orang_tua_anak"
    assert relation(grandpa, head) == "orang_tua_anak"
    assert relation(head, spouse) == relation(grandpa, grandma) == "pasangan"
    assert relation(grandma, sister) == relation(grandpa, spouse) == "keluarga_lain"
    assert relation(head, stranger) == "tidak_terkait"
    assert relation(head, dict(head)) == "orang_sama"


def test_movers_from_another_province_head_a_household_of_their_own(out: Path) -> None:
    persons = read(out / "truth" / "persons.csv")

    households = Counter(p["household_id"] for p in persons)
    movers = [p for p in persons if p["periode_masuk"]]
    assert movers
    for p in movers:
        assert p["hubungan"] == "KEPALA" and households[p["household_id"]] == 1
        assert p["kembar"] == "false" and p["kembar_dengan"] == ""
