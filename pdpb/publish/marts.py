"""What publish reads: the period's marts, checked, and the shared lists.

Publish opens the warehouse read-only after dbt built `marts.*` and the GX
gates ran; every output module reads its rows through here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from pdpb import warehouse
from pdpb.config import PdpbError, Settings
from pdpb.domain import RECAP_COLUMNS, RECAP_TMS_CATEGORIES

# (level key used in table and file names, sheet name, unit label, parent label)
LEVELS: tuple[tuple[str, str, str, str | None], ...] = (
    ("desa", "Desa", "Desa/Kelurahan", "Kecamatan"),
    ("kecamatan", "Kecamatan", "Kecamatan", "Kabupaten/Kota"),
    ("kabkota", "Kabupaten-Kota", "Kabupaten/Kota", "Provinsi"),
    ("provinsi", "Provinsi", "Provinsi", None),
    ("nasional", "Nasional", "Nasional", None),
)

TMS_CATEGORY_COLUMNS = tuple(RECAP_TMS_CATEGORIES)

REQUIRED_MARTS = tuple(f"rpt_rekap_{level}" for level, *_ in LEVELS) + (
    "fct_voter_changes",
    "dim_wilayah",
    "rpt_daftar_perubahan",
)

BULAN = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip


def period_subtitle(period: str, cutoff: dt.date) -> str:
    """The line under a sheet's title: `Periode 2026-02 - Tanggal batas (cut-off) 28 Februari 2026`."""
    return f"Periode {period} - Tanggal batas (cut-off) {format_tanggal(cutoff)}"


def format_tanggal(day: dt.date) -> str:
    """A date the Indonesian way, e.g. `31 Januari 2026`."""
    return f"{day.day} {BULAN[day.month - 1]} {day.year}"


def open_warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    if not settings.warehouse_path.exists():
        raise PdpbError(
            f"no warehouse at {settings.warehouse_path}: run `pdpb init` and the period first"
        )
    return warehouse.connect(settings, read_only=True)


def existing_marts(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'"
    ).fetchall()
    return {name for (name,) in rows}


def count(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
    # fetchall, not fetchone: duckdb 2 keeps a half-read result open and then
    # refuses other work (register) on the connection.
    rows = con.execute(sql, list(params)).fetchall()
    return int(rows[0][0]) if rows else 0


def require_marts(con: duckdb.DuckDBPyConnection, period: str) -> None:
    missing = [t for t in REQUIRED_MARTS if t not in existing_marts(con)]
    if missing:
        raise PdpbError(
            f"cannot publish {period}: marts missing ({', '.join('marts.' + t for t in missing)});"
            " run the dbt build for the period first"
        )
    has_mask = count(
        con,
        "select count(*) from duckdb_functions()"
        " where schema_name = 'core' and function_name = 'mask_nik'",
    )
    if not has_mask:
        raise PdpbError(
            "the warehouse lacks the masking macro core.mask_nik: open it once read-write"
            " (e.g. run any stage) so the DDL installs it, then publish again"
        )
    if not count(con, "select count(*) from marts.rpt_rekap_nasional where period = ?", [period]):
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


def iter_rows(cursor: duckdb.DuckDBPyConnection, batch: int = 5000) -> Iterator[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    while chunk := cursor.fetchmany(batch):
        for values in chunk:
            yield dict(zip(names, values, strict=True))


def trend(con: duckdb.DuckDBPyConnection, period: str) -> tuple[list[str], list[int]]:
    rows = con.execute(
        "select period, akhir_total from marts.rpt_rekap_nasional where period <= ? order by period",
        [period],
    ).fetchall()
    return [p for p, _ in rows], [int(v or 0) for _, v in rows]


@dataclass(frozen=True)
class Approval:
    """Who approved publishing a period, from the audit log."""

    actor: str
    at: dt.datetime
    what: str
    why: str | None


def latest_approval(con: duckdb.DuckDBPyConnection, period: str) -> Approval | None:
    """The period's latest approval (kind APPROVAL, `what` starting APPROVE),
    or None when nobody approved it (e.g. `pdpb run` without Airflow)."""
    rows = con.execute(
        """select actor, recorded_at, what, why from core.audit_log
           where kind = 'APPROVAL' and period = ? and what like 'APPROVE%'
           order by seq desc limit 1""",
        [period],
    ).fetchall()
    return Approval(*rows[0]) if rows else None
