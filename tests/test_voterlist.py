"""Init: the initial Sidalih list, read in chunks and normalised per distinct value."""

from __future__ import annotations

import csv
import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pdpb import normalize as nz
from pdpb import voterlist
from pdpb.config import PdpbError, Settings
from pdpb.warehouse import connect


def _damaged_copy(src, dst) -> dict[int, str]:
    """The generator's list with known bad rows; returns {row_number: reason}."""
    with open(src, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    col = {name: i for i, name in enumerate(rows[0])}
    expected: dict[int, str] = {}

    def spoil(row_number: int, column: str, value: str, reason: str) -> None:
        rows[row_number - 1][col[column]] = value
        expected[row_number] = reason

    spoil(10, "dpid", "", "MISSING_DPID")
    spoil(20, "tanggal_lahir", "31|02|1990", "INVALID_DATE")
    spoil(30, "tanggal_lahir", "01|01|2999", "INVALID_BIRTH_DATE")
    spoil(40, "kode_wilayah", "", "UNKNOWN_REGION")
    # Two errors in one row: the first in the documented order is reported.
    spoil(50, "kode_wilayah", "", "UNKNOWN_REGION")
    spoil(50, "dpid", "", "MISSING_DPID")
    # A dpid repeated later in the file (across chunk boundaries): the first row wins.
    rows.append(list(rows[5]))
    expected[len(rows)] = "DUPLICATE_DPID"
    with open(dst, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return expected


def test_init_quarantines_bad_rows_with_reasons_and_loses_none(small_synth, tmp_path, monkeypatch):
    monkeypatch.setattr(voterlist, "CHUNK_ROWS", 700)  # several chunks for 3,000 rows
    path = tmp_path / "voters.csv"
    expected = _damaged_copy(small_synth / "voters.csv", path)
    with open(path, encoding="utf-8") as fh:
        data_rows = sum(1 for _ in fh) - 1
    settings = Settings.load(tmp_path / "home")

    counts = voterlist.init_voters(settings, path, actor="tester")

    assert counts["rows_in"] == data_rows == counts["voters"] + counts["quarantined"]
    con = connect(settings, read_only=True)
    try:
        got = dict(con.execute("select row_number, reason from core.quarantine").fetchall())
        voters = con.execute("select count(*), count(distinct dpid) from core.voters").fetchone()
        history = con.execute(
            "select count(*) from core.voter_history where version = 1 and valid_from_period = '0000-00'"
        ).fetchone()[0]
        ledger = con.execute(
            "select rows_in, rows_loaded, rows_quarantined from core.files where period = '0000-00'"
        ).fetchone()
        audit = con.execute("select actor, what from core.audit_log where kind = 'INIT'").fetchall()
        repeated = con.execute(
            "select nama from core.voters where dpid = (select event_id from core.quarantine "
            "where reason = 'DUPLICATE_DPID')"
        ).fetchone()
    finally:
        con.close()
    assert got == expected
    assert voters == (counts["voters"], counts["voters"]) and history == counts["voters"]
    assert ledger == (data_rows, counts["voters"], counts["quarantined"])
    assert len(audit) == 1 and audit[0][0] == "tester" and str(counts["voters"]) in audit[0][1]
    assert repeated is not None  # the first row of the repeated dpid is the voter


def test_chunked_reading_gives_the_same_list_as_one_chunk(small_synth, monkeypatch):
    whole, _ = voterlist.read_voter_list(small_synth / "voters.csv")
    monkeypatch.setattr(voterlist, "CHUNK_ROWS", 333)
    chunked, _ = voterlist.read_voter_list(small_synth / "voters.csv")
    assert whole.num_rows > 2_000 and chunked.equals(whole)
    # normalised values, not raw ones: canonical dates, codes and TPS numbers
    row = whole.slice(0, 1).to_pylist()[0]
    assert re.fullmatch(r"\d\d\.\d\d\.\d\d\.\d{4}", row["kode_wilayah"])
    assert isinstance(row["tanggal_lahir"], date) and len(row["tps"]) == 3


def test_init_refuses_a_home_that_already_has_voters(period_home, small_synth):
    with pytest.raises(PdpbError, match="already has a voter list"):
        voterlist.init_voters(period_home, small_synth / "voters.csv")


@given(st.from_regex(r"[0-9A-Z]{1,20}", fullmatch=True) | st.sampled_from(["NULL", "NAN", "0"]))
def test_values_init_takes_unchanged_are_what_their_normaliser_returns(text):
    """Init takes a value matching `_UNCHANGED` as it is instead of calling
    the normaliser: that must be what the normaliser would have returned."""
    rules = {column: fn for column, _, fn in voterlist.field_rules(date(2026, 1, 1))}
    for column, pattern in voterlist._UNCHANGED.items():
        results, failed, unchanged = voterlist._normalised(column, rules[column], [text])
        if unchanged[0]:
            assert re.fullmatch(pattern.strip("^$"), text)
            assert rules[column](text) == text == results[0]
        else:
            assert results[0] == (None if failed else rules[column](text))


def test_typed_workbook_cells_are_normalised_one_by_one_as_their_normaliser_says():
    """An XLSX list's cells come typed: 1, "1", 1.0 and True are distinct
    values, each normalised as the rule's normaliser says, and a row's first
    failing rule quarantines it."""
    from pdpb.contracts import SIDALIH_COLUMNS

    positions = {c: i for i, c in enumerate(SIDALIH_COLUMNS)}
    today = date(2026, 1, 1)

    def row(**cells):
        base = {"dpid": "D1", "nama": "SITI", "tanggal_lahir": "01|02|1990",
                "kode_wilayah": "36.01.01.2001", "jenis_kelamin": "P", "tps": "1",
                "nik": "3601014101900001", "nkk": "3601010101200001"}  # fmt: skip
        base.update(cells)
        return [base.get(c) for c in SIDALIH_COLUMNS]

    rows = [
        row(dpid="D1", tps=1, rt=7),
        row(dpid="D2", tps="1", rt="7", disabilitas=True),
        row(dpid="D3", tps=1.0, rt=7.0, disabilitas=1),
        row(dpid="D4", nik="3.60101E+15"),  # a spreadsheet's rounding: digits lost
        row(dpid="D6", nik=3601014101900001.0),  # a number cell that kept every digit
        row(dpid="D5", nik="3601014101900001 ", nkk="3601.0101.2000.01"),
        row(dpid="NULL"),
    ]
    voters, quarantine = voterlist.normalise_chunk(rows, positions, 2, "daftar.xlsx", today)

    expected, reasons = {}, {}
    for number, raw in enumerate(rows, start=2):
        values = {}
        for column, targets, fn in voterlist.field_rules(today):
            try:
                out = fn(raw[positions[column]])
            except nz.InvalidValue as bad:
                reasons.setdefault(number, bad.reason)
                continue
            values.update(zip(targets, out if len(targets) > 1 else (out,), strict=True))
        if number not in reasons:
            expected[values["dpid"]] = values
    got = {r["dpid"]: r for r in voters.to_pylist()}
    assert got.keys() == expected.keys() and len(got) == 5
    for dpid, values in expected.items():
        assert {k: got[dpid][k] for k in values} == values
    assert {q["row_number"]: q["reason"] for q in quarantine} == reasons
    assert reasons == {5: "NIK_NOT_NUMERIC", 8: "MISSING_DPID"}


def test_a_list_the_columnar_reader_cannot_take_exactly_is_read_row_by_row(
    small_synth, tmp_path, caplog, monkeypatch
):
    """A blank line or a short row reads as the row reader reads it (a blank
    line is a row, quarantined; a short row's missing cells are empty), in
    init's one transaction with nothing of the abandoned columnar try left."""
    import logging

    lines = (small_synth / "voters.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    short = ",".join(lines[3].split(",")[: header.index('"kode_wilayah"') + 1])
    lines[2000:2000] = ["", short]
    monkeypatch.setattr(voterlist, "CSV_BLOCK_BYTES", 64 << 10)  # found after chunks were loaded
    path = tmp_path / "voters.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows_in = len(lines) - 1

    by_rows = list(voterlist.read_voter_list_chunks(path, columnar=False))
    with pytest.raises(voterlist.NeedsRowReader):
        list(voterlist.read_voter_list_chunks(path))
    settings = Settings.load(tmp_path / "home")
    with caplog.at_level(logging.INFO, logger="pdpb.voterlist"):
        counts = voterlist.init_voters(settings, path)

    assert "reading it row by row" in caplog.text
    con = connect(settings, read_only=True)
    try:
        stored = con.execute("select count(*) from core.voters").fetchone()[0]
        quarantined = con.execute("select row_number, reason from core.quarantine").fetchall()
    finally:
        con.close()
    assert counts["rows_in"] == rows_in == counts["voters"] + counts["quarantined"]
    assert stored == counts["voters"] == sum(v.num_rows for v, _ in by_rows) - 1  # repeated dpid
    assert (2001, "MISSING_DPID") in quarantined  # the blank line, a row as the row reader says
    assert sorted(quarantined) == sorted(
        [(q["row_number"], q["reason"]) for _, bad in by_rows for q in bad]
        + [(2002, "DUPLICATE_DPID")]
    )


def test_columnar_and_row_readers_give_the_same_chunks_for_a_windows_semicolon_export(
    small_synth, tmp_path
):
    """A Windows-1252 export with `;` between fields, an accented name, a
    quoted field holding the delimiter and a NIK written with separators:
    Arrow's reader gives exactly what the row reader gives."""
    import pyarrow as pa

    with open(small_synth / "voters.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    col = {name: i for i, name in enumerate(rows[0])}
    rows[5][col["nama"]] = "JOSÉ MARÍA"
    rows[6][col["alamat"]] = '  jl. "mawar";  no 5  '
    rows[7][col["nik"]] = "3601 0101.0658-0001"
    rows[8][col["nik"]] = "NULL"
    rows[9][col["tanggal_lahir"]] = "31|02|1990"
    path = tmp_path / "voters.csv"
    with open(path, "w", newline="", encoding="cp1252") as fh:
        csv.writer(fh, delimiter=";").writerows(rows)

    def read(columnar: bool):
        chunks = list(voterlist.read_voter_list_chunks(path, columnar))
        return pa.concat_tables([v for v, _ in chunks]), [q for _, bad in chunks for q in bad]

    arrow, arrow_bad = read(True)
    rows_read, rows_bad = read(False)
    assert arrow.equals(rows_read) and arrow_bad == rows_bad
    assert [q["reason"] for q in arrow_bad] == ["INVALID_DATE"]
    names = dict(
        zip(arrow.column("dpid").to_pylist(), arrow.column("nama").to_pylist(), strict=True)
    )
    assert names[rows[5][col["dpid"]]] == "JOSE MARIA"
