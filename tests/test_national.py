"""The national list end to end on three small generated provinces.

One national home (docs/national.md) is built once for the module:

- 2026-01 through `pdpb national run` (routing, the provinces in parallel
  processes, reconciliation, the national recap);
- the two-province pairs decided through `pdpb national ganda export/import`
  (SAMA for the generator's double registrations, BEDA for everything else);
- 2026-02 through the pdpb_national DAG (Airflow's own runner, in a
  subprocess), with a broken national file whose rows all belong to one
  province, so that province's quality gate fails while the others publish;
- then that province alone, again with `pdpb national run --provinces`, once
  the broken file is withdrawn.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pdpb.cli import main
from pdpb.config import REPO_ROOT, Settings
from pdpb.domain import RECAP_COLUMNS
from pdpb.national.home import province_settings
from pdpb.orchestration import airflow_environment

PROVINCES = ("31", "32", "36")
BROKEN = "31"  # the province whose delivery is broken in 2026-02
BROKEN_FILE = "laporan_rusak_2026-02.csv"


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _broken_file(folder: Path, desa: str) -> Path:
    """A coordination file for one province whose 80 rows have unreadable
    dates: the province's ingest quarantines them all and its event gate
    (quarantine share) fails."""
    from pdpb.contracts import LANDING_COLUMNS

    path = folder / BROKEN_FILE
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, LANDING_COLUMNS)
        writer.writeheader()
        for i in range(80):
            writer.writerow({"event_id": f"RSK-{i:04d}", "sumber": "MASYARAKAT",
                             "jenis_peristiwa": "MENINGGAL", "tanggal_peristiwa": "31-31-2026",
                             "nama": "TIDAK TERBACA", "tanggal_lahir": "99/99/9999",
                             "jenis_kelamin": "L", "kode_wilayah": desa})  # fmt: skip
    return path


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    from pdpb.synth import generate_national

    root = tmp_path_factory.mktemp("national")
    data, home = root / "data", root / "home"
    generate_national(data, list(PROVINCES), voters=4_500, periods=2, start="2026-01", seed=5)
    settings = Settings.load(home)
    for kode in PROVINCES:
        voters = data / "provinces" / kode / "voters.csv"
        assert main(["--home", str(province_settings(settings, kode).home), "init",
                     "--voters", str(voters)]) == 0  # fmt: skip
    for period in ("2026-01", "2026-02"):
        shutil.copytree(data / "landing" / period, settings.landing_dir(period))
    desa = _read(data / "provinces" / BROKEN / "voters.csv")[0]["kode_wilayah"]
    _broken_file(settings.landing_dir("2026-02"), desa)

    assert main(["--home", str(home), "national", "run", "--period", "2026-01", "--jobs", "2"]) == 0
    first_snapshot = (settings.published_dir / "pdpb.duckdb").read_bytes()

    # Operators decide the pairs: SAMA where the generator registered one person twice.
    from pdpb.national.evaluation import evaluate_national

    same = set(evaluate_national(settings, data / "truth")["one_person_pairs"])
    assert main(["--home", str(home), "national", "ganda", "export"]) == 0
    sheet = home / "review" / "ganda_nasional" / "periksa_ganda_nasional.csv"
    rows = _read(sheet)
    for row in rows:
        row["KEPUTUSAN"] = "SAMA" if row["PASANGAN"] in same else "BEDA"
    decided = root / "keputusan.csv"
    with decided.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["--home", str(home), "national", "ganda", "import", str(decided),
                 "--pemeriksa", "operator uji"]) == 0  # fmt: skip

    # 2026-02 through the DAG: the broken province fails, the run fails, the others publish.
    env = {**os.environ, **airflow_environment(settings)}
    dag_run = subprocess.run(
        [sys.executable, "-m", "pdpb.orchestration", "--home", str(home), "backfill",
         "2026-02", "2026-02"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    incomplete = {
        "returncode": dag_run.returncode,
        "stderr": dag_run.stderr,
        "status": _query(settings.warehouse_path,
                         "select status, message from nasional.periods where period = '2026-02'"),
        "snapshot_unchanged": (settings.published_dir / "pdpb.duckdb").read_bytes()
        == first_snapshot,
        "page": (settings.reports_dir("2026-02") / "index.html").read_text(encoding="utf-8"),
        "provinces": {
            k: _query(province_settings(settings, k).warehouse_path,
                      "select status, stage from core.periods where period = '2026-02'")
            for k in PROVINCES
        },
    }  # fmt: skip

    # The broken file is withdrawn; the province is run again alone.
    (settings.landing_dir("2026-02") / BROKEN_FILE).unlink()
    rerun = main(["--home", str(home), "national", "run", "--period", "2026-02",
                  "--provinces", BROKEN])  # fmt: skip
    return {"data": data, "settings": settings, "incomplete": incomplete, "rerun": rerun,
            "same": same}  # fmt: skip


def test_route_accounts_for_every_row(national):
    settings = national["settings"]
    files = _query(settings.warehouse_path,
                   "select period, file_name, rows_in, rows_routed, rows_quarantined from nasional.route_files")  # fmt: skip
    assert files and all(r[2] == r[3] + r[4] for r in files)
    # Each province's ingest read exactly the rows routed to it (a move counts in both).
    for kode in PROVINCES:
        outputs = dict(_query(settings.warehouse_path,
                              "select output_name, rows from nasional.route_outputs "
                              "where period = '2026-01' and kode_provinsi = ?", [kode]))  # fmt: skip
        ledger = _query(province_settings(settings, kode).warehouse_path,
                        "select file_name, status, rows_in from core.files where period = '2026-01'")  # fmt: skip
        assert sorted(name for name, *_ in ledger) == sorted(outputs)
        for name, status, rows_in in ledger:
            assert status == "DUPLICATE" or rows_in == outputs[name], (kode, name)


def test_every_move_gives_one_tms_4_and_one_baru(national):
    data, settings = national["data"], national["settings"]
    moves = _read(data / "truth" / "moves.csv")
    assert len(moves) >= 3 * 2  # at least three per period
    for m in moves:
        origin = province_settings(settings, m["kode_provinsi_asal"]).warehouse_path
        dest = province_settings(settings, m["kode_provinsi_tujuan"]).warehouse_path
        key = [m["period"], m["sumber"], m["event_id"]]
        tms = _query(origin, "select dpid, tms_code, rule from core.changes where period = ? "
                     "and sumber = ? and event_id = ?", key)  # fmt: skip
        baru = _query(dest, "select rule, kode_wilayah from core.changes where period = ? "
                      "and sumber = ? and event_id = ?", key)  # fmt: skip
        assert tms == [(m["dpid_asal"], 4, "TMS_PINDAH_KELUAR")], m
        assert baru == [("BARU_PINDAH_MASUK", m["kode_wilayah"])], m
        status = _query(settings.warehouse_path, "select status from nasional.move_reconciliation "
                        "where period = ? and sumber = ? and event_id = ?", key)  # fmt: skip
        assert status == [("SELESAI",)], m


def test_double_registrations_proposed_once_and_decided(national):
    data, settings = national["data"], national["settings"]
    result = json.loads(json.dumps(_evaluate(settings, data)))
    assert result["orang_sama"] >= 3
    assert result["orang_sama_proposed"] == result["orang_sama"]
    assert result["proposed_more_than_once"] == 0
    assert result["wrongful_tms"] == 0
    # Each SAMA made TMS 2 in the province of the record that goes, in 2026-02.
    pairs = _query(settings.warehouse_path,
                   "select pair_id, kode_provinsi, dpid, decision from nasional.ganda_proposals")  # fmt: skip
    sama = [p for p in pairs if p[3] == "SAMA"]
    assert sorted(p[0] for p in sama) == sorted(national["same"]) and len(sama) >= 3
    for pair_id, kode, dpid, _ in sama:
        home = province_settings(settings, kode).warehouse_path
        assert _query(home, "select status, tms_code from core.voters where dpid = ?", [dpid]) == [
            ("TMS", 2)
        ]
        assert _query(home, "select period, event_id from core.changes where dpid = ? and tms_code = 2",
                      [dpid]) == [("2026-02", pair_id)]  # fmt: skip
    # BEDA pairs (twins living apart among them, were any proposed) are never made TMS 2.
    for _, kode, dpid, decision in pairs:
        if decision == "BEDA":
            home = province_settings(settings, kode).warehouse_path
            assert _query(home, "select count(*) from core.changes where dpid = ? and tms_code = 2",
                          [dpid]) == [(0,)]  # fmt: skip


def _evaluate(settings: Settings, data: Path) -> dict:
    from pdpb.national.evaluation import evaluate_national

    return evaluate_national(settings, data / "truth")


@pytest.mark.parametrize("period", ["2026-01", "2026-02"])
def test_national_recap_is_the_sum_of_the_provinces(national, period):
    settings = national["settings"]
    counts = [
        c
        for c in RECAP_COLUMNS
        if c not in ("period", "kode_wilayah", "nama_wilayah", "kode_induk")
    ]
    total = dict(zip(counts, _query(settings.warehouse_path,
                                    f"select {', '.join(counts)} from marts.rpt_rekap_nasional where period = ?",
                                    [period])[0], strict=True))  # fmt: skip
    summed = dict.fromkeys(counts, 0)
    for kode in PROVINCES:
        own = _query(province_settings(settings, kode).warehouse_path,
                     f"select {', '.join(counts)} from marts.rpt_rekap_provinsi where period = ?", [period])  # fmt: skip
        assert len(own) == 1
        for c, v in zip(counts, own[0], strict=True):
            summed[c] += v
    assert total == summed
    for part in ("l", "p", "total"):
        assert (
            total[f"awal_{part}"] + total[f"baru_{part}"] - total[f"tms_{part}"]
            == total[f"akhir_{part}"]
        )
    csv_rows = _read(settings.reports_dir(period) / f"rekap_nasional_{period}.csv")
    assert [int(csv_rows[0]["akhir_total"])] == [total["akhir_total"]]
    assert csv_rows[0]["lengkap"].lower() == "true"


def test_a_failed_province_leaves_the_others_published_and_the_run_incomplete(national):
    got = national["incomplete"]
    assert got["returncode"] != 0
    assert "INCOMPLETE" in got["stderr"] and f"provinsi {BROKEN}" in got["stderr"]
    (status, message), = got["status"]  # fmt: skip
    assert status == "INCOMPLETE" and f"provinsi {BROKEN} FAILED di tahap gate_events" in message
    assert got["provinces"][BROKEN] == [("FAILED", "gate_events")]
    for kode in set(PROVINCES) - {BROKEN}:
        assert got["provinces"][kode] == [("COMPLETED", "done")]
    assert "TIDAK LENGKAP" in got["page"]
    assert got["snapshot_unchanged"]


def test_the_failed_province_is_run_again_alone(national):
    settings = national["settings"]
    assert national["rerun"] == 0
    assert _query(settings.warehouse_path,
                  "select status from nasional.periods where period = '2026-02'") == [("COMPLETE",)]  # fmt: skip
    # The provinces that had published were not run again: one start each.
    for kode in set(PROVINCES) - {BROKEN}:
        rollbacks = _query(province_settings(settings, kode).warehouse_path,
                           "select count(*) from core.audit_log where kind = 'ROLLBACK'")  # fmt: skip
        assert rollbacks == [(0,)]
    assert (settings.published_dir / "pdpb.duckdb").exists()
    info = _query(settings.published_dir / "pdpb.duckdb", "select period from snapshot_info")
    assert info == [("2026-02",)]


def test_route_quarantines_rows_without_a_province(national, tmp_path):
    """A row with a desa of a province outside the deployment, one with no
    region and one with a code that is no desa: each quarantined with its
    reason, the rest routed."""
    from pdpb.contracts import LANDING_COLUMNS
    from pdpb.national.route import route_period

    settings = national["settings"]
    home = tmp_path / "home"
    shutil.copytree(settings.home / "provinces", home / "provinces",
                    ignore=shutil.ignore_patterns("landing", "reports", "datadocs", "gx", "dbt"))  # fmt: skip
    folder = home / "landing" / "2026-03"
    folder.mkdir(parents=True)
    rows = _read(next(settings.landing_dir("2026-01").glob("dukcapil_*.csv")))[:20]
    rows[0]["kode_wilayah"] = "35.07.01.2001"  # Jawa Timur: not deployed here
    rows[1]["kode_wilayah"] = ""
    rows[2]["kode_wilayah"] = "99.99.99.9999"
    with (folder / "dukcapil_2026-03_01.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, LANDING_COLUMNS)
        writer.writeheader()
        writer.writerows({c: r[c] for c in LANDING_COLUMNS} for r in rows)
    counts = route_period(Settings.load(home), "2026-03")
    assert (counts["rows_in"], counts["rows_routed"], counts["rows_quarantined"]) == (20, 17, 3)
    reasons = _query(home / "warehouse" / "pdpb.duckdb",
                     "select row_number, reason from nasional.route_quarantine order by row_number")  # fmt: skip
    assert reasons == [(2, "PROVINCE_NOT_DEPLOYED"), (3, "MISSING_REGION"), (4, "UNKNOWN_REGION")]


def test_status_and_evaluation_of_a_national_home(national, capsys):
    settings, data = national["settings"], national["data"]
    assert main(["--home", str(settings.home), "status"]) == 0
    out = capsys.readouterr().out
    for kode in PROVINCES:
        assert f"provinsi {kode}:" in out
    assert "nasional 2026-01: COMPLETE (selesai: 31,32,36)" in out
    assert "nasional 2026-02: COMPLETE" in out
    assert main(["--home", str(settings.home), "national", "evaluate",
                 "--truth", str(data / "truth"), "--strict"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "wrongful TMS 2 of national decisions: 0" in out


def test_the_national_recap_opens_for_its_users(national):
    """The workbook the plenary prints and the page the operators open: the
    recap in words, TIDAK LENGKAP nowhere once complete, and (where Chromium
    is installed) the page renders without console errors."""
    from openpyxl import load_workbook
    from test_reports_browser import CHROMIUM, visit

    reports = national["settings"].reports_dir("2026-02")
    book = load_workbook(reports / "rekap_nasional_2026-02.xlsx", read_only=True)
    assert book.sheetnames == ["Provinsi", "Nasional"]
    cells = [
        c for row in book["Provinsi"].iter_rows(values_only=True) for c in row if c is not None
    ]
    assert cells[0] == "Rekapitulasi Daftar Pemilih Berkelanjutan Nasional"
    assert {"BANTEN", "JAWA BARAT", "JUMLAH"} <= set(cells)
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (the CI installs it)")
    seen = visit(reports / "index.html")
    assert seen.errors == []
    assert "Semua provinsi selesai." in seen.text and "TIDAK LENGKAP" not in seen.text
    assert "Pindah antarprovinsi" in seen.text and "Rekap nasional" in seen.text
