"""Embedded Airflow: run the monthly DAG on this machine with no server.

The embedded default keeps Airflow's metadata in SQLite under the home
(`<home>/airflow/`) and runs DAG runs with Airflow's own test runner
(`DAG.test`), which schedules and executes the real tasks of
`dags/pdpb_monthly.py` in this process. Airflow reads its configuration when
it is first imported, so the environment is set before that import. The
helpers the DAG tasks call (permanent failures, the approval summary, the
rejection record) live here too, as do `make backfill` (periods in order,
stopping at the first failure) and `make airflow` (`airflow standalone` on
the same home).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pendulum

from pdpb import console
from pdpb.config import (
    DAGS_DIR,
    TIMEZONE,
    WAREHOUSE_POOL,
    PdpbError,
    Settings,
    next_period,
    parse_period,
)
from pdpb.domain import GATE_LABELS

log = logging.getLogger(__name__)

MONTHLY_DAG_ID = "pdpb_monthly"
# The retries of every task of the monthly DAGs that fails for a passing
# reason (a lock, a crash); an error the user must act on is not retried
# (`permanent_failures`).
RETRIES = {
    "retries": 2,
    "retry_delay": datetime.timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": datetime.timedelta(minutes=30),
}
NATIONAL_DAG_ID = "pdpb_national"


def airflow_environment(settings: Settings) -> dict[str, str]:
    """The variables that point Airflow at this home and this repository's DAGs."""
    airflow_home = settings.airflow_home
    return {
        "PDPB_HOME": str(settings.home),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
    }


def logical_date_for(period: str) -> pendulum.DateTime:
    """A manual run's data interval is the last complete month before its
    logical date, so a period is run at 02:00 WIB on the 1st of the next month."""
    year, month = parse_period(next_period(period))
    return pendulum.datetime(year, month, 1, 2, tz=TIMEZONE)


def prepare_airflow(settings: Settings) -> None:
    """Point this process at the home's Airflow, migrate its metadata DB, create the pool."""
    environment = airflow_environment(settings)
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    imported = "airflow" in sys.modules
    if imported and os.environ.get("AIRFLOW_HOME") != environment["AIRFLOW_HOME"]:
        raise PdpbError("Airflow was already configured in this process for another home")
    os.environ.update(environment)

    with console.airflow_output(embedded_log(settings)):
        from airflow.models.pool import Pool
        from airflow.utils import db

        db.upgradedb()
        Pool.create_or_update_pool(
            WAREHOUSE_POOL, slots=1, description="DuckDB has one writer", include_deferred=False
        )


def run_monthly_dag(
    settings: Settings, period: str, conf: dict | None = None, dag_id: str = MONTHLY_DAG_ID
) -> str:
    """Run one period through the real DAG (pdpb_monthly, or pdpb_national in
    a national home); returns the run's final state."""
    from airflow.dag_processing.dagbag import DagBag

    started = time.monotonic()
    # Airflow's task logs go to stderr, so that stdout stays the demo's summary;
    # with a console open they go to a file under the home (-v: to the terminal).
    with (
        console.airflow_output(embedded_log(settings)),
        contextlib.redirect_stdout(sys.stderr),
    ):
        bag = DagBag(dag_folder=str(DAGS_DIR))
        if bag.import_errors:
            raise PdpbError(f"DAG import errors: {bag.import_errors}")
        dag = bag.dags[dag_id]
        with _real_start_date():
            run = dag.test(logical_date=logical_date_for(period), run_conf=conf or {})
        state = str(getattr(run, "state", run))
        log.info("DAG %s for %s finished: %s", dag_id, period, state)
    console.period_line(period, f"DAG run {dag_id}: {state} ({time.monotonic() - started:.0f} s)")
    return state


@contextlib.contextmanager
def _real_start_date() -> Iterator[None]:
    """Airflow's test runner creates a run with its logical date as start date
    (`DAG.test`), so the UI would show a period run in December as running
    since the 1st of March; a monthly run created meanwhile starts now."""
    from airflow.models.dagrun import DagRun
    from airflow.utils import timezone
    from sqlalchemy import event

    def started_now(_mapper, _connection, run: DagRun) -> None:
        if run.dag_id in (MONTHLY_DAG_ID, NATIONAL_DAG_ID):
            run.start_date = timezone.utcnow()

    event.listen(DagRun, "before_insert", started_now)
    try:
        yield
    finally:
        event.remove(DagRun, "before_insert", started_now)


# --------------------------------------------------------------------------- inside tasks


def dag_period(params: dict, data_interval_start, run_after) -> str:
    """The period a run of a monthly DAG is for: the `period` param, else the
    month of the data interval, else (a manual run without a logical date)
    the last month that has ended."""
    if params.get("period"):
        return params["period"]
    if data_interval_start is not None:
        # The interval starts at 02:00 WIB on the 1st; read the month in WIB, not UTC.
        return data_interval_start.in_timezone(TIMEZONE).strftime("%Y-%m")
    return run_after.in_timezone(TIMEZONE).start_of("month").subtract(days=1).strftime("%Y-%m")


def publish_approved(settings: Settings, info: dict, summary: dict, decision: dict) -> dict:
    """Publish a period the approval step approved: the answer goes to the
    audit first (so the page can name the approver), then the publish stage,
    then the check that the published recap is the draft that was approved."""
    from datetime import date

    from pdpb import pipeline

    period, cutoff = info["period"], date.fromisoformat(info["cutoff"])
    with permanent_failures():
        record_approval(settings, period, decision, summary["draft_digest"])
        bound = dict(pipeline.stages(settings, period, cutoff))
        result = pipeline.run_stage(settings, period, "publish", bound["publish"])
        check_published_as_approved(settings, period, summary["draft_digest"])
    return pipeline.summarize(result)


def prepare_province(settings: Settings, period: str, cutoff: str | None, rerun: bool) -> dict:
    """A province's period up to its approval, in one task of pdpb_national:
    start, every stage before publish, the DRAF report and the approval
    summary. A province whose period is already published is skipped unless
    `rerun`, so re-running a national period re-runs only what failed."""
    from airflow.sdk.exceptions import AirflowSkipException

    from pdpb import pipeline
    from pdpb.national.run import province_period_status

    if not rerun and province_period_status(settings, period) == "COMPLETED":
        raise AirflowSkipException(f"period {period} of {settings.home.name} is already published")
    with permanent_failures():
        day = pipeline.resolve_cutoff(period, cutoff)
        pipeline.start_period(settings, period, day, yes=rerun)
        for name, fn in pipeline.stages(settings, period, day):
            if name != "publish":
                pipeline.run_stage(settings, period, name, fn)
        summary = approval_summary(settings, period, day)
    return {**summary, "cutoff": day.isoformat()}


@contextlib.contextmanager
def permanent_failures() -> Iterator[None]:
    """Turn an error the user must act on into a task failure that is not retried.

    A rejected file or a failed gate will fail the same way on every retry, so
    retrying only delays the operator; anything else (a lock, a crash, a full
    disk that may have been freed meanwhile) is left to the task's retries.
    """
    from pdpb.faults import StorageFault

    try:
        yield
    except StorageFault:
        raise
    except PdpbError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


HEADLINE_SQL = """
select
    (select count(*) from core.event_outcomes where period = $period),
    (select count(*) from core.changes where period = $period and change_type = 'BARU'),
    (select count(*) from core.changes where period = $period and change_type = 'TMS'),
    (select count(*) from core.changes where period = $period and change_type = 'UBAH'),
    (select count(*) from core.event_outcomes where period = $period and outcome = 'REVIEW')
"""
HEADLINE_KEYS = ("events", "baru", "tms", "ubah", "review")


def headline_figures(settings: Settings, period: str) -> dict[str, int]:
    """The period's events, baru, TMS, ubah and review counts."""
    from pdpb.warehouse import connect

    con = connect(settings, read_only=True)
    try:
        row = con.execute(HEADLINE_SQL, {"period": period}).fetchone()
    finally:
        con.close()
    return dict(zip(HEADLINE_KEYS, row, strict=True))


def quality_status(settings: Settings, period: str) -> dict[str, str]:
    """Each gate's outcome for the period, read from reports/<period>/quality_*.json."""
    status = {}
    for path in sorted(settings.reports_dir(period).glob("quality_*.json")):
        summary = json.loads(path.read_text())
        warnings = len(summary.get("warnings") or [])
        verdict = "LULUS" if summary.get("success") else "GAGAL"
        status[summary.get("suite", path.stem)] = (
            f"{verdict}, {warnings} peringatan" if warnings else verdict
        )
    return status


REPORTS_URL_ENV = "PDPB_REPORTS_URL"


def report_url(settings: Settings, path: Path) -> str:
    """A URL the approver can open for a file under the home's reports: below
    $PDPB_REPORTS_URL when a web server serves the reports (the compose
    nginx), else the file's own file:// URL (the embedded default)."""
    base = os.environ.get(REPORTS_URL_ENV, "").strip()
    if base:
        relative = path.resolve().relative_to((settings.home / "reports").resolve())
        return base.rstrip("/") + "/" + relative.as_posix()
    return path.resolve().as_uri()


def approval_summary(settings: Settings, period: str, cutoff) -> dict:
    """What the approver sees: the period's report published as a DRAF first
    (`pdpb.publish.publish_draft`), linked by a URL they can open, with the
    headline figures and quality status as Markdown. `draft_digest` is the
    draft's recap digest: publish checks that it publishes the same figures."""
    from pdpb.publish import publish_draft, recap_digest

    draft = publish_draft(settings, period, cutoff)
    url = report_url(settings, draft["index_html"])
    figures = headline_figures(settings, period)
    gates = quality_status(settings, period)
    lines = [
        f"**Periode {period}**",
        "",
        f"**[Buka laporan DRAF periode {period}]({url})** (belum diterbitkan)",
        "",
        "| peristiwa | baru | TMS | ubah | review |",
        "|---:|---:|---:|---:|---:|",
        "| {events:,} | {baru:,} | {tms:,} | {ubah:,} | {review:,} |".format(**figures),
        "",
        "Status mutu (Great Expectations):",
        *(f"- {GATE_LABELS.get(suite, suite)}: {verdict}" for suite, verdict in gates.items()),
        "",
        "Approve menerbitkan rekap persis seperti draf ini; Reject membiarkan periode ini"
        " tidak diterbitkan. Tulis alasan Anda di kolom catatan.",
    ]
    return {
        "period": period,
        **figures,
        "quality": gates,
        "draft_url": url,
        "draft_digest": recap_digest(draft["index_html"].parent, period),
        "body": "\n".join(lines),
    }


def approval_decision(response: dict | None, params: dict) -> dict:
    """Who answered the approval step, how, when and why, from the
    ApprovalOperator's result (None when the run's param answered)."""
    if not response:
        answer = "APPROVE" if params.get("approval") == "approve" else "REJECT"
        return {"answer": answer, "actor": f"param approval={params.get('approval')}",
                "at": None, "catatan": None}  # fmt: skip
    user = response.get("responded_by_user") or {}
    chosen = response.get("chosen_options") or []
    catatan = (response.get("params_input") or {}).get("catatan") or None
    nobody = "nobody (no answer in time)" if response.get("timedout") else "unknown"
    return {
        "answer": "APPROVE" if chosen == ["Approve"] else "REJECT",
        "actor": user.get("name") or user.get("id") or nobody,
        "at": str(response.get("responded_at") or "") or None,
        "catatan": catatan,
    }


def record_approval(settings: Settings, period: str, decision: dict, digest: str | None) -> None:
    """Append the answer of the approval step to the audit log (kind APPROVAL)."""
    from pdpb.audit import record
    from pdpb.locking import writer_lock
    from pdpb.warehouse import connect, transaction

    when = f" at {decision['at']}" if decision.get("at") else ""
    draft = f" (draft recap {digest[:12]})" if digest else ""
    with writer_lock(settings):
        con = connect(settings)
        try:
            with transaction(con):
                record(con, "APPROVAL", period, period,
                       f"{decision['answer']} publishing period {period}{draft}{when}",
                       decision.get("catatan"), actor=decision["actor"])  # fmt: skip
        finally:
            con.close()


def check_published_as_approved(settings: Settings, period: str, digest: str | None) -> None:
    """Fail when the published figures differ from the draft the approver saw
    (the period then stays unfinished: re-run it and approve again)."""
    from pdpb.publish import recap_digest

    if digest and recap_digest(settings.reports_dir(period), period) != digest:
        raise PdpbError(
            f"the published recap of {period} differs from the draft that was approved: "
            "do not use it; re-run the period (param rerun) and approve again"
        )


def record_rejection(settings: Settings, period: str, decision: dict | None = None) -> None:
    """Record that the period was not approved (and who said so), then fail
    the task saying so.

    The run fails so that the next period, a backfill or the demo stop here:
    the period's changes are in the warehouse but nothing was published.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from pdpb.pipeline import mark_stage

    if decision is not None:
        record_approval(settings, period, decision, None)
    message = f"period {period} was rejected at the approval step and is not published"
    mark_stage(settings, period, "approval", "REJECTED", message)
    raise AirflowFailException(message)


# --------------------------------------------------------------------------- several periods


def periods_between(first: str, last: str) -> list[str]:
    """Every period from first to last inclusive, in order."""
    parse_period(first)
    parse_period(last)
    if last < first:
        raise PdpbError(f"FROM {first} is after TO {last}")
    periods = [first]
    while periods[-1] != last:
        periods.append(next_period(periods[-1]))
    return periods


def _period_message(settings: Settings, period: str) -> str | None:
    """Why the period stopped, as its stage recorded it in core.periods."""
    from pdpb.warehouse import connect

    try:
        con = connect(settings, read_only=True)
    except PdpbError:
        return None
    try:
        rows = con.execute("select message from core.periods where period = ?", [period]).fetchall()
    finally:
        con.close()
    return rows[0][0] if rows and rows[0][0] else None


def _national_message(settings: Settings, period: str) -> str | None:
    """Why a national period is incomplete, as reconciliation recorded it."""
    from pdpb.national.home import connect_national

    try:
        con = connect_national(settings, read_only=True)
    except PdpbError:
        return None
    try:
        rows = con.execute(
            "select status, message from nasional.periods where period = ?", [period]
        ).fetchall()
    finally:
        con.close()
    return f"national period {period} {rows[0][0]}: {rows[0][1]}" if rows and rows[0][1] else None


def embedded_log(settings: Settings) -> Path:
    """Where the embedded runner's Airflow output goes when a console is open."""
    return settings.airflow_home / "logs" / "embedded-runs.log"


def run_periods(
    settings: Settings, periods: list[str], conf: dict | None = None, dag_id: str = MONTHLY_DAG_ID
) -> list[str]:
    """Run periods in order through the DAG; stop with a PdpbError at the first that fails."""
    done = []
    if console.level() < console.VERBOSE:
        console.say(
            f"Airflow's own output: {console.shown(embedded_log(settings))} (-v shows it here)"
        )
    for index, period in enumerate(periods, start=1):
        with console.period_marker(period, index, len(periods)):
            state = run_monthly_dag(settings, period, {"period": period, **(conf or {})}, dag_id)
        if state != "success":
            after = f" after {', '.join(done)}" if done else ""
            why = (
                _national_message(settings, period)
                if dag_id == NATIONAL_DAG_ID
                else _period_message(settings, period)
            )
            raise PdpbError(
                f"the DAG run for {period} ended {state}{after}{': ' + why if why else ''}; "
                f"later periods were not run; see {pdpb_command(settings, 'status')} and "
                f"{embedded_log(settings)}"
            )
        done.append(period)
    return done


def backfill(settings: Settings, first: str, last: str, approval: str = "approve") -> list[str]:
    """`make backfill`: the periods FROM..TO in order, each a run of
    pdpb_monthly (of pdpb_national in a national home, docs/national.md)."""
    from pdpb.national.home import is_national

    periods = periods_between(first, last)
    prepare_airflow(settings)
    dag_id = NATIONAL_DAG_ID if is_national(settings) else MONTHLY_DAG_ID
    return run_periods(settings, periods, {"approval": approval}, dag_id)


STOP_GRACE_SECONDS = 20  # how long Airflow's processes get to stop before they are killed


def standalone(settings: Settings, port: int = 8080) -> int:
    """`make airflow`: Airflow's UI, scheduler and workers on this home, on
    localhost only, until SIGTERM or Ctrl-C; then every process it started
    is stopped (`stop_process_tree`). Unless $PDPB_REPORTS_URL names a web
    server already, the reports are served on localhost at `port + 1`, so the
    approval form's link to a draft opens in the browser. Returns airflow's
    exit code (0 when stopped by a signal)."""
    prepare_airflow(settings)
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        # standalone starts its components as `airflow ...` found on PATH.
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        # As many task processes as the machine has cores (Airflow's default is 32).
        "AIRFLOW__CORE__PARALLELISM": str(worker_count()),
    }
    airflow = shutil.which("airflow", path=bin_dir)
    if airflow is None:
        raise PdpbError(f"no `airflow` command beside {sys.executable}; run `make setup`")
    stopping = {"signal": None}

    def stop(signum, _frame) -> None:
        stopping["signal"] = signum

    # Handlers first: a signal from now on stops whatever has been started.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    children: list[subprocess.Popen] = []
    try:
        if not env.get(REPORTS_URL_ENV):
            server = _serve_reports(settings, port + 1)
            if server is not None:
                children.append(server)
                env[REPORTS_URL_ENV] = f"http://localhost:{port + 1}"
        log.info("Airflow UI on http://localhost:%d (login in %s)", port, settings.airflow_home)
        # Its own session: the whole tree can be found and stopped as one.
        children.append(subprocess.Popen([airflow, "standalone"], env=env, start_new_session=True))
        while children[-1].poll() is None and stopping["signal"] is None:
            time.sleep(0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        left = sum(stop_process_tree(child.pid) for child in reversed(children))
        if left:
            log.warning("killed %d Airflow process(es) that ignored SIGTERM", left)
    return children[-1].returncode if stopping["signal"] is None else 0


def _serve_reports(settings: Settings, port: int) -> subprocess.Popen | None:
    """A static server for `<home>/reports` on 127.0.0.1:`port`, or None
    (with a warning) when it cannot start, e.g. the port is taken."""
    reports = settings.home / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(reports)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    time.sleep(1)  # a taken port ends it at once
    if server.poll() is not None:
        log.warning("reports not served: port %d is taken; the approval form links files", port)
        return None
    log.info("reports on http://localhost:%d", port)
    return server


def worker_count() -> int:
    """Task processes for the embedded Airflow: the machine's cores."""
    return max(os.cpu_count() or 1, 1)


def stop_process_tree(pid: int, grace: float = STOP_GRACE_SECONDS) -> int:
    """SIGTERM to `pid` and every process below it (its session included),
    wait up to `grace` seconds, then SIGKILL whatever is left (LocalExecutor
    workers ignore SIGTERM). Returns how many had to be killed."""
    import psutil

    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    session = {p for p in psutil.process_iter() if _in_session(p, pid)}
    tree = list({p.pid: p for p in [*tree, *session]}.values())
    for process in tree:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=5)
    return len(alive)


def _in_session(process, sid: int) -> bool:
    try:
        return os.getsid(process.pid) == sid
    except (ProcessLookupError, PermissionError):
        return False


def pdpb_command(settings: Settings, command: str) -> str:
    """A `pdpb` command line that works when pasted where this one ran: the
    CLI of this environment, by its path when it is not the `pdpb` on PATH."""
    exe = Path(sys.executable).parent / "pdpb"
    found = shutil.which("pdpb")
    program = "pdpb" if found and Path(found).resolve() == exe.resolve() else console.shown(exe)
    return f"`{program} --home {console.shown(settings.home)} {command}`"


def main(argv: list[str] | None = None) -> int:
    """`python -m pdpb.orchestration backfill FROM TO | standalone`, for the Makefile."""
    parser = argparse.ArgumentParser(prog="python -m pdpb.orchestration")
    parser.add_argument("--home", help="the PDPB home (default $PDPB_HOME or ./var)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("backfill", help="run periods FROM..TO in order through pdpb_monthly")
    p.add_argument("first", metavar="FROM")
    p.add_argument("last", metavar="TO")
    p.add_argument("--approval", choices=["approve", "reject", "ask"], default="approve")
    p = sub.add_parser("standalone", help="airflow standalone on this home, on localhost")
    p.add_argument("--port", type=int, default=8080)
    parser.add_argument("-v", "--verbose", action="store_true", help="show Airflow's output too")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    args = parser.parse_args(argv)
    verbosity = console.QUIET if args.quiet else console.VERBOSE if args.verbose else console.NORMAL
    logging.basicConfig(
        level={console.QUIET: logging.ERROR, console.VERBOSE: logging.INFO}.get(
            verbosity, logging.WARNING
        ),
        format="%(levelname)s %(message)s",
    )
    console.open_console(verbosity)
    settings = Settings.load(args.home)
    try:
        if args.command == "backfill":
            done = backfill(settings, args.first, args.last, args.approval)
            if not args.quiet:
                print(f"periods run through pdpb_monthly: {', '.join(done)}")
        else:
            return standalone(settings, args.port)
    except PdpbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
