"""Plenary workbooks: the recap as the KPU kab/kota and the KPU provinsi print,
sign and read out in their pleno.

One workbook per kab/kota (its kecamatan, then its desa) and one for the
province (its kab/kota, then its kecamatan), under `reports/<period>/pleno/`,
laid out like a KPU recap form: a title block, header rows grouped as
PEMILIH AWAL / PEMILIH BARU / TMS / PEMILIH AKHIR over L, P and JML, the
number of desa and TPS beside each region, borders and thousands formats, a
JUMLAH row, and the berita-acara block (place, date, the commissioners'
names and signatures). Each sheet prints on A4 landscape, one page wide, with
the header rows repeated on every page.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from pdpb.console import progress
from pdpb.files import escape_formula, file_slug, save_workbook
from pdpb.publish.marts import BULAN, Recap, format_tanggal

# (group header, columns under it as (recap column, sub-header)); a group of
# one column spans both header rows.
GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("PEMILIH AWAL", (("awal_l", "L"), ("awal_p", "P"), ("awal_total", "JML"))),
    ("PEMILIH BARU", (("baru_l", "L"), ("baru_p", "P"), ("baru_total", "JML"))),
    ("TIDAK MEMENUHI SYARAT (TMS)", (("tms_l", "L"), ("tms_p", "P"), ("tms_total", "JML"))),
    ("PERBAIKAN DATA", (("ubah", "JML"),)),
    ("PEMILIH AKHIR", (("akhir_l", "L"), ("akhir_p", "P"), ("akhir_total", "JML"))),
)
COUNT_COLUMNS = tuple(column for _, columns in GROUPS for column, _ in columns)
# The commissioners of a KPU kab/kota or provinsi who sign the berita acara.
SIGNATORIES = ("Ketua", "Anggota", "Anggota", "Anggota", "Anggota")

THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=12)
NUMBER = "#,##0"
TITLE_ROWS = 6  # title block above the two header rows
FIRST_HEADER = TITLE_ROWS + 1


@dataclass(frozen=True)
class Table:
    """One printed table: the unit name, whether it has desa below it, rows."""

    sheet: str
    unit: str
    rows: list[dict[str, Any]]
    with_desa: bool
    parent_column: str | None = None  # e.g. the kecamatan of each desa


def tps_per_desa(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """TPS in use per desa: distinct TPS of the active voters (TPS are
    numbered within a desa, so a kecamatan's count is the sum of its desa)."""
    rows = con.execute(
        "select kode_wilayah, count(distinct tps) from marts.pemilih_terkini"
        " where status = 'AKTIF' and tps is not null group by 1"
    ).fetchall()
    return {kode: int(n) for kode, n in rows}


def _with_tps(rows: Sequence[dict[str, Any]], tps: dict[str, int]) -> list[dict[str, Any]]:
    """Each row with `jumlah_tps`: its desa's TPS summed (a region's code is
    the prefix of its desa's codes: 36.01 > 36.01.01 > 36.01.01.2001)."""
    totals: dict[str, int] = {}
    for desa, n in tps.items():
        parts = desa.split(".")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            totals[prefix] = totals.get(prefix, 0) + n
    return [dict(row, jumlah_tps=totals.get(row["kode_wilayah"], 0)) for row in rows]


def write_plenary_workbooks(
    con: duckdb.DuckDBPyConnection,
    recaps: dict[str, Recap],
    reports: Path,
    period: str,
    cutoff: dt.date,
) -> dict[str, Path]:
    """`pleno/rekap_pleno_<kode>_<NAMA>_<period>.xlsx` for every kab/kota and
    for the province; keys `pleno_xlsx:<kode>`."""
    tps = tps_per_desa(con)
    kecamatan = _with_tps(recaps["kecamatan"].rows, tps)
    desa = _with_tps(recaps["desa"].rows, tps)
    kabkota = _with_tps(recaps["kabkota"].rows, tps)
    names = {r["kode_wilayah"]: r["nama_wilayah"] for r in [*kecamatan, *kabkota]}
    folder = reports / "pleno"
    shutil.rmtree(folder, ignore_errors=True)  # publish's own: no workbook of an old run stays
    written: dict[str, Path] = {}
    for provinsi in recaps["provinsi"].rows:
        kode = provinsi["kode_wilayah"]
        tables = [
            Table("Rekap Kab-Kota", "Kabupaten/Kota", _under(kabkota, kode), True),
            Table("Rekap Kecamatan", "Kecamatan", _under(kecamatan, kode), True, "kode_induk"),
        ]
        written[f"pleno_xlsx:{kode}"] = _workbook(
            folder, "PROVINSI", provinsi["nama_wilayah"], kode, None, tables, names, period, cutoff
        )
    for row in progress(kabkota, len(kabkota), "pleno"):
        kode = row["kode_wilayah"]
        tables = [
            Table("Rekap Kecamatan", "Kecamatan", _under(kecamatan, kode), True),
            Table("Rekap Desa", "Desa/Kelurahan", _under(desa, kode), False, "kode_induk"),
        ]
        provinsi = names.get(row["kode_induk"]) or next(
            (p["nama_wilayah"] for p in recaps["provinsi"].rows), ""
        )
        written[f"pleno_xlsx:{kode}"] = _workbook(
            folder, "KABUPATEN/KOTA", row["nama_wilayah"], kode, provinsi, tables, names, period,
            cutoff,
        )  # fmt: skip
    return written


def _under(rows: Sequence[dict[str, Any]], kode: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["kode_wilayah"].startswith(kode + ".")]


def _workbook(
    folder: Path,
    tingkat: str,
    nama: str,
    kode: str,
    provinsi: str | None,
    tables: Sequence[Table],
    names: dict[str, str],
    period: str,
    cutoff: dt.date,
) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for table in tables:
        ws = wb.create_sheet(table.sheet)
        _title_block(ws, table, tingkat, nama, provinsi, period, cutoff)
        columns = _columns(table)
        _header(ws, columns)
        last = _body(ws, table, columns, names)
        _berita_acara(ws, last + 2, tingkat, nama, len(columns))
        _page_setup(ws)
    return save_workbook(wb, folder / f"rekap_pleno_{kode}_{file_slug(nama)}_{period}.xlsx")


def _columns(table: Table) -> list[tuple[str, str, str | None]]:
    """(key, header, group) per printed column."""
    columns: list[tuple[str, str, str | None]] = [("no", "NO", None)]
    if table.parent_column:
        columns.append(
            ("induk", "KECAMATAN" if table.unit.startswith("Desa") else "KAB/KOTA", None)
        )
    columns += [("kode_wilayah", "KODE", None), ("nama_wilayah", table.unit.upper(), None)]
    if table.with_desa:
        columns.append(("jumlah_desa", "JUMLAH DESA/KEL.", None))
    columns.append(("jumlah_tps", "JUMLAH TPS", None))
    for group, members in GROUPS:
        for column, sub in members:
            columns.append((column, sub, group if len(members) > 1 else None))
            if len(members) == 1:
                columns[-1] = (column, group, None)
    return columns


def _title_block(
    ws: Any,
    table: Table,
    tingkat: str,
    nama: str,
    provinsi: str | None,
    period: str,
    cutoff: dt.date,
) -> None:
    year, month = int(period[:4]), int(period[5:])
    width = len(_columns(table))
    lines = [
        ("REKAPITULASI DAFTAR PEMILIH BERKELANJUTAN", TITLE),
        (f"PERIODE {BULAN[month - 1].upper()} {year}", TITLE),
        (f"{tingkat} : {nama}", BOLD),
        (f"PROVINSI : {provinsi}" if provinsi else f"TINGKAT : {table.unit.upper()}", BOLD),
        (f"Tanggal batas (cut-off): {format_tanggal(cutoff)}", None),
    ]
    for row, (text, font) in enumerate(lines, start=1):
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        cell = ws.cell(row=row, column=1, value=escape_formula(text))
        cell.alignment = Alignment(horizontal="center")
        if font is not None:
            cell.font = font


def _header(ws: Any, columns: Sequence[tuple[str, str, str | None]]) -> None:
    top, sub = FIRST_HEADER, FIRST_HEADER + 1
    index = 1
    while index <= len(columns):
        key, header, group = columns[index - 1]
        if group is None:
            ws.merge_cells(start_row=top, start_column=index, end_row=sub, end_column=index)
            ws.cell(row=top, column=index, value=header)
            index += 1
            continue
        span = sum(1 for c in columns if c[2] == group)
        ws.merge_cells(start_row=top, start_column=index, end_row=top, end_column=index + span - 1)
        ws.cell(row=top, column=index, value=group)
        for offset in range(span):
            ws.cell(row=sub, column=index + offset, value=columns[index - 1 + offset][1])
        index += span
    for row in (top, sub):
        for col in range(1, len(columns) + 1):
            cell = ws.cell(row=row, column=col)
            cell.font, cell.alignment, cell.border, cell.fill = BOLD, CENTER, BORDER, HEADER_FILL
    ws.row_dimensions[top].height = 30
    for col, (key, _, _) in enumerate(columns, start=1):
        width = {"no": 5, "kode_wilayah": 15, "nama_wilayah": 26, "induk": 20}.get(key, 10)
        ws.column_dimensions[get_column_letter(col)].width = width


def _body(
    ws: Any, table: Table, columns: Sequence[tuple[str, str, str | None]], names: dict[str, str]
) -> int:
    """The rows and the JUMLAH row; returns the JUMLAH row's number."""
    row_number = FIRST_HEADER + 2
    for number, row in enumerate(table.rows, start=1):
        values = dict(row, no=number, induk=names.get(row.get(table.parent_column or ""), ""))
        _write_row(ws, row_number, columns, values, bold=False)
        row_number += 1
    totals: dict[str, Any] = {
        key: sum(int(r.get(key) or 0) for r in table.rows)
        for key, _, _ in columns
        if key in COUNT_COLUMNS or key in ("jumlah_desa", "jumlah_tps")
    }
    totals["nama_wilayah"] = "JUMLAH"
    _write_row(ws, row_number, columns, totals, bold=True)
    return row_number


def _write_row(
    ws: Any, row: int, columns: Sequence[tuple[str, str, str | None]], values: dict, bold: bool
) -> None:
    for col, (key, _, _) in enumerate(columns, start=1):
        value = values.get(key)
        cell = ws.cell(row=row, column=col, value=escape_formula(value))
        cell.border = BORDER
        if isinstance(value, int):
            cell.number_format = NUMBER
        if bold:
            cell.font = BOLD


def _berita_acara(ws: Any, start: int, tingkat: str, nama: str, width: int) -> int:
    """Where the plenary records its decision: place, date, and each
    commissioner's name and signature. Returns the last row used."""
    kpu = f"KPU {'KABUPATEN/KOTA' if tingkat.startswith('KAB') else 'PROVINSI'} {nama}"
    lines = [
        f"Rekapitulasi ini ditetapkan dalam rapat pleno terbuka {kpu}",
        "Ditetapkan di : ..............................",
        "Pada tanggal  : ..............................",
    ]
    row = start
    for text in lines:
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        ws.cell(row=row, column=1, value=text)
        row += 1
    row += 1
    half = max(width // 2, 4)
    heads = [(1, "NO"), (2, "NAMA"), (half, "JABATAN"), (half + 2, "TANDA TANGAN")]
    bounds = [(1, 1), (2, half - 1), (half, half + 1), (half + 2, width)]
    for (col, text), (first, last) in zip(heads, bounds, strict=True):
        if last > first:
            ws.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)
        cell = ws.cell(row=row, column=col, value=text)
        cell.font, cell.alignment, cell.border = BOLD, CENTER, BORDER
    for number, jabatan in enumerate(SIGNATORIES, start=1):
        row += 1
        ws.row_dimensions[row].height = 30
        values = [number, "", jabatan, f"{number}. ............................"]
        for value, (first, last) in zip(values, bounds, strict=True):
            if last > first:
                ws.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)
            cell = ws.cell(row=row, column=first, value=value)
            cell.border, cell.alignment = BORDER, Alignment(vertical="center")
    return row


def _page_setup(ws: Any) -> None:
    """A4 landscape, one page wide, header rows on every page, centred."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as the rows need
    ws.print_title_rows = f"{FIRST_HEADER}:{FIRST_HEADER + 1}"
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.oddFooter.center.text = "Halaman &P dari &N"
    ws.freeze_panes = ws.cell(row=FIRST_HEADER + 2, column=1)
