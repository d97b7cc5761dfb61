"""
### pdpb_monthly

One run per calendar month (the data interval is the period): ingest the
month's deltas, gate them, link them to the voter list, apply the eligibility
rules, gate the voter list, build the recaps with dbt, gate the recaps and
publish the reports. Every task calls a stage function of the `pdpb` package
(the same functions `pdpb run` calls); this file only wires them.

Params: `period` overrides the month taken from the data interval, `cutoff`
the cut-off date (default: the last day of the period), `upper`/`lower` the
match-probability thresholds. Tasks that write the DuckDB warehouse share the
one-slot pool `pdpb_warehouse`, because DuckDB has a single writer.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

WAREHOUSE_POOL = "pdpb_warehouse"
TIMEZONE = "Asia/Jakarta"


def _context_settings(params: dict):
    from pdpb.config import Settings, Thresholds

    return Settings.load(
        thresholds=Thresholds(upper=float(params["upper"]), lower=float(params["lower"]))
    )


def _period(params: dict, data_interval_start) -> str:
    # The interval starts at 02:00 WIB on the 1st; read the month in WIB, not UTC.
    return params.get("period") or data_interval_start.in_timezone(TIMEZONE).strftime("%Y-%m")


@dag(
    dag_id="pdpb_monthly",
    schedule=CronDataIntervalTimetable("0 2 1 * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["pdpb", "monthly"],
    doc_md=__doc__,
    default_args={"pool": WAREHOUSE_POOL, "retries": 0},
    params={
        "period": Param(
            "", type="string", description="YYYY-MM; empty = the data interval's month"
        ),
        "cutoff": Param("", type="string", description="YYYY-MM-DD; empty = the period's last day"),
        "upper": Param(0.99, type="number", minimum=0, maximum=1, description="link at or above"),
        "lower": Param(0.5, type="number", minimum=0, maximum=1, description="new person below"),
    },
)
def pdpb_monthly():
    @task
    def start(params=None, data_interval_start=None) -> dict:
        from pdpb import pipeline

        period = _period(params, data_interval_start)
        cutoff = pipeline.resolve_cutoff(period, params.get("cutoff"))
        return pipeline.start_period(_context_settings(params), period, cutoff)

    def stage(name: str):
        @task(task_id=name)
        def run(info: dict, params=None) -> dict:
            from datetime import date

            from pdpb import pipeline

            settings = _context_settings(params)
            period, cutoff = info["period"], date.fromisoformat(info["cutoff"])
            bound = dict(pipeline.stages(settings, period, cutoff))
            result = pipeline.run_stage(settings, period, name, bound[name])
            return {**info, name: pipeline.summarize(result)}

        return run

    @task
    def finish(info: dict, params=None) -> dict:
        from pdpb import pipeline

        return {**info, **pipeline.finish_period(_context_settings(params), info["period"])}

    info = start()
    for name in (
        "ingest",
        "gate_events",
        "link",
        "apply",
        "gate_voters",
        "transform",
        "gate_rekap",
        "publish",
    ):
        info = stage(name)(info)
    finish(info)


pdpb_monthly()
