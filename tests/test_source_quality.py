"""The month's data-quality report per source (issue #22) end to end: the
generator's incidents (a source that leaves the NIK empty far more often, a
blank-spot kab/kota whose Excel delivery does not arrive), five periods
through ingest, link and apply, the dbt build of the quality marts, and
publish's page section, workbook sheets and masked quarantine file.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from pdpb.config import Settings, default_cutoff
from pdpb.domain import QUALITY_FLAG_LABELS, QUARANTINE_REASON_LABELS
from pdpb.files import CSV_ENCODING
from pdpb.synth.landing import blank_spot_file

PERIODS = ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05")
MISSING_PERIOD, BLANK_SPOT = "2026-03", "36.02"  # Kabupaten Lebak's Excel file does not arrive
SPIKE_PERIOD, SPIKE_SOURCE = "2026-04", "DUKCAPIL"  # Dukcapil leaves the NIK empty in 30%
NIK_RUN = re.compile(r"(?<!\d)\d{16}(?!\d)")


@pytest.fixture(scope="module")
def incidents(tmp_path_factory) -> Path:
    from pdpb.synth import generate

    out = tmp_path_factory.mktemp("synth-incidents") / "data"
    generate(
        out, province="36", voters=6_000, periods=len(PERIODS), start=PERIODS[0], seed=7,
        nik_kosong=(SPIKE_PERIOD, SPIKE_SOURCE, 0.3), kiriman_hilang=(MISSING_PERIOD, BLANK_SPOT),
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def quality_home(incidents, linked_home, tmp_path_factory) -> tuple[Settings, dict[str, dict]]:
    """The five periods through ingest, link and apply, one dbt build of the
    marts (it rebuilds every period), and publish for the two incident periods."""
    from pdpb.publish import publish
    from pdpb.transform import build_marts

    settings = linked_home(incidents, tmp_path_factory.mktemp("quality-home"), PERIODS)
    build_marts(settings, PERIODS[-1])
    written = {p: publish(settings, p, default_cutoff(p)) for p in (MISSING_PERIOD, SPIKE_PERIOD)}
    return settings, written


def _query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# --- the generator's incidents ------------------------------------------------------


def test_the_blank_spot_file_is_missing_in_its_period_and_its_rows_come_late(incidents):
    files = list(csv.DictReader((incidents / "truth" / "files.csv").open(encoding="utf-8")))
    blank = {
        f["period"]: f
        for f in files
        if f["file_name"].endswith(".xlsx") and "dukcapil" in f["file_name"]
    }
    assert set(blank) == set(PERIODS) - {MISSING_PERIOD}
    assert not (
        incidents / "landing" / MISSING_PERIOD / blank_spot_file(MISSING_PERIOD, BLANK_SPOT)
    ).exists()
    events = list(csv.DictReader((incidents / "truth" / "events.csv").open(encoding="utf-8")))
    # Every truth event is in the file that carries it, and every file's rows are truth events.
    per_file = Counter((e["period"], e["file_name"]) for e in events)
    for f in files:
        if not f["copy_of"]:
            assert per_file[(f["period"], f["file_name"])] == int(f["rows"]), f["file_name"]
    # Nothing of the kab/kota came from Dukcapil in the missing period; the next
    # period's file carries them as late events dated in the missing period.
    dukcapil_missing = [
        e for e in events if e["period"] == MISSING_PERIOD and e["sumber"] == "DUKCAPIL"
    ]
    assert all(
        e["file_name"] != blank_spot_file(MISSING_PERIOD, BLANK_SPOT) for e in dukcapil_missing
    )
    after = blank_spot_file("2026-04", BLANK_SPOT)
    carried = [
        e for e in events if e["file_name"] == after and e["event_id"].startswith("DKC-202603-")
    ]
    assert carried and all(e["is_late"].lower() == "true" for e in carried)


def test_the_nik_spike_is_in_its_period_only(incidents):
    def empty_share(period: str) -> float:
        folder = incidents / "landing" / period
        rows = []
        for path in sorted(folder.glob("dukcapil_*.csv")):
            rows += list(csv.DictReader(path.open(encoding="utf-8")))
        return sum(not r["nik"] for r in rows) / len(rows)

    shares = {p: empty_share(p) for p in PERIODS}
    assert shares[SPIKE_PERIOD] > 0.15
    assert all(share < 0.06 for p, share in shares.items() if p != SPIKE_PERIOD), shares


# --- the marts and their flags ------------------------------------------------------------


def test_a_source_whose_nik_missing_share_jumps_is_flagged_in_that_period_only(quality_home):
    settings, _ = quality_home
    flagged = _query(
        settings,
        "select period, sumber from marts.rpt_kualitas_sumber where tanda_pct_nik_kosong is not null",
    )
    assert flagged == [(SPIKE_PERIOD, SPIKE_SOURCE)]
    share, median = _query(
        settings,
        "select pct_nik_kosong, median_pct_nik_kosong from marts.rpt_kualitas_sumber"
        " where period = ? and sumber = ?",
        [SPIKE_PERIOD, SPIKE_SOURCE],
    )[0]
    assert share >= 2 * median and share - median >= 0.05


def test_a_kabkota_that_delivered_nothing_is_flagged_in_that_period_only(quality_home):
    settings, _ = quality_home
    missing = _query(
        settings,
        "select period, sumber, kode_kabkota, peristiwa from marts.rpt_kiriman_kabkota"
        " where tanda = 'TIDAK_ADA_KIRIMAN'",
    )
    assert missing == [(MISSING_PERIOD, "DUKCAPIL", BLANK_SPOT, 0)]
    # The report is not a list of everything: in the quiet periods nothing at all is flagged.
    quiet = _query(
        settings,
        "select period, sumber, jumlah_tanda from marts.rpt_kualitas_sumber"
        " where period in ('2026-02', '2026-03') and jumlah_tanda > 0"
        " union all select period, sumber, 1 from marts.rpt_kiriman_kabkota"
        " where period in ('2026-02', '2026-05') and tanda is not null",
    )
    assert quiet == []


def test_rows_in_are_loaded_plus_quarantined_per_file_with_reasons_in_words(quality_home):
    settings, _ = quality_home
    files = _query(
        settings,
        "select period, file_name, baris_masuk, baris_dimuat, baris_karantina, alasan_karantina"
        " from marts.rpt_kualitas_file",
    )
    ledger = _query(settings, "select count(*) from core.files where period like '2026-%'")[0][0]
    assert len(files) == ledger
    assert all(masuk == dimuat + karantina for _, _, masuk, dimuat, karantina, _ in files)
    quarantined = dict(
        _query(settings, "select period || file_name, count(*) from core.quarantine group by 1")
    )
    for period, name, _, _, karantina, words in files:
        assert karantina == quarantined.get(period + name, 0)
        if karantina:
            assert words and not re.search(r"\b[A-Z]+_[A-Z_]+\b", words), words


# --- what operators get -----------------------------------------------------------------


def test_the_masked_quarantine_file_holds_every_quarantined_row(quality_home):
    settings, written = quality_home
    for period, paths in written.items():
        path = paths["karantina_csv"]
        assert path.name == f"karantina_{period}.csv"
        text = path.read_text(encoding=CSV_ENCODING)
        assert not NIK_RUN.search(text), "an unmasked 16-digit number in the quarantine file"
        rows = list(csv.DictReader(text.splitlines()))
        expected = _query(
            settings,
            "select file_name, row_number, event_id, reason from core.quarantine where period = ?"
            " order by file_name, row_number",
            [period],
        )
        assert [
            (r["file_name"], int(r["row_number"]), r["event_id"], r["kode_alasan"]) for r in rows
        ] == expected
        for r in rows:
            assert r["alasan"] == QUARANTINE_REASON_LABELS[r["kode_alasan"]]
            for column in ("data_nik", "data_nkk"):
                if len(r[column]) >= 8:  # core.mask_nik: region prefix, stars, last two digits
                    assert "*" in r[column], r
        # The delivered NIK of a row is there, masked by the warehouse's macro.
        raw_niks = _query(
            settings,
            "select core.mask_nik(json_extract_string(raw, '$.nik')) from core.quarantine"
            " where period = ? order by file_name, row_number",
            [period],
        )
        assert [r["data_nik"] for r in rows] == [n or "" for (n,) in raw_niks]


def test_the_page_and_the_workbook_show_the_flags(quality_home):
    settings, written = quality_home
    missing_page = written[MISSING_PERIOD]["index_html"].read_text(encoding="utf-8")
    section = missing_page[missing_page.index('id="kualitas-sumber"') :]
    section = section[: section.index("<h2", 10)]
    assert "KABUPATEN LEBAK" in section and QUALITY_FLAG_LABELS["TIDAK_ADA_KIRIMAN"] in section
    assert f'href="karantina_{MISSING_PERIOD}.csv"' in missing_page
    # Only the flagged kab/kota are rows on the page: Lebak is the one.
    kabkota_rows = re.findall(r"<tr><td>([A-Z]+)</td><td>(\d\d\.\d\d)</td>", section)
    assert kabkota_rows == [("DUKCAPIL", BLANK_SPOT)]
    assert "<script" not in missing_page

    spike_page = written[SPIKE_PERIOD]["index_html"].read_text(encoding="utf-8")
    section = spike_page[spike_page.index('id="kualitas-sumber"') :]
    assert re.search(r"DUKCAPIL: NIK kosong [\d,]+% \(median", section)

    wb = load_workbook(written[MISSING_PERIOD]["rekap_xlsx"], read_only=True)
    assert {"Kualitas Sumber", "Kualitas Berkas", "Kiriman Kab-Kota"} <= set(wb.sheetnames)
    kabkota = list(wb["Kiriman Kab-Kota"].iter_rows(min_row=5, values_only=True))
    flagged = [r for r in kabkota if r[7]]
    assert [(r[0], r[1], r[3]) for r in flagged] == [("DUKCAPIL", BLANK_SPOT, 0)]
    assert len(kabkota) > len(flagged)  # every kab/kota, not only the flagged ones
    wb = load_workbook(written[SPIKE_PERIOD]["rekap_xlsx"], read_only=True)
    sources = {r[0]: r for r in wb["Kualitas Sumber"].iter_rows(min_row=5, values_only=True)}
    assert "NIK kosong" in sources[SPIKE_SOURCE][-1]
