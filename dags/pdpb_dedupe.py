"""
### pdpb_dedupe

The whole-list duplicate (ganda) job: Splink over every voter, clustering, a
survivor rule, TMS 2 on the non-surviving records and uncertain clusters to
the review queue. It runs quarterly (02:00 WIB on the 15th of January, April,
July and October, between two monthly runs) and can be triggered by hand.
It writes the warehouse, so it shares the one-slot pool `pdpb_warehouse` with
the monthly DAG and never runs beside one of its stages.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task

from pdpb.config import TIMEZONE, WAREHOUSE_POOL

WAREHOUSE = Asset(name="pdpb_warehouse", uri="pdpb://warehouse/core")


@dag(
    dag_id="pdpb_dedupe",
    schedule="0 2 15 1,4,7,10 *",
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["pdpb", "dedupe"],
    doc_md=__doc__,
    default_args={
        "pool": WAREHOUSE_POOL,
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
    },
)
def pdpb_dedupe():
    @task(outlets=[WAREHOUSE])
    def dedupe() -> dict:
        from pdpb.config import Settings
        from pdpb.dedupe import run_dedupe
        from pdpb.orchestration import permanent_failures
        from pdpb.pipeline import summarize

        with permanent_failures():
            # XCom carries counts only, never paths or data.
            return summarize(run_dedupe(Settings.load()))

    dedupe()


pdpb_dedupe()
