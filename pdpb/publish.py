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

import csv
import datetime as dt
import html
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from pdpb import warehouse
from pdpb.config import PdpbError, Settings
from pdpb.faults import pause_if_testing
from pdpb.locking import holds_writer_lock, pid_alive
from pdpb.transform import DOCS_PAGE

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# (level key used in table and file names, sheet name, unit label, parent label)
LEVELS: tuple[tuple[str, str, str, str | None], ...] = (
    ("desa", "Desa", "Desa/Kelurahan", "Kecamatan"),
    ("kecamatan", "Kecamatan", "Kecamatan", "Kabupaten/Kota"),
    ("kabkota", "Kabupaten-Kota", "Kabupaten/Kota", "Provinsi"),
    ("provinsi", "Provinsi", "Provinsi", None),
    ("nasional", "Nasional", "Nasional", None),
)

RECAP_KEY_COLUMNS = ("period", "kode_wilayah", "nama_wilayah", "kode_induk")
RECAP_COUNT_HEADERS: dict[str, str] = {
    "jumlah_kecamatan": "Jumlah Kecamatan",
    "jumlah_desa": "Jumlah Desa/Kelurahan",
    "awal_l": "Pemilih Awal L",
    "awal_p": "Pemilih Awal P",
    "awal_total": "Pemilih Awal",
    "baru_l": "Pemilih Baru L",
    "baru_p": "Pemilih Baru P",
    "baru_total": "Pemilih Baru",
    "baru_pemilih_pemula": "Baru: Pemilih Pemula",
    "baru_pindah_masuk": "Baru: Pindah Masuk",
    "baru_purna_tni_polri": "Baru: Purna TNI/Polri",
    "baru_hak_pilih_pulih": "Baru: Hak Pilih Pulih",
    "tms_l": "TMS L",
    "tms_p": "TMS P",
    "tms_total": "TMS",
    "tms_meninggal": "TMS Meninggal",
    "tms_ganda": "TMS Ganda",
    "tms_bawah_umur": "TMS Di Bawah Umur",
    "tms_pindah_domisili": "TMS Pindah Domisili",
    "tms_wna": "TMS WNA",
    "tms_tni": "TMS TNI",
    "tms_polri": "TMS Polri",
    "tms_salah_tps": "TMS Salah TPS",
    "tms_hak_pilih_dicabut": "TMS Hak Pilih Dicabut",
    "ubah": "Perbaikan Data (Ubah)",
    "akhir_l": "Pemilih Akhir L",
    "akhir_p": "Pemilih Akhir P",
    "akhir_total": "Pemilih Akhir",
}
RECAP_COLUMNS = RECAP_KEY_COLUMNS + tuple(RECAP_COUNT_HEADERS)
TMS_CATEGORY_COLUMNS = tuple(c for c in RECAP_COUNT_HEADERS if c.startswith("tms_"))[3:]

REQUIRED_MARTS = tuple(f"rpt_rekap_{level}" for level, *_ in LEVELS) + (
    "fct_voter_changes",
    "dim_wilayah",
)
QUALITY_SUITES = ("delta_events", "voters", "rekap")

# The characters a spreadsheet treats as the start of a formula (OWASP CSV
# injection): `=`, `+`, `-`, `@`, and tab / carriage return that some
# programs strip before evaluating.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

BULAN = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip

JENIS_PERUBAHAN = {"BARU": "Pemilih Baru", "TMS": "TMS", "UBAH": "Perbaikan Data"}
CHANGE_ORDER = {"BARU": 1, "UBAH": 2, "TMS": 3}

# By-name list: (output column, Indonesian header, XLSX width).
CHANGE_LIST_COLUMNS: tuple[tuple[str, str, float], ...] = (
    ("kode_kecamatan", "Kode Kecamatan", 14),
    ("nama_kecamatan", "Kecamatan", 22),
    ("kode_desa", "Kode Desa/Kel.", 15),
    ("nama_desa", "Desa/Kelurahan", 22),
    ("tps", "TPS", 6),
    ("dpid", "DPID", 14),
    ("nkk", "NKK (disamarkan)", 19),
    ("nik", "NIK (disamarkan)", 19),
    ("nama", "Nama", 30),
    ("jenis_kelamin", "L/P", 5),
    ("tanggal_lahir", "Tanggal Lahir", 12),
    ("alamat", "Alamat", 32),
    ("rt", "RT", 5),
    ("rw", "RW", 5),
    ("keterangan", "Ket.", 5),
    ("jenis_perubahan", "Jenis Perubahan", 15),
    ("tms_nama", "Kategori TMS", 18),
    ("alasan", "Alasan", 40),
    ("elemen_diubah", "Elemen Diubah", 22),
    ("sumber", "Sumber", 12),
    ("event_id", "ID Peristiwa", 16),
    ("metode_pencocokan", "Metode Pencocokan", 16),
    ("probabilitas", "Probabilitas", 11),
)

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="8B1A1A")
TITLE_FONT = Font(bold=True, size=14)
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
HEADER_ROW = 4  # rows 1-2 title, 3 blank, 4 header


def escape_formula(value: object) -> object:
    """Return `value` safe to put in a spreadsheet cell.

    Text that a spreadsheet would evaluate as a formula (it starts with `=`,
    `+`, `-`, `@`, tab or carriage return) gets a leading single quote, so a
    name like `=HYPERLINK(...)` in the source data stays inert text. Numbers,
    dates and None pass through unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def format_tanggal(day: dt.date) -> str:
    """A date the Indonesian way, e.g. `31 Januari 2026`."""
    return f"{day.day} {BULAN[day.month - 1]} {day.year}"


def publish(settings: Settings, period: str, cutoff: dt.date) -> dict[str, Path]:
    """Write the period's reports, change lists and analyst snapshot.

    Returns every path written, keyed `rekap_xlsx`, `rekap_csv:<level>`,
    `perubahan_xlsx:<kode kabkota>`, `perubahan_csv:<kode kabkota>`,
    `dbt_docs` (when the dbt build left a docs page), `index_html`,
    `snapshot` and `snapshot_readme`.
    """
    reports = settings.reports_dir(period)
    clear_stale_temps(settings, (reports, settings.published_dir))
    reports.mkdir(parents=True, exist_ok=True)
    con = _open_warehouse(settings)
    try:
        _require_marts(con, period)
        recaps = {level: read_recap(con, level, period) for level, *_ in LEVELS}
        written: dict[str, Path] = {}
        written["rekap_xlsx"] = write_recap_xlsx(recaps, reports, period, cutoff)
        for level, path in write_recap_csvs(recaps, reports, period).items():
            written[f"rekap_csv:{level}"] = path
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


# --- warehouse access -------------------------------------------------------


def _open_warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    if not settings.warehouse_path.exists():
        raise PdpbError(
            f"no warehouse at {settings.warehouse_path}: run `pdpb init` and the period first"
        )
    return warehouse.connect(settings, read_only=True)


def _existing_marts(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'"
    ).fetchall()
    return {name for (name,) in rows}


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
    # fetchall, not fetchone: duckdb 2 keeps a half-read result open and then
    # refuses other work (register) on the connection.
    rows = con.execute(sql, list(params)).fetchall()
    return int(rows[0][0]) if rows else 0


def _require_marts(con: duckdb.DuckDBPyConnection, period: str) -> None:
    missing = [t for t in REQUIRED_MARTS if t not in _existing_marts(con)]
    if missing:
        raise PdpbError(
            f"cannot publish {period}: marts missing ({', '.join('marts.' + t for t in missing)});"
            " run the dbt build for the period first"
        )
    has_mask = _count(
        con,
        "select count(*) from duckdb_functions()"
        " where schema_name = 'core' and function_name = 'mask_nik'",
    )
    if not has_mask:
        raise PdpbError(
            "the warehouse lacks the masking macro core.mask_nik: open it once read-write"
            " (e.g. run any stage) so the DDL installs it, then publish again"
        )
    if not _count(con, "select count(*) from marts.rpt_rekap_nasional where period = ?", [period]):
        raise PdpbError(
            f"cannot publish {period}: marts.rpt_rekap_nasional has no row for the period;"
            " run the dbt build for the period first"
        )


@dataclass(frozen=True)
class Recap:
    """One level's recap rows for a period, as plain dicts in code order."""

    level: str
    rows: list[dict[str, Any]]


def read_recap(con: duckdb.DuckDBPyConnection, level: str, period: str) -> Recap:
    """Read `marts.rpt_rekap_<level>` for one period, checking its columns."""
    cur = con.execute(
        f"select * from marts.rpt_rekap_{level} where period = ? order by kode_wilayah", [period]
    )
    names = [d[0] for d in cur.description]
    missing = [c for c in RECAP_COLUMNS if c not in names]
    if missing:
        raise PdpbError(
            f"marts.rpt_rekap_{level} lacks columns {', '.join(missing)}; rebuild the marts"
        )
    rows = [dict(zip(names, values, strict=True)) for values in cur.fetchall()]
    return Recap(level, rows)


# --- files written atomically ----------------------------------------------

# `.<name>.tmp-<pid>` (and a snapshot's `.wal` beside it): what _atomic_target
# and build_snapshot write before the rename.
TEMP_NAME_RE = re.compile(r"^\..+\.tmp-(?P<pid>\d+)(?:\.wal)?$")


def clear_stale_temps(settings: Settings, folders: Iterable[Path]) -> list[Path]:
    """Remove the temporary files another publish left in `folders` (a killed
    one leaves its half-written snapshot, up to the size of the warehouse).

    Under the writer lock, which the publish stage holds, no other process can
    be publishing, so every temporary file not of this process is stale;
    without it only those whose process is gone from this host are removed.
    """
    locked = holds_writer_lock(settings)
    removed = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob(".*.tmp-*")):
            match = TEMP_NAME_RE.match(path.name)
            if not match or not path.is_file():
                continue
            pid = int(match["pid"])
            if pid != os.getpid() and (locked or not pid_alive(pid)):
                path.unlink(missing_ok=True)
                removed.append(path)
    if removed:
        log.warning(
            "removed %d temporary file(s) left by an interrupted publish: %s",
            len(removed),
            ", ".join(sorted(p.name for p in removed)),
        )
    return removed


@contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` and move it into place on success,
    so a web server or an operator never opens a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    with _atomic_target(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_csv_value(v) for v in row])
    return path


def _csv_value(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    return escape_formula(value)


# --- XLSX -------------------------------------------------------------------


@dataclass(frozen=True)
class SheetLayout:
    """What a table sheet shows above and around its rows."""

    name: str
    title: str
    subtitle: str
    headers: Sequence[str]
    widths: Sequence[float]
    freeze: str


def _styled(ws: Any, value: object, font: Font | None = None, fill: Any = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=escape_formula(value))
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    return cell


def _start_sheet(wb: Workbook, layout: SheetLayout) -> Any:
    """Create a write-only sheet with title, header, widths and frozen panes;
    widths and panes must be set before the first row in write-only mode."""
    ws = wb.create_sheet(layout.name)
    for index, width in enumerate(layout.widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = layout.freeze
    ws.append([_styled(ws, layout.title, TITLE_FONT)])
    ws.append([_styled(ws, layout.subtitle)])
    ws.append([])
    header = []
    for text in layout.headers:
        cell = _styled(ws, text, HEADER_FONT, HEADER_FILL)
        cell.alignment = WRAP
        header.append(cell)
    ws.append(header)
    return ws


def _append_row(ws: Any, values: Sequence[object]) -> None:
    ws.append([escape_formula(v) for v in values])


def _append_bold_row(ws: Any, values: Sequence[object]) -> None:
    ws.append([_styled(ws, v, BOLD) for v in values])


def _set_autofilter(ws: Any, n_columns: int, n_rows: int) -> None:
    last = get_column_letter(n_columns)
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + max(n_rows, 1)}"


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


def write_recap_xlsx(recaps: dict[str, Recap], reports: Path, period: str, cutoff: dt.date) -> Path:
    """`rekap_<period>.xlsx`: one sheet per level, title, header, JUMLAH row."""
    wb = Workbook(write_only=True)
    for level, sheet, unit, _ in LEVELS:
        rows = recaps[level].rows
        columns = recap_sheet_columns(level)
        layout = SheetLayout(
            name=sheet,
            title=f"Rekapitulasi Daftar Pemilih Berkelanjutan - Tingkat {unit}",
            subtitle=f"Periode {period} - Tanggal batas (cut-off) {format_tanggal(cutoff)}",
            headers=[header for _, header in columns],
            widths=_recap_widths(rows, columns),
            freeze=f"C{HEADER_ROW + 1}",
        )
        ws = _start_sheet(wb, layout)
        keys = [c for c, _ in columns]
        for row in rows:
            _append_row(ws, [row[c] for c in keys])
        if level != "nasional":  # the national sheet is already its own total
            totals = recap_totals(rows, keys)
            _append_bold_row(
                ws, [totals.get(c, "JUMLAH" if c == "nama_wilayah" else None) for c in keys]
            )
        _set_autofilter(ws, len(keys), len(rows))
    path = reports / f"rekap_{period}.xlsx"
    with _atomic_target(path) as tmp:
        wb.save(tmp)
    return path


def write_recap_csvs(recaps: dict[str, Recap], reports: Path, period: str) -> dict[str, Path]:
    """`rekap_<level>_<period>.csv`: the contract columns, one row per region,
    no totals row, so scripts can read them as the mart itself."""
    paths = {}
    for level, *_ in LEVELS:
        rows = ([r[c] for c in RECAP_COLUMNS] for r in recaps[level].rows)
        paths[level] = _write_csv(reports / f"rekap_{level}_{period}.csv", RECAP_COLUMNS, rows)
    return paths


def copy_dbt_docs(settings: Settings, reports: Path) -> Path | None:
    """`dbt-docs/index.html`: the one-file dbt docs page of the last build,
    beside the reports so the static web server that serves them serves it
    too. None when no build has left one (e.g. marts made by hand)."""
    source = settings.dbt_target_dir / DOCS_PAGE
    if not source.is_file():
        return None
    path = reports / "dbt-docs" / "index.html"
    with _atomic_target(path) as tmp:
        shutil.copyfile(source, tmp)
    return path


# --- by-name change lists ----------------------------------------------------

CHANGE_LIST_SQL = """
with changes as (
    select * from marts.fct_voter_changes where period = $period
),
located as (
    select
        c.*,
        coalesce(kab.kode_wilayah, left(c.kode_wilayah, 5)) as kode_kabkota,
        coalesce(kab.nama_wilayah, left(c.kode_wilayah, 5)) as nama_kabkota,
        coalesce(kec.kode_wilayah, left(c.kode_wilayah, 8)) as kode_kecamatan,
        kec.nama_wilayah as nama_kecamatan,
        desa.nama_wilayah as nama_desa
    from changes as c
    left join marts.dim_wilayah as desa on desa.kode_wilayah = c.kode_wilayah
    left join marts.dim_wilayah as kec on kec.kode_wilayah = desa.kode_induk
    left join marts.dim_wilayah as kab on kab.kode_wilayah = kec.kode_induk
)
select
    l.kode_kabkota,
    l.nama_kabkota,
    l.kode_kecamatan,
    l.nama_kecamatan,
    l.kode_wilayah as kode_desa,
    l.nama_desa,
    v.tps,
    l.dpid,
    core.mask_nik(v.nkk) as nkk,
    core.mask_nik(v.nik) as nik,
    v.nama,
    coalesce(l.jenis_kelamin, v.jenis_kelamin) as jenis_kelamin,
    v.tanggal_lahir,
    v.alamat,
    v.rt,
    v.rw,
    case l.change_type when 'BARU' then 'B' when 'UBAH' then 'U'
        else cast(l.tms_code as varchar) end as keterangan,
    l.change_type,
    l.tms_nama,
    l.reason as alasan,
    l.changed_fields as elemen_diubah,
    l.sumber,
    l.event_id,
    l.match_method as metode_pencocokan,
    round(l.match_probability, 4) as probabilitas
from located as l
left join core.voters as v on v.dpid = l.dpid
order by
    l.kode_kabkota, l.kode_kecamatan, l.kode_wilayah,
    case l.change_type when 'BARU' then 1 when 'UBAH' then 2 else 3 end,
    v.nama, l.dpid
"""

CHANGE_SUMMARY_SQL = """
select
    left(c.kode_wilayah, 5) as kode_kabkota,
    c.kode_wilayah as kode_desa,
    any_value(d.nama_wilayah) as nama_desa,
    count(*) filter (where c.change_type = 'BARU') as baru,
    count(*) filter (where c.change_type = 'UBAH') as ubah,
    count(*) filter (where c.change_type = 'TMS') as tms,
    count(*) as jumlah
from marts.fct_voter_changes as c
left join marts.dim_wilayah as d on d.kode_wilayah = c.kode_wilayah
where c.period = $period
group by all
order by kode_desa
"""


def _slug(text: str) -> str:
    """A file-name-safe form of a region name (`KAB. LEBAK` -> `KAB-LEBAK`)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").upper() or "WILAYAH"


def _iter_rows(cursor: duckdb.DuckDBPyConnection, batch: int = 5000) -> Iterator[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    while chunk := cursor.fetchmany(batch):
        for values in chunk:
            yield dict(zip(names, values, strict=True))


def _change_list_row(row: dict[str, Any]) -> list[object]:
    row = dict(row, jenis_perubahan=JENIS_PERUBAHAN.get(row["change_type"], row["change_type"]))
    return [row[column] for column, _, _ in CHANGE_LIST_COLUMNS]


class _KabkotaWriter:
    """Writes one kab/kota's change list (XLSX and CSV twin) while rows stream
    in, so memory stays flat however many changes a province has."""

    def __init__(
        self,
        folder: Path,
        kode: str,
        nama: str,
        period: str,
        cutoff: dt.date,
        summary: Sequence[dict[str, Any]],
    ) -> None:
        self.kode = kode
        stem = f"perubahan_{kode}_{_slug(nama)}_{period}"
        self.xlsx_path = folder / f"{stem}.xlsx"
        self.csv_path = folder / f"{stem}.csv"
        self.rows = 0
        self.wb = Workbook(write_only=True)
        self._write_summary(kode, nama, period, cutoff, summary)
        self.ws = _start_sheet(
            self.wb,
            SheetLayout(
                name="Daftar Perubahan",
                title=f"Daftar Perubahan Pemilih - {nama} ({kode})",
                subtitle=f"Periode {period} - Tanggal batas (cut-off) {format_tanggal(cutoff)}"
                " - NIK/NKK disamarkan",
                headers=[header for _, header, _ in CHANGE_LIST_COLUMNS],
                widths=[width for _, _, width in CHANGE_LIST_COLUMNS],
                freeze=f"E{HEADER_ROW + 1}",
            ),
        )
        self.csv_tmp = self.csv_path.with_name(f".{self.csv_path.name}.tmp-{os.getpid()}")
        self.csv_handle = self.csv_tmp.open("w", newline="", encoding="utf-8")
        self.csv_writer = csv.writer(self.csv_handle)
        self.csv_writer.writerow([column for column, _, _ in CHANGE_LIST_COLUMNS])

    def _write_summary(
        self,
        kode: str,
        nama: str,
        period: str,
        cutoff: dt.date,
        summary: Sequence[dict[str, Any]],
    ) -> None:
        headers = [
            "Kode Desa/Kel.",
            "Desa/Kelurahan",
            "Pemilih Baru",
            "Perbaikan Data",
            "TMS",
            "Jumlah",
        ]
        ws = _start_sheet(
            self.wb,
            SheetLayout(
                name="Ringkasan",
                title=f"Ringkasan Perubahan per Desa/Kelurahan - {nama} ({kode})",
                subtitle=f"Periode {period} - Tanggal batas (cut-off) {format_tanggal(cutoff)}",
                headers=headers,
                widths=[15, 28, 12, 12, 12, 12],
                freeze=f"A{HEADER_ROW + 1}",
            ),
        )
        keys = ["baru", "ubah", "tms", "jumlah"]
        for row in summary:
            _append_row(ws, [row["kode_desa"], row["nama_desa"]] + [row[k] for k in keys])
        _append_bold_row(ws, [None, "JUMLAH"] + [sum(r[k] for r in summary) for k in keys])

    def add(self, row: dict[str, Any]) -> None:
        values = _change_list_row(row)
        _append_row(self.ws, values)
        self.csv_writer.writerow([_csv_value(v) for v in values])
        self.rows += 1

    def abort(self) -> None:
        self.csv_handle.close()
        self.csv_tmp.unlink(missing_ok=True)

    def close(self) -> tuple[Path, Path]:
        _set_autofilter(self.ws, len(CHANGE_LIST_COLUMNS), self.rows)
        with _atomic_target(self.xlsx_path) as tmp:
            self.wb.save(tmp)
        self.csv_handle.close()
        os.replace(self.csv_tmp, self.csv_path)
        return self.xlsx_path, self.csv_path


def write_change_lists(
    con: duckdb.DuckDBPyConnection, reports: Path, period: str, cutoff: dt.date
) -> dict[str, Path]:
    """One XLSX (sheets Ringkasan and Daftar Perubahan) and one CSV per
    kab/kota with changes, under `reports/<period>/perubahan/`."""
    folder = reports / "perubahan"
    # The folder is publish's own: clearing it keeps a re-run from leaving
    # lists of a kab/kota that no longer has changes.
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    summaries: dict[str, list[dict[str, Any]]] = {}
    for row in _iter_rows(con.execute(CHANGE_SUMMARY_SQL, {"period": period})):
        summaries.setdefault(row["kode_kabkota"], []).append(row)
    written: dict[str, Path] = {}
    current: _KabkotaWriter | None = None
    try:
        for row in _iter_rows(con.execute(CHANGE_LIST_SQL, {"period": period})):
            if current is None or row["kode_kabkota"] != current.kode:
                if current is not None:
                    _record_change_list(written, current.kode, current.close())
                current = _KabkotaWriter(
                    folder,
                    row["kode_kabkota"],
                    row["nama_kabkota"],
                    period,
                    cutoff,
                    summaries.get(row["kode_kabkota"], []),
                )
            current.add(row)
    except BaseException:
        if current is not None:
            current.abort()
        raise
    if current is not None:
        _record_change_list(written, current.kode, current.close())
    return written


def _record_change_list(written: dict[str, Path], kode: str, paths: tuple[Path, Path]) -> None:
    written[f"perubahan_xlsx:{kode}"], written[f"perubahan_csv:{kode}"] = paths


# --- HTML report --------------------------------------------------------------

PALETTE = {"baru": "#2e7d32", "ubah": "#f9a825", "tms": "#c62828", "line": "#1f4e79"}


def _fmt(value: object) -> str:
    """Thousands with dots, the Indonesian way (1.234.567)."""
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    return "" if value is None else str(value)


def svg_stacked_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int]]],
    title: str = "Komposisi perubahan",
) -> str:
    """Horizontal stacked bars, one per label; series are (name, colour, values)."""
    width, label_w, bar_h, gap, top = 860, 220, 18, 8, 30
    plot_w = width - label_w - 90
    totals = [sum(values[i] for _, _, values in series) for i in range(len(labels))]
    scale = plot_w / (max(totals, default=0) or 1)
    height = top + len(labels) * (bar_h + gap) + 10
    parts = [_svg_open(width, height, title)]
    x = label_w
    for name, colour, _ in series:
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="16">{html.escape(name)}</text>')
        x += 16 + 8 * len(name) + 20
    for i, label in enumerate(labels):
        y = top + i * (bar_h + gap)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{html.escape(label)}</text>'
        )
        x = float(label_w)
        for name, colour, values in series:
            w = values[i] * scale
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                f"<title>{html.escape(label)} - {html.escape(name)}: {_fmt(values[i])}</title></rect>"
            )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 13}">{_fmt(totals[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_bars(labels: Sequence[str], values: Sequence[int], colour: str) -> str:
    """Horizontal bars with their values, for counts per category."""
    return svg_stacked_bars(labels, [("Jumlah", colour, values)], "Jumlah per kategori")


def svg_line(labels: Sequence[str], values: Sequence[int]) -> str:
    """A line over periods; the y axis spans the data, not zero, because
    month-to-month changes are small next to the size of the list."""
    width, height, left, right, top, bottom = 860, 260, 90, 30, 20, 40
    low, high = min(values, default=0), max(values, default=0)
    pad = max((high - low) * 0.1, 1)
    low, high = low - pad, high + pad
    step = (width - left - right) / max(len(values) - 1, 1)
    # A single period sits in the middle rather than stuck to the left edge.
    start = left if len(values) > 1 else (left + width - right) / 2

    def point(i: int, v: int) -> tuple[float, float]:
        return start + i * step, top + (high - v) / (high - low) * (height - top - bottom)

    parts = [_svg_open(width, height, "Tren pemilih akhir per periode")]
    parts.append(
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}"'
        ' stroke="#999"/>'
    )
    points = [point(i, v) for i, v in enumerate(values)]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{PALETTE["line"]}" stroke-width="2"/>'
        )
    every = -(-len(values) // 12)  # at most ~12 labels so they never overlap
    for i, ((x, y), label, value) in enumerate(zip(points, labels, values, strict=True)):
        tip = f"<title>{html.escape(label)}: {_fmt(value)}</title>"
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{PALETTE["line"]}">{tip}</circle>'
        )
        if i % every == 0 or i == len(values) - 1:
            parts.append(
                f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle">{_fmt(value)}</text>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 18}" text-anchor="middle">'
                f"{html.escape(label)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{html.escape(label)}" '
        'font-family="sans-serif" font-size="12">'
    )


@dataclass(frozen=True)
class QualityStatus:
    """One GX suite's result as the HTML shows it."""

    suite: str
    status: str  # Lulus, Gagal, belum dijalankan, tidak terbaca
    critical_failures: list[str]
    warnings: list[str]
    data_docs_href: str | None


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [_describe_failure(item) for item in items]


def _describe_failure(item: object) -> str:
    """One line per failed expectation in the operator's words. Examples of
    unexpected values are left out on purpose: they may hold a NIK."""
    if not isinstance(item, dict):
        return str(item)
    what = item.get("notes") or item.get("expectation") or "pemeriksaan gagal"
    where = ", ".join(
        str(part)
        for part in (item.get("checkpoint"), item.get("column") and f"kolom {item['column']}")
        if part
    )
    count = item.get("unexpected_count")
    detail = where + (f": {count} baris" if count is not None else "")
    return f"{what} ({detail})" if detail else str(what)


def _href(target: object, base: Path) -> str | None:
    """A link the report can use from its own folder: URLs stay, paths become
    relative so the reports tree can be served by a static web server."""
    if not target:
        return None
    text = str(target)
    if re.match(r"^[a-z][a-z0-9+.-]*://", text):
        return text
    path = Path(text)
    return os.path.relpath(path, base) if path.is_absolute() else text


def read_quality(reports: Path) -> list[QualityStatus]:
    """The status of each GX suite from `quality_<suite>.json` beside the reports."""
    statuses = []
    for suite in QUALITY_SUITES:
        path = reports / f"quality_{suite}.json"
        if not path.exists():
            statuses.append(QualityStatus(suite, "belum dijalankan", [], [], None))
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            statuses.append(QualityStatus(suite, "tidak terbaca", [], [], None))
            continue
        status = "Lulus" if data.get("success") else "Gagal"
        statuses.append(
            QualityStatus(
                suite,
                status,
                _as_list(data.get("critical_failures")),
                _as_list(data.get("warnings")),
                _href(data.get("data_docs_index"), reports),
            )
        )
    return statuses


def _trend(con: duckdb.DuckDBPyConnection, period: str) -> tuple[list[str], list[int]]:
    rows = con.execute(
        "select period, akhir_total from marts.rpt_rekap_nasional where period <= ? order by period",
        [period],
    ).fetchall()
    return [p for p, _ in rows], [int(v or 0) for _, v in rows]


def _outcomes(con: duckdb.DuckDBPyConnection, period: str) -> list[tuple[str, int]]:
    if "fct_event_outcomes" not in _existing_marts(con):
        return []
    return con.execute(
        "select outcome, count(*) from marts.fct_event_outcomes where period = ?"
        " group by outcome order by count(*) desc, outcome",
        [period],
    ).fetchall()


def _summary_table(recap: Recap, unit: str) -> dict[str, Any]:
    columns = [
        ("kode_wilayah", "Kode"), ("nama_wilayah", unit), ("awal_total", "Pemilih Awal"),
        ("baru_total", "Pemilih Baru"), ("tms_total", "TMS"), ("ubah", "Perbaikan Data"),
        ("akhir_l", "Pemilih Akhir L"), ("akhir_p", "Pemilih Akhir P"),
        ("akhir_total", "Pemilih Akhir"),
    ]  # fmt: skip
    keys = [c for c, _ in columns]
    totals = recap_totals(recap.rows, keys)
    return {
        "headers": [h for _, h in columns],
        "rows": [[_fmt(r[c]) for c in keys] for r in recap.rows],
        "totals": [_fmt(totals.get(c, "JUMLAH" if c == "nama_wilayah" else "")) for c in keys],
    }


def write_index_html(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    recaps: dict[str, Recap],
    period: str,
    cutoff: dt.date,
    written: dict[str, Path],
) -> Path:
    """`index.html`: one self-contained page (inline CSS and SVG, no scripts)."""
    reports = settings.reports_dir(period)
    nasional = recaps["nasional"].rows[0]
    kabkota = recaps["kabkota"].rows
    trend_labels, trend_values = _trend(con, period)
    tms_labels = [RECAP_COUNT_HEADERS[c].removeprefix("TMS ") for c in TMS_CATEGORY_COLUMNS]
    context = {
        "period": period,
        "cutoff": format_tanggal(cutoff),
        "headline": [
            ("Pemilih Awal", _fmt(nasional["awal_total"])),
            ("Pemilih Baru", _fmt(nasional["baru_total"])),
            ("TMS", _fmt(nasional["tms_total"])),
            ("Perbaikan Data", _fmt(nasional["ubah"])),
            ("Pemilih Akhir", _fmt(nasional["akhir_total"])),
            ("Pemilih Akhir L", _fmt(nasional["akhir_l"])),
            ("Pemilih Akhir P", _fmt(nasional["akhir_p"])),
            ("Desa/Kelurahan", _fmt(len(recaps["desa"].rows))),
        ],
        "kabkota": _summary_table(recaps["kabkota"], "Kabupaten/Kota"),
        "provinsi": _summary_table(recaps["provinsi"], "Provinsi"),
        "chart_changes": Markup(
            svg_stacked_bars(
                [r["nama_wilayah"] or r["kode_wilayah"] for r in kabkota],
                [
                    ("Pemilih Baru", PALETTE["baru"], [int(r["baru_total"] or 0) for r in kabkota]),
                    ("Perbaikan Data", PALETTE["ubah"], [int(r["ubah"] or 0) for r in kabkota]),
                    ("TMS", PALETTE["tms"], [int(r["tms_total"] or 0) for r in kabkota]),
                ],
            )
        ),
        "chart_tms": Markup(
            svg_bars(
                tms_labels, [int(nasional[c] or 0) for c in TMS_CATEGORY_COLUMNS], PALETTE["tms"]
            )
        ),
        "chart_trend": Markup(svg_line(trend_labels, trend_values)),
        "outcomes": [(o, _fmt(n)) for o, n in _outcomes(con, period)],
        "quality": read_quality(reports),
        "review_href": os.path.relpath(settings.review_dir(period), reports) + "/",
        "downloads": _download_links(written, reports),
        "dbt_docs_href": _href(written.get("dbt_docs"), reports),
    }
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html", "j2"])
    )
    page = env.get_template("index.html.j2").render(**context)
    path = reports / "index.html"
    with _atomic_target(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def _download_links(written: dict[str, Path], reports: Path) -> list[tuple[str, str]]:
    return [
        (path.name, os.path.relpath(path, reports))
        for key, path in written.items()
        if key != "dbt_docs"  # linked on its own: its file name says nothing
    ]


# --- analyst snapshot -----------------------------------------------------------

# Columns masked in copied marts too, in case a model exposes an identity
# number; `nik_valid` and similar flags are not identity numbers.
MASKED_COLUMN_RE = re.compile(r"^(nik|nkk)(_.*)?$|_(nik|nkk)$")


def _select_list(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    items = []
    for name, data_type in rows:
        quoted = '"' + name.replace('"', '""') + '"'
        if data_type == "VARCHAR" and MASKED_COLUMN_RE.search(name):
            items.append(f"core.mask_nik({quoted}) as {quoted}")
        else:
            items.append(quoted)
    return ", ".join(items)


def _copy_table(
    source: duckdb.DuckDBPyConnection, target: duckdb.DuckDBPyConnection, query: str, name: str
) -> int:
    """Stream a query's result into a new table of the snapshot via Arrow
    batches (the warehouse is read-only, so it cannot attach the target)."""
    reader = source.sql(query).to_arrow_reader(100_000)
    target.register("_publish_source", reader)
    try:
        target.execute(f"create table {name} as select * from _publish_source")
    finally:
        target.unregister("_publish_source")
    return _count(target, f"select count(*) from {name}")


def build_snapshot(
    con: duckdb.DuckDBPyConnection, settings: Settings, period: str, cutoff: dt.date
) -> tuple[Path, Path]:
    """`published/pdpb.duckdb` (marts copies, masked voters, snapshot_info)
    and `published/README.txt`, each swapped in whole with os.replace."""
    folder = settings.published_dir
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / "pdpb.duckdb"
    tmp = folder / f".pdpb.duckdb.tmp-{os.getpid()}"
    tmp_wal = tmp.with_name(tmp.name + ".wal")
    for leftover in (tmp, tmp_wal):
        leftover.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    try:
        snap = duckdb.connect(str(tmp))
        try:
            snap.execute("create schema marts")
            for table in sorted(_existing_marts(con)):
                query = f'select {_select_list(con, "marts", table)} from marts."{table}"'
                counts[f"marts.{table}"] = _copy_table(con, snap, query, f'marts."{table}"')
            pause_if_testing(settings, "publish")  # the crash test kills it here, half-written
            voters = f"select {_select_list(con, 'core', 'voters')} from core.voters"
            counts["voters"] = _copy_table(con, snap, voters, "main.voters")
            published_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
            latest = _trend(con, "9999-12")[0][-1]
            snap.execute(
                "create table main.snapshot_info as select ? as period, ? as cutoff,"
                " ? as periode_terakhir, ? as published_at",
                [period, cutoff, latest, published_at],
            )
            snap.execute("checkpoint")
        finally:
            snap.close()
        tmp.chmod(0o444)  # a snapshot is never edited in place, only replaced
        os.replace(tmp, final)
    finally:
        for leftover in (tmp, tmp_wal):
            leftover.unlink(missing_ok=True)
    readme = folder / "README.txt"
    with _atomic_target(readme) as tmp_readme:
        tmp_readme.write_text(
            _snapshot_readme(period, cutoff, latest, published_at, counts), encoding="utf-8"
        )
    return final, readme


def _snapshot_readme(
    period: str, cutoff: dt.date, latest: str, published_at: dt.datetime, counts: dict[str, int]
) -> str:
    tables = "\n".join(f"  {name:<36} {count:>12,} rows" for name, count in counts.items())
    return f"""PDPB analyst snapshot (salinan baca-saja untuk analis)
=======================================================

Published by the publish stage of period {period} (cut-off {cutoff.isoformat()})
at {published_at.isoformat()}. Latest period in the recaps: {latest}.

pdpb.duckdb is a read-only copy of the warehouse: every marts.* table and a
table `voters` (current voter list). NIK and NKK are masked with the
warehouse rule core.mask_nik (region prefix and last 2 digits kept). The
table `snapshot_info` says which period the snapshot reflects.

The file is replaced whole after each published period; open it read-only:

    import duckdb
    con = duckdb.connect("pdpb.duckdb", read_only=True)
    con.sql("select * from marts.rpt_rekap_kabkota where period = '{period}'")

Tables:
{tables}
"""
