"""Init: the initial Sidalih list, read in chunks and normalised per distinct value."""

from __future__ import annotations

import csv
import re
from datetime import date

import pytest

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
