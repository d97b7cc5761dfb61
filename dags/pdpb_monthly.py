"""
### pdpb_monthly

One run per calendar month (the data interval is the period): ingest the
month's deltas, gate them, link them to the voter list, apply the eligibility
rules, gate the voter list, build the recaps with dbt, gate the recaps, ask a
human to approve, then publish the reports. Every stage task calls a stage
function of the `pdpb` package (the same functions `pdpb run` calls); this file
only wires them.

Params: `period` overrides the month taken from the data interval, `cutoff`
the cut-off date (default: the last day of the period), `upper`/`lower` the
match-probability thresholds, `approval` who answers the approval step:
`ask` (default: an operator answers in *Required actions*), `approve` (the
embedded demo and tests), `reject` (stop before publishing), `rollback` to
roll back later periods and re-run an older one, `rerun` to re-run a period
that is already published (as `pdpb run --rollback` / `--yes`).

Failures: a rejected file, a failed quality gate or any other `PdpbError` fails
its task at once (no retry) with the reason in the task log; anything else
(a lock, a full disk, a crash) is retried twice with exponential backoff.
Runs go one at a time (`max_active_runs=1`), every task waits for the same
task of the previous run (`depends_on_past`), and `start` refuses a period
whose predecessor has not completed. Tasks share the one-slot pool
`pdpb_warehouse`, because DuckDB has a single writer.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Asset, Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from pdpb.config import TIMEZONE, WAREHOUSE_POOL
from pdpb.orchestration import RETRIES

STAGES = ("ingest", "gate_events", "link", "apply", "gate_voters", "transform", "gate_rekap")

WAREHOUSE = Asset(name="pdpb_warehouse", uri="pdpb://warehouse/core")
REKAP = Asset(name="pdpb_rekap", uri="pdpb://warehouse/marts")
SNAPSHOT = Asset(name="pdpb_published", uri="pdpb://published/snapshot")
OUTLETS = {"apply": [WAREHOUSE], "transform": [REKAP]}


def _settings(params: dict):
    from pdpb.config import Settings, Thresholds

    return Settings.load(
        thresholds=Thresholds(upper=float(params["upper"]), lower=float(params["lower"]))
    )


def _run_stage(name: str, info: dict, params: dict) -> dict:
    from datetime import date

    from pdpb import pipeline
    from pdpb.orchestration import permanent_failures

    with permanent_failures():
        settings = _settings(params)
        period, cutoff = info["period"], date.fromisoformat(info["cutoff"])
        bound = dict(pipeline.stages(settings, period, cutoff))
        result = pipeline.run_stage(settings, period, name, bound[name])
    return {**info, name: pipeline.summarize(result)}


@dag(
    dag_id="pdpb_monthly",
    schedule=CronDataIntervalTimetable("0 2 1 * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["pdpb", "monthly"],
    doc_md=__doc__,
    default_args={
        "pool": WAREHOUSE_POOL,
        "depends_on_past": True,
        **RETRIES,
    },
    params={
        "period": Param(
            "", type="string", description="YYYY-MM; empty = the data interval's month"
        ),
        "cutoff": Param("", type="string", description="YYYY-MM-DD; empty = the period's last day"),
        "upper": Param(0.99, type="number", minimum=0, maximum=1, description="link at or above"),
        "lower": Param(0.5, type="number", minimum=0, maximum=1, description="new person below"),
        "rollback": Param(
            False,
            type="boolean",
            description="roll back the periods after this one to re-run it (pdpb run --rollback)",
        ),
        "rerun": Param(
            False,
            type="boolean",
            description="re-run a period that is already published: it is rolled back and "
            "published again (pdpb run --yes)",
        ),
        "approval": Param(
            "ask",
            enum=["ask", "approve", "reject"],
            description="ask = an operator approves in the UI; approve/reject = answered by this param",
        ),
    },
)
def pdpb_monthly():
    @task
    def start(params=None, data_interval_start=None, dag_run=None) -> dict:
        from pdpb import pipeline
        from pdpb.orchestration import dag_period, permanent_failures

        with permanent_failures():
            run_after = pendulum.instance(dag_run.run_after)
            period = dag_period(params, data_interval_start, run_after)
            cutoff = pipeline.resolve_cutoff(period, params.get("cutoff"))
            return pipeline.start_period(
                _settings(params),
                period,
                cutoff,
                rollback=bool(params.get("rollback")),
                yes=bool(params.get("rerun")),
            )

    def stage(name: str):
        @task(task_id=name, outlets=OUTLETS.get(name, []))
        def run(info: dict, params=None) -> dict:
            return _run_stage(name, info, params)

        return run

    @task
    def approval_summary(info: dict, params=None) -> dict:
        # Publishes the period's DRAF report first and links it in the form.
        from datetime import date

        from pdpb.orchestration import approval_summary as summarize
        from pdpb.orchestration import permanent_failures

        with permanent_failures():
            period, cutoff = info["period"], date.fromisoformat(info["cutoff"])
            return {**info, **summarize(_settings(params), period, cutoff)}

    @task.branch
    def approval_route(params=None) -> list[str]:
        # Who answers: a human (the HITL task), this run's param, or nobody (reject).
        return {"ask": ["approval"], "approve": ["approved_by_param"], "reject": []}[
            params["approval"]
        ]

    approval = ApprovalOperator(
        task_id="approval",
        subject="Terbitkan rekap periode {{ ti.xcom_pull(task_ids='approval_summary')['period'] }}?",
        body="{{ ti.xcom_pull(task_ids='approval_summary')['body'] }}",
        # Nobody answering within two weeks leaves the period unpublished.
        defaults="Reject",
        response_timeout=timedelta(days=14),
        retries=0,
        params={
            "catatan": Param(
                "",
                type="string",
                description="alasan persetujuan atau penolakan (dicatat di audit)",
            )
        },
    )
    approved_by_param = EmptyOperator(task_id="approved_by_param")

    @task(task_id="publish", trigger_rule="none_failed_min_one_success", outlets=[SNAPSHOT])
    def publish(ti=None, params=None) -> dict:
        from pdpb import orchestration

        # Upstream is the approval, not the data: read the period from the last gate.
        info = ti.xcom_pull(task_ids="gate_rekap")
        summary = ti.xcom_pull(task_ids="approval_summary")
        decision = orchestration.approval_decision(ti.xcom_pull(task_ids="approval"), params)
        result = {
            **info,
            "publish": orchestration.publish_approved(_settings(params), info, summary, decision),
        }
        return {**result, "approved_by": decision["actor"], "draft_url": summary["draft_url"]}

    @task
    def finish(info: dict, params=None) -> dict:
        from pdpb import pipeline
        from pdpb.orchestration import permanent_failures

        with permanent_failures():
            return {**info, **pipeline.finish_period(_settings(params), info["period"])}

    @task(trigger_rule="all_skipped", retries=0)
    def not_published(ti=None, params=None) -> None:
        from pdpb.orchestration import approval_decision, record_rejection

        decision = approval_decision(ti.xcom_pull(task_ids="approval"), params)
        record_rejection(_settings(params), ti.xcom_pull(task_ids="gate_rekap")["period"], decision)

    info = start()
    for name in STAGES:
        info = stage(name)(info)
    summary = approval_summary(info)
    route = approval_route()
    summary >> route >> [approval, approved_by_param]
    published = publish()
    [approval, approved_by_param] >> published
    finish(published)
    published >> not_published()


pdpb_monthly()
