"""`pdpb route --period P`: the national deliveries into the provinces' landing folders.

Dukcapil sends one national file (coordination sources may too). Each row
goes to the province of its `kode_wilayah`; a PINDAH whose `kode_wilayah_asal`
lies in another province of the deployment goes to both, so that the origin
makes the TMS 4 and the destination the BARU (pdpb/apply.py), and is recorded
in `nasional.moves` for reconciliation. A row without a usable region (missing,
not a desa code of the official list, or of a province outside the
deployment) is quarantined at the national level with its reason. Every file
is recorded like ingest records it: rows in = rows routed + rows quarantined.

Routing changes nothing but text placement: the provinces' ingest parses,
validates and quarantines the routed rows as it would a direct delivery. The
routed files are UTF-8 CSVs under the source file's name, so a re-delivered
national file still arrives as a byte-identical re-delivery in the province.
Routing a period again replaces what it wrote before for that period.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from pdpb import normalize as nz
from pdpb.config import PdpbError, Settings, parse_period
from pdpb.contracts import LANDING_COLUMNS
from pdpb.files import atomic_target
from pdpb.ingest import (
    READABLE_SUFFIXES,
    FileRejected,
    bad_file_name,
    fit_row,
    landing_cell,
    landing_files,
    match_columns,
    raw_json,
    read_rows,
    safe_text,
    sha256_of,
)
from pdpb.locking import writer_lock
from pdpb.national.home import connect_national, province_homes
from pdpb.warehouse import insert_rows, transaction

log = logging.getLogger(__name__)

# Why a row stays at the national level, in the words of the quarantine table.
REASONS = {
    "MISSING_REGION": "kode_wilayah kosong",
    "UNKNOWN_REGION": "kode_wilayah bukan desa dalam daftar Kemendagri",
    "PROVINCE_NOT_DEPLOYED": "provinsi kode_wilayah tidak termasuk penerapan ini",
    "RAGGED_ROW": "jumlah kolom baris tidak sama dengan header",
}


FILE_COLUMNS = ("period", "file_name", "sha256", "rows_in", "rows_routed", "rows_quarantined",
                "status", "message", "routed_at")  # fmt: skip


class _Outputs:
    """The routed files of one national file: one CSV per province, opened on
    its first row; each moved into place when the file is done, none if it fails."""

    def __init__(self, homes: dict[str, Settings], period: str, source: Path) -> None:
        self.homes, self.period = homes, period
        self.name = f"{source.stem}.csv"
        self.writers: dict[str, Any] = {}
        self.rows: Counter[str] = Counter()
        self.stack = ExitStack()

    def __enter__(self) -> _Outputs:
        return self

    def __exit__(self, *exc: object) -> bool | None:
        return self.stack.__exit__(*exc)

    def add(self, kode: str, cells: list[object]) -> None:
        if kode not in self.writers:
            tmp = self.stack.enter_context(
                atomic_target(self.homes[kode].landing_dir(self.period) / self.name)
            )
            handle = self.stack.enter_context(tmp.open("w", encoding="utf-8", newline=""))
            self.writers[kode] = csv.writer(handle)
            self.writers[kode].writerow(LANDING_COLUMNS)
        self.writers[kode].writerow(["" if v is None else v for v in cells])
        self.rows[kode] += 1


def _province_of(raw: object, deployed: set[str]) -> tuple[str | None, str | None, str | None]:
    """(province, desa code, quarantine reason) of a raw kode_wilayah cell."""
    try:
        code = nz.region_code(raw)
    except nz.InvalidValue:
        return None, None, "UNKNOWN_REGION"
    if code is None:
        return None, None, "MISSING_REGION"
    if code[:2] not in deployed:
        return None, code, "PROVINCE_NOT_DEPLOYED"
    return code[:2], code, None


def _desa_or_none(raw: object) -> str | None:
    try:
        return nz.region_code(raw)
    except nz.InvalidValue:
        return None


def _route_file(
    path: Path, homes: dict[str, Settings], period: str
) -> tuple[dict, list[dict], list[dict], dict[str, int]]:
    """Route one national file; returns its ledger row, quarantine rows, moves
    and rows written per province."""
    deployed = set(homes)
    header, rows = read_rows(path)
    header = [str(h) for h in header]
    positions = match_columns(header, path.name)
    textual = path.suffix.lower() not in (".xlsx", ".parquet")
    order = [positions[c] for c in LANDING_COLUMNS]
    quarantine: list[dict] = []
    moves: list[dict] = []
    rows_in = 0
    with _Outputs(homes, period, path) as outputs:
        for row_number, row in enumerate(rows, start=2):
            if all(nz.blank(v) for v in row):
                continue
            rows_in += 1
            values = {c: row[i] if i < len(row) else None for c, i in positions.items()}
            try:
                row = fit_row(row, len(header))
            except nz.InvalidValue as bad:
                quarantine.append(
                    _quarantined(path, row_number, values, bad.reason, bad.detail, row, header)
                )
                continue
            kode, desa, reason = _province_of(values["kode_wilayah"], deployed)
            if reason:
                detail = f"{REASONS[reason]}: {safe_text(values['kode_wilayah']) or '-'}"
                quarantine.append(
                    _quarantined(path, row_number, values, reason, detail, row, header)
                )
                continue
            cells = [row[i] if textual else landing_cell(row[i]) for i in order]
            outputs.add(kode, cells)
            if str(values["jenis_peristiwa"] or "").strip().upper() != "PINDAH":
                continue
            origin_desa = _desa_or_none(values["kode_wilayah_asal"])
            origin = origin_desa[:2] if origin_desa else None
            if origin is None or origin == kode:
                continue
            if origin in deployed:
                outputs.add(origin, cells)
            # The event's key as the provinces' ingest reads it (normalise_row).
            sumber, event_id = (
                nz.clean_text(landing_cell(values[c])) for c in ("sumber", "event_id")
            )
            if sumber is None or event_id is None:
                continue  # the provinces' ingest quarantines a row without its key
            moves.append({
                "period": period, "sumber": sumber, "event_id": event_id, "kode_provinsi_asal": origin,
                "kode_wilayah_asal": origin_desa, "kode_provinsi_tujuan": kode, "kode_wilayah": desa,
            })  # fmt: skip
    ledger = {
        "period": period, "file_name": path.name, "sha256": sha256_of(path), "rows_in": rows_in,
        "rows_routed": rows_in - len(quarantine), "rows_quarantined": len(quarantine),
        "status": "ROUTED", "message": None, "routed_at": datetime.now(),
    }  # fmt: skip
    return ledger, quarantine, moves, dict(outputs.rows)


def _quarantined(
    path: Path,
    row_number: int,
    values: dict,
    reason: str,
    detail: str | None,
    row: list,
    header: list,
) -> dict:
    return {
        "file_name": path.name, "row_number": row_number, "sumber": safe_text(values["sumber"]),
        "event_id": safe_text(values["event_id"]), "reason": reason, "detail": detail,
        "raw": raw_json(row, header),
    }  # fmt: skip


def _refusal(path: Path) -> str | None:
    bad = bad_file_name(path.name)
    if bad:
        return f"{path.name.encode('unicode_escape').decode('ascii')[:80]}: {bad}"
    if path.is_symlink() or path.suffix.lower() not in READABLE_SUFFIXES:
        return f"{path.name}: not a CSV, XLSX or Parquet file (or a link)"
    return None


def route_period(settings: Settings, period: str, provinces: list[str] | None = None) -> dict:
    """Route the national home's landing files of `period`; returns counts.

    A file that cannot be read refuses the whole routing (nothing of the period
    is written to any province), as ingest holds a period on a rejected file."""
    parse_period(period)
    homes = province_homes(settings, provinces)
    files = landing_files(settings, period)
    for path in files:
        if why := _refusal(path):
            raise PdpbError(f"route {period} stopped: {why}; remove it from {path.parent}")
    with writer_lock(settings):
        con = connect_national(settings)
        try:
            previous = con.execute(
                "select kode_provinsi, output_name from nasional.route_outputs where period = ?",
                [period],
            ).fetchall()
            for kode, name in previous:
                if kode in homes:
                    (homes[kode].landing_dir(period) / name).unlink(missing_ok=True)
            results = []
            try:
                for path in files:
                    results.append(_route_file(path, homes, period))
            except FileRejected as exc:
                # Nothing of a period is routed when one file cannot be read.
                for path, r in zip(files, results, strict=False):
                    for kode in r[3]:
                        (homes[kode].landing_dir(period) / f"{path.stem}.csv").unlink(
                            missing_ok=True
                        )
                raise PdpbError(f"route {period} stopped: {exc}") from exc
            moves = _unique_moves(m for r in results for m in r[2])
            with transaction(con):
                for table in ("route_files", "route_outputs", "route_quarantine", "moves"):
                    con.execute(f"delete from nasional.{table} where period = ?", [period])
                insert_rows(con, "nasional.route_files", FILE_COLUMNS, [r[0] for r in results])
                insert_rows(
                    con, "nasional.route_quarantine",
                    ("period", "file_name", "row_number", "sumber", "event_id", "reason", "detail", "raw"),
                    [{"period": period, **q} for r in results for q in r[1]],
                )  # fmt: skip
                insert_rows(
                    con, "nasional.moves",
                    ("period", "sumber", "event_id", "kode_provinsi_asal", "kode_wilayah_asal",
                     "kode_provinsi_tujuan", "kode_wilayah"),
                    moves,
                )  # fmt: skip
                insert_rows(
                    con, "nasional.route_outputs",
                    ("period", "file_name", "kode_provinsi", "output_name", "rows"),
                    [{"period": period, "file_name": path.name, "kode_provinsi": kode,
                      "output_name": f"{path.stem}.csv", "rows": n}
                     for path, r in zip(files, results, strict=True) for kode, n in r[3].items()],
                )  # fmt: skip
        finally:
            con.close()
    counts = {
        "period": period,
        "files": len(files),
        "rows_in": sum(r[0]["rows_in"] for r in results),
        "rows_routed": sum(r[0]["rows_routed"] for r in results),
        "rows_quarantined": sum(r[0]["rows_quarantined"] for r in results),
        "moves": len(moves),
        "provinces": {k: sum(r[3].get(k, 0) for r in results) for k in sorted(homes)},
    }
    log.info("route %s: %s", period, counts)
    return counts


def _unique_moves(moves) -> list[dict]:
    """One move per (sumber, event_id): a re-delivered file repeats its rows."""
    seen: dict[tuple, dict] = {}
    for m in moves:
        seen.setdefault((m["sumber"], m["event_id"]), m)
    return list(seen.values())
