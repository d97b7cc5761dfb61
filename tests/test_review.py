"""Rules of the clerical review queue: export masked and escaped (no file it
writes holds a full NIK or NKK), import validated, a SAMA decision applied by
the next run of the period, and decisions found by `pdpb audit`."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pdpb.config import PdpbError, Settings, default_cutoff
from pdpb.contracts import LANDING_COLUMNS
from pdpb.files import column_key
from pdpb.pipeline import apply, ingest, link, start_period
from pdpb.review import export_review, import_decisions
from pdpb.voterlist import init_voters
from pdpb.warehouse import connect

PERIOD = "2026-01"


def _holder(small_synth) -> dict:
    """A voter with a valid NIK: the one whose NIK the suspect event carries."""
    with (small_synth / "voters.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if len(row["nik"]) == 16 and row["jenis_kelamin"] == "L" and not row["keterangan"]:
                return row
    raise AssertionError("no voter with a 16-digit NIK")


def _run_link_and_apply(settings: Settings) -> None:
    cutoff = default_cutoff(PERIOD)
    start_period(settings, PERIOD, cutoff)
    ingest(settings, PERIOD)
    link(settings, PERIOD)
    apply(settings, PERIOD, cutoff)


@pytest.fixture(scope="module")
def review_home(small_synth, tmp_path_factory):
    """A home whose only event is a death reported with a voter's NIK but another
    person's name, sex and birth date: the link stage sends it to REVIEW."""
    settings = Settings.load(tmp_path_factory.mktemp("review_home"))
    init_voters(settings, small_synth / "voters.csv")
    holder = _holder(small_synth)
    landing = settings.landing_dir(PERIOD)
    landing.mkdir(parents=True)
    event = dict.fromkeys(LANDING_COLUMNS, "")
    event.update(
        event_id="-EV-1", sumber="DUKCAPIL", jenis_peristiwa="MENINGGAL",
        tanggal_peristiwa="10-01-2026", nik=holder["nik"], nkk="", nama="=ZULAIKHA WATI",
        tempat_lahir="LEBAK", tanggal_lahir="02-02-1950", jenis_kelamin="P", status_kawin="S",
        alamat="@JL. KENANGA", rt="001", rw="001", kode_wilayah=holder["kode_wilayah"],
    )  # fmt: skip
    with (landing / "dukcapil_2026-01_01.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=LANDING_COLUMNS)
        writer.writeheader()
        writer.writerow(event)
    _run_link_and_apply(settings)
    return settings, holder


def _outcome(settings: Settings) -> tuple:
    con = connect(settings, read_only=True)
    try:
        return con.execute(
            "select outcome, dpid from core.event_outcomes where period = ? and event_id = '-EV-1'",
            [PERIOD],
        ).fetchone()
    finally:
        con.close()


def test_review_export_masks_nik_and_escapes_formula_cells(review_home):
    settings, holder = review_home
    assert _outcome(settings)[0] == "REVIEW"

    result = export_review(settings, PERIOD)

    sheet = load_workbook(result["xlsx"])["REVIEW"]
    header = [column_key(c.value) for c in sheet[1]]
    row = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert result["events"] == 1
    assert row["NIK_PEMILIH"] == holder["nik"][:6] + "********" + holder["nik"][-2:]
    assert row["NIK_SAMA"] == "YA"
    assert row["EVENT_ID"] == "'-EV-1"
    assert row["ALASAN_NIK"].startswith("NIK sama")
    assert row["ALASAN_JENIS_KELAMIN"].startswith("jenis kelamin beda")
    assert holder["nik"] not in (settings.review_dir(PERIOD) / f"review_{PERIOD}.csv").read_text()


def test_the_review_workbook_is_for_operators_and_its_filled_copy_imports(review_home, tmp_path):
    settings, holder = review_home
    result = export_review(settings, PERIOD)
    book = load_workbook(result["xlsx"])

    # First the instructions, in Indonesian, then the rows under headers in words.
    assert book.sheetnames == ["PETUNJUK", "REVIEW"]
    guide = " ".join(str(c.value) for c in book["PETUNJUK"]["A"] if c.value)
    assert "SAMA" in guide and "BEDA" in guide and "pdpb review import" in guide
    sheet = book["REVIEW"]
    header = [c.value for c in sheet[1]]
    assert "Keputusan (SAMA/BEDA)" in header and "NIK Pemilih" in header
    assert not [h for h in header if "_" in h]  # no CAPS_SNAKE left
    col = {column_key(h): i + 1 for i, h in enumerate(header)}
    # A SAMA/BEDA drop-down on the decision column, every other column locked.
    rules = sheet.data_validations.dataValidation
    assert [r.formula1 for r in rules] == ['"SAMA,BEDA"']
    assert str(rules[0].sqref).startswith(sheet.cell(2, col["KEPUTUSAN"]).column_letter + "2")
    assert sheet.protection.sheet
    unlocked = {k for k, c in col.items() if not sheet.cell(2, c).protection.locked}
    assert unlocked == {"KEPUTUSAN", "PEMERIKSA", "CATATAN"}

    # The operator answers in the workbook itself; the filled copy imports.
    sheet.cell(2, col["KEPUTUSAN"]).value = "BEDA"
    sheet.cell(2, col["PEMERIKSA"]).value = "Rina"
    filled = tmp_path / "diisi.xlsx"
    book.save(filled)
    imported = import_decisions(settings, filled)
    assert (imported["BEDA"], imported["decisions"]) == (1, 1)


def test_a_missing_nik_is_not_shown_as_a_different_nik(review_home):
    from pdpb.roundtrip import yes_no

    assert yes_no(None, "tidak ada NIK") == "tidak ada NIK"
    assert (yes_no(True, "-"), yes_no(False, "-")) == ("YA", "TIDAK")
    settings, holder = review_home

    def set_nik(nik):
        con = connect(settings)
        try:
            con.execute("update core.events set nik = ? where event_id = '-EV-1'", [nik])
        finally:
            con.close()

    set_nik(None)  # the event under review has no NIK: nothing to compare, not TIDAK
    try:
        with open(export_review(settings, PERIOD)["csv"], encoding="utf-8-sig", newline="") as fh:
            exported = next(csv.DictReader(fh))
    finally:
        set_nik(holder["nik"])
    assert exported["NIK_SAMA"] == "tidak ada NIK"


def test_comparison_viewer_loads_nothing_from_the_network(review_home):
    from linkage.scoring import remote_resources

    settings, _ = review_home
    result = export_review(settings, PERIOD)

    html = Path(result["viewer"]).read_text(encoding="utf-8")
    assert "<script" in html
    assert remote_resources(html) == []


FULL_NUMBER = re.compile(rb"(?<!\d)\d{16}(?!\d)")


def _full_numbers(path: Path) -> set[str]:
    """Every 16-digit number a file carries (XLSX parts unzipped)."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            parts = [archive.read(name) for name in archive.namelist()]
    else:
        parts = [path.read_bytes()]
    return {m.decode() for part in parts for m in FULL_NUMBER.findall(part)}


def _files(home: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in home.rglob("*") if p.is_file()}


def test_no_file_of_the_review_export_holds_a_full_input_nik_or_nkk(review_home, small_synth):
    settings, holder = review_home
    landing = [*settings.landing_dir(PERIOD).iterdir(), *(small_synth / "landing").rglob("*.csv")]
    secrets = set().union(*(_full_numbers(p) for p in [small_synth / "voters.csv", *landing]))
    before = _files(settings.home)

    result = export_review(settings, PERIOD)

    written = [p for p, mtime in _files(settings.home).items() if before.get(p) != mtime]
    written = [p for p in written if p.relative_to(settings.home).parts[0] != "warehouse"]
    assert {holder["nik"], holder["nkk"]} <= secrets and len(secrets) > 1000
    assert {Path(result["xlsx"]), Path(result["csv"]), Path(result["viewer"])} <= set(written)
    leaks = {p.name: sorted(_full_numbers(p) & secrets) for p in written}
    assert {name: found for name, found in leaks.items() if found} == {}
    # the viewer still shows the numbers, masked by the warehouse's one rule
    masked = holder["nik"][:6] + "********" + holder["nik"][-2:]
    assert masked in Path(result["viewer"]).read_text(encoding="utf-8")


def _filled_csv(settings: Settings, tmp_path, **values: str):
    export = export_review(settings, PERIOD)
    with open(export["csv"], encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row.update(values)
    path = tmp_path / "isian.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_import_refuses_an_unknown_keputusan_with_one_line(review_home, tmp_path):
    settings, _ = review_home
    path = _filled_csv(settings, tmp_path, KEPUTUSAN="YA", PEMERIKSA="Rina")

    with pytest.raises(PdpbError, match=r"row 2: KEPUTUSAN 'YA' must be SAMA or BEDA") as err:
        import_decisions(settings, path)
    assert "\n" not in str(err.value)


def test_import_refuses_an_event_decided_twice_differently(review_home, tmp_path):
    # The same round trip as the dedupe review (pdpb.roundtrip): one rule for both.
    settings, _ = review_home
    path = _filled_csv(settings, tmp_path, KEPUTUSAN="SAMA", PEMERIKSA="Rina")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows.append({**rows[0], "KEPUTUSAN": "BEDA"})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    con = connect(settings, read_only=True)
    before = con.execute("select count(*) from core.review_decisions").fetchall()
    con.close()

    with pytest.raises(PdpbError, match=r"is decided twice, differently.*nothing was imported"):
        import_decisions(settings, path)

    con = connect(settings, read_only=True)
    assert con.execute("select count(*) from core.review_decisions").fetchall() == before
    con.close()


def test_import_needs_a_reviewer_name(review_home, tmp_path):
    settings, _ = review_home
    path = _filled_csv(settings, tmp_path, KEPUTUSAN="SAMA", PEMERIKSA="")

    with pytest.raises(PdpbError, match="PEMERIKSA"):
        import_decisions(settings, path)


def test_sama_decision_turns_review_into_applied_on_the_next_run(review_home, tmp_path):
    settings, holder = review_home
    path = _filled_csv(settings, tmp_path, KEPUTUSAN="SAMA", PEMERIKSA="")

    result = import_decisions(settings, path, pemeriksa="Rina")
    _run_link_and_apply(settings)

    con = connect(settings, read_only=True)
    try:
        decided_by = con.execute("select decided_by from core.review_decisions").fetchall()
        status = con.execute(
            "select status, tms_code from core.voters where dpid = ?", [holder["dpid"]]
        ).fetchone()
    finally:
        con.close()
    assert result["SAMA"] == 1 and decided_by == [("Rina",)]
    assert _outcome(settings) == ("APPLIED", holder["dpid"])
    assert status == ("TMS", 1)


def test_audit_without_period_lists_dedupe_decisions_which_belong_to_no_period(tmp_path, capsys):
    from pdpb.audit import record
    from pdpb.cli import main
    from pdpb.warehouse import transaction

    settings = Settings.load(tmp_path)
    con = connect(settings)
    try:
        with transaction(con):
            # as `pdpb review import` and `pdpb dedupe import` record them
            record(con, "REVIEW_DECISION", PERIOD, "DUKCAPIL|EV-9", "SAMA -> D1", actor="Rina")
            record(con, "DEDUPE_DECISION", None, "D7", "ganda SAMA: D7 vs D3 in PD3-D7",
                   "satu KK, nama sama", actor="Rina", ref="PD3-D7")  # fmt: skip
    finally:
        con.close()

    def audit(*args: str) -> list[list[str]]:
        assert main(["--home", str(tmp_path), "audit", *args]) == 0
        return [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]

    every, one_period = audit(), audit("--period", PERIOD)

    assert [(r[3], r[4], r[5]) for r in every] == [
        ("REVIEW_DECISION", PERIOD, "DUKCAPIL|EV-9"),
        ("DEDUPE_DECISION", "-", "D7"),
    ]
    assert [r[3] for r in one_period] == ["REVIEW_DECISION"]
