"""A run killed inside the apply transaction leaves no trace: re-running the
period ends in exactly the state of an uninterrupted run.

The subprocess runs the real CLI and is paused by the PDPB_TEST_PAUSE_IN hook
(pdpb/apply.py) after apply has written everything but before it commits, then
killed with SIGKILL. The re-run and the reference run go through the same stage
functions in-process, up to apply, to keep the test short (the later stages
only read core.*).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pdpb.apply import PAUSE_ENV
from pdpb.cli import main
from pdpb.config import Settings
from pdpb.pipeline import resolve_cutoff, stages, start_period
from pdpb.warehouse import connect

pytestmark = pytest.mark.integration
PERIOD = "2026-01"
COMPARED = ("voters", "voter_history", "changes", "event_outcomes")


def new_home(data: Path, home: Path) -> Settings:
    assert main(["--home", str(home), "init", "--voters", str(data / "voters.csv")]) == 0
    shutil.copytree(data / "landing" / PERIOD, home / "landing" / PERIOD)
    return Settings.load(home)


def run_until_apply(settings: Settings) -> None:
    """start, ingest, link and apply of the period, as `pdpb run` calls them."""
    cutoff = resolve_cutoff(PERIOD, None)
    start_period(settings, PERIOD, cutoff)
    for name, fn in stages(settings, PERIOD, cutoff):
        if name in ("ingest", "link", "apply"):
            fn()
        if name == "apply":
            return


def content_hashes(settings: Settings) -> dict[str, str]:
    con = connect(settings, read_only=True)
    try:
        return {
            t: hashlib.sha256(
                repr(con.execute(f"select * from core.{t} order by all").fetchall()).encode()
            ).hexdigest()
            for t in COMPARED
        }
    finally:
        con.close()


def kill_inside_apply(settings: Settings, log_file: Path) -> None:
    """Run the period in a subprocess and SIGKILL it once apply is paused before commit."""
    marker = settings.home / "paused-in-apply"
    env = {**os.environ, PAUSE_ENV: "apply"}
    with log_file.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pdpb.cli", "--home", str(settings.home), "run", "--period", PERIOD],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 600  # a guard against a hang, not a speed check
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"run never paused in apply:\n{log_file.read_text()[-3000:]}")
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_rerun_after_a_kill_inside_apply_equals_an_uninterrupted_run(tmp_path):
    from pdpb.synth import generate

    data = tmp_path / "data"
    generate(data, province="36", voters=3_000, periods=1, start=PERIOD, seed=23)
    crashed = new_home(data, tmp_path / "crashed")
    reference = new_home(data, tmp_path / "reference")
    before = content_hashes(crashed)

    kill_inside_apply(crashed, tmp_path / "killed-run.log")

    assert content_hashes(crashed) == before  # nothing of the open transaction survived
    run_until_apply(crashed)
    run_until_apply(reference)
    after = content_hashes(crashed)
    assert after != before
    assert after == content_hashes(reference)
