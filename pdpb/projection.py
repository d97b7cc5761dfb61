"""The list on a given day: `pdpb proyeksi --tanggal YYYY-MM-DD`.

KPU plans an election from the list as it will stand on voting day. The
projection counts, per TPS, desa, kecamatan, kab/kota, province and the
nation, from the warehouse as it is now and without changing it (the
connection is read-only):

- `aktif`: the active list (`core.voters`, status AKTIF);
- `tambahan`: future voters still tracked (`core.future_voters`, not
  closed) who are eligible on the date, by the very rule and function the
  monthly promotion uses (`pdpb.apply.is_eligible`: 17 on the date, the
  birthday itself counting, 29 February births from 1 March in common years;
  or married, status_kawin S or P);
- `dikurangi`: active voters the whole-list age check would remove at that
  date (TMS 3), by the check's own SQL (`pdpb.apply.UNDER_AGE_SQL`): under 17
  and unmarried on the date by their recorded birth date; an unknown birth
  date written 01-07 or 31-12 is removed only when under 17 even on 1 January
  of its year, as apply does, and the others are counted as `tidak_pasti`;
- `proyeksi` = aktif + tambahan - dikurangi, for L, P and in total.

That is what the monthly runs would do to the list by that date if no event
arrived: deaths, moves, marriages and new residents after today are unknown
and not counted. TPS: a future voter gets the TPS apply would give them
(`PeriodState.assign_tps` on the desa's current load less the voters the
date removes, in future_id order, as a period's promotions go): the desa's
highest TPS up to `settings.tps_capacity`, then a new one, marked `TPS baru`.

The date may be any day from the first day of the last period the warehouse
ran: a day before its cut-off counts ages on that day over the current list
(a list run with the voting day as cut-off, projected to an earlier day, loses
the voters not yet 17 then); a day before that period began is refused, since
the list already holds that period's changes and a projection does not undo
them. docs/projection.md describes the counts and the files.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from openpyxl import Workbook

from pdpb import warehouse
from pdpb.apply import (
    UNDER_AGE_PASTI_SQL,
    UNDER_AGE_SQL,
    PeriodState,
    is_eligible,
    under_age_params,
)
from pdpb.config import PdpbError, Settings, parse_tanggal
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
from pdpb.publish.marts import LEVELS as RECAP_LEVELS
from pdpb.publish.marts import existing_marts, format_tanggal

log = logging.getLogger(__name__)

# (level, sheet, unit label, parent label): the TPS, then the recap's levels.
LEVELS: tuple[tuple[str, str, str, str | None], ...] = (
    ("tps", "TPS", "TPS", "Desa/Kelurahan"),
    *RECAP_LEVELS,
)
# Code length of each region level (the Kemendagri codes nest by prefix).
CODE_LENGTH = {"desa": 13, "kecamatan": 8, "kabkota": 5, "provinsi": 2}
SIDES = ("l", "p", "total")
PARTS = ("aktif", "tambahan", "dikurangi", "proyeksi")
COUNT_COLUMNS = tuple(f"{part}_{side}" for part in PARTS for side in SIDES)
# The count columns' Indonesian headers, in published order.
PROJECTION_HEADERS: dict[str, str] = {
    "aktif_l": "Pemilih Aktif L",
    "aktif_p": "Pemilih Aktif P",
    "aktif_total": "Pemilih Aktif",
    "tambahan_l": "Tambahan L (genap 17 tahun atau kawin)",
    "tambahan_p": "Tambahan P (genap 17 tahun atau kawin)",
    "tambahan_total": "Tambahan (genap 17 tahun atau kawin sebelum tanggal)",
    "dikurangi_l": "Dikurangi L (belum 17 tahun)",
    "dikurangi_p": "Dikurangi P (belum 17 tahun)",
    "dikurangi_total": "Dikurangi (belum 17 tahun pada tanggal)",
    "proyeksi_l": "Proyeksi Pemilih L",
    "proyeksi_p": "Proyeksi Pemilih P",
    "proyeksi_total": "Proyeksi Pemilih",
}
# Columns of every CSV: the key columns, then the counts (TPS: with its number).
KEY_COLUMNS = ("kode_wilayah", "nama_wilayah", "kode_induk")
TPS_COLUMNS = ("kode_wilayah", "nama_wilayah", "tps", "keterangan")
UNKNOWN_REGION = "WILAYAH TIDAK DIKETAHUI"
NOT_IN_REGION_LIST = "(tidak ada di daftar wilayah)"
TPS_UNSET = "belum ditetapkan"
TPS_NEW = "TPS baru"


@dataclass(frozen=True)
class Projection:
    """The projected list: rows per level (`LEVELS`), each a dict of the key
    columns and `COUNT_COLUMNS`."""

    tanggal: dt.date
    period: str  # the last period the warehouse ran
    cutoff: dt.date  # its cut-off
    rows: dict[str, list[dict[str, Any]]]
    tidak_pasti: int  # under 17 only by a written unknown birth date: kept, as apply keeps them
    tps_baru: int  # TPS the additions open

    @property
    def total(self) -> dict[str, Any]:
        return self.rows["nasional"][0]

    def summary(self) -> dict[str, int | str]:
        """Counts only (what an Airflow XCom carries)."""
        return {
            "tanggal": self.tanggal.isoformat(),
            "periode": self.period,
            **{c: int(self.total[c]) for c in COUNT_COLUMNS if c.endswith("_total")},
            "tidak_pasti": self.tidak_pasti,
            "tps_baru": self.tps_baru,
            "tps": len(self.rows["tps"]),
        }


# --- reading the warehouse ---------------------------------------------------------


def last_period(con: duckdb.DuckDBPyConnection) -> tuple[str, dt.date]:
    """The last period the warehouse ran (any status: apply commits its changes
    whole, so the list is at most that period's) and its cut-off."""
    present = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'core'"
        ).fetchall()
    }
    if not {"periods", "voters", "future_voters"} <= present:
        raise PdpbError(
            "this home has no voter list (a national home holds none): "
            "project a province's home, e.g. --home <national home>/provinces/<kode>"
        )
    rows = con.execute(
        "select period, cutoff from core.periods order by period desc limit 1"
    ).fetchall()
    if not rows:
        raise PdpbError("the warehouse has run no period yet: run `pdpb run --period P` first")
    return rows[0][0], rows[0][1]


def check_tanggal(tanggal: dt.date, period: str) -> None:
    """Refuse a day before `period` began (see the module's docstring)."""
    first_day = dt.date(int(period[:4]), int(period[5:7]), 1)
    if tanggal < first_day:
        raise PdpbError(
            f"tanggal {tanggal} falls before period {period}, whose changes the list already "
            f"holds: a projection counts ages on a day from {first_day} on and does not undo "
            "changes; read an earlier period's recap instead"
        )


_ACTIVE_SQL = f"""
    select kode_wilayah, tps, jenis_kelamin,
           count(*) as aktif,
           count(*) filter (where {UNDER_AGE_SQL} and ({UNDER_AGE_PASTI_SQL})) as dikurangi,
           count(*) filter (where {UNDER_AGE_SQL} and not ({UNDER_AGE_PASTI_SQL}))
               as tidak_pasti
    from core.voters
    where status = 'AKTIF'
    group by all
"""

_FUTURES_SQL = """
    select future_id, tanggal_lahir, status_kawin, kode_wilayah, jenis_kelamin
    from core.future_voters
    where closed_period is null
    order by future_id
"""


def _regions(con: duckdb.DuckDBPyConnection, provinces: Iterable[str]) -> list[tuple]:
    """(kode, nama, tingkat, kode_induk) of every region of the provinces,
    from the region mart the recaps use."""
    if "dim_wilayah" not in existing_marts(con):
        raise PdpbError(
            "the warehouse has no region table marts.dim_wilayah: "
            "run a period (`pdpb run --period P`) so dbt builds it"
        )
    wanted = sorted({p for p in provinces if p})
    if not wanted:
        return []
    return con.execute(
        """select kode_wilayah, nama_wilayah, tingkat, kode_induk from marts.dim_wilayah
           where tingkat in ('provinsi', 'kabkota', 'kecamatan', 'desa')
             and left(kode_wilayah, 2) in (select unnest(?::varchar[]))
           order by kode_wilayah""",
        [wanted],
    ).fetchall()


def _side(jenis_kelamin: str | None) -> str | None:
    return {"L": "l", "P": "p"}.get(jenis_kelamin or "")


def _empty() -> dict[str, int]:
    return dict.fromkeys(COUNT_COLUMNS, 0)


def _add(counts: dict[str, int], part: str, jenis_kelamin: str | None, n: int) -> None:
    side = _side(jenis_kelamin)
    if side:
        counts[f"{part}_{side}"] += n
    counts[f"{part}_total"] += n


def _finish(counts: dict[str, int]) -> dict[str, int]:
    for side in SIDES:
        counts[f"proyeksi_{side}"] = (
            counts[f"aktif_{side}"] + counts[f"tambahan_{side}"] - counts[f"dikurangi_{side}"]
        )
    return counts


def project(
    con: duckdb.DuckDBPyConnection,
    tanggal: dt.date,
    tps_capacity: int,
    period: str | None = None,
    cutoff: dt.date | None = None,
) -> Projection:
    """The list as it would stand on `tanggal`, from a warehouse connection
    (read-only is enough; nothing is written). `period` and `cutoff` name the
    state the list is in (default: the last period in core.periods)."""
    if period is None or cutoff is None:
        period, cutoff = last_period(con)
    check_tanggal(tanggal, period)
    params = under_age_params(tanggal)

    # TPS level: (desa, tps) -> counts; load = what apply's TPS filling starts from.
    tps_counts: dict[tuple[str | None, str | None], dict[str, int]] = defaultdict(_empty)
    load: dict[str, dict[str, int]] = {}
    existing: set[tuple[str | None, str | None]] = set()
    tidak_pasti = 0
    for desa, tps, jk, aktif, dikurangi, unsure in con.execute(_ACTIVE_SQL, params).fetchall():
        counts = tps_counts[(desa, tps)]
        _add(counts, "aktif", jk, aktif)
        _add(counts, "dikurangi", jk, dikurangi)
        tidak_pasti += unsure
        existing.add((desa, tps))
        if desa and tps is not None:
            load.setdefault(desa, {}).setdefault(tps, 0)
            load[desa][tps] += aktif - dikurangi
    # The additions take TPS as a period's promotions would (apply's own code).
    state = PeriodState("proyeksi", tanggal, tps_capacity, {}, {}, load)
    for _fid, lahir, kawin, desa, jk in con.execute(_FUTURES_SQL).fetchall():
        if is_eligible(lahir, kawin, tanggal):
            tps = state.assign_tps(desa) if desa else None
            _add(tps_counts[(desa, tps)], "tambahan", jk, 1)

    provinces = {desa[:2] for desa, _ in tps_counts if desa}
    regions = _regions(con, provinces)
    names = {kode: nama for kode, nama, _, _ in regions}
    parents = {kode: induk for kode, _, _, induk in regions}

    rows: dict[str, list[dict[str, Any]]] = {}
    rows["tps"] = [
        {
            "kode_wilayah": desa or "",
            "nama_wilayah": names.get(desa, NOT_IN_REGION_LIST) if desa else UNKNOWN_REGION,
            "kode_induk": desa or "",
            "tps": tps or TPS_UNSET,
            "keterangan": TPS_NEW if tps is not None and (desa, tps) not in existing else "",
            **_finish(counts),
        }
        for (desa, tps), counts in sorted(
            tps_counts.items(), key=lambda item: (item[0][0] or "~", item[0][1] or "~")
        )
    ]
    # Region levels: every region in scope (zero rows included), plus a row
    # for codes the region list lacks and for records without a desa.
    for level, length in CODE_LENGTH.items():
        summed: dict[str, dict[str, int]] = {
            kode: _empty() for kode, _, tingkat, _ in regions if tingkat == level
        }
        for (desa, _), counts in tps_counts.items():
            target = summed.setdefault(desa[:length] if desa else "", _empty())
            for column in COUNT_COLUMNS:
                target[column] += counts[column]
        rows[level] = [
            {
                "kode_wilayah": kode,
                "nama_wilayah": names.get(kode, NOT_IN_REGION_LIST) if kode else UNKNOWN_REGION,
                "kode_induk": (parents.get(kode) or _parent_code(kode, level)) if kode else "",
                **_finish(counts),
            }
            for kode, counts in sorted(summed.items(), key=lambda item: item[0] or "~")
        ]
    nasional = _empty()
    for row in rows["provinsi"]:
        for column in COUNT_COLUMNS:
            nasional[column] += row[column]
    rows["nasional"] = [
        {"kode_wilayah": "ID", "nama_wilayah": "INDONESIA", "kode_induk": "", **nasional}
    ]
    baru = sum(1 for row in rows["tps"] if row["keterangan"] == TPS_NEW)
    return Projection(tanggal, period, cutoff, rows, tidak_pasti, baru)


def _parent_code(kode: str, level: str) -> str:
    lengths = list(CODE_LENGTH.values())
    index = lengths.index(CODE_LENGTH[level])
    return kode[: lengths[index + 1]] if index + 1 < len(lengths) else "ID"


def project_home(settings: Settings, tanggal: dt.date) -> Projection:
    """`project` on the home's warehouse, opened read-only."""
    con = warehouse.connect(settings, read_only=True, missing="run `pdpb init` and a period first")
    try:
        return project(con, tanggal, settings.tps_capacity)
    finally:
        con.close()


# --- files -----------------------------------------------------------------------


def projection_dir(settings: Settings, tanggal: dt.date) -> Path:
    return settings.home / "reports" / "proyeksi" / tanggal.isoformat()


def sheet_columns(level: str) -> list[tuple[str, str]]:
    """The (column, header) pairs a level's sheet shows."""
    _, _, unit, parent = next(entry for entry in LEVELS if entry[0] == level)
    if level == "tps":
        columns = [
            ("kode_wilayah", "Kode Desa/Kelurahan"),
            ("nama_wilayah", "Desa/Kelurahan"),
            ("tps", "TPS"),
            ("keterangan", "Keterangan"),
        ]
    else:
        columns = [("kode_wilayah", f"Kode {unit}"), ("nama_wilayah", unit)]
        if parent:
            columns.append(("kode_induk", f"Kode {parent}"))
    return columns + list(PROJECTION_HEADERS.items())


def csv_columns(level: str) -> tuple[str, ...]:
    return (TPS_COLUMNS if level == "tps" else KEY_COLUMNS) + COUNT_COLUMNS


def subtitle(projection: Projection) -> str:
    return (
        f"Tanggal proyeksi {format_tanggal(projection.tanggal)} - daftar periode "
        f"{projection.period} (tanggal batas {format_tanggal(projection.cutoff)}); "
        "tanpa peristiwa sesudah hari ini (meninggal, pindah, kawin)"
    )


def totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {c: sum(int(r[c]) for r in rows) for c in COUNT_COLUMNS}


def write_xlsx(projection: Projection, folder: Path) -> Path:
    """`proyeksi_<tanggal>.xlsx`: one sheet per level in the recap's layout."""
    wb = Workbook(write_only=True)
    for level, sheet, unit, _ in LEVELS:
        rows = projection.rows[level]
        columns = sheet_columns(level)
        keys = [c for c, _ in columns]
        layout = SheetLayout(
            name=sheet,
            title=f"Proyeksi Daftar Pemilih - Tingkat {unit}",
            subtitle=subtitle(projection),
            headers=[header for _, header in columns],
            widths=[
                float(min(max(len(h) if c not in PROJECTION_HEADERS else 12, 8) + 2, 40))
                for c, h in columns
            ],
            freeze=f"C{HEADER_ROW + 1}",
        )
        ws = start_sheet(wb, layout)
        for row in rows:
            append_row(ws, [row[c] for c in keys])
        if level != "nasional":
            summed = totals(rows)
            append_bold_row(
                ws, [summed.get(c, "JUMLAH" if c == "nama_wilayah" else None) for c in keys]
            )
        set_autofilter(ws, len(keys), len(rows))
    return save_workbook(wb, folder / f"proyeksi_{projection.tanggal.isoformat()}.xlsx")


def write_csvs(projection: Projection, folder: Path) -> dict[str, Path]:
    """`proyeksi_<level>_<tanggal>.csv`: one row per region (or TPS), no totals row."""
    paths = {}
    for level, *_ in LEVELS:
        columns = csv_columns(level)
        paths[level] = write_csv(
            folder / f"proyeksi_{level}_{projection.tanggal.isoformat()}.csv",
            columns,
            ([row[c] for c in columns] for row in projection.rows[level]),
        )
    return paths


def write_projection(settings: Settings, tanggal: dt.date | str | None = None) -> dict[str, Any]:
    """Project the home's list to `tanggal` (default: settings.tanggal_proyeksi)
    and write the XLSX and CSVs under `reports/proyeksi/<tanggal>/`. Returns
    the projection's summary with the paths (`xlsx`, `csv:<level>`, `folder`)."""
    if isinstance(tanggal, str):
        tanggal = parse_tanggal(tanggal)
    tanggal = tanggal or settings.tanggal_proyeksi
    projection = project_home(settings, tanggal)
    folder = projection_dir(settings, tanggal)
    written: dict[str, Any] = {"xlsx": write_xlsx(projection, folder)}
    for level, path in write_csvs(projection, folder).items():
        written[f"csv:{level}"] = path
    log.info("proyeksi %s: %s in %s", tanggal, projection.summary(), folder)
    return {**projection.summary(), **written, "folder": folder}


# --- the operators' page ----------------------------------------------------------


def page_section(
    con: duckdb.DuckDBPyConnection, settings: Settings, period: str, cutoff: dt.date
) -> dict[str, Any]:
    """What the page's projection section shows: per kab/kota, the list
    projected to settings.tanggal_proyeksi from the published period; a note
    instead of the table when the date cannot be projected (publish goes on)."""
    # The page's number format; imported here because the page imports this module.
    from pdpb.publish.page import _fmt

    tanggal = settings.tanggal_proyeksi
    section: dict[str, Any] = {"tanggal": format_tanggal(tanggal), "note": None}
    try:
        projection = project(con, tanggal, settings.tps_capacity, period, cutoff)
    except PdpbError as exc:
        log.warning("page projection to %s skipped: %s", tanggal, exc)
        section["note"] = f"Proyeksi ke {format_tanggal(tanggal)} tidak dapat dihitung: " + (
            f"tanggal itu sebelum periode {period}. Ubah tanggal proyeksi (PDPB_TANGGAL_PROYEKSI)."
            if tanggal < dt.date(int(period[:4]), int(period[5:7]), 1)
            else "tabel yang diperlukan tidak ada di gudang data."
        )
        return section
    columns = [
        ("kode_wilayah", "Kode"),
        ("nama_wilayah", "Kabupaten/Kota"),
        ("aktif_total", "Pemilih Aktif"),
        ("tambahan_total", "Tambahan (17 tahun/kawin)"),
        ("dikurangi_total", "Dikurangi (belum 17 tahun)"),
        ("proyeksi_l", "Proyeksi L"),
        ("proyeksi_p", "Proyeksi P"),
        ("proyeksi_total", "Proyeksi Pemilih"),
    ]
    keys = [c for c, _ in columns]
    kabkota = projection.rows["kabkota"]
    summed = totals(kabkota)
    section["table"] = {
        "headers": [h for _, h in columns],
        "rows": [[_fmt(r[c]) for c in keys] for r in kabkota],
        "totals": [_fmt(summed.get(c, "JUMLAH" if c == "nama_wilayah" else "")) for c in keys],
    }
    section["tps_baru"] = _fmt(projection.tps_baru)
    return section
