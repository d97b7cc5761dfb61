"""
### pdpb_national

The national list, one run per calendar month in a national home
(`$PDPB_HOME` holding `provinces/<kode>/`, docs/national.md): `route` splits
the national deliveries into the provinces' landing folders, then every
province present runs its period as one mapped instance of the task group
`province` (`expand` over the provinces): `prepare` (every stage up to the
recap gate and the DRAF report), the province's own approval, and `publish`
(which also finishes the province's period, or records its rejection). Then `reconcile` (moves and two-province registrations across
provinces), `national_recap` (the national marts with dbt and the national
report), and `complete`, which fails the run while a province has not
published the period, so an incomplete national period is never green.

Provinces run in parallel: each writes only its own warehouse, so no pool
serialises them; the executor's slots do (LocalExecutor on one machine: the
cores; CeleryExecutor: every worker's concurrency, docs/deployment.md). A
failed province fails its own mapped instances only; clear them (or re-run
the DAG with `provinces` set) to run that province alone: provinces already
published are skipped unless `rerun`.

Params: `period`, `cutoff`, `provinces` (e.g. `31,32`; empty = all),
`approval` (`ask`: an operator answers each province in *Required actions*;
`approve`/`reject`: answered by the param), `rerun`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param, dag, task, task_group
from airflow.timetables.interval import CronDataIntervalTimetable

from pdpb.config import TIMEZONE
from pdpb.orchestration import RETRIES

LARGE_QUEUE = "pdpb_large"


class ParamOrHumanApproval(ApprovalOperator):
    """A province's approval step: answered by the run's `approval` param
    (approve/reject) without waiting, or by an operator in the UI (ask).
    Publish reads the answer; a Reject fails that province's publish only,
    recording who said so (a branch would not skip per mapped province)."""

    def execute(self, context):
        if context["params"]["approval"] != "ask":
            return None
        return super().execute(context)

    def execute_complete(self, context, event):
        # The answer is publish's to act on, for this province alone.
        return HITLOperator.execute_complete(self, context=context, event=event)


def _national():
    from pdpb.config import Settings

    return Settings.load()


def _province(kode: str):
    from pdpb.national.home import province_settings

    return province_settings(_national(), kode)


@dag(
    dag_id="pdpb_national",
    schedule=CronDataIntervalTimetable("0 2 1 * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    # As many province tasks at once as the workers have slots (Airflow's default is 16).
    max_active_tasks=64,
    tags=["pdpb", "monthly", "national"],
    doc_md=__doc__,
    default_args=RETRIES,
    params={
        "period": Param(
            "", type="string", description="YYYY-MM; empty = the data interval's month"
        ),
        "cutoff": Param("", type="string", description="YYYY-MM-DD; empty = the period's last day"),
        "provinces": Param("", type="string", description="e.g. 31,32,36; empty = every province"),
        "rerun": Param(
            False, type="boolean", description="re-run provinces whose period is already published"
        ),
        "approval": Param(
            "ask",
            enum=["ask", "approve", "reject"],
            description="ask = an operator approves each province in the UI; approve/reject = this param",
        ),
    },
)
def pdpb_national():
    @task
    def route(params=None, data_interval_start=None, dag_run=None) -> dict:
        # The provinces to run, largest first, the big ones apart (their own queue).
        from pdpb.national.home import province_homes
        from pdpb.national.route import route_period
        from pdpb.national.run import by_size
        from pdpb.orchestration import dag_period, permanent_failures

        with permanent_failures():
            period = dag_period(params, data_interval_start, pendulum.instance(dag_run.run_after))
            route_period(_national(), period)
            wanted = [c.strip() for c in (params.get("provinces") or "").split(",") if c.strip()]
            return by_size(_national(), province_homes(_national(), wanted or None))

    @task
    def period_of(params=None, data_interval_start=None, dag_run=None) -> str:
        from pdpb.orchestration import dag_period

        return dag_period(params, data_interval_start, pendulum.instance(dag_run.run_after))

    @task
    def provinces_of_size(sizes: dict, size: str) -> list[str]:
        return sizes[size]

    period = period_of()
    sizes = route()
    small = provinces_of_size.override(task_id="biasa")(sizes, "biasa")
    big = provinces_of_size.override(task_id="besar")(sizes, "besar")
    groups = [
        province_group("province", "default").partial(period=period).expand(kode=small),
        province_group("province_besar", LARGE_QUEUE).partial(period=period).expand(kode=big),
    ]
    counts = reconcile(period)
    groups >> counts
    published = national_recap(counts)
    published >> complete(counts)


def province_group(group_id: str, queue: str):
    """One province's period as a mapped task group: prepare (every stage to
    the DRAF report), the province's approval, publish. The big provinces'
    group sends its heavy task to `queue` (docs/deployment.md)."""

    @task_group(group_id=group_id)
    def province(kode: str, period: str):
        @task(queue=queue)
        def prepare(kode: str, period: str, params=None) -> dict:
            from pdpb.orchestration import prepare_province

            info = prepare_province(
                _province(kode), period, params.get("cutoff"), bool(params.get("rerun"))
            )
            return {**info, "kode": kode}

        pull = f"ti.xcom_pull(task_ids='{group_id}.prepare', map_indexes=ti.map_index)"
        approval = ParamOrHumanApproval(
            task_id="approval",
            subject=(
                f"Terbitkan rekap provinsi {{{{ {pull}['kode'] }}}} "
                f"periode {{{{ {pull}['period'] }}}}?"
            ),
            body=f"{{{{ {pull}['body'] }}}}",
            defaults="Reject",
            response_timeout=timedelta(days=14),
            retries=0,
            params={
                "catatan": Param(
                    "", type="string", description="alasan persetujuan atau penolakan (audit)"
                )
            },
        )

        @task(queue=queue)
        def publish(ti=None, params=None) -> dict:
            from pdpb import orchestration
            from pdpb.pipeline import finish_period

            info = ti.xcom_pull(task_ids=f"{group_id}.prepare", map_indexes=ti.map_index)
            response = ti.xcom_pull(task_ids=f"{group_id}.approval", map_indexes=ti.map_index)
            decision = orchestration.approval_decision(response, params)
            settings = _province(info["kode"])
            if decision["answer"] != "APPROVE":
                orchestration.record_rejection(settings, info["period"], decision)
            published = orchestration.publish_approved(settings, info, info, decision)
            with orchestration.permanent_failures():
                finish_period(settings, info["period"])
            return {"kode": info["kode"], "publish": published, "approved_by": decision["actor"]}

        prepare(kode, period) >> approval >> publish()

    return province


@task(trigger_rule="all_done")
def reconcile(period: str) -> dict:
    from pdpb.national.reconcile import reconcile_period
    from pdpb.orchestration import permanent_failures

    with permanent_failures():
        return reconcile_period(_national(), period)


@task
def national_recap(counts: dict) -> dict:
    from pdpb.national.run import national_recap as build_and_publish
    from pdpb.orchestration import permanent_failures

    with permanent_failures():
        return build_and_publish(_national(), counts)["publish"]


@task(retries=0)
def complete(counts: dict) -> dict:
    from airflow.sdk.exceptions import AirflowFailException

    if counts["status"] != "COMPLETE":
        raise AirflowFailException(
            f"national period {counts['period']} is INCOMPLETE: {counts['incomplete']}"
        )
    return counts


pdpb_national()
