"""Embedded Airflow: run the monthly DAG on this machine with no server.

The embedded default keeps Airflow's metadata in SQLite under the home
(`<home>/airflow/`) and runs DAG runs with Airflow's own test runner
(`DAG.test`), which schedules and executes the real tasks of
`dags/pdpb_monthly.py` in this process. Airflow reads its configuration when
it is first imported, so the environment is set before that import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

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
