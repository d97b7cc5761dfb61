"""
### pdpb_proyeksi

The list as it would stand on a date, e.g. a voting day (`pdpb proyeksi
--tanggal` does the same, through `pdpb.projection.write_projection`): the
active voters, plus the future voters who turn 17 or are married by then,
minus the voters still under 17 then, per TPS, desa, kecamatan, kab/kota and
province, written as XLSX and CSV under `reports/proyeksi/<tanggal>/`. The
list is not changed.

Manual only. Param `tanggal` (YYYY-MM-DD; empty = the setting
`tanggal_proyeksi`, a planning assumption). It only reads the warehouse, but a
read-only DuckDB connection cannot open while a writer holds the file, so it
takes the one-slot pool `pdpb_warehouse` like the other jobs. A bad date fails
the task at once (no retry); XCom carries the counts only.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from pdpb.config import TIMEZONE, WAREHOUSE_POOL


@dag(
    dag_id="pdpb_proyeksi",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["pdpb", "proyeksi"],
    doc_md=__doc__,
    default_args={"pool": WAREHOUSE_POOL, "retries": 0},
    params={
        "tanggal": Param(
            "",
            type="string",
            pattern=r"^(\d{4}-\d{2}-\d{2})?$",
            description="YYYY-MM-DD, e.g. a voting day; empty = the setting tanggal_proyeksi",
        ),
    },
)
def pdpb_proyeksi():
    @task
    def proyeksi(params=None) -> dict:
        from pdpb.config import Settings
        from pdpb.orchestration import permanent_failures
        from pdpb.projection import write_projection

        with permanent_failures():
            result = write_projection(Settings.load(), params.get("tanggal") or None)
            # XCom carries counts only, never paths or data.
            return {k: v for k, v in result.items() if isinstance(v, (int, str)) and k != "folder"}

    proyeksi()


pdpb_proyeksi()
