"""Quiet terminals: `pdpb run` prints one line per stage, `-q` nothing but
errors, `--version` the version; progress bars only on an interactive
terminal and never inside an Airflow task, the demo's included (the demo's
piped terminal is checked in tests/test_dags.py, `-v` with Airflow's output
in the backfill test)."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pdpb import console
from pdpb.config import REPO_ROOT, Settings, default_cutoff
from pdpb.orchestration import airflow_environment
from pdpb.pipeline import stages
from pdpb.voterlist import init_voters

STAGE_NAMES = ["ingest", "gate_events", "link", "apply", "gate_voters", "transform",
               "gate_rekap", "publish"]  # fmt: skip


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
    # Every stage line carries its counts: a gate what it checked, publish what it wrote.
    for line in lines:
        name = line.split()[1]
        if name.startswith("gate_"):
            assert re.search(r"rows [\d,]+, expectations (\d+)/\1, warnings \d+$", line), line
        elif name == "publish":
            assert re.search(r"files [1-9]\d*$", line), line
        else:
            assert re.search(r"s  \w+ \d", line), line
    assert shown.stdout.startswith("period 2026-02 completed")
    assert len(shown.stdout.splitlines()) == 1

    refused = _pdpb("--home", home, "-q", "run", "--period", "2026-02")
    assert refused.returncode == 1 and refused.stdout == ""
    assert len(refused.stderr.splitlines()) == 1 and "--yes" in refused.stderr


def test_version():
    from importlib.metadata import version

    result = _pdpb("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"pdpb {version('pdpb')}"


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, as a person's would."""

    def isatty(self) -> bool:
        return True


def test_bars_only_on_an_interactive_console_and_never_while_airflow_runs(tmp_path):
    items = list(range(5))
    try:
        for level, stream in ((console.NORMAL, io.StringIO()), (console.QUIET, _Terminal())):
            console.open_console(level, stream)
            assert console.progress(items, 5, "x") is items  # piped or -q: no bar
            console.close_console()
        assert console.progress(items, 5, "x") is items  # no console (a worker, a test)

        terminal = _Terminal()
        console.open_console(console.NORMAL, terminal)
        assert list(console.progress(items, 5, "pleno")) == items
        assert "pleno:" in terminal.getvalue() and "/5" in terminal.getvalue()

        log = tmp_path / "logs" / "embedded-runs.log"
        with console.airflow_output(log):
            assert console.progress(items, 5, "pleno") is items  # a task's stage: no bar
            os.write(2, b"an Airflow log line\n")
            console.say("a stage line")
        bar = console.progress(items, 5, "x")
        assert bar is not items  # bars again after the run
        bar.close()
        assert "an Airflow log line" in log.read_text(encoding="utf-8")
        assert "a stage line" in terminal.getvalue()
        assert "an Airflow log line" not in terminal.getvalue()
    finally:
        console.close_console()


def _on_a_terminal(args: list[str], env: dict[str, str], timeout: float = 900) -> tuple[int, str]:
    """Run `args` with stdout and stderr on a pseudo-terminal; its exit code and all it wrote."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=follower, stderr=follower)  # fmt: skip
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], timeout)
            if not ready:
                process.kill()
                raise AssertionError(f"no output for {timeout} s: {b''.join(chunks)[-2000:]!r}")
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.integration
def test_demo_on_a_terminal_shows_bars_outside_airflow_and_stage_lines_inside(tmp_path):
    home = tmp_path / "demo-home"
    env = {**os.environ, **airflow_environment(Settings.load(home)), "COLUMNS": "100"}
    args = [sys.executable, "-m", "pdpb.cli", "--home", str(home), "demo", "--voters", "2000",
            "--periods", "1"]  # fmt: skip
    code, output = _on_a_terminal(args, env)

    assert code == 0, output[-3000:]
    assert "init:" in output  # loading the list, before Airflow: a bar on a terminal
    assert "pleno" not in output  # publish inside the DAG's task: none
    assert "[DAG TEST]" not in output  # Airflow's own lines are in the file
    lines = [line for line in re.split(r"[\r\n]+", output) if line.startswith("[2026-01 1/1]")]
    assert [line.split()[2] for line in lines] == [*STAGE_NAMES, "DAG"], lines
    assert re.search(r"^status:\s+`.+ status`", output, re.M), output[-1000:]


@pytest.mark.integration
def test_quiet_backfill_through_airflow_prints_nothing(tmp_path):
    from pdpb.synth import generate

    home, data = tmp_path / "home", tmp_path / "synth"
    generate(data, province="36", voters=1500, periods=1, start="2026-01", seed=3)
    settings = Settings.load(home)
    init_voters(settings, data / "voters.csv")
    shutil.copytree(data / "landing" / "2026-01", settings.landing_dir("2026-01"))
    env = {**os.environ, **airflow_environment(settings)}

    result = subprocess.run(
        [sys.executable, "-m", "pdpb.orchestration", "--home", str(home), "-q", "backfill",
         "2026-01", "2026-01"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    assert (result.stdout, result.stderr) == ("", "")
    log = Path(home) / "airflow" / "logs" / "embedded-runs.log"
    assert "[DAG TEST] starting task_id=publish" in log.read_text(encoding="utf-8")
