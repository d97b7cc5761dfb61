"""
### pdpb_train

Retrains the Splink model on the current voter list and writes the trained
model JSON (`pdpb linkage train` does the same). Manual only: a new model
changes which events link, so a data division decides when, and reviews the
evaluation before the next monthly run uses it. It reads the warehouse, so it
takes the one-slot pool `pdpb_warehouse` to stay clear of a writer.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from pdpb.config import TIMEZONE, WAREHOUSE_POOL


@dag(
    dag_id="pdpb_train",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["pdpb", "linkage"],
    doc_md=__doc__,
    default_args={"pool": WAREHOUSE_POOL, "retries": 0},
)
def pdpb_train():
    @task
    def retrain() -> dict:
        from pdpb.config import Settings
        from pdpb.orchestration import permanent_failures
        from pdpb.pipeline import summarize
        from pdpb.training import retrain_model

        with permanent_failures():
            # XCom carries counts only, never paths or data.
            return summarize(retrain_model(Settings.load()))

    retrain()


pdpb_train()
