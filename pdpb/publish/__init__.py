"""Publish: the last stage of a period, turning the warehouse into what people read.

It reads the warehouse read-only after dbt has built `marts.*` and the GX
gates have run, and writes everything under the home that operators and
analysts use: the KPU-style recap (XLSX with one sheet per level, plus CSV),
by-name change lists per kab/kota with NIK and NKK masked by the warehouse's
one masking macro `core.mask_nik`, a self-contained `index.html` with inline
SVG charts and the quality status, and a read-only DuckDB snapshot for
analysts swapped into `published/` atomically; temporary files a killed
publish left behind are removed first. Every text cell it exports is
escaped against spreadsheet formula injection by `escape_formula`.
docs/publish.md describes the files and layouts.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from pdpb.config import Settings
from pdpb.files import clear_stale_temps
from pdpb.publish.changes import write_change_lists
from pdpb.publish.marts import LEVELS, open_warehouse, read_recap, require_marts
from pdpb.publish.page import copy_dbt_docs, write_index_html
from pdpb.publish.plenary import write_plenary_workbooks
from pdpb.publish.recap import write_recap_csvs, write_recap_xlsx
from pdpb.publish.snapshot import build_snapshot

log = logging.getLogger(__name__)


def publish(settings: Settings, period: str, cutoff: dt.date) -> dict[str, Path]:
    """Write the period's reports, change lists and analyst snapshot.

    Returns every path written, keyed `rekap_xlsx`, `rekap_csv:<level>`,
    `pleno_xlsx:<kode kabkota or provinsi>`,
    `perubahan_xlsx:<kode kabkota>`, `perubahan_csv:<kode kabkota>`,
    `dbt_docs` (when the dbt build left a docs page), `index_html`,
    `snapshot` and `snapshot_readme`.
    """
    reports = settings.reports_dir(period)
    clear_stale_temps(settings, (reports, settings.published_dir))
    reports.mkdir(parents=True, exist_ok=True)
    con = open_warehouse(settings)
    try:
        require_marts(con, period)
        recaps = {level: read_recap(con, level, period) for level, *_ in LEVELS}
        written: dict[str, Path] = {}
        written["rekap_xlsx"] = write_recap_xlsx(recaps, reports, period, cutoff)
        for level, path in write_recap_csvs(recaps, reports, period).items():
            written[f"rekap_csv:{level}"] = path
        written.update(write_plenary_workbooks(con, recaps, reports, period, cutoff))
        written.update(write_change_lists(con, reports, period, cutoff))
        docs = copy_dbt_docs(settings, reports)
        if docs is not None:
            written["dbt_docs"] = docs
        written["index_html"] = write_index_html(con, settings, recaps, period, cutoff, written)
        snapshot, readme = build_snapshot(con, settings, period, cutoff)
        written["snapshot"], written["snapshot_readme"] = snapshot, readme
    finally:
        con.close()
    log.info("publish %s: %d files written under %s", period, len(written), reports)
    return written
