"""Quiet terminals: `pdpb run` prints one line per stage, `-q` nothing but
errors, `--version` the version (the demo's terminal is checked in
tests/test_dags.py, `-v` with Airflow's output in the backfill test)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

from pdpb.config import REPO_ROOT, Settings, default_cutoff
from pdpb.pipeline import stages
from pdpb.voterlist import init_voters


def _pdpb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pdpb.cli", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def test_run_prints_one_line_per_stage_and_quiet_prints_nothing(small_synth, tmp_path):
    settings = Settings.load(tmp_path / "home")
    init_voters(settings, small_synth / "voters.csv")
    for period in ("2026-01", "2026-02"):
        shutil.copytree(small_synth / "landing" / period, settings.landing_dir(period))
    home = str(settings.home)

    quiet = _pdpb("--home", home, "-q", "run", "--period", "2026-01")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == "", quiet.stderr

    shown = _pdpb("--home", home, "run", "--period", "2026-02")
    assert shown.returncode == 0, shown.stderr[-2000:]
    lines = shown.stderr.splitlines()
    names = [name for name, _ in stages(settings, "2026-02", default_cutoff("2026-02"))]
    assert [line.split()[1] for line in lines] == names, lines
    assert all(re.match(r"\[2026-02\] \S+\s+\d+\.\d s", line) for line in lines), lines
    link = next(line for line in lines if line.split()[1] == "link")
    assert re.search(r"events \d", link), link
    assert shown.stdout.startswith("period 2026-02 completed")
    assert len(shown.stdout.splitlines()) == 1

    refused = _pdpb("--home", home, "-q", "run", "--period", "2026-02")
    assert refused.returncode == 1 and refused.stdout == ""
    assert len(refused.stderr.splitlines()) == 1 and "--yes" in refused.stderr


def test_version():
    from importlib.metadata import version

    result = _pdpb("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"pdpb {version('pdpb')}"
