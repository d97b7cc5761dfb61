"""Reliability: one writer per home; a full disk, an unwritable or blocked
home fail with one line and leave nothing half-written; and a run killed in any
stage leaves a home that a plain re-run brings to exactly the state of an
uninterrupted run.

The crash test is one chain on one home, so that it costs few whole periods:
a run under a file-size limit (a full disk), then one run per kill point, each
SIGKILLed inside its stage (PDPB_TEST_PAUSE_IN, pdpb/faults.py) after
rolling back the previous run's wreck, then a clean run whose content hashes
must equal those of the shared uninterrupted run `period_home`
(tests/conftest.py: the same voter list and deliveries).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import resource
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


@pytest.mark.parametrize("blocked", ["warehouse", "home"])
def test_a_file_where_the_home_needs_a_folder_fails_with_one_line_and_writes_nothing(
    tmp_path, capsys, blocked
):
    in_the_way = tmp_path / "in-the-way"
    in_the_way.write_text("not a folder")
    home = tmp_path / "home" if blocked == "warehouse" else in_the_way / "home"
    if blocked == "warehouse":
        home.mkdir()
        (home / "warehouse").write_text("not a folder")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    code = main(["--home", str(home), "init", "--voters", str(tmp_path / "v.csv")])

    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert err.startswith("pdpb: error: cannot create ")
    assert "a file stands where a folder of the home should be" in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert in_the_way.read_text() == "not a folder"


def test_storage_faults_are_recognised_in_every_shape_they_arrive_in(tmp_path):
    from pdpb.faults import storage_fault_message

    wal = tmp_path / "warehouse" / "pdpb.duckdb.wal"
    dbt_node = (  # a dbt seed's error under a file-size limit, as dbt-duckdb reports it
        "Runtime Error in seed wilayah (seeds/wilayah.csv)\n  TransactionContext Error: "
        f'Failed to commit: Could not write file "{wal}": File too large'
    )
    assert storage_fault_message(dbt_node) == (
        f"cannot write {wal} (File too large): the disk is full or a file size limit was "
        "reached; free space and re-run the same command"
    )
    no_space = OSError(errno.ENOSPC, "No space left on device")  # Python gives no file name
    assert storage_fault_message(no_space, tmp_path) == (
        f"cannot write a file under the home {tmp_path} (No space left on device): the disk "
        "is full or a file size limit was reached; free space and re-run the same command"
    )
    try:
        try:
            raise OSError(errno.EROFS, "Read-only file system", str(wal))
        except OSError as exc:
            raise RuntimeError("a library's wrapper") from exc
    except RuntimeError as wrapped:
        assert "check the home's permissions" in storage_fault_message(wrapped)
    # Not storage: our own refusal of a delivery, a bad value, a missing file.
    assert storage_fault_message(PdpbError("delivery refused: File too large")) is None
    assert storage_fault_message(ValueError("bad date")) is None
    assert storage_fault_message(FileNotFoundError(errno.ENOENT, "gone", "x.csv")) is None


def test_a_storage_fault_inside_the_writer_lock_becomes_one_line(tmp_path):
    from pdpb.faults import StorageFault

    settings = Settings.load(tmp_path)
    with (
        pytest.raises(StorageFault, match="the disk is full") as raised,
        writer_lock(settings),
        writer_lock(settings),  # re-entered: re-raised once, by the outermost holder
    ):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))
    assert isinstance(raised.value.__cause__, OSError)
    with pytest.raises(ValueError), writer_lock(settings):
        raise ValueError("not storage: unchanged")


# --------------------------------------------------------------------------- crashes

KILL_POINTS = ("ingest", "link", "apply", "transform", "publish")
# A file-size limit (RLIMIT_FSIZE) for the full-disk run: above the lock note
# and the start of the period, below the commit of the period's ingest, so the
# disk is "full" at the first sizeable write to the warehouse.
FULL_DISK_BYTES = 16 * 1024
PERIOD_TABLES = ("events", "quarantine", "files", "matches", "changes", "event_outcomes")


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


def _query(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse" / "pdpb.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _temporary_files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob(".*.tmp-*"))


@pytest.fixture(scope="module")
def crash_base(small_synth, tmp_path_factory) -> Path:
    """The shared small province initialised, its first period delivered, not yet run."""
    base = tmp_path_factory.mktemp("crash") / "base"
    assert main(["--home", str(base), "init", "--voters", str(small_synth / "voters.csv")]) == 0
    shutil.copytree(small_synth / "landing" / PERIOD, base / "landing" / PERIOD)
    return base


def _run_command(home: Path) -> list[str]:
    return [sys.executable, "-m", "pdpb.cli", "--home", str(home), "run", "--period", PERIOD]


def run_on_a_full_disk(home: Path, limit: int) -> subprocess.CompletedProcess:
    """`pdpb run` in a process that may not write past `limit` bytes of any
    file: writes beyond fail with EFBIG, as on a full disk (SIGXFSZ ignored)."""

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        _run_command(home), preexec_fn=limit_file_size, capture_output=True, text=True,
        timeout=600,  # a guard against a hang, not a speed check
    )  # fmt: skip


def kill_in(home: Path, stage: str, log_file: Path) -> int:
    """Run the period in a subprocess and SIGKILL it inside `stage`; returns its pid."""
    marker = home / f"paused-in-{stage}"
    env = {**os.environ, "PDPB_TEST_PAUSE_IN": stage, "PDPB_TEST_PAUSE_AFTER": "1"}
    with log_file.open("w") as log:
        proc = subprocess.Popen(_run_command(home), env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600  # a guard against a hang, not a speed check
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"run never reached {stage}:\n{log_file.read_text()[-3000:]}")
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    marker.unlink()
    return proc.pid


@pytest.mark.integration
def test_a_full_disk_and_a_kill_in_every_stage_then_a_rerun_equals_an_uninterrupted_run(
    crash_base, period_home, tmp_path, caplog
):
    home = tmp_path / "home"
    shutil.copytree(crash_base, home)

    # A full disk: the period fails with one line, the failed stage left nothing.
    full = run_on_a_full_disk(home, FULL_DISK_BYTES)
    lines = full.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("pdpb: ")]
    assert full.returncode == 1, full.stderr[-3000:]
    assert errors == lines[-1:] and "Traceback" not in full.stderr  # one line, the last
    assert errors[0].startswith(f"pdpb: error: cannot write {home / 'warehouse'}")
    assert errors[0].endswith(
        "(File too large): the disk is full or a file size limit was reached; "
        "free space and re-run the same command"
    )
    assert _query(home, "select stage, status from core.periods") == [("ingest", "FAILED")]
    for table in PERIOD_TABLES:
        count = f"select count(*) from core.{table} where period = ?"
        assert _query(home, count, [PERIOD]) == [(0,)], table
    assert not (home / "reports" / PERIOD).exists() and _temporary_files(home) == []

    # A SIGKILL inside each stage in turn; each run first rolls back the last one's wreck.
    for stage in KILL_POINTS:
        pid = kill_in(home, stage, tmp_path / f"killed-in-{stage}.log")
        assert _query(home, "select stage, status from core.periods") == [(stage, "RUNNING")]
    assert f"published/.pdpb.duckdb.tmp-{pid}" in _temporary_files(home)  # half-written

    with caplog.at_level(logging.WARNING, logger="pdpb.files"):
        assert main(["--home", str(home), "run", "--period", PERIOD]) == 0

    assert content_hashes(Settings.load(home)) == content_hashes(period_home)
    assert _temporary_files(home) == []
    assert f".pdpb.duckdb.tmp-{pid}" in caplog.text  # swept by the publish of the re-run
    snapshot = duckdb.connect(str(home / "published" / "pdpb.duckdb"), read_only=True)
    assert snapshot.execute("select period from snapshot_info").fetchall() == [(PERIOD,)]
    snapshot.close()


def test_a_publish_clears_the_temporary_files_an_interrupted_one_left(tmp_path):
    from pdpb.files import clear_stale_temps

    settings = Settings.load(tmp_path)
    published, reports = settings.published_dir, settings.reports_dir(PERIOD)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(dead.stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        names = {
            "dead": [published / f".pdpb.duckdb.tmp-{dead_pid}",
                     published / f".pdpb.duckdb.tmp-{dead_pid}.wal",
                     reports / "dbt-docs" / f".index.html.tmp-{dead_pid}"],
            "alive": [published / f".pdpb.duckdb.tmp-{alive.pid}"],
            "kept": [published / f".README.txt.tmp-{os.getpid()}",  # this process's own
                     published / "pdpb.duckdb", published / ".tmp-notes"],
        }  # fmt: skip
        for path in (p for group in names.values() for p in group):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")

        # Without the writer lock only the files of processes gone from this host go.
        assert sorted(clear_stale_temps(settings, [reports, published])) == sorted(names["dead"])
        # The publish stage holds the lock: no other process can be publishing then.
        with writer_lock(settings):
            assert clear_stale_temps(settings, [reports, published]) == names["alive"]
    finally:
        alive.kill()
        alive.wait()
    assert all(p.exists() for p in names["kept"])
    assert not any(p.exists() for p in names["dead"] + names["alive"])


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
