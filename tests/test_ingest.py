"""Ingest: every delivered file accounted for, bad rows quarantined with reasons.

The corpus below is one bad (or awkward) delivery per case, each placed in a
landing folder beside one good file. Every case states its outcome: the file
REJECTED with a one-line message naming it, a row quarantined with a reason
code, or the row loaded safely. Whatever happens, rows in = loaded +
quarantined holds for every file of the ledger.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from pdpb.config import PdpbError, Settings
from pdpb.ingest import LANDING_COLUMNS, ingest_period
from pdpb.warehouse import connect

PERIOD = "2026-03"
NEXT = "2026-04"
GOOD = {
    "event_id": "E1", "sumber": "DUKCAPIL", "jenis_peristiwa": "MENINGGAL",
    "tanggal_peristiwa": "15-03-2026", "nik": "3601014501900001", "nkk": "3601010101200001",
    "nama": "SITI AMINAH", "tempat_lahir": "SERANG", "tanggal_lahir": "05-01-1990",
    "jenis_kelamin": "P", "status_kawin": "S", "alamat": "JL. MAWAR 1", "rt": "001", "rw": "002",
    "kode_wilayah": "36.01.01.2001", "kode_wilayah_asal": "",
}  # fmt: skip


def row(**changes: str) -> dict[str, str]:
    return {**GOOD, **changes}


def csv_bytes(
    rows: list[dict[str, str]] | list[list[str]],
    header: list[str] | tuple[str, ...] = LANDING_COLUMNS,
    delimiter: str = ",",
    encoding: str = "utf-8",
    newline: str = "\n",
) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(c, "") for c in header] if isinstance(r, dict) else r)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(
    rows: list[list[object]], header: tuple[str, ...] = LANDING_COLUMNS, write_only: bool = False
) -> bytes:
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet("data") if write_only else wb.active
    ws.append(list(header))
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def parquet_bytes(rows: list[dict[str, object]]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(tmp_path / "home")


def deliver(settings: Settings, files: dict[str, bytes], period: str = PERIOD) -> Path:
    folder = settings.landing_dir(period)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def table(settings: Settings, sql: str, params: list | None = None) -> list[dict]:
    con = connect(settings, read_only=True)
    try:
        return con.sql(sql, params=params or []).to_arrow_table().to_pylist()
    finally:
        con.close()


def ledger(settings: Settings, period: str = PERIOD) -> dict[str, dict]:
    rows = table(settings, "select * from core.files where period = ?", [period])
    return {r["file_name"]: r for r in rows}


def events(settings: Settings, period: str = PERIOD) -> list[dict]:
    return table(
        settings, "select * from core.events where period = ? order by file_name, row_number",
        [period],
    )  # fmt: skip


def quarantine(settings: Settings, period: str = PERIOD) -> list[dict]:
    return table(
        settings, "select * from core.quarantine where period = ? order by file_name, row_number",
        [period],
    )  # fmt: skip


def assert_every_file_accounted_for(settings: Settings, period: str = PERIOD) -> None:
    files = ledger(settings, period)
    q_by_file: dict[str, int] = {}
    for q in quarantine(settings, period):
        q_by_file[q["file_name"]] = q_by_file.get(q["file_name"], 0) + 1
    for name, f in files.items():
        assert f["rows_in"] == f["rows_loaded"] + f["rows_quarantined"], name
        assert q_by_file.get(name, 0) == f["rows_quarantined"], name


# --------------------------------------------------------------------------- the corpus

GOOD_FILE = {"baik.csv": csv_bytes([row(event_id="OK1")])}
Check = Callable[[dict], None]

# name -> (files, expected outcome of "bad.*"). Outcomes: ("REJECTED", words the
# one-line message must contain), ("QUARANTINED", reason), ("LOADED", check on the event).
CORPUS: dict[str, tuple[dict[str, bytes], tuple]] = {
    "empty_file": ({"bad.csv": b""}, ("REJECTED", ["bad.csv", "empty"])),
    "blank_lines_only": ({"bad.csv": b"\r\n \r\n\n"}, ("REJECTED", ["bad.csv", "empty"])),
    "binary_garbage": (
        {"bad.csv": bytes(range(256)) * 8},
        ("REJECTED", ["bad.csv", "binary"]),
    ),
    "wrong_delimiter": (
        {"bad.csv": csv_bytes([row()], delimiter="|")},
        ("REJECTED", ["bad.csv", "missing required columns", "event_id", "delimiter"]),
    ),
    "missing_columns": (
        {"bad.csv": csv_bytes([row()], header=[c for c in LANDING_COLUMNS if c not in ("nik", "rw")])},
        ("REJECTED", ["bad.csv", "missing required columns: nik, rw"]),
    ),
    "truncated_xlsx": (
        {"bad.xlsx": xlsx_bytes([list(GOOD.values())])[:900]},
        ("REJECTED", ["bad.xlsx", "not a readable XLSX"]),
    ),
    "corrupt_parquet": (
        {"bad.parquet": parquet_bytes([GOOD])[:-40]},
        ("REJECTED", ["bad.parquet", "not a readable Parquet"]),
    ),
    "workbook_named_csv": (
        {"bad.csv": xlsx_bytes([list(GOOD.values())])},
        ("REJECTED", ["bad.csv", "rename it to .xlsx"]),
    ),
    "old_excel_format": ({"bad.xls": b"\xd0\xcf\x11\xe0 not xlsx"}, ("REJECTED", ["bad.xls", "XLSX"])),
    "unsupported_file_type": ({"bad.json": b"[]"}, ("REJECTED", ["bad.json", "not a CSV"])),
    "header_only": ({"bad.csv": csv_bytes([])}, ("LOADED", None)),
    "field_of_20000_characters": (
        {"bad.csv": csv_bytes([row(alamat="A" * 20_000)])},
        ("QUARANTINED", "FIELD_TOO_LONG"),
    ),
    "unclosed_quote": (
        {"bad.csv": csv_bytes([row()]) + b'E2,DUKCAPIL,"MENINGGAL,15-03-2026\nE3,DUKCAPIL\n'},
        ("QUARANTINED", "RAGGED_ROW"),
    ),
    "control_character": (
        {"bad.csv": csv_bytes([row(nama="SITI\x01AMINAH")])},
        ("QUARANTINED", "CONTROL_CHARACTER"),
    ),
    "duplicated_event_id": (
        {"bad.csv": csv_bytes([row(event_id="D1"), row(event_id="D1", nama="LAIN")])},
        ("QUARANTINED", "DUPLICATE_EVENT_ID"),
    ),
    "letters_in_nik": (
        {"bad.csv": csv_bytes([row(nik="36010145O1900001")])},
        ("QUARANTINED", "NIK_NOT_NUMERIC"),
    ),
    "nik_in_scientific_notation": (
        {"bad.csv": csv_bytes([row(nik="3.60101E+15")])},
        ("QUARANTINED", "NIK_NOT_NUMERIC"),
    ),
    "letters_in_nkk": (
        {"bad.csv": csv_bytes([row(nkk="36010I0101200001")])},
        ("QUARANTINED", "NKK_NOT_NUMERIC"),
    ),
    "future_death_date": (
        {"bad.csv": csv_bytes([row(tanggal_peristiwa="01-01-2027")])},
        ("QUARANTINED", "FUTURE_DATE"),
    ),
    "impossible_date": (
        {"bad.csv": csv_bytes([row(tanggal_peristiwa="31-02-2026")])},
        ("QUARANTINED", "INVALID_DATE"),
    ),
    "excel_serial_out_of_range": (
        {"bad.csv": csv_bytes([row(tanggal_peristiwa="99999")])},
        ("QUARANTINED", "INVALID_DATE"),
    ),
    "future_birth_date": (
        {"bad.csv": csv_bytes([row(tanggal_lahir="2030-01-01")])},
        ("QUARANTINED", "INVALID_BIRTH_DATE"),
    ),
    "unknown_event_type": (
        {"bad.csv": csv_bytes([row(jenis_peristiwa="CERAI")])},
        ("QUARANTINED", "UNKNOWN_EVENT_TYPE"),
    ),
    "missing_event_type": (
        {"bad.csv": csv_bytes([row(jenis_peristiwa="")])},
        ("QUARANTINED", "MISSING_EVENT_TYPE"),
    ),
    "missing_event_id": (
        {"bad.csv": csv_bytes([row(event_id=" ")])},
        ("QUARANTINED", "MISSING_EVENT_ID"),
    ),
    "missing_sumber": ({"bad.csv": csv_bytes([row(sumber="")])}, ("QUARANTINED", "MISSING_SUMBER")),
    "unknown_sex_code": (
        {"bad.csv": csv_bytes([row(jenis_kelamin="X")])},
        ("QUARANTINED", "INVALID_CODE"),
    ),
    "ragged_row": (
        {"bad.csv": csv_bytes([list(GOOD.values())[:-3]])},
        ("QUARANTINED", "RAGGED_ROW"),
    ),
    "unknown_region_code": (
        {"bad.csv": csv_bytes([row(kode_wilayah="99.99.99.9999")])},
        ("QUARANTINED", "UNKNOWN_REGION"),
    ),
    "formula_looking_cells": (
        {"bad.csv": csv_bytes([row(alamat="=HYPERLINK(\"http://x\",\"klik\")", tempat_lahir="@SUM(A1)")])},
        ("LOADED", lambda e: (e["alamat"], e["tempat_lahir"]) == ('=HYPERLINK("HTTP://X","KLIK")', "@SUM(A1)")),
    ),
    "sql_looking_strings": (
        {"bad.csv": csv_bytes([row(alamat="'); DROP TABLE core.events; --", tempat_lahir="1' OR '1'='1")])},
        ("LOADED", lambda e: (e["alamat"], e["tempat_lahir"]) == ("'); DROP TABLE CORE.EVENTS; --", "1' OR '1'='1")),
    ),
    "windows_1252_semicolon_crlf": (
        {"bad.csv": csv_bytes([row(nama="José Müller")], delimiter=";", encoding="cp1252", newline="\r\n")},
        ("LOADED", lambda e: e["nama"] == "JOSE MULLER"),
    ),
    "bom_and_messy_header_names": (
        {"bad.csv": b"\xef\xbb\xbf" + csv_bytes([list(GOOD.values())], header=[f" {c.upper()} " for c in LANDING_COLUMNS])},
        ("LOADED", lambda e: e["nik"] == "3601014501900001"),
    ),
    "trailing_delimiter_and_blank_lines": (
        {"bad.csv": csv_bytes([list(GOOD.values()) + [""]]) + b"\n\n,,,\n"},
        ("LOADED", lambda e: e["row_number"] == 2),
    ),
    "xlsx_with_typed_cells": (
        {"bad.xlsx": xlsx_bytes([[*list(GOOD.values())[:3], date(2026, 3, 15), 3601014501900001,
                                  *list(GOOD.values())[5:8], 32878, *list(GOOD.values())[9:]]])},
        ("LOADED", lambda e: (e["tanggal_peristiwa"], e["nik"], e["tanggal_lahir"])
         == (date(2026, 3, 15), "3601014501900001", date(1990, 1, 5))),
    ),
    # Workbooks store no empty cells: an exporter that writes no sheet size
    # gives rows that stop at their last filled cell (kode_wilayah_asal empty).
    "xlsx_rows_without_trailing_empty_cells": (
        {"bad.xlsx": xlsx_bytes([list(GOOD.values())[:-1]], write_only=True)},
        ("LOADED", lambda e: e["kode_wilayah_asal"] is None and e["kode_wilayah"] == "36.01.01.2001"),
    ),
    "parquet": ({"bad.parquet": parquet_bytes([GOOD])}, ("LOADED", lambda e: e["rt"] == "001")),
    "undotted_region_rt_000_titles": (
        {"bad.csv": csv_bytes([row(kode_wilayah="3601012001", rt="000", nama="hj. siti aminah, s.pd")])},
        ("LOADED", lambda e: (e["kode_wilayah"], e["rt"], e["nama"], e["gelar"])
         == ("36.01.01.2001", None, "SITI AMINAH", "HJ S.PD")),
    ),
    "nik_contradicting_sex_is_flagged_not_fixed": (
        {"bad.csv": csv_bytes([row(jenis_kelamin="L")])},
        ("LOADED", lambda e: (e["nik"], e["jenis_kelamin"], e["nik_flag"]) == ("3601014501900001", "L", "NIK_SEX_MISMATCH")),
    ),
    "short_nik_is_loaded_as_invalid": (
        {"bad.csv": csv_bytes([row(nik="360101450190001")])},
        ("LOADED", lambda e: e["nik_valid"] is False),
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(CORPUS))
def test_every_bad_delivery_gets_a_clear_outcome_and_is_accounted_for(settings, kind):
    files, (outcome, expected) = CORPUS[kind]
    deliver(settings, {**GOOD_FILE, **files})
    bad_name = next(iter(files))

    if outcome == "REJECTED":
        with pytest.raises(PdpbError) as err:
            ingest_period(settings, PERIOD)
        message = str(err.value)
        assert "\n" not in message
        for word in expected:
            assert word in message
        files_ledger = ledger(settings)
        assert files_ledger[bad_name]["status"] == "REJECTED"
        assert files_ledger["baik.csv"]["status"] == "HELD"
        assert events(settings) == [] and quarantine(settings) == []
    else:
        ingest_period(settings, PERIOD)
        bad_events = [e for e in events(settings) if e["file_name"] == bad_name]
        bad_rows = [q for q in quarantine(settings) if q["file_name"] == bad_name]
        if outcome == "QUARANTINED":
            assert expected in {q["reason"] for q in bad_rows}
            assert all(json.loads(q["raw"]) for q in bad_rows)  # the raw row is kept
        else:
            assert bad_rows == []
            assert all(expected(e) for e in bad_events) if expected else bad_events == []
            assert len(bad_events) == (0 if kind == "header_only" else 1)
    assert_every_file_accounted_for(settings)


def test_the_corpus_has_at_least_twenty_kinds_of_bad_delivery():
    assert len(CORPUS) >= 20


def test_all_loadable_bad_files_together_are_accounted_for(settings):
    loadable = {
        f"{kind}{Path(name).suffix}": data
        for kind, (files, (outcome, _)) in CORPUS.items()
        if outcome != "REJECTED"
        for name, data in files.items()
    }
    deliver(settings, loadable)

    counts = ingest_period(settings, PERIOD)

    files = ledger(settings)
    assert set(files) == set(loadable)
    assert_every_file_accounted_for(settings)
    assert counts["rows_in"] == counts["rows_loaded"] + counts["rows_quarantined"]
    # Every file reuses event ids, so later files (in name order) replace earlier ones.
    assert counts["events"] == len(events(settings))


def test_quarantined_row_keeps_the_delivered_values_and_position(settings):
    deliver(settings, {"d.csv": csv_bytes([row(event_id="A"), row(event_id="B", nik="12AB")])})

    ingest_period(settings, PERIOD)

    [q] = quarantine(settings)
    assert (q["row_number"], q["sumber"], q["event_id"]) == (3, "DUKCAPIL", "B")
    assert json.loads(q["raw"])["nik"] == "12AB"


# --------------------------------------------------------------------------- re-deliveries


def test_a_later_delivery_of_an_event_replaces_the_earlier_one_and_records_it(settings):
    deliver(settings, {
        "dukcapil_01.csv": csv_bytes([row(event_id="R1"), row(event_id="R2")]),
        "dukcapil_02.csv": csv_bytes([row(event_id="R1", alamat="JL. MELATI 9")]),
    })  # fmt: skip

    ingest_period(settings, PERIOD)

    loaded = {e["event_id"]: e for e in events(settings)}
    assert loaded["R1"]["alamat"] == "JL. MELATI 9"
    assert json.loads(loaded["R1"]["extra"]) == {
        "replaces": "dukcapil_01.csv:2",
        "changed_fields": ["alamat"],
    }
    assert (
        "1 rows replaced by the later delivery dukcapil_02.csv"
        in (ledger(settings)["dukcapil_01.csv"]["message"])
    )
    assert_every_file_accounted_for(settings)


def test_an_identical_redelivery_is_recorded_and_not_loaded_twice(settings):
    data = csv_bytes([row(event_id="S1"), row(event_id="S2")])
    deliver(settings, {"tni.csv": data, "tni_kirim_ulang.csv": data})

    counts = ingest_period(settings, PERIOD)

    files = ledger(settings)
    assert files["tni_kirim_ulang.csv"]["status"] == "DUPLICATE"
    assert "identical to tni.csv (2 rows)" in files["tni_kirim_ulang.csv"]["message"]
    assert files["tni_kirim_ulang.csv"]["rows_in"] == 0
    assert counts["events"] == 2 and len(events(settings)) == 2


def test_a_file_redelivered_in_a_later_period_is_a_duplicate_of_the_earlier_one(settings):
    data = csv_bytes([row(event_id="S1")])
    deliver(settings, {"tni.csv": data})
    deliver(settings, {"tni_lagi.csv": data}, period=NEXT)
    ingest_period(settings, PERIOD)

    ingest_period(settings, NEXT)

    assert ledger(settings, NEXT)["tni_lagi.csv"]["status"] == "DUPLICATE"
    assert f"tni.csv ({PERIOD})" in ledger(settings, NEXT)["tni_lagi.csv"]["message"]


def test_an_event_processed_in_an_earlier_period_is_quarantined_with_its_raw_row(settings):
    deliver(settings, {"a.csv": csv_bytes([row(event_id="P1")])})
    deliver(settings, {"b.csv": csv_bytes([row(event_id="P1", tanggal_peristiwa="02-04-2026")])},
            period=NEXT)  # fmt: skip
    ingest_period(settings, PERIOD)

    ingest_period(settings, NEXT)

    [q] = quarantine(settings, NEXT)
    assert q["reason"] == "ALREADY_PROCESSED"
    assert json.loads(q["raw"])["tanggal_peristiwa"] == "02-04-2026"
    assert_every_file_accounted_for(settings, NEXT)


def test_events_dated_before_the_period_are_loaded_and_flagged_late(settings):
    deliver(settings, {"d.csv": csv_bytes([
        row(event_id="L1", tanggal_peristiwa="20-12-2025"), row(event_id="L2"),
    ])})  # fmt: skip

    ingest_period(settings, PERIOD)

    late = {e["event_id"]: e["is_late"] for e in events(settings)}
    assert late == {"L1": True, "L2": False}


def test_extra_columns_are_kept_aside_not_dropped(settings):
    header = [*LANDING_COLUMNS, "Keterangan Petugas", "no_akta"]
    deliver(settings, {"d.csv": csv_bytes(
        [[*GOOD.values(), "dicek ulang", "AKT-77"]], header=header
    )})  # fmt: skip

    ingest_period(settings, PERIOD)

    [event] = events(settings)
    assert json.loads(event["extra"]) == {"Keterangan Petugas": "dicek ulang", "no_akta": "AKT-77"}


def test_ingesting_a_period_twice_gives_identical_tables(settings):
    deliver(settings, {
        "a.csv": csv_bytes([row(event_id="I1"), row(event_id="I2", nik="X")]),
        "b.csv": csv_bytes([row(event_id="I1", rt="9")]),
        "c.xlsx": xlsx_bytes([list(row(event_id="I3").values())]),
    })  # fmt: skip

    def snapshot() -> tuple:
        files = [
            {k: v for k, v in f.items() if k != "loaded_at"} for f in ledger(settings).values()
        ]
        return events(settings), quarantine(settings), sorted(files, key=lambda f: f["file_name"])

    ingest_period(settings, PERIOD)
    first = snapshot()
    ingest_period(settings, PERIOD)

    assert snapshot() == first


def test_office_lock_and_hidden_files_are_not_deliveries(settings):
    deliver(settings, {**GOOD_FILE, "~$bad.xlsx": b"lock", ".DS_Store": b"\x00"})

    ingest_period(settings, PERIOD)

    assert set(ledger(settings)) == {"baik.csv"}


def test_a_generated_period_is_fully_accounted_for(settings, small_synth):
    # The generator re-delivers one file identically in its second period.
    period = sorted(p.name for p in (small_synth / "landing").iterdir())[1]
    shutil.copytree(small_synth / "landing" / period, settings.landing_dir(period))

    counts = ingest_period(settings, period)

    files = ledger(settings, period)
    assert any(f["status"] == "DUPLICATE" for f in files.values())  # the generator's re-delivery
    assert {q["reason"] for q in quarantine(settings, period)} <= {
        "NIK_NOT_NUMERIC", "INVALID_BIRTH_DATE", "INVALID_DATE", "UNKNOWN_EVENT_TYPE",
    }  # fmt: skip
    assert counts["rows_quarantined"] > 0
    assert_every_file_accounted_for(settings, period)


def test_header_only_files_from_two_sources_are_each_loaded_not_duplicates(settings):
    header_only = csv_bytes([])
    deliver(settings, {"polri.csv": header_only, "tni.csv": header_only})

    counts = ingest_period(settings, PERIOD)

    files = ledger(settings)
    assert {f["status"] for f in files.values()} == {"LOADED"}
    assert all("no data rows" in f["message"] for f in files.values())
    assert counts == {"files": 2, "files_duplicate": 0, "rows_in": 0, "rows_loaded": 0,
                      "rows_quarantined": 0, "events": 0}  # fmt: skip
    assert_every_file_accounted_for(settings)


def test_a_period_with_no_landing_folder_ingests_nothing_and_is_not_refused(settings):
    counts = ingest_period(settings, PERIOD)

    assert counts["files"] == 0 and counts["rows_in"] == 0 and counts["events"] == 0
    assert ledger(settings) == {} and events(settings) == []


def test_a_period_with_an_empty_landing_folder_ingests_nothing(settings):
    deliver(settings, {})

    counts = ingest_period(settings, PERIOD)

    assert counts["files"] == 0 and counts["events"] == 0 and ledger(settings) == {}
