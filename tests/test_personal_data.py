"""Personal data: no full NIK or NKK of the input (the voter list and the
period's landing files) leaves the warehouse, neither in a file the period
wrote under the home, nor in log output, nor in what `pdpb audit` prints.
Masking is one rule, core.mask_nik (pdpb/warehouse.py)."""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq

from pdpb.cli import main
from pdpb.config import Settings
from pdpb.pipeline import finish_period, publish, resolve_cutoff, run_stage

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


def input_numbers(data: Path, periods: Iterable[str] = (PERIOD,)) -> set[str]:
    """Every 16-digit number of the voter list and the periods' deliveries."""
    found = _numbers(data / "voters.csv")
    for period in periods:
        for path in (data / "landing" / period).iterdir():
            found |= _numbers(path)
    return found


def files_to_scan(home: Path) -> list[Path]:
    """Every file a period writes under the home, but the warehouse and the input."""
    return [
        p
        for p in home.rglob("*")
        if p.is_file()
        and p.relative_to(home).parts[0] not in NOT_SCANNED
        and p.suffix != ".duckdb"  # the analyst snapshot: test_recap_truth reads it with SQL
    ]


def leaks(paths: Iterable[Path], secrets: set[str], base: Path) -> dict[str, str]:
    """{file relative to base: one full input number it holds} for every leaking file."""
    found = {str(p.relative_to(base)): sorted(_numbers(p) & secrets) for p in paths}
    return {name: numbers[0] for name, numbers in found.items() if numbers}


def text_leaks(text: str, secrets: set[str]) -> set[str]:
    """The full input numbers in a text (log or command output)."""
    return {m.decode() for m in FULL_NUMBER.findall(text.encode())} & secrets


def test_no_file_under_the_home_holds_a_full_input_nik_or_nkk(period_home, small_synth):
    secrets = input_numbers(small_synth)
    scanned = files_to_scan(period_home.home)

    assert len(secrets) > 1000 and len(scanned) > 10
    assert leaks(scanned, secrets, period_home.home) == {}


def test_logs_and_cli_output_of_a_stage_hold_no_full_nik(
    period_home: Settings, small_synth, caplog, capsys
):
    secrets = input_numbers(small_synth)
    cutoff = resolve_cutoff(PERIOD, None)
    with caplog.at_level(logging.DEBUG):
        try:
            run_stage(period_home, PERIOD, "publish", lambda: publish(period_home, PERIOD, cutoff))
        finally:  # the shared home is left as it was: its period completed
            finish_period(period_home, PERIOD)
        assert main(["--home", str(period_home.home), "audit", "--period", PERIOD]) == 0
        assert main(["--home", str(period_home.home), "status"]) == 0
    out = capsys.readouterr()
    text = caplog.text + out.out + out.err

    assert len(text) > 1000
    assert text_leaks(text, secrets) == set()


def test_the_masking_rule_keeps_the_region_prefix_and_last_two_digits(tmp_path):
    from pdpb.warehouse import connect

    con = connect(Settings.load(tmp_path))
    masked = con.execute("select core.mask_nik('3601234567890123')").fetchone()[0]
    con.close()
    assert masked == "360123********23"
