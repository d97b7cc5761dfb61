"""DAG integrity, and the monthly DAG run end to end by Airflow's own runner.

Airflow reads its configuration on first import, so everything that imports
it runs in a subprocess pointed at the test's own home.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pdpb.config import DAGS_DIR, REPO_ROOT, Settings
from pdpb.orchestration import airflow_environment

STAGES = [
    "start",
    "ingest",
    "gate_events",
    "link",
    "apply",
    "gate_voters",
    "transform",
    "gate_rekap",
]


def _airflow_env(home: Path) -> dict[str, str]:
    return {**os.environ, **airflow_environment(Settings.load(home))}


def _python(code: str, home: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=_airflow_env(home),
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _backfill(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pdpb.orchestration", "--home", str(home), "backfill", *args],
                          cwd=REPO_ROOT, env=_airflow_env(home), capture_output=True, text=True,
                          timeout=900)  # fmt: skip


def _home_with_landing(tmp_path: Path, periods: int) -> Path:
    from pdpb.synth import generate
    from pdpb.voterlist import init_voters

    home, data = tmp_path / "home", tmp_path / "synth"
    generate(data, province="36", voters=1500, periods=periods, start="2026-01", seed=3)
    settings = Settings.load(home)
    init_voters(settings, data / "voters.csv")
    for period in sorted(p.name for p in (data / "landing").iterdir()):
        shutil.copytree(data / "landing" / period, settings.landing_dir(period))
    return home


def _task_states(home: Path) -> list[tuple[str, str, str, int]]:
    """(period of the run, task_id, state, try_number) from the embedded metadata DB."""
    con = sqlite3.connect(home / "airflow" / "airflow.db")
    try:
        rows = con.execute(
            """select json_extract(r.conf, '$.period'), t.task_id, t.state, t.try_number
               from task_instance t join dag_run r on r.run_id = t.run_id and r.dag_id = t.dag_id
               where t.dag_id = 'pdpb_monthly' order by r.logical_date, t.task_id"""
        ).fetchall()
    finally:
        con.close()
    return rows


def _period_status(home: Path) -> dict[str, tuple[str, str]]:
    from pdpb.warehouse import connect

    con = connect(Settings.load(home), read_only=True)
    try:
        rows = con.execute("select period, status, stage from core.periods").fetchall()
    finally:
        con.close()
    return {period: (status, stage) for period, status, stage in rows}


def test_dagbag_imports_every_dag_without_errors(tmp_path):
    code = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS_DIR)!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "print(json.dumps(sorted(bag.dag_ids)))\n"
    )
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        "pdpb_dedupe",
        "pdpb_monthly",
        "pdpb_train",
    ]


def test_monthly_dag_runs_stages_in_order_then_asks_approval_before_publishing(tmp_path):
    code = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"dag = DagBag(dag_folder={str(DAGS_DIR)!r}).dags['pdpb_monthly']\n"
        "print(json.dumps({\n"
        "  'upstream': {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},\n"
        "  'pools': sorted({t.pool for t in dag.tasks}),\n"
        "  'retries': {t.task_id: t.retries for t in dag.tasks},\n"
        "  'dag': [type(dag.timetable).__name__, dag.timetable._expression, str(dag.timetable._timezone),\n"
        "          dag.max_active_runs, dag.catchup, sorted(dag.params.keys())],\n"
        "  'approval': type(dag.task_dict['approval']).__name__,\n"
        "  'outlets': {t.task_id: [a.name for a in t.outlets] for t in dag.tasks if t.outlets},\n"
        "}))\n"
    )
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    shape = json.loads(result.stdout.strip().splitlines()[-1])
    upstream = shape["upstream"]
    assert all(upstream[b] == [a] for a, b in zip(STAGES, STAGES[1:], strict=False)), upstream
    assert upstream["approval_summary"] == ["gate_rekap"]
    assert upstream["approval"] == upstream["approved_by_param"] == ["approval_route"]
    assert upstream["publish"] == ["approval", "approved_by_param"]
    assert upstream["finish"] == upstream["not_published"] == ["publish"]
    assert shape["approval"] == "ApprovalOperator"
    assert shape["pools"] == ["pdpb_warehouse"]
    assert shape["retries"]["link"] == 2 and shape["retries"]["approval"] == 0
    assert shape["dag"] == [
        "CronDataIntervalTimetable", "0 2 1 * *", "Asia/Jakarta", 1, False,
        ["approval", "cutoff", "lower", "period", "upper"],
    ]  # fmt: skip
    assert shape["outlets"] == {
        "apply": ["pdpb_warehouse"],
        "transform": ["pdpb_rekap"],
        "publish": ["pdpb_published"],
    }


def test_backfill_stops_at_the_first_failed_period_without_retrying_a_user_error(tmp_path):
    home = tmp_path / "empty-home"  # no voter list: `start` fails with a PdpbError

    result = _backfill(home, "2026-01", "2026-02")

    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: the DAG run for 2026-01 ended failed; later periods were not run")
    )
    states = _task_states(home)
    assert {period for period, *_ in states} == {"2026-01"}, "2026-02 must not run"
    assert ("2026-01", "start", "failed", 1) in states


@pytest.mark.integration
def test_backfill_runs_two_periods_in_order_and_publishes_each_when_approved(tmp_path):
    home = _home_with_landing(tmp_path, periods=2)

    result = _backfill(home, "2026-01", "2026-02", "--approval", "approve")

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("2026-01, 2026-02")
    states = {(p, t): s for p, t, s, _ in _task_states(home)}
    for period in ("2026-01", "2026-02"):
        assert states[(period, "approved_by_param")] == "success"
        assert states[(period, "publish")] == states[(period, "finish")] == "success"
        assert states[(period, "not_published")] == "skipped"
    assert _period_status(home) == {
        "2026-01": ("COMPLETED", "done"),
        "2026-02": ("COMPLETED", "done"),
    }
    assert (home / "reports" / "2026-02" / "rekap_2026-02.xlsx").exists()
    _assert_no_full_nik_in_task_logs_or_files(home, tmp_path / "synth", result)


def _assert_no_full_nik_in_task_logs_or_files(
    home: Path, synth: Path, result: subprocess.CompletedProcess
) -> None:
    """The embedded runner (dag.test) writes no task log files: each task's log
    (Airflow's task runner, the stage's own lines, the returned XCom) goes to
    the runner's output. Scan it, the metadata DB (XComs, rendered fields) and
    every other file the periods wrote for full NIK/NKK of the input."""
    from test_personal_data import files_to_scan, input_numbers, leaks, text_leaks

    secrets = input_numbers(synth, ("2026-01", "2026-02"))
    task_logs = result.stdout + result.stderr
    for task in [*STAGES, "publish"]:  # every task's log is really there, twice
        assert task_logs.count(f"[DAG TEST] starting task_id={task} ") == 2, task
    for period in ("2026-01", "2026-02"):
        assert f"{period} apply: {{'BARU'" in task_logs  # a stage's own log line
    scanned = files_to_scan(home)
    assert home / "airflow" / "airflow.db" in scanned

    assert len(secrets) > 1000
    assert text_leaks(task_logs, secrets) == set()
    assert leaks(scanned, secrets, home) == {}


@pytest.mark.integration
def test_rejected_approval_leaves_the_period_unpublished_and_says_so(tmp_path):
    home = _home_with_landing(tmp_path, periods=1)

    result = _backfill(home, "2026-01", "2026-01", "--approval", "reject")

    assert result.returncode == 1
    states = {t: s for _, t, s, _ in _task_states(home)}
    assert states["publish"] == states["finish"] == "skipped"
    assert states["not_published"] == "failed"
    assert _period_status(home) == {"2026-01": ("REJECTED", "approval")}
    assert not (home / "reports" / "2026-01" / "rekap_2026-01.xlsx").exists()
    assert "rejected at the approval step and is not published" in result.stderr + result.stdout


@pytest.mark.integration
def test_demo_runs_its_periods_through_the_airflow_dag_and_prints_the_summary(tmp_path):
    # One period: the two-period order through the DAG is the backfill test's.
    home = tmp_path / "demo-home"
    result = subprocess.run(
        [sys.executable, "-m", "pdpb.cli", "--home", str(home), "demo", "--voters", "2000", "--periods", "1"],
        cwd=REPO_ROOT, env=_airflow_env(home), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = re.findall(
        r"^(2026-01)\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+COMPLETED$", result.stdout, re.M
    )
    assert summary == ["2026-01"], result.stdout[-2000:]
    for shown in ("rekap_2026-01.xlsx", "index.html", "datadocs"):
        assert shown in result.stdout
    assert (home / "reports" / "2026-01" / "rekap_2026-01.xlsx").exists()
    assert (home / "airflow" / "airflow.db").exists()
