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
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pdpb.config import DAGS_DIR, REPO_ROOT, Settings
from pdpb.orchestration import airflow_environment

WIB = ZoneInfo("Asia/Jakarta")
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


def _backfill(home: Path, *args: str, verbose: bool = False) -> subprocess.CompletedProcess:
    flags = ["-v"] if verbose else []
    return subprocess.run([sys.executable, "-m", "pdpb.orchestration", "--home", str(home), *flags, "backfill", *args],
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
        "pdpb_national",
        "pdpb_proyeksi",
        "pdpb_train",
    ]


def test_national_dag_maps_a_group_per_province_between_route_and_reconcile(tmp_path):
    """pdpb_national's shape; it runs end to end in tests/test_national.py."""
    code = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"dag = DagBag(dag_folder={str(DAGS_DIR)!r}).dags['pdpb_national']\n"
        "print(json.dumps({\n"
        "  'upstream': {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},\n"
        "  'queues': {t.task_id: t.queue for t in dag.tasks},\n"
        "  'mapped': sorted(g for g, tg in dag.task_group_dict.items()\n"
        "                   if type(tg).__name__ == 'MappedTaskGroup'),\n"
        "  'pools': sorted({t.pool for t in dag.tasks}),\n"
        "  'triggers': {t.task_id: t.trigger_rule.value for t in dag.tasks},\n"
        "  'dag': [type(dag.timetable).__name__, dag.max_active_runs, sorted(dag.params.keys())],\n"
        "}))\n"
    )
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    shape = json.loads(result.stdout.strip().splitlines()[-1])
    up = shape["upstream"]
    assert shape["mapped"] == ["province", "province_besar"]
    for group in ("province", "province_besar"):
        assert up[f"{group}.approval"] == [f"{group}.prepare"]
        assert up[f"{group}.publish"] == [f"{group}.approval"]
    assert up["province.prepare"] == ["biasa", "period_of"]
    assert up["province_besar.prepare"] == ["besar", "period_of"]
    assert up["biasa"] == up["besar"] == ["route"]
    assert up["reconcile"] == ["period_of", "province.publish", "province_besar.publish"]
    assert shape["triggers"]["reconcile"] == "all_done"
    assert up["national_recap"] == ["reconcile"] and up["complete"] == [
        "national_recap",
        "reconcile",
    ]
    # The big provinces' heavy tasks go to their own queue; no global one-slot pool.
    assert shape["queues"]["province_besar.prepare"] == "pdpb_large"
    assert shape["queues"]["province.prepare"] == "default"
    assert shape["pools"] == ["default_pool"]
    assert shape["dag"] == [
        "CronDataIntervalTimetable",
        1,
        ["approval", "cutoff", "period", "provinces", "rerun"],
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
        ["approval", "cutoff", "lower", "period", "rerun", "rollback", "upper"],
    ]  # fmt: skip
    assert shape["outlets"] == {
        "apply": ["pdpb_warehouse"],
        "transform": ["pdpb_rekap"],
        "publish": ["pdpb_published"],
    }


def test_unpausing_the_monthly_dag_schedules_only_the_latest_month_that_has_ended(tmp_path):
    """What the scheduler asks the DAG's timetable when it is unpaused (no run
    yet) and after an old run (a home left for months): one run, for the
    last month that is over, created once that month has ended."""
    code = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "from airflow.timetables.base import DataInterval, TimeRestriction\n"
        "from airflow.utils import timezone\n"
        f"dag = DagBag(dag_folder={str(DAGS_DIR)!r}).dags['pdpb_monthly']\n"
        "now = timezone.utcnow()\n"
        "restriction = TimeRestriction(earliest=dag.start_date, latest=None, catchup=dag.catchup)\n"
        "old = DataInterval(dag.start_date, dag.start_date.add(months=1))\n"
        "out = {'now': now.isoformat()}\n"
        "for name, last in (('first', None), ('after_old_run', old)):\n"
        "    info = dag.timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)\n"
        "    out[name] = [info.data_interval.start.isoformat(), info.data_interval.end.isoformat(),\n"
        "                 info.run_after.isoformat()]\n"
        "    last = info.data_interval\n"
        "after = dag.timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)\n"
        "out['next_run_after'] = after.run_after.isoformat()\n"
        "print(json.dumps(out))\n"
    )
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    now = datetime.fromisoformat(out["now"]).astimezone(WIB)
    this_month = now.replace(day=1, hour=2, minute=0, second=0, microsecond=0)
    if now < this_month:  # before 02:00 WIB on the 1st: last month's run is not due yet
        this_month = (this_month - timedelta(days=1)).replace(day=1)
    latest_ended = (this_month - timedelta(days=1)).replace(day=1)
    for name in ("first", "after_old_run"):
        start, end, run_after = (datetime.fromisoformat(v) for v in out[name])
        assert start == latest_ended and end == this_month, (name, out)
        assert run_after == end <= now, "a month's run is created only once the month is over"
    # The run after it waits for the current month to end.
    assert datetime.fromisoformat(out["next_run_after"]) > now


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

    # -v: Airflow's own output comes back to the terminal (the task logs scanned below).
    result = _backfill(home, "2026-01", "2026-02", "--approval", "approve", verbose=True)

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
    # The UI's run dates: a run lasts as long as its tasks ran, not since its logical date.
    con = sqlite3.connect(home / "airflow" / "airflow.db")
    try:
        spans = con.execute(
            "select (julianday(end_date) - julianday(start_date)) * 86400 from dag_run"
            " where dag_id = 'pdpb_monthly'"
        ).fetchall()
    finally:
        con.close()
    assert len(spans) == 2 and all(0 < seconds < 3600 for (seconds,) in spans), spans

    # The approver saw this run's draft: the form links it, its figures are
    # what was then published, and the audit and the page name the approver.
    _assert_approved_on_the_draft(home, "2026-02")

    # A published period is re-run only when the run says so (param rerun),
    # and a month that has not ended is refused at `start` (a manual trigger).
    this_month = datetime.now(WIB).strftime("%Y-%m")
    code = (
        "from pdpb.config import Settings\n"
        "from pdpb.orchestration import prepare_airflow, run_monthly_dag\n"
        f"settings = Settings.load({str(home)!r})\n"
        "prepare_airflow(settings)\n"
        "run = lambda period, **conf: run_monthly_dag(settings, period, {'period': period, 'approval': 'approve', **conf})\n"
        f"print('STATES', run({this_month!r}), run('2026-02'), run('2026-02', rerun=True))\n"
    )
    rerun = _python(code, home, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "STATES failed failed success" in rerun.stdout
    logs = rerun.stdout + rerun.stderr
    assert f"period {this_month} has not ended yet" in logs
    assert "period 2026-02 is already published" in logs
    states = {(p, t): (s, n) for p, t, s, n in _task_states(home)}
    assert states[(this_month, "start")] == ("failed", 1)
    assert states[(this_month, "ingest")] == ("upstream_failed", 0)
    assert this_month not in _period_status(home)
    assert _period_status(home)["2026-02"] == ("COMPLETED", "done")


def _assert_approved_on_the_draft(home: Path, period: str) -> None:
    from urllib.parse import unquote, urlparse

    from pdpb.cli import main
    from pdpb.publish import recap_digest

    con = sqlite3.connect(home / "airflow" / "airflow.db")
    try:
        values = con.execute(
            """select x.value from xcom x join dag_run r on r.id = x.dag_run_id
               where x.task_id = 'approval_summary' and x.key = 'return_value'
                 and json_extract(r.conf, '$.period') = ?""",
            [period],
        ).fetchall()
    finally:
        con.close()
    summary = json.loads(values[-1][0])
    if isinstance(summary, str):
        summary = json.loads(summary)
    draft = home / "reports" / period / "draft"
    url = summary["draft_url"]
    assert url in summary["body"]
    assert Path(unquote(urlparse(url).path)) == (draft / "index.html").resolve()
    page = (draft / "index.html").read_text(encoding="utf-8")
    assert "<title>DRAF" in page and 'id="draf"' in page
    published = home / "reports" / period
    assert summary["draft_digest"] == recap_digest(draft, period) == recap_digest(published, period)
    final = (published / "index.html").read_text(encoding="utf-8")
    assert "DRAF" not in final and "Disetujui untuk diterbitkan oleh" in final
    assert "param approval=approve" in final

    from pdpb.audit import audit_rows

    settings = Settings.load(home)
    # rows: seq, waktu, pelaku (actor), jenis (kind), periode, subjek, apa, alasan
    approvals = [r for r in audit_rows(settings, period) if r[3] == "APPROVAL"]
    assert approvals and approvals[-1][2] == "param approval=approve"
    assert approvals[-1][6].startswith(f"APPROVE publishing period {period}")
    assert main(["--home", str(home), "audit", "--period", period]) == 0


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
    # A quiet terminal: one line per stage, Airflow's own output in a file.
    terminal = (result.stdout + result.stderr).splitlines()
    assert len(terminal) < 60, terminal
    for stage in [*STAGES[1:], "publish"]:
        assert any(re.match(rf"\[2026-01 1/1\] {stage}\s+\d+\.\d s", line) for line in terminal), (
            stage
        )
    assert "[DAG TEST]" not in result.stderr
    embedded = home / "airflow" / "logs" / "embedded-runs.log"
    assert "[DAG TEST] starting task_id=publish" in embedded.read_text(encoding="utf-8")
    # The closing hint is a command that works from where the demo ran.
    hint = re.search(r"^status:\s+`(.+)`$", result.stdout, re.M)
    assert hint, result.stdout
    status = subprocess.run(hint[1].split(), cwd=REPO_ROOT, capture_output=True, text=True)
    assert status.returncode == 0 and "2026-01" in status.stdout, status.stderr


def _free_ports() -> int:
    """A port that is free, and the one after it (the reports server's)."""
    import socket

    while True:
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port


@pytest.mark.integration
def test_sigterm_to_make_airflow_leaves_no_process_behind(tmp_path):
    """`make airflow` runs `python -m pdpb.orchestration standalone`; SIGTERM to
    it ends every process it started (scheduler, api-server, triggerer,
    dag-processor, LocalExecutor workers): none is left in their session."""
    import signal
    import time
    from urllib.request import urlopen

    import psutil

    home, port = tmp_path / "home", _free_ports()
    log = (tmp_path / "standalone.log").open("w")
    env = {k: v for k, v in _airflow_env(home).items() if k != "PDPB_REPORTS_URL"}
    parent = subprocess.Popen(
        [sys.executable, "-m", "pdpb.orchestration", "--home", str(home), "standalone",
         "--port", str(port)],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    seen: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + 120
        # Up when the scheduler and the api-server run below it (and whatever they started).
        while time.monotonic() < deadline and parent.poll() is None:
            for p in psutil.Process(parent.pid).children(recursive=True):
                seen.setdefault(p.pid, p)
            names = " ".join(_cmdline(p) for p in seen.values())
            if "scheduler" in names and "api-server" in names and len(seen) >= 4:
                break
            time.sleep(1)
        assert parent.poll() is None, (tmp_path / "standalone.log").read_text()[-3000:]
        assert len(seen) >= 4, [p.cmdline() for p in seen.values()]
        time.sleep(3)  # let the components start their own workers too
        for p in psutil.Process(parent.pid).children(recursive=True):
            seen.setdefault(p.pid, p)

        # The reports are served beside the UI, for the approval form's links.
        with urlopen(f"http://127.0.0.1:{port + 1}/") as page:
            assert page.status == 200

        sessions = {_session(pid) for pid in seen} - {os.getsid(0), None}
        assert sessions, "airflow standalone must run in a session of its own"

        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=90) == 0
    finally:
        if parent.poll() is None:
            parent.kill()
        log.close()
    left = [p for p in seen.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], [(p.pid, p.cmdline()) for p in left]
    in_sessions = [p for p in psutil.process_iter(["pid"]) if _session(p.pid) in sessions]
    assert in_sessions == [], [(p.pid, p.cmdline()) for p in in_sessions]


def _cmdline(process) -> str:
    import psutil

    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None
