"""A DAG of pdpb_national's shape for tests/test_celery.py, and its driver.

`route`, then one mapped task per province on the `default` queue and one on
`pdpb_large` (the big provinces), then `reconcile`. Each province task
returns which worker ran it: PDPB_TEST_WORKER is set only in the Celery
workers' environment, never in the driver's. The tasks do no pipeline work:
the test is about where tasks run, not about what a period does.

Run as a script with the test's Airflow environment, it drives one run of
the DAG with the configured executor (`DAG.test(use_executor=True)`: the
scheduling loop runs in this process and every task is sent to the
executor) and prints the run's state and its task instances as one JSON line
prefixed with RESULT.
"""

from __future__ import annotations

import os

from airflow.sdk import dag, task

DAG_ID = "pdpb_celery_probe"
LARGE_QUEUE = "pdpb_large"
PROVINCES = {"large": ["32", "35"], "other": ["36", "31", "17"]}


@dag(dag_id=DAG_ID, schedule=None, catchup=False, tags=["test"])
def pdpb_celery_probe():
    @task
    def route() -> dict[str, list[str]]:
        return PROVINCES

    @task
    def large(routed: dict[str, list[str]]) -> list[str]:
        return routed["large"]

    @task
    def other(routed: dict[str, list[str]]) -> list[str]:
        return routed["other"]

    @task
    def province_period(kode: str) -> dict:
        return {"kode": kode, "worker": os.environ.get("PDPB_TEST_WORKER"), "pid": os.getpid()}

    @task
    def reconcile(large_done: list[dict], other_done: list[dict]) -> list[str]:
        return sorted(done["kode"] for done in [*large_done, *other_done])

    routed = route()
    large_done = province_period.override(task_id="province_large", queue=LARGE_QUEUE).expand(
        kode=large(routed)
    )
    other_done = province_period.override(task_id="province_other").expand(kode=other(routed))
    reconcile(large_done, other_done)


pdpb_celery_probe()


def main() -> None:
    import json

    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    run = bag.dags[DAG_ID].test(use_executor=True)
    with create_session() as session:
        values = {
            (x.task_id, x.map_index): x.value
            for x in session.query(XComModel).filter(
                XComModel.dag_id == DAG_ID, XComModel.run_id == run.run_id
            )
        }
        tasks = [
            {
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "state": str(ti.state),
                "queue": ti.queue,
                "value": values.get((ti.task_id, ti.map_index)),
            }
            for ti in run.get_task_instances(session=session)
        ]
    print("RESULT " + json.dumps({"state": str(run.state), "tasks": tasks}), flush=True)


if __name__ == "__main__":
    main()
