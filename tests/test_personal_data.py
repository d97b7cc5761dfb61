"""Personal data: no full NIK or NKK of the input (the voter list and the
period's landing files) leaves the warehouse, neither in a file the period
wrote under the home, nor in log output, nor in what `pdpb audit` prints.
Masking is one rule, core.mask_nik (pdpb/warehouse.py)."""

from __future__ import annotations

import logging
import re
import zipfile
from pathlib import Path

import pyarrow.parquet as pq

from pdpb.cli import main
from pdpb.config import Settings
from pdpb.pipeline import publish, resolve_cutoff, run_stage

PERIOD = "2026-01"
FULL_NUMBER = re.compile(rb"(?<!\d)\d{16}(?!\d)")
NOT_SCANNED = ("warehouse", "landing")  # the system of record and the delivered input


def _parts(path: Path) -> list[bytes]:
    """The bytes a file carries, XLSX parts unzipped and Parquet decoded."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            return [archive.read(name) for name in archive.namelist()]
    if path.suffix == ".parquet":
        return [str(pq.read_table(path).to_pydict()).encode()]
    return [path.read_bytes()]


def _numbers(path: Path) -> set[str]:
    return {m.decode() for part in _parts(path) for m in FULL_NUMBER.findall(part)}


def input_numbers(data: Path) -> set[str]:
    """Every 16-digit number of the voter list and the period's deliveries."""
    found = _numbers(data / "voters.csv")
    for path in (data / "landing" / PERIOD).iterdir():
        found |= _numbers(path)
    return found


def test_no_file_under_the_home_holds_a_full_input_nik_or_nkk(period_home, small_synth):
    secrets = input_numbers(small_synth)
    scanned = [
        p
        for p in period_home.home.rglob("*")
        if p.is_file()
        and p.relative_to(period_home.home).parts[0] not in NOT_SCANNED
        and p.suffix != ".duckdb"  # the analyst snapshot: test_recap_truth reads it with SQL
    ]
    leaks = {
        str(p.relative_to(period_home.home)): sorted(_numbers(p) & secrets)[:1] for p in scanned
    }

    assert len(secrets) > 1000 and len(scanned) > 10
    assert {k: v for k, v in leaks.items() if v} == {}


def test_logs_and_cli_output_of_a_stage_hold_no_full_nik(
    period_home: Settings, small_synth, caplog, capsys
):
    secrets = input_numbers(small_synth)
    cutoff = resolve_cutoff(PERIOD, None)
    with caplog.at_level(logging.DEBUG):
        run_stage(period_home, PERIOD, "publish", lambda: publish(period_home, PERIOD, cutoff))
        assert main(["--home", str(period_home.home), "audit", "--period", PERIOD]) == 0
        assert main(["--home", str(period_home.home), "status"]) == 0
    out = capsys.readouterr()
    text = (caplog.text + out.out + out.err).encode()

    assert len(text) > 1000
    assert {m.decode() for m in FULL_NUMBER.findall(text)} & secrets == set()


def test_the_masking_rule_keeps_the_region_prefix_and_last_two_digits(tmp_path):
    from pdpb.warehouse import connect

    con = connect(Settings.load(tmp_path))
    masked = con.execute("select core.mask_nik('3601234567890123')").fetchone()[0]
    con.close()
    assert masked == "360123********23"
