"""Ingest: every delivered file of a period read, normalised and accounted for.

Reads `landing/<period>/` (CSV in UTF-8 or Windows-1252 with `,` `;` or tab,
XLSX, Parquet), matches columns by name, normalises every value, and writes
the period's `core.events`, `core.quarantine` (the raw row and a reason code
for every row that cannot be used) and `core.files` (the ledger: sha256, rows
in / loaded / quarantined, status). For every file rows in = loaded +
quarantined. Ingest of a period replaces that period's rows, so running it
twice gives the same tables. A file that cannot be read at all, or lacks
required columns, is REJECTED and stops the period with a one-line message;
docs/ingest.md lists the reason codes and ledger statuses for operators.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from pdpb import normalize as nz
from pdpb.config import PdpbError, Settings, default_cutoff, parse_period
from pdpb.contracts import LANDING_COLUMNS
from pdpb.warehouse import connect, insert_rows, transaction

log = logging.getLogger(__name__)

READABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".parquet")
MAX_FIELD_CHARS = 1_000  # a longer value is a broken export, not a name or an address
MAX_RAW_VALUE_CHARS = 2_000  # per value in core.quarantine.raw; the file itself stays in landing
# Bounds against hostile or broken files, so reading one costs bounded memory
# and time: a real delivery is far below each of them (docs/reliability.md).
MAX_FILE_BYTES = 1 << 30  # 1 GiB per delivered file
MAX_LINE_BYTES = 1 << 20  # one CSV line; a row of 16 fields of MAX_FIELD_CHARS is ~16 KB
MAX_CSV_FIELD_CHARS = 1 << 20  # a quoted field spanning lines (an unclosed quote) stops here
MAX_XLSX_UNCOMPRESSED = 1 << 30  # total declared size of a workbook's zip members
MAX_XLSX_RATIO = 200  # per member: sheet XML compresses ~10-20x, a zip bomb ~1000x
MAX_NAME_CHARS = 200
EVENT_COLUMNS = (
    "period", "sumber", "event_id", "jenis_peristiwa", "tanggal_peristiwa", "nik", "nik_valid",
    "nik_flag", "nkk", "nama", "gelar", "tempat_lahir", "tanggal_lahir", "jenis_kelamin",
    "status_kawin", "alamat", "rt", "rw", "kode_wilayah", "kode_wilayah_asal", "is_late",
    "file_name", "row_number", "extra",
)  # fmt: skip
QUARANTINE_COLUMNS = (
    "period", "file_name", "row_number", "sumber", "event_id", "reason", "detail", "raw",
)  # fmt: skip
LEDGER_COLUMNS = (
    "period", "file_name", "sha256", "size_bytes", "sumber", "rows_in", "rows_loaded",
    "rows_quarantined", "status", "message", "loaded_at",
)  # fmt: skip
# Values that describe the event itself: a later delivery that changes none of
# them is a repeat, one that changes any of them is a correction.
CONTENT_COLUMNS = tuple(
    c
    for c in EVENT_COLUMNS
    if c not in ("period", "sumber", "event_id", "file_name", "row_number", "extra")
)
# C0 control characters other than tab, newline and carriage return: never part
# of a name or an address, and NUL is not storable as text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
    notes: list[str] = field(default_factory=list)
    replaced_by: Counter[str] = field(default_factory=Counter)

    def count(self) -> None:
        """Set the ledger counts from the rows now held (rows in never changes)."""
        self.rows_loaded = len(self.events)
        self.rows_quarantined = len(self.quarantine)
        assert self.rows_in == self.rows_loaded + self.rows_quarantined, self.file_name

    def clear(self, status: str, message: str) -> None:
        """Nothing of this file is loaded: all counts zero, the reason in `message`."""
        self.status, self.message = status, message
        self.rows_in = self.rows_loaded = self.rows_quarantined = 0
        self.events, self.quarantine = [], []


def _one_line(text: object, limit: int = 200) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()[:limit]


# --------------------------------------------------------------------------- reading


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_text(path: Path) -> str:
    """One streaming pass over a CSV (1 MiB blocks): reject binary content, an
    empty file and over-long lines, and choose the encoding (UTF-8, else
    Windows-1252). Memory stays bounded whatever the file holds."""
    name = path.name
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, line_bytes, blank = True, 0, True
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(b"PK\x03\x04"):
            raise FileRejected(f"{name}: a ZIP/XLSX workbook with a text name; rename it to .xlsx")
        if head.startswith(b"PAR1"):
            raise FileRejected(f"{name}: a Parquet file with a text name; rename it to .parquet")
        fh.seek(0)
        for block in iter(lambda: fh.read(1 << 20), b""):
            if b"\x00" in block:
                raise FileRejected(
                    f"{name}: binary content (NUL bytes); expected CSV text, XLSX or Parquet"
                )
            parts = block.split(b"\n")
            longest = max([line_bytes + len(parts[0]), *(len(x) for x in parts[1:])])
            line_bytes = longest if len(parts) == 1 else len(parts[-1])
            if longest > MAX_LINE_BYTES:
                raise FileRejected(
                    f"{name}: a line longer than {MAX_LINE_BYTES // 1024} KiB; not a CSV export"
                )
            blank = blank and not block.strip()
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
    if blank:
        raise FileRejected(f"{name}: the file is empty")
    return "utf-8-sig" if utf8 else "cp1252"


def delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d])


def read_csv_rows(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    encoding = check_text(path)
    handle = path.open("r", encoding=encoding, newline="")
    header_line = next((line for line in handle if line.strip("\r\n")), "")
    handle.seek(0)
    csv.field_size_limit(MAX_CSV_FIELD_CHARS)
    reader = csv.reader(handle, delimiter=delimiter(header_line))
    try:
        header = next(reader)
        while not any(h.strip() for h in header):  # blank lines before the header
            header = next(reader)
    except BaseException:
        handle.close()
        raise

    def body() -> Iterator[list[str]]:
        with handle:
            yield from reader

    return header, body()


def _check_zip(path: Path) -> None:
    """Refuse a workbook whose members would expand beyond the bounds (a zip
    bomb) before openpyxl inflates anything; Python's zipfile never yields
    more than a member's declared size, so checking the declared sizes suffices."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRejected(
            f"{path.name}: not a readable XLSX workbook ({type(exc).__name__}); ask for a new export"
        ) from exc
    total = sum(m.file_size for m in members)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise FileRejected(
            f"{path.name}: the workbook would expand to {total >> 20} MiB "
            f"(limit {MAX_XLSX_UNCOMPRESSED >> 20} MiB); export it as CSV"
        )
    for m in members:
        if m.file_size > (1 << 20) and m.file_size > MAX_XLSX_RATIO * max(m.compress_size, 1):
            raise FileRejected(
                f"{path.name}: member {m.filename[:60]} expands {m.file_size // max(m.compress_size, 1)}x "
                f"(limit {MAX_XLSX_RATIO}x), a zip bomb; ask for a new export"
            )


def read_xlsx_rows(path: Path) -> tuple[list[str], Iterator[list[object]]]:
    from openpyxl import load_workbook

    _check_zip(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise FileRejected(
            f"{path.name}: not a readable XLSX workbook ({type(exc).__name__}); ask for a new export"
        ) from exc
    if first is None:
        raise FileRejected(f"{path.name}: the workbook's first sheet is empty")
    header = [("" if v is None else str(v)) for v in first]
    # A workbook stores no empty cells: without a recorded sheet size a row
    # ends at its last filled cell. The missing cells are empty, not absent.
    padding = [None] * len(header)

    def body() -> Iterator[list[object]]:
        try:
            yield from (list(row) + padding[len(row) :] for row in rows)
        finally:
            workbook.close()

    return header, body()


def read_parquet_rows(path: Path) -> tuple[list[str], Iterator[list[object]]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise FileRejected(
            f"{path.name}: not a readable Parquet file ({type(exc).__name__}); ask for a new export"
        ) from exc
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [str(c) for c in table.column_names], (list(r) for r in zip(*columns, strict=True))


def _guarded(rows: Iterator[list[object]], name: str) -> Iterator[list[object]]:
    """Turn a reader failing halfway through (a truncated workbook, a broken
    CSV quote) into a rejection of the file instead of a traceback."""
    read = 0
    try:
        for row in rows:
            read += 1
            yield row
    except FileRejected:
        raise
    except Exception as exc:  # any reader error means the file cannot be trusted
        raise FileRejected(
            f"{name}: unreadable after data row {read} ({type(exc).__name__}: {_one_line(exc, 80)})"
        ) from exc


def check_size(path: Path, max_bytes: int = MAX_FILE_BYTES, what: str = "one delivery") -> None:
    size = path.stat().st_size
    if size == 0:
        raise FileRejected(f"{path.name}: the file is empty")
    if size > max_bytes:
        raise FileRejected(
            f"{path.name}: {size >> 20} MiB is beyond the {max_bytes >> 20} MiB limit "
            f"for {what}; split the export"
        )


def read_rows(
    path: Path, max_bytes: int = MAX_FILE_BYTES, what: str = "one delivery"
) -> tuple[list[str], Iterator[list[object]]]:
    suffix = path.suffix.lower()
    check_size(path, max_bytes, what)
    if suffix == ".xlsx":
        header, rows = read_xlsx_rows(path)
    elif suffix == ".parquet":
        header, rows = read_parquet_rows(path)
    else:
        try:
            header, rows = read_csv_rows(path)
        except (csv.Error, StopIteration) as exc:
            raise FileRejected(f"{path.name}: not readable as CSV ({_one_line(exc, 80)})") from exc
    return header, _guarded(rows, path.name)


def _column_key(name: object) -> str:
    return re.sub(r"\s+", "_", str(name or "").replace("\ufeff", "").strip().lower())


def match_columns(header: list[object], file_name: str) -> dict[str, int]:
    """Map canonical column names to positions, ignoring case and spaces."""
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        key = _column_key(name)
        if key and key not in positions:
            positions[key] = i
    missing = [c for c in LANDING_COLUMNS if c not in positions]
    if missing:
        hint = (
            "; the header has a single column: the delimiter must be , ; or tab"
            if len(header) == 1
            else ""
        )
        raise FileRejected(f"{file_name}: missing required columns: {', '.join(missing)}{hint}")
    return {c: positions[c] for c in LANDING_COLUMNS}


# --------------------------------------------------------------------------- rows


def landing_cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def _check_cells(row: list[object], header: list[str]) -> None:
    """Quarantine rows whose cells cannot be a name, code or address at all."""
    texts = [v for v in row if isinstance(v, str)]
    if max(map(len, texts), default=0) <= MAX_FIELD_CHARS and not _CONTROL.search("\t".join(texts)):
        return  # the usual row: one scan, no per-cell work
    for i, value in enumerate(row):
        if not isinstance(value, str):
            continue
        name = header[i] if i < len(header) else f"kolom_{i + 1}"
        if len(value) > MAX_FIELD_CHARS:
            raise nz.InvalidValue(
                "FIELD_TOO_LONG",
                f"{name} has {len(value)} characters (at most {MAX_FIELD_CHARS}); "
                "an unclosed quote swallows the following rows",
            )
        if _CONTROL.search(value):
            raise nz.InvalidValue("CONTROL_CHARACTER", f"{name} contains a control character")


def normalise_row(values: dict[str, object], period_start: date, period_end: date) -> dict:
    """Return the normalised event or raise InvalidValue with a reason."""
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
    nik = nz.digits(values.get("nik"), "NIK_NOT_NUMERIC")
    nkk = nz.digits(values.get("nkk"), "NKK_NOT_NUMERIC")
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


def raw_json(row: list[object], header: list[str]) -> str:
    """The delivered row as JSON, every cell kept (long ones cut with a note)."""
    raw: dict[str, str | None] = {}
    for i, value in enumerate(row):
        key = header[i] if i < len(header) and header[i] else f"kolom_{i + 1}"
        if key in raw:
            key = f"{key}#{i + 1}"
        if value is None:
            raw[key] = None
            continue
        text = str(landing_cell(value))
        if len(text) > MAX_RAW_VALUE_CHARS:
            text = f"{text[:MAX_RAW_VALUE_CHARS]}... [{len(text)} characters]"
        raw[key] = text
    return json.dumps(raw, ensure_ascii=False)


def _quarantine_row(
    file_name: str,
    row_number: int,
    sumber: object,
    event_id: object,
    bad: nz.InvalidValue,
    raw: str,
) -> dict:
    return {
        "file_name": file_name,
        "row_number": row_number,
        "sumber": safe_text(sumber),
        "event_id": safe_text(event_id),
        "reason": bad.reason,
        "detail": bad.detail,
        "raw": raw,
    }


def safe_text(value: object) -> str | None:
    """A key column for a quarantine row, even when the cell itself is the problem."""
    if not isinstance(value, str | int | float) or nz.blank(value):
        return None
    text = _CONTROL.sub("", nz.clean_text(landing_cell(value)) or "")
    return text[:100] or None


def fit_row(row: list[object], width: int) -> list[object]:
    """Trailing empty cells past the header (a trailing delimiter, a padded
    sheet) are noise; any other difference in width is a ragged row."""
    if len(row) > width and all(nz.blank(v) for v in row[width:]):
        return row[:width]
    if len(row) != width:
        raise nz.InvalidValue("RAGGED_ROW", f"row has {len(row)} fields, header has {width}")
    return row


def ingest_file(path: Path, period_start: date, period_end: date) -> FileResult:
    """Read one file into normalised events and quarantine rows (no database)."""
    result = FileResult(path.name, sha256_of(path), path.stat().st_size)
    header, rows = read_rows(path)
    header = [str(h) for h in header]
    positions = match_columns(header, path.name)
    known = set(positions.values())
    extra_positions = {h.strip(): i for i, h in enumerate(header) if i not in known and h.strip()}
    seen_ids: set[tuple[str, str]] = set()
    sumber_counts: Counter[str] = Counter()
    width = len(header)
    # CSV cells are already text; only workbook and Parquet cells need converting.
    textual = path.suffix.lower() not in (".xlsx", ".parquet")
    for row_number, row in enumerate(rows, start=2):  # row 1 is the header
        if (not row or nz.blank(row[0])) and all(nz.blank(v) for v in row):
            continue  # a blank line is not a delivered row
        result.rows_in += 1
        try:
            row = fit_row(row, width)
            _check_cells(row, header)
            cells = row if textual else [landing_cell(v) for v in row]
            event = normalise_row(
                {c: cells[i] for c, i in positions.items()}, period_start, period_end
            )
            key = (event["sumber"], event["event_id"])
            if key in seen_ids:
                raise nz.InvalidValue(
                    "DUPLICATE_EVENT_ID", f"event_id {event['event_id']} repeats in this file"
                )
            seen_ids.add(key)
        except nz.InvalidValue as bad:
            sumber_i, event_i = positions["sumber"], positions["event_id"]
            result.quarantine.append(
                _quarantine_row(
                    path.name,
                    row_number,
                    row[sumber_i] if sumber_i < len(row) else None,
                    row[event_i] if event_i < len(row) else None,
                    bad,
                    raw_json(row, header),
                )
            )
            continue
        extra = {name: cells[i] for name, i in extra_positions.items() if not nz.blank(cells[i])}
        event.update(
            file_name=path.name,
            row_number=row_number,
            extra=json.dumps(extra, default=str, ensure_ascii=False) if extra else None,
            _raw=(row, header),  # kept for a later quarantine (ALREADY_PROCESSED)
        )
        sumber_counts[event["sumber"]] += 1
        result.events.append(event)
    result.count()
    result.sumber = sumber_counts.most_common(1)[0][0] if sumber_counts else None
    if result.rows_in == 0:
        result.notes.append("no data rows (header only)")
    return result


# --------------------------------------------------------------------------- period


def _ignored(path: Path) -> bool:
    """Hidden files and Office lock files (~$name.xlsx) are not deliveries."""
    return path.name.startswith((".", "~$"))


def landing_files(settings: Settings, period: str) -> list[Path]:
    """The period's deliveries in name order. No folder means no delivery: a
    quiet month in which no source sent anything still runs (future voters
    are promoted, the whole list is checked), so it is not a refusal."""
    folder = settings.landing_dir(period)
    if not folder.exists() and not folder.is_symlink():
        return []
    if not folder.is_dir():
        raise PdpbError(f"landing path for period {period} is not a folder: {folder}")
    if not folder.resolve().is_relative_to(settings.home.resolve()):
        raise PdpbError(
            f"landing folder {folder} leads outside the home (a link to {folder.resolve()}); "
            "copy the files into the home instead"
        )
    return sorted(p for p in folder.iterdir() if p.is_file() and not _ignored(p))


def bad_file_name(name: str) -> str | None:
    """Why a file name cannot be accepted as a delivery, or None. Names end up
    in the ledger, in messages and in reports, so they must be printable text."""
    if len(name) > MAX_NAME_CHARS:
        return f"a file name longer than {MAX_NAME_CHARS} characters"
    if not name.isprintable() or "\\" in name:
        return "a file name with control characters or backslashes (a path trick)"
    return None


def _read_file(path: Path, period_start: date, period_end: date) -> FileResult:
    """Ingest one file, or a REJECTED ledger entry saying why it cannot be."""
    bad = bad_file_name(path.name)
    if bad:
        shown = path.name.encode("unicode_escape").decode("ascii")[:80]
        return FileResult(shown, "", 0, status="REJECTED",
                          message=f"{shown}: {bad}; rename or remove it from the landing folder")  # fmt: skip
    if path.is_symlink() or path.suffix.lower() not in READABLE_SUFFIXES:
        hint = "; save it as XLSX" if path.suffix.lower() == ".xls" else ""
        return FileResult(
            path.name,
            "" if path.is_symlink() else sha256_of(path),
            0 if path.is_symlink() else path.stat().st_size,
            status="REJECTED",
            message=f"{path.name}: not a CSV, XLSX or Parquet file (or a link){hint}; "
            "remove it from the landing folder",
        )
    try:
        return ingest_file(path, period_start, period_end)
    except FileRejected as exc:
        return FileResult(
            path.name, sha256_of(path), path.stat().st_size, status="REJECTED", message=str(exc)
        )


def _resolve_redeliveries(results: list[FileResult], earlier_hashes: dict[str, str]) -> None:
    """An identical re-delivery (same sha256 as a file loaded earlier, this
    period or before) is recorded as DUPLICATE and loads nothing."""
    seen_hash: dict[str, str] = dict(earlier_hashes)
    for result in results:
        # A header-only file loads nothing, so it cannot be loaded twice; two
        # sources sending the same bare header in a quiet month are two
        # deliveries, each recorded as LOADED with "no data rows".
        if result.status != "LOADED" or result.rows_in == 0:
            continue
        original = seen_hash.get(result.sha256)
        if original is not None:
            rows = result.rows_in
            result.clear("DUPLICATE", f"identical to {original} ({rows} rows); not loaded again")
            continue
        seen_hash[result.sha256] = result.file_name


def _changed_fields(before: dict, after: dict) -> list[str]:
    return [c for c in CONTENT_COLUMNS if before.get(c) != after.get(c)]


def _final_events(results: list[FileResult], processed_before: set[tuple[str, str]]) -> list[dict]:
    """The period's events: one per (sumber, event_id), the latest file's version.

    Files come in name order, so a later file's version replaces an earlier
    one; the replacing event records what it replaced in `extra`, and the
    earlier file's ledger message says how many of its rows were replaced.
    An event already processed in an earlier period is quarantined instead.
    """
    by_key: dict[tuple[str, str], tuple[dict, FileResult]] = {}
    for result in results:
        kept = []
        for event in result.events:
            key = (event["sumber"], event["event_id"])
            if key in processed_before:
                row, header = event["_raw"]
                bad = nz.InvalidValue(
                    "ALREADY_PROCESSED",
                    "this sumber and event_id was processed in an earlier period",
                )
                result.quarantine.append(
                    _quarantine_row(
                        result.file_name,
                        event["row_number"],
                        event["sumber"],
                        event["event_id"],
                        bad,
                        raw_json(row, header),
                    )
                )
                continue
            if key in by_key:
                previous, previous_file = by_key[key]
                note = json.loads(event["extra"]) if event["extra"] else {}
                note["replaces"] = f"{previous['file_name']}:{previous['row_number']}"
                note["changed_fields"] = _changed_fields(previous, event)
                event["extra"] = json.dumps(note, default=str, ensure_ascii=False)
                previous_file.replaced_by[result.file_name] += 1
            by_key[key] = (event, result)
            kept.append(event)
        result.events = kept
        result.quarantine.sort(key=lambda q: q["row_number"])
        result.count()
    for result in results:
        for later, n in sorted(result.replaced_by.items()):
            result.notes.append(f"{n} rows replaced by the later delivery {later}")
    return [event for event, _ in by_key.values()]


def _hold(results: list[FileResult], rejected: list[FileResult]) -> None:
    """When a file is rejected nothing of the period is loaded; say so per file."""
    names = ", ".join(r.file_name for r in rejected)
    for result in results:
        if result.status == "LOADED":
            result.clear(
                "HELD",
                f"{result.rows_in} rows read, nothing loaded: the period stopped on {names}",
            )


def ingest_period(settings: Settings, period: str) -> dict:
    """Ingest every landing file of a period; returns the period's counts."""
    year, month = parse_period(period)
    period_start, period_end = date(year, month, 1), default_cutoff(period)
    every = [_read_file(p, period_start, period_end) for p in landing_files(settings, period)]
    if not every:
        log.warning(
            "ingest %s: no delivery: %s is absent or holds no files; the period runs with no events",
            period,
            settings.landing_dir(period),
        )
    results = [r for r in every if r.status != "REJECTED"]
    rejected = [r for r in every if r.status == "REJECTED"]

    con = connect(settings)
    try:
        earlier = dict(
            con.execute(
                "select sha256, any_value(file_name || ' (' || period || ')') from core.files "
                "where period < ? and status = 'LOADED' group by sha256",
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
        if rejected:
            _hold(results, rejected)
            events = []
        for result in results:
            if result.notes and result.status == "LOADED":
                result.message = "; ".join(result.notes)
        with transaction(con):
            for table in ("events", "quarantine", "files"):
                con.execute(f"delete from core.{table} where period = ?", [period])
            _write_ledger(con, period, every)
            insert_rows(con, "core.events", EVENT_COLUMNS, _with_period(period, events))
            insert_rows(
                con,
                "core.quarantine",
                QUARANTINE_COLUMNS,
                _with_period(period, (q for r in results for q in r.quarantine)),
            )
            from pdpb.faults import pause_if_testing

            pause_if_testing(settings, "ingest")
    finally:
        con.close()
    if rejected:
        others = f" (also rejected: {', '.join(r.file_name for r in rejected[1:])})"
        raise FileRejected(
            f"period {period} stopped: {rejected[0].message}" + (others if rejected[1:] else "")
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


def _with_period(period: str, rows: Iterable[dict]) -> Iterator[dict]:
    return ({"period": period, **row} for row in rows)


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
    insert_rows(con, "core.files", LEDGER_COLUMNS, rows)
