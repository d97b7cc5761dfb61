"""Specification of the national synthetic data set (`pdpb synth --province 31,32,36`)."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from pdpb.contracts import LANDING_COLUMNS
from pdpb.ingest import match_columns, read_rows
from pdpb.synth import generate_national
from pdpb.synth.national import split_voters

PROVINCES, VOTERS, PERIODS, START = ["31", "32", "36"], 3000, 2, "2026-01"
MONTHS = ["2026-01", "2026-02"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("national")
    for name in ("a", "b"):
        generate_national(root / name, PROVINCES, VOTERS, PERIODS, START, seed=11)
    return root / "a", root / "b"


@pytest.fixture(scope="module")
def out(runs: tuple[Path, Path]) -> Path:
    return runs[0]


def read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def landing_rows(out: Path) -> list[dict]:
    """Every row of the national deliveries (re-delivered copies left out), with its period."""
    copies = {r["file_name"] for r in read(out / "truth" / "files.csv") if r["copy_of"]}
    rows = []
    for period in MONTHS:
        for path in sorted((out / "landing" / period).iterdir()):
            if path.name in copies:
                continue
            header, cells = read_rows(path)
            pos = match_columns([str(h) for h in header], path.name)
            for row in cells:
                rows.append(
                    {"period": period, **{c: "" if row[pos[c]] is None else str(row[pos[c]])
                                          for c in LANDING_COLUMNS}}
                )  # fmt: skip
    return rows


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_the_same_bytes(runs: tuple[Path, Path]) -> None:
    a, b = runs

    assert digests(a) == digests(b)
    assert any(name.startswith("landing/") for name in digests(a))


def test_layout_has_provinces_national_landing_and_national_truth(out: Path) -> None:
    assert (out / "manifest.json").is_file()
    for kode in PROVINCES:
        folder = out / "provinces" / kode
        assert (folder / "voters.csv").is_file()
        assert not (folder / "landing").exists()
        for name in ("persons", "voters", "duplicates", "events", "expected_changes",
                     "expected_outcomes", "files", "rekap_kabkota"):  # fmt: skip
            assert (folder / "truth" / f"{name}.csv").is_file()
    for period in MONTHS:
        names = sorted(p.name for p in (out / "landing" / period).iterdir())
        assert f"dukcapil_{period}_01.csv" in names and f"imigrasi_{period}.xlsx" in names
    assert "tni_2026-02_kirim_ulang.csv" in {
        p.name for p in (out / "landing" / "2026-02").iterdir()
    }
    assert list(read(out / "truth" / "moves.csv")[0]) == [
        "period", "sumber", "event_id", "person_key", "kode_provinsi_asal", "dpid_asal",
        "kode_wilayah_asal", "kode_provinsi_tujuan", "kode_wilayah",
    ]  # fmt: skip
    assert list(read(out / "truth" / "pairs.csv")[0]) == [
        "kode_provinsi_a", "dpid_a", "kode_provinsi_b", "dpid_b", "relasi",
    ]  # fmt: skip


def test_voters_are_split_by_dpt_size_with_at_least_500_each(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    counts = {k: len(read(out / "provinces" / k / "voters.csv")) for k in PROVINCES}

    assert counts == manifest["parameters"]["voters_by_province"]
    assert sum(counts.values()) == VOTERS
    assert min(counts.values()) >= 500
    assert counts["32"] > counts["36"] >= counts["31"]  # Jawa Barat, Banten, DKI Jakarta
    assert split_voters(6000, PROVINCES) == {"31": 937, "32": 4058, "36": 1005}
    for kode in PROVINCES:
        rows = read(out / "provinces" / kode / "voters.csv")
        assert {r["kode_wilayah"][:2] for r in rows} == {kode}
        assert {r["dpid"][:2] for r in rows} == {kode}
        # No birth date shared by a crowd (young spouses are not all 17.5 at the start).
        assert max(Counter(r["tanggal_lahir"] for r in rows).values()) <= len(rows) / 100


def test_event_ids_are_unique_nationally_and_each_row_is_in_a_province_truth(out: Path) -> None:
    rows = landing_rows(out)
    keys = Counter((r["sumber"], r["event_id"]) for r in rows)

    assert max(keys.values()) == 1
    in_truth: set[tuple[str, str]] = set()
    for kode in PROVINCES:
        events = read(out / "provinces" / kode / "truth" / "events.csv")
        mine = {(e["sumber"], e["event_id"]) for e in events}
        assert len(mine) == len(events)
        assert mine <= set(keys)
        in_truth |= mine
    assert in_truth == set(keys)


def test_each_move_is_one_pindah_row_tms_4_in_the_origin_and_baru_in_the_destination(
    out: Path,
) -> None:
    moves = read(out / "truth" / "moves.csv")
    rows = {(r["sumber"], r["event_id"]): r for r in landing_rows(out)}

    assert all(n >= 3 for n in Counter(m["period"] for m in moves).values())
    assert set(Counter(m["period"] for m in moves)) == set(MONTHS)
    assert len({m["person_key"] for m in moves}) == len(moves)
    for m in moves:
        a, b = m["kode_provinsi_asal"], m["kode_provinsi_tujuan"]
        key = (m["sumber"], m["event_id"])
        row = rows[key]
        assert a != b and m["sumber"] == "DUKCAPIL"
        assert row["jenis_peristiwa"] == "PINDAH"
        assert row["kode_wilayah"] == m["kode_wilayah"] and row["kode_wilayah"][:2] == b
        assert (
            row["kode_wilayah_asal"] == m["kode_wilayah_asal"] and m["kode_wilayah_asal"][:2] == a
        )
        voter = {v["dpid"]: v for v in read(out / "provinces" / a / "voters.csv")}[m["dpid_asal"]]
        assert voter["kode_wilayah"] == m["kode_wilayah_asal"]

        origin, dest = out / "provinces" / a / "truth", out / "provinces" / b / "truth"
        changes_a = [
            c for c in read(origin / "expected_changes.csv") if (c["sumber"], c["event_id"]) == key
        ]
        assert [(c["change_type"], c["tms_code"], c["rule"], c["dpid"]) for c in changes_a] == [
            ("TMS", "4", "TMS_PINDAH_KELUAR", m["dpid_asal"])
        ]
        outcome_a = [
            o for o in read(origin / "expected_outcomes.csv") if (o["sumber"], o["event_id"]) == key
        ]
        assert [(o["outcome"], o["dpid"]) for o in outcome_a] == [("APPLIED", m["dpid_asal"])]
        person_a = m["person_key"].split(":")[1]
        events_a = [e for e in read(origin / "events.csv") if e["person_id"] == person_a]
        assert [(e["sumber"], e["event_id"]) for e in events_a] == [key]  # no other event

        changes_b = [
            c for c in read(dest / "expected_changes.csv") if (c["sumber"], c["event_id"]) == key
        ]
        assert [(c["change_type"], c["rule"], c["dpid"], c["kode_wilayah"]) for c in changes_b] == [
            ("BARU", "BARU_PINDAH_MASUK", "NEW", m["kode_wilayah"])
        ]
        person_b = changes_b[0]["person_id"]
        newcomer = [p for p in read(dest / "persons.csv") if p["person_id"] == person_b]
        assert newcomer[0]["periode_masuk"] == m["period"]
        assert newcomer[0]["hubungan"] == "KEPALA"
        assert newcomer[0]["kode_wilayah_asal"] == m["kode_wilayah_asal"]


def test_moves_in_from_elsewhere_come_from_provinces_outside_the_list(out: Path) -> None:
    planted = {(m["sumber"], m["event_id"]) for m in read(out / "truth" / "moves.csv")}
    across = [
        r for r in landing_rows(out)
        if r["jenis_peristiwa"] == "PINDAH" and r["kode_wilayah_asal"][:2] != r["kode_wilayah"][:2]
    ]  # fmt: skip

    assert across
    for r in across:
        listed = r["kode_wilayah_asal"][:2] in PROVINCES
        assert listed == ((r["sumber"], r["event_id"]) in planted)


def test_planted_pairs_are_two_records_in_two_provinces(out: Path) -> None:
    pairs = read(out / "truth" / "pairs.csv")
    voters = {
        k: {v["dpid"]: v for v in read(out / "provinces" / k / "voters.csv")} for k in PROVINCES
    }
    truth = {k: {v["dpid"]: v for v in read(out / "provinces" / k / "truth" / "voters.csv")}
             for k in PROVINCES}  # fmt: skip

    assert Counter(p["relasi"] for p in pairs)["orang_sama"] >= 3
    assert Counter(p["relasi"] for p in pairs)["kembar"] >= 2
    for p in pairs:
        a, b = p["kode_provinsi_a"], p["kode_provinsi_b"]
        va, vb = voters[a][p["dpid_a"]], voters[b][p["dpid_b"]]
        assert a != b
        assert va["tanggal_lahir"] == vb["tanggal_lahir"]
        assert truth[a][p["dpid_a"]]["is_primary"] == truth[b][p["dpid_b"]]["is_primary"] == "true"
        if p["relasi"] == "kembar":
            assert va["nik"] != vb["nik"] and va["nik"][:12] == vb["nik"][:12]
            assert abs(int(va["nik"]) - int(vb["nik"])) == 1
            assert va["nama"] != vb["nama"] and va["jenis_kelamin"] == vb["jenis_kelamin"]
        else:
            assert p["relasi"] == "orang_sama"
            assert va["jenis_kelamin"] == vb["jenis_kelamin"]
            # The stale record is only registered in b: no event about its person there.
            person = truth[b][p["dpid_b"]]["person_id"]
            events = read(out / "provinces" / b / "truth" / "events.csv")
            assert not [e for e in events if e["person_id"] == person]


def test_manifest_counts_the_national_cases(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    national = manifest["national"]

    assert manifest["parameters"]["provinces"] == PROVINCES
    assert set(manifest["provinces"]) == set(PROVINCES)
    assert national["moves"] == len(read(out / "truth" / "moves.csv"))
    pairs = Counter(p["relasi"] for p in read(out / "truth" / "pairs.csv"))
    assert national["double_registrations"] == pairs["orang_sama"]
    assert national["cross_province_twins"] == pairs["kembar"]
    assert national["landing_rows"] == len(landing_rows(out))


def test_family_deaths_are_on_records_that_hold_the_true_identity(out: Path) -> None:
    checked = 0
    for kode in PROVINCES:
        truth = out / "provinces" / kode / "truth"
        noise = {v["dpid"]: v["noise"] for v in read(truth / "voters.csv")}
        for e in read(truth / "events.csv"):
            if e["jenis_peristiwa"] == "MENINGGAL" and e["hard_case"] in (
                "KEMBAR_TANPA_NIK", "KEMBAR_BERSAMA", "NAMA_AYAH_ANAK"
            ):  # fmt: skip
                labels = noise[e["dpids"].split(";")[0]]
                assert not any(x.startswith(("nama_", "nik_", "tgl_")) for x in labels.split(";"))
                checked += 1
    assert checked >= len(PROVINCES)
