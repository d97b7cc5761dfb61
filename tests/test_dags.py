"""DAG integrity, and the monthly DAG run end to end by Airflow's own runner."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pdpb.config import DAGS_DIR, REPO_ROOT, Settings
from pdpb.orchestration import airflow_environment


def _airflow_env(home: Path) -> dict[str, str]:
    return {**os.environ, **airflow_environment(Settings.load(home))}


def test_dagbag_imports_every_dag_without_errors(tmp_path):
    code = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS_DIR)!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "dag = bag.dags['pdpb_monthly']\n"
        "print(','.join(t.task_id for t in dag.topological_sort()))\n"
        "print(type(dag.timetable).__name__, dag.max_active_runs, dag.catchup)\n"
        "print(sorted({t.pool for t in dag.tasks}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=_airflow_env(tmp_path), capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    order, timetable, pools = result.stdout.strip().splitlines()[-3:]
    assert order.split(",") == ["start", "ingest", "gate_events", "link", "apply", "gate_voters", "transform",
                                "gate_rekap", "publish", "finish"]  # fmt: skip
    assert timetable == "CronDataIntervalTimetable 1 False"
    assert pools == "['pdpb_warehouse']"


@pytest.mark.integration
def test_demo_runs_periods_through_the_airflow_dag(tmp_path):
    home = tmp_path / "demo-home"
    result = subprocess.run(
        [sys.executable, "-m", "pdpb.cli", "--home", str(home), "demo", "--voters", "2000", "--periods", "2"],
        cwd=REPO_ROOT, env=_airflow_env(home), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = re.findall(
        r"^(2026-0[12])\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+COMPLETED$", result.stdout, re.M
    )
    assert summary == ["2026-01", "2026-02"], result.stdout[-2000:]
    assert (home / "reports" / "2026-02" / "rekap_2026-02.xlsx").exists()
    assert (home / "airflow" / "airflow.db").exists()
