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
import json
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pendulum

from pdpb.config import DAGS_DIR, PdpbError, Settings, next_period, parse_period

log = logging.getLogger(__name__)

MONTHLY_DAG_ID = "pdpb_monthly"
WAREHOUSE_POOL = "pdpb_warehouse"
TIMEZONE = "Asia/Jakarta"


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

    from airflow.models.pool import Pool
    from airflow.utils import db

    db.upgradedb()
    Pool.create_or_update_pool(
        WAREHOUSE_POOL, slots=1, description="DuckDB has one writer", include_deferred=False
    )


def run_monthly_dag(settings: Settings, period: str, conf: dict | None = None) -> str:
    """Run one period through the real DAG; returns the run's final state."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    if bag.import_errors:
        raise PdpbError(f"DAG import errors: {bag.import_errors}")
    dag = bag.dags[MONTHLY_DAG_ID]
    # Airflow's task logs go to stderr, so that stdout stays the demo's summary.
    with contextlib.redirect_stdout(sys.stderr):
        run = dag.test(logical_date=logical_date_for(period), run_conf=conf or {})
    state = str(getattr(run, "state", run))
    log.info("DAG %s for %s finished: %s", MONTHLY_DAG_ID, period, state)
    return state


# --------------------------------------------------------------------------- inside tasks


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


def approval_summary(settings: Settings, period: str) -> dict:
    """What the approver sees: headline figures and quality status, as Markdown."""
    figures = headline_figures(settings, period)
    gates = quality_status(settings, period)
    lines = [
        f"**Periode {period}**",
        "",
        "| peristiwa | baru | TMS | ubah | review |",
        "|---:|---:|---:|---:|---:|",
        "| {events:,} | {baru:,} | {tms:,} | {ubah:,} | {review:,} |".format(**figures),
        "",
        "Status mutu (Great Expectations):",
        *(f"- {suite}: {verdict}" for suite, verdict in gates.items()),
        "",
        f"Laporan: `{settings.reports_dir(period) / 'index.html'}`. "
        "Approve menerbitkan rekap; Reject membiarkan periode ini tidak diterbitkan.",
    ]
    return {"period": period, **figures, "quality": gates, "body": "\n".join(lines)}


def record_rejection(settings: Settings, period: str) -> None:
    """Record that the period was not approved, then fail the task saying so.

    The run fails so that the next period, a backfill or the demo stop here:
    the period's changes are in the warehouse but nothing was published.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from pdpb.pipeline import mark_stage

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


def run_periods(settings: Settings, periods: list[str], conf: dict | None = None) -> list[str]:
    """Run periods in order through the DAG; stop with a PdpbError at the first that fails."""
    done = []
    for period in periods:
        state = run_monthly_dag(settings, period, {"period": period, **(conf or {})})
        if state != "success":
            after = f" after {', '.join(done)}" if done else ""
            raise PdpbError(
                f"the DAG run for {period} ended {state}{after}; later periods were not run; "
                f"see `pdpb --home {settings.home} status`"
            )
        done.append(period)
    return done


def backfill(settings: Settings, first: str, last: str, approval: str = "approve") -> list[str]:
    """`make backfill`: the periods FROM..TO in order, each a run of pdpb_monthly."""
    periods = periods_between(first, last)
    prepare_airflow(settings)
    return run_periods(settings, periods, {"approval": approval})


def standalone(settings: Settings, port: int = 8080) -> None:
    """`make airflow`: Airflow's UI, scheduler and workers on this home, on localhost only."""
    prepare_airflow(settings)
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        # standalone starts its components as `airflow ...` found on PATH.
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
    }
    airflow = shutil.which("airflow", path=bin_dir)
    if airflow is None:
        raise PdpbError(f"no `airflow` command beside {sys.executable}; run `make setup`")
    log.info("Airflow UI on http://localhost:%d (login in %s)", port, settings.airflow_home)
    os.execve(airflow, [airflow, "standalone"], env)


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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    settings = Settings.load(args.home)
    try:
        if args.command == "backfill":
            done = backfill(settings, args.first, args.last, args.approval)
            print(f"periods run through pdpb_monthly: {', '.join(done)}")
        else:
            standalone(settings, args.port)
    except PdpbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
