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
import hashlib
import logging
from pathlib import Path

from pdpb.config import Settings
from pdpb.files import clear_stale_temps
from pdpb.publish.changes import change_lists
from pdpb.publish.marts import (
    LEVELS,
    latest_approval,
    open_warehouse,
    read_recap,
    require_marts,
)
from pdpb.publish.page import copy_dbt_docs, write_index_html
from pdpb.publish.plenary import write_plenary_workbooks
from pdpb.publish.recap import write_recap_csvs, write_recap_xlsx
from pdpb.publish.snapshot import build_snapshot
from pdpb.publish.source_quality import read_source_quality, write_quarantine_csv

log = logging.getLogger(__name__)


DRAFT_FOLDER = "draft"


def publish(settings: Settings, period: str, cutoff: dt.date) -> dict[str, Path]:
    """Write the period's reports, change lists and analyst snapshot.

    Returns every path written, keyed `rekap_xlsx`, `rekap_csv:<level>`,
    `karantina_csv`, `pleno_xlsx:<kode kabkota or provinsi>`,
    `perubahan_xlsx:<kode kabkota>`, `perubahan_csv:<kode kabkota>`,
    `dbt_docs` (when the dbt build left a docs page), `index_html`,
    `snapshot` and `snapshot_readme`.
    """
    return _write(settings, period, cutoff, settings.reports_dir(period), draft=False)


def publish_draft(settings: Settings, period: str, cutoff: dt.date) -> dict[str, Path]:
    """The period's reports as publish would write them, marked DRAF, under
    `reports/<period>/draft/`, for the approver to read before approving;
    no analyst snapshot. Returns every path written, keyed as `publish`."""
    return _write(settings, period, cutoff, settings.reports_dir(period) / DRAFT_FOLDER, draft=True)


def recap_digest(reports: Path, period: str) -> str:
    """SHA-256 over the recap CSVs in `reports` (the figures, not the
    workbooks' timestamps): equal for a draft and the publish that followed
    it when the figures are."""
    digest = hashlib.sha256()
    for level, *_ in LEVELS:
        name = f"rekap_{level}_{period}.csv"
        digest.update(name.encode())
        digest.update((reports / name).read_bytes())
    return digest.hexdigest()


def _write(
    settings: Settings, period: str, cutoff: dt.date, reports: Path, draft: bool
) -> dict[str, Path]:
    folders = (reports,) if draft else (reports, settings.published_dir)
    clear_stale_temps(settings, folders)
    reports.mkdir(parents=True, exist_ok=True)
    con = open_warehouse(settings)
    try:
        require_marts(con, period)
        recaps = {level: read_recap(con, level, period) for level, *_ in LEVELS}
        written: dict[str, Path] = {}
        quality = read_source_quality(con, period)
        written["rekap_xlsx"] = write_recap_xlsx(recaps, reports, period, cutoff, quality)
        for level, path in write_recap_csvs(recaps, reports, period).items():
            written[f"rekap_csv:{level}"] = path
        written["karantina_csv"] = write_quarantine_csv(con, reports, period)
        # The change lists are written by worker processes, when the month has
        # many, while this one writes the rest.
        with change_lists(con, reports, period, cutoff) as lists_written:
            written.update(write_plenary_workbooks(con, recaps, reports, period, cutoff))
            docs = copy_dbt_docs(settings, reports)
            if docs is not None:
                written["dbt_docs"] = docs
            if not draft:
                snapshot, readme = build_snapshot(con, settings, period, cutoff)
            written.update(lists_written())
        approval = None if draft else latest_approval(con, period)
        written["index_html"] = write_index_html(
            con, settings, recaps, period, cutoff, written, reports, draft, approval, quality
        )
        if not draft:
            written["snapshot"], written["snapshot_readme"] = snapshot, readme
    finally:
        con.close()
    what = "draft" if draft else "publish"
    log.info("%s %s: %d files written under %s", what, period, len(written), reports)
    return written
