"""Hostile input: files crafted to break the readers are refused with a clear,
one-line reason, within bounded memory (peak RSS measured in a subprocess).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest

from pdpb.config import PdpbError, Settings
from pdpb.ingest import LANDING_COLUMNS, _read_file, landing_files

START, END = date(2026, 1, 1), date(2026, 1, 31)
HEADER = b"event_id,sumber,jenis_peristiwa,tanggal_peristiwa,nik,nama\n"


def read(path: Path):
    return _read_file(path, START, END)


def assert_refused(result, *words: str) -> None:
    assert result.status == "REJECTED"
    assert "\n" not in result.message
    for word in words:
        assert word in result.message


def test_a_csv_with_nul_bytes_is_refused(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(HEADER + b"E1,DUKCAPIL,MENINGGAL,2026-01-02,3601\x00,A\n")
    assert_refused(read(path), "NUL")


def test_deeply_nested_quotes_are_refused_within_the_field_limit(tmp_path):
    path = tmp_path / "quotes.csv"
    # An opening quote never closed: the csv reader would swallow the rest of the file.
    # Short lines, so only the csv field limit can stop it.
    header = ",".join(LANDING_COLUMNS).encode() + b"\n"
    path.write_bytes(header + b'E1,DUKCAPIL,"' + b'""x""\n' * 300_000)
    assert_refused(read(path), "quotes.csv", "field larger than field limit")


def test_a_line_longer_than_the_limit_is_refused(tmp_path):
    path = tmp_path / "long.csv"
    path.write_bytes(HEADER + b"E1," + b"x" * (2 << 20) + b"\n")
    assert_refused(read(path), "a line longer than")


MEASURE = """
import json, resource, sys
from datetime import date
from pathlib import Path
from pdpb.ingest import _read_file
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = _read_file(Path(sys.argv[1]), date(2026, 1, 1), date(2026, 1, 31))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"status": result.status, "message": result.message, "grew_kib": after - before}))
"""


def _read_in_subprocess(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_a_single_line_of_200_mb_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "huge-line.csv"
    with path.open("wb") as fh:
        fh.write(HEADER)
        block = b"9" * (1 << 20)
        for _ in range(200):
            fh.write(block)
    outcome = _read_in_subprocess(path)
    assert outcome["status"] == "REJECTED" and "a line longer than" in outcome["message"]
    assert outcome["grew_kib"] < 64 * 1024  # far below the 200 MiB file


def _zip_bomb(path: Path, sheet_mib: int) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            chunk = b" " * (1 << 20)
            for _ in range(sheet_mib):
                sheet.write(chunk)


def test_a_zip_bomb_named_xlsx_is_refused_before_it_is_inflated(tmp_path):
    path = tmp_path / "bomb.xlsx"
    _zip_bomb(path, 64)
    assert path.stat().st_size < 1 << 20
    outcome = _read_in_subprocess(path)
    assert outcome["status"] == "REJECTED" and "zip bomb" in outcome["message"]
    assert outcome["grew_kib"] < 32 * 1024


@pytest.mark.parametrize("name", ["..\\..\\etc\\passwd.csv", "line\nbreak.csv", "x" * 230 + ".csv"])
def test_odd_file_names_in_the_landing_folder_are_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(HEADER)
    result = read(path)
    assert_refused(result, "remove it from the landing folder")
    assert "\n" not in result.file_name


def test_a_symlinked_file_pointing_outside_the_home_is_refused(tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_bytes(HEADER)
    link = tmp_path / "home" / "landing" / "2026-01" / "events.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    assert_refused(read(link), "link")


def test_a_landing_folder_linked_outside_the_home_is_refused(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    home = tmp_path / "home"
    (home / "landing").mkdir(parents=True)
    (home / "landing" / "2026-01").symlink_to(outside)
    with pytest.raises(PdpbError, match="leads outside the home"):
        landing_files(Settings.load(home), "2026-01")


def test_a_file_beyond_the_size_limit_is_refused_without_reading_it(tmp_path):
    from pdpb.ingest import MAX_FILE_BYTES

    path = tmp_path / "big.csv"
    with path.open("wb") as handle:  # sparse: a valid start, then a hole past the limit
        handle.write(HEADER + b"E1,DUKCAPIL,MENINGGAL,2026-01-02,3601,A\n")
        handle.truncate(MAX_FILE_BYTES + 1)
    assert_refused(read(path), "limit for one delivery")


# --- command-line arguments ---------------------------------------------------------


def _cli(capsys, *argv: str) -> tuple[int, list[str]]:
    from pdpb.cli import main

    code = main(list(argv))
    return code, capsys.readouterr().err.strip().splitlines()


def test_a_cutoff_before_its_period_is_refused_in_one_line_before_anything_runs(tmp_path, capsys):
    home = tmp_path / "home"

    code, err = _cli(capsys, "--home", str(home), "run", "--period", "2026-04",
                     "--cutoff", "2026-03-15")  # fmt: skip

    assert code == 1 and len(err) == 1
    assert "cut-off 2026-03-15 falls before period 2026-04" in err[0]
    assert not home.exists()


def test_a_cutoff_in_or_after_its_period_is_taken():
    from pdpb.pipeline import resolve_cutoff

    assert resolve_cutoff("2026-04", "2026-04-01") == date(2026, 4, 1)
    assert resolve_cutoff("2026-04", "2029-02-14") == date(2029, 2, 14)
    assert resolve_cutoff("2026-04", None) == date(2026, 4, 30)


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "--period", "26-03"],
        ["review", "export", "--period", "2026-13"],
        ["linkage", "evaluate", "--period", "2026-3"],
        ["synth", "--start", "03-2026", "--out", "{tmp}/x"],
    ],
)
def test_every_period_argument_is_validated_in_one_line(tmp_path, capsys, argv):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]

    code, err = _cli(capsys, "--home", str(tmp_path / "home"), *argv)

    assert code == 1 and len(err) == 1 and "is not of the form YYYY-MM" in err[0]
    assert not (tmp_path / "home").exists() and not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["audit", "--period", "2026-01"],
        ["history", "--dpid", "36000000001"],
        ["review", "export", "--period", "2026-01"],
        ["dedupe", "export"],
    ],
)
def test_read_only_commands_never_create_a_home(tmp_path, capsys, argv):
    home = tmp_path / "home"

    code, err = _cli(capsys, "--home", str(home), *argv)

    assert not home.exists()
    assert code in (0, 1) and len(err) <= 1
    assert not err or "no warehouse" in err[0]
