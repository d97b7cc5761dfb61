"""The national recap and report: `reports/<period>/` of the national home.

- `rekap_nasional_<period>.xlsx`: sheets Provinsi and Nasional in the recap
  layout of the provinces (pdpb/publish/recap.py), titled TIDAK LENGKAP while
  a province of the deployment has not completed the period;
- `rekap_provinsi_<period>.csv`, `rekap_nasional_<period>.csv`: the contract
  columns, as the marts;
- `rekonsiliasi_pindah_<period>.csv`: every move across provinces, its status and why;
- `ganda_nasional.csv`: the open pairs of records active in two provinces;
- `index.html`: the provinces' states, the recap, the moves and the pairs;
- `published/pdpb.duckdb` of the national home, for analysts: the national
  marts and the reconciliation tables (no NIK or NKK: they hold none), swapped
  in whole and only for a COMPLETE period, so analysts never read a
  national total that lacks a province.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from pathlib import Path

import duckdb
from openpyxl import Workbook

from pdpb.config import Settings, default_cutoff
from pdpb.domain import RECAP_COLUMNS
from pdpb.files import (
    HEADER_ROW,
    SheetLayout,
    append_bold_row,
    append_row,
    atomic_target,
    save_workbook,
    set_autofilter,
    start_sheet,
    write_csv,
)
from pdpb.national.home import connect_national
from pdpb.publish.marts import format_tanggal, period_subtitle
from pdpb.publish.recap import recap_sheet_columns, recap_totals
from pdpb.publish.snapshot import SNAPSHOT_NAME, snapshot_file

MOVE_HEADERS = (
    "sumber", "event_id", "kode_provinsi_asal", "kode_provinsi_tujuan", "outcome_asal",
    "dpid_asal", "tms_asal", "outcome_tujuan", "dpid_tujuan", "baru_tujuan", "status", "alasan",
)  # fmt: skip
GANDA_HEADERS = (
    "pair_id", "kode_provinsi", "dpid", "kode_provinsi_bertahan", "dpid_bertahan", "dasar",
    "alasan_bertahan", "kembar", "proposed_period", "decision",
)  # fmt: skip
SNAPSHOT_TABLES = (
    "marts.rpt_rekap_kabkota", "marts.rpt_rekap_provinsi", "marts.rpt_rekap_nasional",
    "nasional.province_runs", "nasional.move_reconciliation", "nasional.ganda_proposals",
    "nasional.periods", "nasional.route_files",
)  # fmt: skip


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def publish_national(settings: Settings, period: str) -> dict:
    """Write the national reports of `period` (and the snapshot when complete)."""
    reports = settings.reports_dir(period)
    reports.mkdir(parents=True, exist_ok=True)
    cutoff = default_cutoff(period)
    con = connect_national(settings, read_only=True)
    try:
        status = _rows(con, "select * from nasional.periods where period = ?", [period])[0]
        # No marts before the first period in which a province completed.
        built = {r[0] for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()}  # fmt: skip
        provinsi = _rows(
            con, "select * from marts.rpt_rekap_provinsi where period = ? order by kode_wilayah",
            [period],
        ) if "rpt_rekap_provinsi" in built else []  # fmt: skip
        nasional = _rows(
            con, "select * from marts.rpt_rekap_nasional where period = ?", [period]
        ) if "rpt_rekap_nasional" in built else []  # fmt: skip
        runs = _rows(
            con, "select * from nasional.province_runs where period = ? order by kode_provinsi",
            [period],
        )  # fmt: skip
        moves = _rows(
            con, "select * from nasional.move_reconciliation where period = ? "
            "order by status, sumber, event_id", [period],
        )  # fmt: skip
        ganda = _rows(
            con, "select * from nasional.ganda_proposals where decision = 'REVIEW' order by pair_id",
            [],
        )  # fmt: skip
        quarantined = con.execute(
            "select count(*) from nasional.route_quarantine where period = ?", [period]
        ).fetchone()[0]
    finally:
        con.close()
    complete = status["status"] == "COMPLETE"
    written = {
        "xlsx": _write_xlsx(reports, period, cutoff, provinsi, nasional, complete),
        "provinsi_csv": write_csv(
            reports / f"rekap_provinsi_{period}.csv", RECAP_COLUMNS,
            ([r[c] for c in RECAP_COLUMNS] for r in provinsi),
        ),
        "nasional_csv": write_csv(
            reports / f"rekap_nasional_{period}.csv", ("lengkap", *RECAP_COLUMNS),
            ([r["lengkap"], *(r[c] for c in RECAP_COLUMNS)] for r in nasional),
        ),
        "moves_csv": write_csv(
            reports / f"rekonsiliasi_pindah_{period}.csv", MOVE_HEADERS,
            ([m[c] for c in MOVE_HEADERS] for m in moves),
        ),
        "ganda_csv": write_csv(
            reports / "ganda_nasional.csv", GANDA_HEADERS, ([g[c] for c in GANDA_HEADERS] for g in ganda)
        ),
    }  # fmt: skip
    page = reports / "index.html"
    with atomic_target(page) as tmp:
        tmp.write_text(
            _page(period, cutoff, status, runs, provinsi, nasional, moves, ganda, quarantined,
                  written, reports),
            encoding="utf-8",
        )  # fmt: skip
    written["html"] = page
    if complete:
        written["snapshot"] = _snapshot(settings, period)
    return {"period": period, "complete": complete, **{k: str(v) for k, v in written.items()}}


def _title(complete: bool) -> str:
    words = "Rekapitulasi Daftar Pemilih Berkelanjutan Nasional"
    return words if complete else f"{words} - TIDAK LENGKAP"


def _write_xlsx(reports: Path, period: str, cutoff: dt.date, provinsi: list, nasional: list,
                complete: bool) -> Path:  # fmt: skip
    wb = Workbook(write_only=True)
    for level, sheet, rows in (
        ("provinsi", "Provinsi", provinsi),
        ("nasional", "Nasional", nasional),
    ):
        columns = recap_sheet_columns(level)
        keys = [c for c, _ in columns]
        ws = start_sheet(
            wb,
            SheetLayout(
                name=sheet,
                title=_title(complete),
                subtitle=period_subtitle(period, cutoff),
                headers=[h for _, h in columns],
                widths=[14.0, 28.0] + [12.0] * (len(columns) - 2),
                freeze=f"C{HEADER_ROW + 1}",
            ),
        )
        for row in rows:
            append_row(ws, [row[c] for c in keys])
        if level == "provinsi":
            totals = recap_totals(rows, keys)
            append_bold_row(
                ws, [totals.get(c, "JUMLAH" if c == "nama_wilayah" else None) for c in keys]
            )
        set_autofilter(ws, len(keys), len(rows))
    return save_workbook(wb, reports / f"rekap_nasional_{period}.xlsx")


def _snapshot(settings: Settings, period: str) -> Path:
    with snapshot_file(settings.published_dir) as snap:
        source = str(settings.warehouse_path).replace("'", "''")
        snap.execute(f"attach '{source}' as src (read_only)")
        for schema in ("marts", "nasional"):
            snap.execute(f"create schema snapshot.{schema}")
        for table in SNAPSHOT_TABLES:
            snap.execute(f"create table snapshot.{table} as select * from src.{table}")
        snap.execute(
            "create table snapshot.main.snapshot_info as select ?::varchar as period, "
            "?::timestamp as published_at",
            [period, dt.datetime.now().replace(microsecond=0)],
        )
        snap.execute("detach src")
    return settings.published_dir / SNAPSHOT_NAME


def _e(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}".replace(",", ".")
    return html.escape("" if value is None else str(value))


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(period, cutoff, status, runs, provinsi, nasional, moves, ganda, quarantined, written,
          reports) -> str:  # fmt: skip
    complete = status["status"] == "COMPLETE"
    banner = (
        '<p class="ok">Semua provinsi selesai.</p>'
        if complete
        else f'<p class="warn"><strong>TIDAK LENGKAP</strong>: {_e(status["message"])}. '
        "Rekap nasional hanya menjumlah provinsi yang selesai; snapshot nasional tidak diperbarui.</p>"
    )
    akhir = {r["kode_wilayah"]: r for r in provinsi}
    run_rows = [
        [r["kode_provinsi"], akhir.get(r["kode_provinsi"], {}).get("nama_wilayah"), r["status"],
         r["stage"], r["message"], akhir.get(r["kode_provinsi"], {}).get("akhir_total")]
        for r in runs
    ]  # fmt: skip
    by_status: dict[str, int] = {}
    for m in moves:
        by_status[m["status"]] = by_status.get(m["status"], 0) + 1
    n = nasional[0] if nasional else {}
    links = "".join(
        f'<li><a href="{html.escape(os.path.relpath(p, reports))}">{_e(Path(p).name)}</a></li>'
        for p in written.values()
    )
    open_moves = [m for m in moves if m["status"] != "SELESAI"]
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>{_e(_title(complete))} {period}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #999;padding:.2em .5em;text-align:left}}.warn{{background:#fde2e1;padding:.5em}}
.ok{{background:#e3f4e1;padding:.5em}}@media print{{a{{color:black}}}}</style></head>
<body><h1>{_e(_title(complete))}</h1>
<p>Periode {period} - Tanggal batas {_e(format_tanggal(cutoff))}</p>
{banner}
<h2>Provinsi</h2>
{_table(["Kode", "Provinsi", "Status", "Tahap", "Pesan", "Pemilih akhir"], run_rows)}
<h2>Rekap nasional</h2>
{
        _table(
            ["Provinsi selesai", "Pemilih awal", "Baru", "TMS", "Ubah", "Pemilih akhir"],
            [
                [
                    n.get("jumlah_provinsi"),
                    n.get("awal_total"),
                    n.get("baru_total"),
                    n.get("tms_total"),
                    n.get("ubah"),
                    n.get("akhir_total"),
                ]
            ],
        )
    }
<h2>Pindah antarprovinsi</h2>
<p>{_e(len(moves))} perpindahan; {
        ", ".join(f"{_e(k)} {_e(v)}" for k, v in sorted(by_status.items())) or "-"
    }.
Baris tanpa wilayah yang sah dikarantina di tingkat nasional: {_e(quarantined)}.</p>
{
        _table(
            ["Sumber", "Event", "Asal", "Tujuan", "Status", "Alasan"],
            [
                [
                    m["sumber"],
                    m["event_id"],
                    m["kode_provinsi_asal"],
                    m["kode_provinsi_tujuan"],
                    m["status"],
                    m["alasan"],
                ]
                for m in open_moves[:200]
            ],
        )
    }
<h2>Terdaftar di dua provinsi (usulan ganda)</h2>
<p>{_e(len(ganda))} pasangan menunggu keputusan (SAMA/BEDA).</p>
<h2>Unduhan</h2><ul>{links}</ul>
</body></html>
"""
