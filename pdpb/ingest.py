"""Ingest: every delivered file of a period read, normalised and accounted for.

Reads `landing/<period>/` (CSV in UTF-8 or Windows-1252 with `,` `;` or tab,
XLSX, Parquet), matches columns by name, normalises every value, and writes
the period's `core.events`, `core.quarantine` (the raw row and a reason code
for every row that cannot be used) and `core.files` (the ledger: sha256, rows
in / loaded / quarantined). Ingest of a period replaces that period's rows, so
running it twice gives the same tables. A file that cannot be read at all, or
lacks required columns, stops the period with a one-line message.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from pdpb import normalize as nz
from pdpb.config import PdpbError, Settings, default_cutoff, parse_period
from pdpb.warehouse import connect, insert_rows, transaction

log = logging.getLogger(__name__)

LANDING_COLUMNS = (
    "event_id", "sumber", "jenis_peristiwa", "tanggal_peristiwa", "nik", "nkk", "nama",
    "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "status_kawin", "alamat", "rt", "rw",
    "kode_wilayah", "kode_wilayah_asal",
)  # fmt: skip
READABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".parquet")
MAX_FIELD_CHARS = 1_000  # a longer value is a broken export, not a name or an address
MAX_RAW_CHARS = 4_000
EVENT_COLUMNS = (
    "period", "sumber", "event_id", "jenis_peristiwa", "tanggal_peristiwa", "nik", "nik_valid",
    "nik_flag", "nkk", "nama", "gelar", "tempat_lahir", "tanggal_lahir", "jenis_kelamin",
    "status_kawin", "alamat", "rt", "rw", "kode_wilayah", "kode_wilayah_asal", "is_late",
    "file_name", "row_number", "extra",
)  # fmt: skip


class FileRejected(PdpbError):
    """A delivered file that cannot be ingested at all."""


@dataclass
class FileResult:
    file_name: str
    sha256: str
    size_bytes: int
    status: str = "LOADED"
    message: str | None = None
    sumber: str | None = None
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    events: list[dict] = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:65536]:
        raise FileRejected(
            f"{name}: binary content (NUL bytes); expected CSV text, XLSX or Parquet"
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileRejected(f"{name}: text is neither UTF-8 nor Windows-1252")


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d])


def read_csv_rows(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    text = _decode(path.read_bytes(), path.name)
    if not text.strip():
        raise FileRejected(f"{path.name}: the file is empty")
    header_line = text.splitlines()[0]
    csv.field_size_limit(16 * 1024 * 1024)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(header_line))
    header = next(reader)
    return header, reader


def read_xlsx_rows(path: Path) -> tuple[list[str], Iterator[list[object]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileRejected(
            f"{path.name}: not a readable XLSX workbook ({type(exc).__name__})"
        ) from exc
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    try:
        header = [("" if v is None else str(v)) for v in next(rows)]
    except StopIteration as exc:
        raise FileRejected(f"{path.name}: the workbook's first sheet is empty") from exc

    def body() -> Iterator[list[object]]:
        for row in rows:
            if row is None or all(v is None or str(v).strip() == "" for v in row):
                continue
            yield list(row)
        workbook.close()

    return header, body()


def read_parquet_rows(path: Path) -> tuple[list[str], Iterator[list[object]]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise FileRejected(
            f"{path.name}: not a readable Parquet file ({type(exc).__name__})"
        ) from exc
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(table.column_names), (list(r) for r in zip(*columns, strict=True))


def read_rows(path: Path) -> tuple[list[str], Iterator[list[object]]]:
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise FileRejected(f"{path.name}: the file is empty")
    if suffix == ".xlsx":
        return read_xlsx_rows(path)
    if suffix == ".parquet":
        return read_parquet_rows(path)
    return read_csv_rows(path)


def match_columns(header: list[object], file_name: str) -> dict[str, int]:
    """Map canonical column names to positions, ignoring case and spaces."""
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        key = str(name or "").strip().lstrip("\ufeff").strip().lower()
        if key and key not in positions:
            positions[key] = i
    missing = [c for c in LANDING_COLUMNS if c not in positions]
    if missing:
        raise FileRejected(f"{file_name}: missing required columns: {', '.join(missing)}")
    return positions


# --------------------------------------------------------------------------- rows


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def normalise_row(values: dict[str, object], period_start: date, period_end: date) -> dict:
    """Return the normalised event or raise InvalidValue with a reason."""
    for name, value in values.items():
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            raise nz.InvalidValue("FIELD_TOO_LONG", f"{name} has {len(value)} characters")
    event_id = nz.clean_text(values.get("event_id"))
    if event_id is None:
        raise nz.InvalidValue("MISSING_EVENT_ID", "event_id is empty")
    sumber = nz.clean_text(values.get("sumber"))
    if sumber is None:
        raise nz.InvalidValue("MISSING_SUMBER", "sumber is empty")
    jenis = nz.jenis_peristiwa(values.get("jenis_peristiwa"))
    tanggal = nz.parse_date(values.get("tanggal_peristiwa"))
    if tanggal is None:
        raise nz.InvalidValue("MISSING_EVENT_DATE", "tanggal_peristiwa is empty")
    if tanggal > period_end:
        raise nz.InvalidValue(
            "FUTURE_DATE", f"tanggal_peristiwa {tanggal} is after the period end {period_end}"
        )
    if tanggal.year < 1900:
        raise nz.InvalidValue("INVALID_DATE", f"tanggal_peristiwa {tanggal} is implausible")
    lahir = nz.parse_date(values.get("tanggal_lahir"))
    if lahir is not None and (lahir > period_end or lahir.year < 1900):
        raise nz.InvalidValue("INVALID_BIRTH_DATE", f"tanggal_lahir {lahir} is implausible")
    nik = nz.digits(values.get("nik"))
    nkk = nz.digits(values.get("nkk"))
    jk = nz.jenis_kelamin(values.get("jenis_kelamin"))
    nama, gelar = nz.split_name(values.get("nama"))
    return {
        "sumber": sumber,
        "event_id": event_id,
        "jenis_peristiwa": jenis,
        "tanggal_peristiwa": tanggal,
        "nik": nik,
        "nik_valid": nz.nik_is_valid(nik),
        "nik_flag": nz.nik_flag(nik, lahir, jk),
        "nkk": nkk,
        "nama": nama,
        "gelar": gelar,
        "tempat_lahir": nz.clean_text(values.get("tempat_lahir")),
        "tanggal_lahir": lahir,
        "jenis_kelamin": jk,
        "status_kawin": nz.status_kawin(values.get("status_kawin")),
        "alamat": nz.clean_text(values.get("alamat")),
        "rt": nz.rt_rw(values.get("rt")),
        "rw": nz.rt_rw(values.get("rw")),
        "kode_wilayah": nz.region_code(values.get("kode_wilayah")),
        "kode_wilayah_asal": nz.region_code(values.get("kode_wilayah_asal")),
        "is_late": tanggal < period_start,
    }


def _raw_json(values: dict[str, object]) -> str:
    text = json.dumps(
        {k: (None if v is None else str(v)) for k, v in values.items()}, ensure_ascii=False
    )
    return text[:MAX_RAW_CHARS]


def ingest_file(path: Path, period_start: date, period_end: date) -> FileResult:
    """Read one file into normalised events and quarantine rows (no database)."""
    result = FileResult(path.name, sha256_of(path), path.stat().st_size)
    header, rows = read_rows(path)
    positions = match_columns(header, path.name)
    extra_positions = {
        str(h).strip(): i
        for i, h in enumerate(header)
        if i not in positions.values() and str(h or "").strip()
    }
    seen_ids: set[tuple[str, str]] = set()
    sumber_counts: Counter[str] = Counter()
    for row_number, row in enumerate(rows, start=2):  # row 1 is the header
        result.rows_in += 1
        values = {
            c: (_cell(row[i]) if i < len(row) else None)
            for c, i in positions.items()
            if c in LANDING_COLUMNS
        }
        raw = {str(h): (_cell(row[i]) if i < len(row) else None) for i, h in enumerate(header)}
        try:
            if len(row) != len(header):
                raise nz.InvalidValue(
                    "RAGGED_ROW", f"row has {len(row)} fields, header has {len(header)}"
                )
            event = normalise_row(values, period_start, period_end)
            key = (event["sumber"], event["event_id"])
            if key in seen_ids:
                raise nz.InvalidValue(
                    "DUPLICATE_EVENT_ID", f"event_id {event['event_id']} repeats in this file"
                )
            seen_ids.add(key)
        except nz.InvalidValue as bad:
            result.quarantine.append(
                {
                    "file_name": path.name,
                    "row_number": row_number,
                    "sumber": nz.clean_text(values.get("sumber")),
                    "event_id": nz.clean_text(values.get("event_id")),
                    "reason": bad.reason,
                    "detail": bad.detail,
                    "raw": _raw_json(raw),
                }
            )
            continue
        extra = {
            name: _cell(row[i])
            for name, i in extra_positions.items()
            if i < len(row) and not nz.blank(row[i])
        }
        event.update(
            file_name=path.name,
            row_number=row_number,
            extra=json.dumps(extra, default=str) if extra else None,
        )
        sumber_counts[event["sumber"]] += 1
        result.events.append(event)
    result.rows_loaded = len(result.events)
    result.rows_quarantined = len(result.quarantine)
    result.sumber = sumber_counts.most_common(1)[0][0] if sumber_counts else None
    return result


# --------------------------------------------------------------------------- period


def landing_files(settings: Settings, period: str) -> list[Path]:
    folder = settings.landing_dir(period)
    if not folder.is_dir():
        raise PdpbError(f"no landing folder for period {period}: expected {folder}")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _resolve_redeliveries(results: list[FileResult], earlier_hashes: dict[str, str]) -> None:
    """Mark identical re-deliveries and let a later file's version of an event
    replace an earlier file's version (recorded in `extra`)."""
    seen_hash: dict[str, str] = dict(earlier_hashes)
    for result in results:
        if result.status != "LOADED":
            continue
        original = seen_hash.get(result.sha256)
        if original is not None:
            result.status, result.message = (
                "DUPLICATE",
                f"identical to {original}; not loaded again",
            )
            result.rows_in = result.rows_loaded = result.rows_quarantined = 0
            result.events, result.quarantine = [], []
            continue
        seen_hash[result.sha256] = result.file_name


def _final_events(results: list[FileResult], processed_before: set[tuple[str, str]]) -> list[dict]:
    by_key: dict[tuple[str, str], dict] = {}
    for result in results:
        kept = []
        for event in result.events:
            key = (event["sumber"], event["event_id"])
            if key in processed_before:
                result.quarantine.append(
                    {
                        "file_name": result.file_name,
                        "row_number": event["row_number"],
                        "sumber": event["sumber"],
                        "event_id": event["event_id"],
                        "reason": "ALREADY_PROCESSED",
                        "detail": "this sumber and event_id was processed in an earlier period",
                        "raw": None,
                    }
                )
                continue
            previous = by_key.get(key)
            if previous is not None:
                note = json.loads(event["extra"]) if event["extra"] else {}
                note["replaces"] = f"{previous['file_name']}:{previous['row_number']}"
                event["extra"] = json.dumps(note)
            by_key[key] = event
            kept.append(event)
        result.events = kept
        result.rows_loaded = len(kept)
        result.rows_quarantined = len(result.quarantine)
    return list(by_key.values())


def ingest_period(settings: Settings, period: str) -> dict:
    """Ingest every landing file of a period; returns the period's counts."""
    year, month = parse_period(period)
    period_start, period_end = date(year, month, 1), default_cutoff(period)
    files = landing_files(settings, period)
    results: list[FileResult] = []
    rejected: list[FileResult] = []
    for path in files:
        if path.is_symlink() or path.suffix.lower() not in READABLE_SUFFIXES:
            bad = FileResult(path.name, "", 0, status="REJECTED")
            bad.message = f"{path.name}: not a CSV, XLSX or Parquet file (or a link); remove it from the landing folder"
            rejected.append(bad)
            continue
        try:
            results.append(ingest_file(path, period_start, period_end))
        except FileRejected as exc:
            bad = FileResult(
                path.name, sha256_of(path), path.stat().st_size, status="REJECTED", message=str(exc)
            )
            rejected.append(bad)

    con = connect(settings)
    try:
        earlier = dict(
            con.execute(
                "select sha256, file_name || ' (' || period || ')' from core.files "
                "where period < ? and status = 'LOADED'",
                [period],
            ).fetchall()
        )
        processed_before = set(
            con.execute(
                "select sumber, event_id from core.events where period < ?", [period]
            ).fetchall()
        )
        _resolve_redeliveries(results, earlier)
        events = _final_events(results, processed_before)
        with transaction(con):
            for table in ("events", "quarantine", "files"):
                con.execute(f"delete from core.{table} where period = ?", [period])
            _write_ledger(con, period, results + rejected)
            if not rejected:
                insert_rows(
                    con, "core.events", EVENT_COLUMNS, ({"period": period, **e} for e in events)
                )
                insert_rows(
                    con,
                    "core.quarantine",
                    (
                        "period",
                        "file_name",
                        "row_number",
                        "sumber",
                        "event_id",
                        "reason",
                        "detail",
                        "raw",
                    ),
                    ({"period": period, **q} for r in results for q in r.quarantine),
                )
    finally:
        con.close()
    if rejected:
        raise FileRejected(
            f"period {period} stopped: {rejected[0].message}"
            + (f" (and {len(rejected) - 1} more rejected files)" if len(rejected) > 1 else "")
        )
    counts = {
        "files": len(results),
        "files_duplicate": sum(r.status == "DUPLICATE" for r in results),
        "rows_in": sum(r.rows_in for r in results),
        "rows_loaded": sum(r.rows_loaded for r in results),
        "rows_quarantined": sum(r.rows_quarantined for r in results),
        "events": len(events),
    }
    log.info("ingest %s: %s", period, counts)
    return counts


def _write_ledger(con, period: str, results: list[FileResult]) -> None:
    now = datetime.now()
    rows = [
        {
            "period": period, "file_name": r.file_name, "sha256": r.sha256, "size_bytes": r.size_bytes,
            "sumber": r.sumber, "rows_in": r.rows_in, "rows_loaded": r.rows_loaded,
            "rows_quarantined": r.rows_quarantined, "status": r.status, "message": r.message,
            "loaded_at": now,
        }
        for r in results
    ]  # fmt: skip
    insert_rows(
        con,
        "core.files",
        ("period", "file_name", "sha256", "size_bytes", "sumber", "rows_in", "rows_loaded",
         "rows_quarantined", "status", "message", "loaded_at"),
        rows,
    )  # fmt: skip
