"""The KPU-style recap: `rekap_<period>.xlsx` (one sheet per level) and one
CSV per level with the contract columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from pdpb.domain import RECAP_COLUMNS, RECAP_COUNT_HEADERS
from pdpb.files import (
    HEADER_ROW,
    SheetLayout,
    append_bold_row,
    append_row,
    save_workbook,
    set_autofilter,
    start_sheet,
    write_csv,
)
from pdpb.publish.marts import (
    LEVELS,
    Recap,
    period_subtitle,
)
from pdpb.publish.source_quality import SourceQuality, write_quality_sheets


def recap_sheet_columns(level: str) -> list[tuple[str, str]]:
    """The (column, header) pairs a level's sheet shows: counts of units
    below it only where there are units below, the parent code where there
    is a parent."""
    _, _, unit, parent = next(entry for entry in LEVELS if entry[0] == level)
    columns = [("kode_wilayah", f"Kode {unit}"), ("nama_wilayah", unit)]
    if parent:
        columns.append(("kode_induk", f"Kode {parent}"))
    if level in ("kabkota", "provinsi", "nasional"):
        columns.append(("jumlah_kecamatan", RECAP_COUNT_HEADERS["jumlah_kecamatan"]))
    if level != "desa":
        columns.append(("jumlah_desa", RECAP_COUNT_HEADERS["jumlah_desa"]))
    counts = [c for c in RECAP_COUNT_HEADERS if not c.startswith("jumlah_")]
    columns += [(c, RECAP_COUNT_HEADERS[c]) for c in counts]
    return columns


def recap_totals(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> dict[str, int]:
    """Column sums of the count columns (the JUMLAH row)."""
    return {c: sum(int(r[c] or 0) for r in rows) for c in columns if c in RECAP_COUNT_HEADERS}


def _recap_widths(
    rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]
) -> list[float]:
    widths = []
    for column, header in columns:
        longest = max((len(str(r[column] or "")) for r in rows[:2000]), default=0)
        header_fit = min(len(header), 16)  # long headers wrap instead
        widths.append(float(min(max(longest, header_fit, 6) + 2, 40)))
    return widths


def write_recap_xlsx(
    recaps: dict[str, Recap],
    reports: Path,
    period: str,
    cutoff: dt.date,
    quality: SourceQuality | None = None,
) -> Path:
    """`rekap_<period>.xlsx`: one sheet per level, title, header, JUMLAH row;
    then, with `quality`, the data-quality sheets (source_quality.py)."""
    wb = Workbook(write_only=True)
    for level, sheet, unit, _ in LEVELS:
        rows = recaps[level].rows
        columns = recap_sheet_columns(level)
        layout = SheetLayout(
            name=sheet,
            title=f"Rekapitulasi Daftar Pemilih Berkelanjutan - Tingkat {unit}",
            subtitle=period_subtitle(period, cutoff),
            headers=[header for _, header in columns],
            widths=_recap_widths(rows, columns),
            freeze=f"C{HEADER_ROW + 1}",
        )
        ws = start_sheet(wb, layout)
        keys = [c for c, _ in columns]
        for row in rows:
            append_row(ws, [row[c] for c in keys])
        if level != "nasional":  # the national sheet is already its own total
            totals = recap_totals(rows, keys)
            append_bold_row(
                ws, [totals.get(c, "JUMLAH" if c == "nama_wilayah" else None) for c in keys]
            )
        set_autofilter(ws, len(keys), len(rows))
    write_quality_sheets(wb, quality, period, cutoff)
    return save_workbook(wb, reports / f"rekap_{period}.xlsx")


def write_recap_csvs(recaps: dict[str, Recap], reports: Path, period: str) -> dict[str, Path]:
    """`rekap_<level>_<period>.csv`: the contract columns, one row per region,
    no totals row, so scripts can read them as the mart itself."""
    paths = {}
    for level, *_ in LEVELS:
        rows = ([r[c] for c in RECAP_COLUMNS] for r in recaps[level].rows)
        paths[level] = write_csv(reports / f"rekap_{level}_{period}.csv", RECAP_COLUMNS, rows)
    return paths
