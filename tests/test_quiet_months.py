"""Quiet months: a period with header-only files, and one with no files at all,
run every stage to the end; future voters are promoted in them, and the
whole-list age check makes TMS 3 of active voters whose recorded data shows
them under 17 and unmarried, never of one whose unknown birth date may make
them 17.

One home, made from the generator's data, runs three periods through the CLI:
2026-01 with the generated deliveries, 2026-02 with every generated file cut
to its header, 2026-03 with no landing folder. Before `pdpb init` a few
unmarried voters that no event of the data touches get a birth date under 17,
as a clerk's typo or a wrongly registered minor would leave it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pdpb.apply import is_eligible
from pdpb.config import Settings, default_cutoff
from pdpb.warehouse import connect

FIRST, HEADER_ONLY, NO_FILES = "2026-01", "2026-02", "2026-03"
# Generator data in which future voters of the first period turn 17 in each
# of the two quiet months (found by counting promotions in its truth).
VOTERS, SEED = 6_000, 8
# Role -> (status_kawin, tanggal_lahir as Sidalih writes it).
ARRANGED = {
    "dibawah_umur": ("B", "15|06|2010"),  # under 17 at every cut-off of 2026
    "status_kosong": ("", "20|03|2011"),  # unknown marital status counts as unmarried
    "tahun_pasti_dibawah_umur": ("B", "31|12|2010"),  # unknown day, but 16 even if born 1 Jan 2010
    "mungkin_17_desember": ("B", "31|12|2009"),  # unknown day: 17 if born 1 Jan 2009
    "mungkin_17_juli": ("B", "01|07|2009"),  # unknown day: 17 if born 1 Jan 2009
    "kawin_dibawah_umur": ("S", "15|06|2010"),  # married under 17: a voter
}
REMOVED = ("dibawah_umur", "status_kosong", "tahun_pasti_dibawah_umur")
KEPT = ("mungkin_17_desember", "mungkin_17_juli", "kawin_dibawah_umur")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _untouched_voters(data: Path) -> list[dict[str, str]]:
    """Voters of the list that no generated event, household member's event or
    duplicate concerns, and whose record carries no registration noise."""
    truth = data / "truth"
    on_list = _read(data / "voters.csv")
    touched = {d for e in _read(truth / "events.csv") for d in e["dpids"].split(";") if d}
    households = {v["nkk"] for v in on_list if v["dpid"] in touched}
    duplicates = {r["dpid"] for r in _read(truth / "duplicates.csv")}
    clean = {
        r["dpid"]
        for r in _read(truth / "voters.csv")
        if r["is_primary"] == "true" and not r["noise"]
    }
    return [
        v
        for v in on_list
        if v["dpid"] in clean and v["dpid"] not in duplicates and v["nkk"] not in households
    ]


def _arrange_voter_list(data: Path) -> dict[str, str]:
    """Rewrite the generated list with the ARRANGED birth dates; role -> dpid."""
    candidates = _untouched_voters(data)
    chosen: dict[str, str] = {}
    for role, (status, _) in ARRANGED.items():
        wanted = "S" if status == "S" else "B"
        pick = next(
            v
            for v in candidates
            if v["status_kawin"] == wanted and v["dpid"] not in chosen.values()
        )
        chosen[role] = pick["dpid"]
    by_dpid = {dpid: ARRANGED[role] for role, dpid in chosen.items()}
    path = data / "voters.csv"
    rows = _read(path)
    for row in rows:
        if row["dpid"] in by_dpid:
            row["status_kawin"], row["tanggal_lahir"] = by_dpid[row["dpid"]]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    return chosen


def _deliver_headers_only(source: Path, target: Path) -> None:
    """Every generated file of a period, cut to its header row."""
    target.mkdir(parents=True)
    for path in sorted(source.iterdir()):
        if path.suffix == ".xlsx":
            workbook = load_workbook(path)
            sheet = workbook.active
            sheet.delete_rows(2, sheet.max_row)
            workbook.save(target / path.name)
        else:
            (target / path.name).write_bytes(path.read_bytes().split(b"\n", 1)[0] + b"\n")


def _cli(home: Path, *args: str) -> tuple[int, str]:
    from pdpb.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--home", str(home), *args])
    return code, out.getvalue()


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    """The three periods run; returns what the tests look at."""
    from pdpb.synth import generate

    data = tmp_path_factory.mktemp("quiet-synth") / "data"
    generate(data, province="36", voters=VOTERS, periods=3, start=FIRST, seed=SEED)
    arranged = _arrange_voter_list(data)
    home = tmp_path_factory.mktemp("quiet-home")
    assert _cli(home, "init", "--voters", str(data / "voters.csv"))[0] == 0
    shutil.copytree(data / "landing" / FIRST, home / "landing" / FIRST)
    _deliver_headers_only(data / "landing" / HEADER_ONLY, home / "landing" / HEADER_ONLY)
    runs = {
        period: _cli(home, "run", "--period", period) for period in (FIRST, HEADER_ONLY, NO_FILES)
    }
    status = _cli(home, "status")[1]
    return {"data": data, "settings": Settings.load(home), "arranged": arranged, "runs": runs,
            "status": status}  # fmt: skip


def _rows(settings: Settings, sql: str, params: list | None = None) -> list[dict]:
    con = connect(settings, read_only=True)
    try:
        return con.sql(sql, params=params or []).to_arrow_table().to_pylist()
    finally:
        con.close()


def _recap(settings: Settings, period: str) -> dict:
    [row] = _rows(settings, "select * from marts.rpt_rekap_nasional where period = ?", [period])
    return row


def _changes(settings: Settings, period: str) -> list[dict]:
    return _rows(
        settings, "select * from core.changes where period = ? order by change_id", [period]
    )


def _assert_list_changed_only_by_promotions_and_age_check(settings: Settings, period: str) -> None:
    changes = _changes(settings, period)
    promoted = [c for c in changes if c["rule"] == "BARU_PROMOSI"]
    age_checked = [c for c in changes if c["sumber"] == "PERIKSA_UMUR"]
    assert len(changes) == len(promoted) + len(age_checked)
    recap = _recap(settings, period)
    assert recap["baru_total"] == len(promoted) and recap["tms_total"] == len(age_checked)
    assert recap["ubah"] == 0
    assert recap["awal_total"] + recap["baru_total"] - recap["tms_total"] == recap["akhir_total"]
    [previous] = _rows(
        settings,
        "select akhir_total from marts.rpt_rekap_nasional where period < ? order by period desc limit 1",
        [period],
    )
    assert recap["awal_total"] == previous["akhir_total"]
    gates = ("delta_events", "voters", "rekap")
    reports = settings.reports_dir(period)
    assert all('"success": true' in (reports / f"quality_{g}.json").read_text() for g in gates)
    [state] = _rows(settings, "select status from core.periods where period = ?", [period])
    assert state["status"] == "COMPLETED"


# ---------------------------------------------------------------- quiet months


def test_a_quiet_month_with_header_only_files_runs_every_stage_to_the_end(quiet):
    settings = quiet["settings"]

    code, out = quiet["runs"][HEADER_ONLY]

    assert code == 0 and f"period {HEADER_ONLY} completed (no data rows delivered)" in out
    files = _rows(settings, "select * from core.files where period = ?", [HEADER_ONLY])
    delivered = sorted(p.name for p in (quiet["data"] / "landing" / HEADER_ONLY).iterdir())
    assert sorted(f["file_name"] for f in files) == delivered
    assert all(f["status"] == "LOADED" and "no data rows" in f["message"] for f in files)
    assert all(f["rows_in"] == f["rows_loaded"] + f["rows_quarantined"] == 0 for f in files)
    _assert_list_changed_only_by_promotions_and_age_check(settings, HEADER_ONLY)
    assert (
        f"{HEADER_ONLY} (cut-off {default_cutoff(HEADER_ONLY)}): COMPLETED, files delivered with no data rows"
        in quiet["status"]
    )


def test_a_quiet_month_with_no_files_runs_every_stage_and_says_no_delivery_arrived(quiet):
    settings = quiet["settings"]

    code, out = quiet["runs"][NO_FILES]

    assert code == 0 and f"period {NO_FILES} completed (no files delivered)" in out
    assert _rows(settings, "select * from core.files where period = ?", [NO_FILES]) == []
    assert _rows(settings, "select * from core.events where period = ?", [NO_FILES]) == []
    _assert_list_changed_only_by_promotions_and_age_check(settings, NO_FILES)
    assert (
        f"{NO_FILES} (cut-off {default_cutoff(NO_FILES)}): COMPLETED, no files delivered"
        in quiet["status"]
    )
    assert (settings.reports_dir(NO_FILES)).is_dir()


@pytest.mark.parametrize("period", [HEADER_ONLY, NO_FILES])
def test_every_future_voter_turning_17_by_the_cutoff_is_promoted_in_a_quiet_month(quiet, period):
    settings, cutoff = quiet["settings"], default_cutoff(period)
    previous = default_cutoff(FIRST if period == HEADER_ONLY else HEADER_ONLY)
    futures = _rows(settings, "select * from core.future_voters where first_period = ?", [FIRST])
    due = {
        f["future_id"]
        for f in futures
        if is_eligible(f["tanggal_lahir"], f["status_kawin"], cutoff)
        and not is_eligible(f["tanggal_lahir"], f["status_kawin"], previous)
    }

    promoted = [c for c in _changes(settings, period) if c["rule"] == "BARU_PROMOSI"]

    assert due, "the data must hold a future voter who turns 17 in this month"
    assert {c["event_id"] for c in promoted} == due
    assert all(c["sumber"] == c["match_method"] == "PROMOSI" for c in promoted)
    # The generator's truth (from people's true birth dates) agrees.
    truth = [
        r
        for r in _read(quiet["data"] / "truth" / "expected_changes.csv")
        if r["period"] == period
        and r["rule"] == "BARU_PROMOSI"
        and f"-{FIRST.replace('-', '')}-" in r["event_id"]
    ]
    assert len(truth) == len(promoted)


# ---------------------------------------------------------------- whole-list age check


def test_an_unmarried_voter_recorded_under_17_becomes_tms_3_though_no_event_touches_them(quiet):
    settings, arranged = quiet["settings"], quiet["arranged"]
    removed = {arranged[role] for role in REMOVED}

    checked = [c for c in _changes(settings, FIRST) if c["sumber"] == "PERIKSA_UMUR"]

    assert {c["dpid"] for c in checked} == removed
    for change in checked:
        assert (change["change_type"], change["tms_code"], change["rule"]) == (
            "TMS",
            3,
            "TMS_BAWAH_UMUR",
        )
        assert change["event_id"] == f"UMUR-{default_cutoff(FIRST).isoformat()}"
        assert change["match_method"] == "PERIKSA_UMUR" and "di bawah umur" in change["reason"]
    outcomes = _rows(settings, "select dpid from core.event_outcomes where dpid is not null")
    assert removed.isdisjoint(o["dpid"] for o in outcomes)
    voters = _rows(settings, "select dpid, status, tms_code from core.voters")
    assert {(v["status"], v["tms_code"]) for v in voters if v["dpid"] in removed} == {("TMS", 3)}
    assert _recap(settings, FIRST)["tms_bawah_umur"] >= len(removed)


def test_a_voter_whose_unknown_birth_date_may_make_them_17_is_not_removed(quiet):
    settings, arranged = quiet["settings"], quiet["arranged"]
    kept = {arranged[role] for role in KEPT}

    changes = _rows(settings, "select dpid from core.changes")
    voters = _rows(settings, "select dpid, status from core.voters")

    assert kept.isdisjoint(c["dpid"] for c in changes)
    assert {v["status"] for v in voters if v["dpid"] in kept} == {"AKTIF"}


def test_the_age_check_removes_no_voter_but_those_recorded_under_17(quiet):
    settings, arranged = quiet["settings"], quiet["arranged"]

    checked = _rows(settings, "select period, dpid from core.changes where sumber = 'PERIKSA_UMUR'")

    assert sorted(c["dpid"] for c in checked) == sorted(arranged[role] for role in REMOVED)
    assert {c["period"] for c in checked} == {FIRST}
