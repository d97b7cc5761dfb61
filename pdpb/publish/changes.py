"""By-name change lists: one XLSX (sheets Ringkasan and Daftar Perubahan)
and one CSV per kab/kota, NIK and NKK masked by `core.mask_nik`; the
kab/kota are written in parallel processes when the month has many changes."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from openpyxl import Workbook

from pdpb.files import (
    HEADER_ROW,
    CsvWriter,
    SheetLayout,
    append_bold_row,
    append_row,
    file_slug,
    save_workbook,
    set_autofilter,
    start_sheet,
)
from pdpb.publish.marts import iter_rows, period_subtitle

JENIS_PERUBAHAN = {"BARU": "Pemilih Baru", "TMS": "TMS", "UBAH": "Perbaikan Data"}

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

# The list is the mart marts.rpt_daftar_perubahan (dbt, with a contract).
CHANGE_LIST_SQL = """
select * from marts.rpt_daftar_perubahan where period = $period
order by kode_kabkota, kode_kecamatan, kode_desa, urutan_jenis, nama, dpid
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


def _change_list_row(row: dict[str, Any]) -> list[object]:
    row = dict(row, jenis_perubahan=JENIS_PERUBAHAN.get(row["change_type"], row["change_type"]))
    return [row[column] for column, _, _ in CHANGE_LIST_COLUMNS]


class _KabkotaWriter:
    """Writes one kab/kota's change list (XLSX and CSV twin) row by row."""

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
        stem = f"perubahan_{kode}_{file_slug(nama)}_{period}"
        self.xlsx_path = folder / f"{stem}.xlsx"
        self.csv_path = folder / f"{stem}.csv"
        self.rows = 0
        self.wb = Workbook(write_only=True)
        subtitle = period_subtitle(period, cutoff)
        self._write_summary(f"{nama} ({kode})", subtitle, summary)
        self.ws = start_sheet(
            self.wb,
            SheetLayout(
                name="Daftar Perubahan",
                title=f"Daftar Perubahan Pemilih - {nama} ({kode})",
                subtitle=f"{subtitle} - NIK/NKK disamarkan",
                headers=[header for _, header, _ in CHANGE_LIST_COLUMNS],
                widths=[width for _, _, width in CHANGE_LIST_COLUMNS],
                freeze=f"E{HEADER_ROW + 1}",
            ),
        )
        self.csv = CsvWriter(self.csv_path, [column for column, _, _ in CHANGE_LIST_COLUMNS])

    def _write_summary(
        self, wilayah: str, subtitle: str, summary: Sequence[dict[str, Any]]
    ) -> None:
        headers = [
            "Kode Desa/Kel.",
            "Desa/Kelurahan",
            "Pemilih Baru",
            "Perbaikan Data",
            "TMS",
            "Jumlah",
        ]
        ws = start_sheet(
            self.wb,
            SheetLayout(
                name="Ringkasan",
                title=f"Ringkasan Perubahan per Desa/Kelurahan - {wilayah}",
                subtitle=subtitle,
                headers=headers,
                widths=[15, 28, 12, 12, 12, 12],
                freeze=f"A{HEADER_ROW + 1}",
            ),
        )
        keys = ["baru", "ubah", "tms", "jumlah"]
        for row in summary:
            append_row(ws, [row["kode_desa"], row["nama_desa"]] + [row[k] for k in keys])
        append_bold_row(ws, [None, "JUMLAH"] + [sum(r[k] for r in summary) for k in keys])

    def add(self, row: dict[str, Any]) -> None:
        values = _change_list_row(row)
        append_row(self.ws, values)
        self.csv.add(values)
        self.rows += 1

    def abort(self) -> None:
        self.csv.abort()

    def close(self) -> tuple[Path, Path]:
        set_autofilter(self.ws, len(CHANGE_LIST_COLUMNS), self.rows)
        save_workbook(self.wb, self.xlsx_path)
        return self.xlsx_path, self.csv.close()


# Below this many rows the lists are written in this process: starting the
# worker processes would cost more than writing them in parallel saves.
PARALLEL_MIN_ROWS = 20_000


@contextmanager
def change_lists(
    con: duckdb.DuckDBPyConnection,
    reports: Path,
    period: str,
    cutoff: dt.date,
    jobs: int | None = None,
) -> Iterator[Callable[[], dict[str, Path]]]:
    """Start writing the period's change lists (one XLSX, sheets Ringkasan
    and Daftar Perubahan, and one CSV per kab/kota with changes, under
    `reports/<period>/perubahan/`); the context gives a function that waits
    for them and returns the paths written. The workbooks of the kab/kota are
    independent: with many rows they are written by `jobs` worker processes
    (default: one per core) while the caller goes on with other outputs, else
    in this process when the function is called."""
    folder = reports / "perubahan"
    # The folder is publish's own: clearing it keeps a re-run from leaving
    # lists of a kab/kota that no longer has changes.
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    summaries: dict[str, list[dict[str, Any]]] = {}
    for row in iter_rows(con.execute(CHANGE_SUMMARY_SQL, {"period": period})):
        summaries.setdefault(row["kode_kabkota"], []).append(row)
    # The period's changes only (about 1% of the list a month), ordered by kab/kota.
    changes = con.sql(CHANGE_LIST_SQL, params={"period": period}).to_arrow_table()
    kabkota = changes.column("kode_kabkota").to_pylist()
    tasks = []
    for first, last in _runs(kabkota):
        # A copy, not a slice: a pickled slice carries its whole parent's buffers.
        part = changes.take(pa.array(range(first, last)))
        kode, nama = kabkota[first], part.column("nama_kabkota")[0].as_py()
        tasks.append((folder, kode, nama, period, cutoff, summaries.get(kode, []), part))

    def written(results: list[tuple[Path, Path]]) -> dict[str, Path]:
        paths: dict[str, Path] = {}
        for (_, kode, *_), pair in zip(tasks, results, strict=True):
            _record_change_list(paths, kode, pair)
        return paths

    jobs = min(jobs or os.cpu_count() or 1, len(tasks))
    if jobs < 2 or changes.num_rows < PARALLEL_MIN_ROWS:
        yield lambda: written([_write_kabkota(task) for task in tasks])
        return
    spawn = multiprocessing.get_context("spawn")  # never fork a process running DuckDB threads
    pool = ProcessPoolExecutor(jobs, mp_context=spawn)
    try:
        # Largest first, so no worker is left with a big one at the end.
        order = sorted(range(len(tasks)), key=lambda i: -tasks[i][-1].num_rows)
        futures = {i: pool.submit(_write_kabkota, tasks[i]) for i in order}
        yield lambda: written([futures[i].result() for i in range(len(tasks))])
    finally:
        pool.shutdown(cancel_futures=True)


def _runs(keys: list[str]) -> Iterator[tuple[int, int]]:
    """(first, end) index of each run of equal keys."""
    first = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[first]:
            yield first, i
            first = i


def _write_kabkota(task: tuple) -> tuple[Path, Path]:
    """Write one kab/kota's change list (XLSX and CSV); in a worker process or not."""
    folder, kode, nama, period, cutoff, summary, rows = task
    writer = _KabkotaWriter(folder, kode, nama, period, cutoff, summary)
    try:
        for batch in rows.to_batches(5000):
            for row in batch.to_pylist():
                writer.add(row)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def _record_change_list(written: dict[str, Path], kode: str, paths: tuple[Path, Path]) -> None:
    written[f"perubahan_xlsx:{kode}"], written[f"perubahan_csv:{kode}"] = paths
