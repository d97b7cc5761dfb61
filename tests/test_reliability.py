"""Reliability: one writer per home, and a run killed in any stage leaves a home
that a plain re-run brings to exactly the state of an uninterrupted run.

The kill tests run the real CLI in a subprocess with PDPB_TEST_PAUSE_IN=<stage>
(pdpb/pipeline.py, pdpb/apply.py), SIGKILL it once the stage's marker appears,
check that the period was really inside that stage, re-run the period
in-process and compare content hashes with one shared uninterrupted run.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pdpb.cli import main
from pdpb.config import PdpbError, Settings
from pdpb.locking import lock_path, writer_lock

PERIOD = "2026-01"
HASHED = ("core.voters", "marts.fct_voter_changes", "marts.fct_event_outcomes")
HOLD_LOCK = """
import sys, time
from pdpb.config import Settings
from pdpb.locking import writer_lock
with writer_lock(Settings.load(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""


def _hold_lock(home: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(home)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_is_refused_at_once_naming_the_holder(tmp_path, capsys):
    holder = _hold_lock(tmp_path)
    try:
        code = main(["--home", str(tmp_path), "init", "--voters", str(tmp_path / "none.csv")])
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert f"being written by pid {holder.pid}" in err


def test_a_lock_left_by_a_killed_process_is_cleared(tmp_path, caplog):
    holder = _hold_lock(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    settings = Settings.load(tmp_path)
    assert json.loads(lock_path(settings).read_text())["pid"] == holder.pid  # the note survives

    with caplog.at_level(logging.WARNING, logger="pdpb.locking"), writer_lock(settings):
        mine = json.loads(lock_path(settings).read_text())["pid"]

    assert mine == os.getpid()
    assert f"cleared a stale warehouse lock of pid {holder.pid}" in caplog.text


def test_the_lock_is_reentrant_within_one_process(tmp_path):
    settings = Settings.load(tmp_path)
    with writer_lock(settings), writer_lock(settings):
        pass
    with writer_lock(settings):  # released: can be taken again
        assert lock_path(settings).read_text()


def test_duckdbs_own_lock_becomes_a_one_line_message(tmp_path, capsys):
    home = tmp_path / "home"
    (home / "warehouse").mkdir(parents=True)
    script = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
        "print('open', flush=True); time.sleep(600)"
    )
    path = str(home / "warehouse" / "pdpb.duckdb")
    proc = subprocess.Popen([sys.executable, "-c", script, path], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "open"
        code = main(["--home", str(home), "status"])
    finally:
        proc.kill()
        proc.wait()
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert "open for writing" in err and str(proc.pid) in err


# --------------------------------------------------------------------------- disk


def _root_ignores_permissions(path: Path) -> bool:
    probe = path / "probe"
    path.chmod(0o500)
    try:
        probe.write_text("x")
    except PermissionError:
        return False
    finally:
        path.chmod(0o700)
    probe.unlink()
    return True


def test_an_unwritable_warehouse_folder_fails_with_one_line_and_no_state(tmp_path, capsys):
    folder = tmp_path / "warehouse"
    folder.mkdir()
    if _root_ignores_permissions(folder):
        pytest.skip("running as root: chmod does not stop writes")
    folder.chmod(0o500)
    try:
        code = main(["--home", str(tmp_path), "init", "--voters", str(tmp_path / "v.csv")])
    finally:
        folder.chmod(0o700)
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and "permissions" in err
    assert list(folder.iterdir()) == []


def test_a_full_disk_is_reported_as_one_line(tmp_path, capsys, monkeypatch):
    import pdpb.cli

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "reports"))

    monkeypatch.setattr(pdpb.cli, "cmd_status", full)
    code = main(["--home", str(tmp_path), "status"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert (
        err
        == f"pdpb: error: the disk is full ({tmp_path / 'reports'}); free space and re-run the same command"
    )


# --------------------------------------------------------------------------- crashes


def content_hashes(settings: Settings) -> dict[str, str]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return {
            t: hashlib.sha256(
                repr(con.execute(f"select * from {t} order by all").fetchall()).encode()
            ).hexdigest()
            for t in HASHED
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def crash_data(tmp_path_factory) -> dict[str, Path]:
    """The small province initialised once (copied per case) and one uninterrupted run."""
    from pdpb.synth import generate

    root = tmp_path_factory.mktemp("crash")
    data = root / "data"
    generate(data, province="36", voters=2_000, periods=1, start=PERIOD, seed=29)
    base = root / "base"
    assert main(["--home", str(base), "init", "--voters", str(data / "voters.csv")]) == 0
    shutil.copytree(data / "landing" / PERIOD, base / "landing" / PERIOD)
    reference = root / "reference"
    shutil.copytree(base, reference)
    assert main(["--home", str(reference), "run", "--period", PERIOD]) == 0
    return {"base": base, "reference": reference, "root": root}


def kill_in(home: Path, stage: str, log_file: Path) -> None:
    marker = home / f"paused-in-{stage}"
    env = {**os.environ, "PDPB_TEST_PAUSE_IN": stage, "PDPB_TEST_PAUSE_AFTER": "1"}
    with log_file.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pdpb.cli", "--home", str(home), "run", "--period", PERIOD],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 600  # a guard against a hang, not a speed check
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"run never reached {stage}:\n{log_file.read_text()[-3000:]}")
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    marker.unlink()


@pytest.mark.integration
@pytest.mark.parametrize("stage", ["ingest", "link", "apply", "transform", "publish"])
def test_a_rerun_after_a_kill_in_any_stage_equals_an_uninterrupted_run(crash_data, stage):
    home = crash_data["root"] / f"killed-{stage}"
    shutil.copytree(crash_data["base"], home)

    kill_in(home, stage, crash_data["root"] / f"killed-{stage}.log")

    con = duckdb.connect(str(home / "warehouse" / "pdpb.duckdb"), read_only=True)
    where = con.execute(
        "select stage, status from core.periods where period = ?", [PERIOD]
    ).fetchone()
    con.close()
    assert where == (stage, "RUNNING")  # the kill landed inside that stage
    assert main(["--home", str(home), "run", "--period", PERIOD]) == 0
    assert content_hashes(Settings.load(home)) == content_hashes(
        Settings.load(crash_data["reference"])
    )


def test_the_pause_hook_does_nothing_unless_it_names_the_stage(tmp_path, monkeypatch):
    from pdpb.faults import pause_if_testing

    monkeypatch.setenv("PDPB_TEST_PAUSE_IN", "apply")
    pause_if_testing(Settings.load(tmp_path), "ingest")
    assert not (tmp_path / "paused-in-ingest").exists()


def test_a_refused_writer_raises_a_pdpb_error(tmp_path):
    holder = _hold_lock(tmp_path)
    try:
        with (
            pytest.raises(PdpbError, match="wait for it to finish"),
            writer_lock(Settings.load(tmp_path)),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
