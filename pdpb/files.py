"""The files operators open and return: spreadsheets and CSV, written and read
back one way.

Every table the project hands to a person (recap workbooks, change lists,
review sheets) and every filled sheet it takes back goes through this module:

- text cells are escaped against spreadsheet formula injection
  (`escape_formula`) on the way out and un-escaped (`unescape`) on the way in;
- CSV files are written in one encoding, UTF-8 with a byte-order mark, which
  spreadsheet programs open with the right characters and Python, pandas and
  DuckDB read as UTF-8;
- files appear whole: each is written to a temporary sibling and renamed into
  place (`atomic_target`), and the temporaries a killed process left behind
  are cleared (`clear_stale_temps`);
- NIK and NKK never appear in full: tables come out of the warehouse masked by
  its one rule `core.mask_nik`, and Splink's HTML viewers, which read the
  scored pairs, get the same masked values (`register_masks`, `masked_pairs`).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from pdpb.config import PdpbError, Settings
from pdpb.locking import holds_writer_lock, pid_alive

log = logging.getLogger(__name__)

CSV_ENCODING = "utf-8-sig"

# The characters a spreadsheet treats as the start of a formula (OWASP CSV
# injection): `=`, `+`, `-`, `@`, and tab / carriage return that some
# programs strip before evaluating.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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


def unescape(value: object) -> str | None:
    """Cell text as the clerk meant it: trimmed, and without the quote that
    escape_formula put before a leading = + - @."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        text = text[1:]
    return text or None


def cell_value(value: object) -> object:
    """A value ready for a CSV or review cell: dates as ISO text (so CSV and
    XLSX read back the same way), text escaped against formulas."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return escape_formula(value)


def safe_cells(row: dict) -> dict:
    """A row whose every cell is a `cell_value`."""
    return {k: cell_value(v) for k, v in row.items()}


def file_slug(text: str) -> str:
    """A file-name-safe form of a region name (`KAB. LEBAK` -> `KAB-LEBAK`)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").upper() or "WILAYAH"


# --- files written whole ------------------------------------------------------

# `.<name>.tmp-<pid>` (and a DuckDB file's `.wal` beside it): what
# atomic_target and the snapshot write before the rename.
TEMP_NAME_RE = re.compile(r"^\..+\.tmp-(?P<pid>\d+)(?:\.wal)?$")


def temp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` and move it into place on success,
    so a web server or an operator never opens a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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


# --- CSV ------------------------------------------------------------------------


class CsvWriter:
    """A CSV file written row by row into a temporary sibling and renamed into
    place by `close`; `abort` leaves nothing behind."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tmp = temp_sibling(path)
        self.handle = self.tmp.open("w", newline="", encoding=CSV_ENCODING)
        self.writer = csv.writer(self.handle)
        self.writer.writerow(header)

    def add(self, values: Sequence[object]) -> None:
        self.writer.writerow([cell_value(v) for v in values])

    def close(self) -> Path:
        self.handle.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self.handle.close()
        self.tmp.unlink(missing_ok=True)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """A whole CSV file: header, then rows, cells made safe by `cell_value`."""
    writer = CsvWriter(path, header)
    try:
        for row in rows:
            writer.add(row)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


# --- XLSX -----------------------------------------------------------------------

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="8B1A1A")
TITLE_FONT = Font(bold=True, size=14)
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
HEADER_ROW = 4  # rows 1-2 title, 3 blank, 4 header


@dataclass(frozen=True)
class SheetLayout:
    """What a table sheet shows above and around its rows."""

    name: str
    title: str
    subtitle: str
    headers: Sequence[str]
    widths: Sequence[float]
    freeze: str


def styled(ws: Any, value: object, font: Font | None = None, fill: Any = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=escape_formula(value))
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    return cell


def start_sheet(wb: Workbook, layout: SheetLayout) -> Any:
    """Create a write-only sheet with title, header, widths and frozen panes;
    widths and panes must be set before the first row in write-only mode."""
    ws = wb.create_sheet(layout.name)
    for index, width in enumerate(layout.widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = layout.freeze
    ws.append([styled(ws, layout.title, TITLE_FONT)])
    ws.append([styled(ws, layout.subtitle)])
    ws.append([])
    header = []
    for text in layout.headers:
        cell = styled(ws, text, HEADER_FONT, HEADER_FILL)
        cell.alignment = WRAP
        header.append(cell)
    ws.append(header)
    return ws


def append_row(ws: Any, values: Sequence[object]) -> None:
    ws.append([escape_formula(v) for v in values])


def append_bold_row(ws: Any, values: Sequence[object]) -> None:
    ws.append([styled(ws, v, BOLD) for v in values])


def set_autofilter(ws: Any, n_columns: int, n_rows: int) -> None:
    last = get_column_letter(n_columns)
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + max(n_rows, 1)}"


def save_workbook(wb: Workbook, path: Path) -> Path:
    with atomic_target(path) as tmp:
        wb.save(tmp)
    return path


# --- reading a filled sheet back ------------------------------------------------

# Words kept in capitals in a column's label; the rest are capitalised.
_ACRONYMS = {"NIK", "NKK", "DPID", "RT", "RW", "TPS", "KTP", "EL", "ID"}
_DECISION_LABELS = {
    "KEPUTUSAN": "Keputusan (SAMA/BEDA)",
    "PEMERIKSA": "Pemeriksa (nama)",
    "CATATAN": "Catatan",
}


def column_label(key: str) -> str:
    """A column's header in words (`NIK_PERISTIWA` -> `NIK Peristiwa`);
    `column_key` turns it back."""
    if key in _DECISION_LABELS:
        return _DECISION_LABELS[key]
    return " ".join(w if w in _ACRONYMS else w.capitalize() for w in key.split("_"))


def column_key(header: object) -> str:
    """The column a header names, written as a key or as `column_label`
    wrote it (text in brackets is a hint, not part of the name)."""
    text = str(header or "").strip().lstrip("\ufeff")
    text = text.split("(")[0].strip()
    return "_".join(text.replace("-", " ").split()).upper()


def read_table(path: Path, required: Sequence[str], export_command: str, what: str) -> list[dict]:
    """Rows of the filled XLSX (the sheet whose header has the required
    columns) or CSV as {COLUMN KEY: text}, numbered from 2; headers may be
    keys or the labels `column_label` wrote. Refuses in one line a file that
    cannot be read or lacks a required column."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".xlsx":
            book = load_workbook(path, read_only=True, data_only=True)
            sheets = [list(ws.iter_rows(values_only=True)) for ws in book.worksheets]
            book.close()
            values = next(
                (
                    rows
                    for rows in sheets
                    if rows and set(required) <= {column_key(h) for h in rows[0]}
                ),
                sheets[-1] if sheets else [],
            )
        elif suffix == ".csv":
            with path.open(newline="", encoding=CSV_ENCODING) as fh:
                values = list(csv.reader(fh))
        else:
            raise PdpbError(f"{path.name}: {what} must be an .xlsx or .csv file")
    except PdpbError:
        raise
    except Exception as exc:
        raise PdpbError(f"{path.name}: cannot be read as {suffix[1:].upper()} ({exc})") from exc
    if not values:
        raise PdpbError(f"{path.name}: the file is empty")
    header = [column_key(h) for h in values[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise PdpbError(
            f"{path.name}: missing columns {', '.join(missing)}; use the file written by `{export_command}`"
        )
    return [dict(zip(header, (unescape(v) for v in row), strict=False)) for row in values[1:]]


# --- masking in Splink's HTML viewers -------------------------------------------


def register_masks(con, voters: pa.Table) -> str:
    """Register the masked NIK and NKK of `voters` (columns `nik_masked` and
    `nkk_masked`, made by the warehouse's one masking rule `core.mask_nik`;
    missing columns mask everything) as table `pdpb_masks(uid, nik, nkk)` on
    `con`, keyed by the column `dpid`."""
    n = voters.num_rows
    empty = pa.nulls(n, pa.string())
    masks = pa.table(
        {
            "uid": voters.column("dpid").cast(pa.string()),
            "nik": voters.column("nik_masked") if "nik_masked" in voters.column_names else empty,
            "nkk": voters.column("nkk_masked") if "nkk_masked" in voters.column_names else empty,
        }
    )
    con.register("pdpb_masks", masks)
    return "pdpb_masks"


def masked_pairs(con, source: str, target: str) -> str:
    """A copy of the scored pairs `source` for a viewer, with NIK and NKK
    replaced by their masked forms (`register_masks`): the viewers are files
    for people, and full numbers never leave the warehouse."""
    con.execute(
        f"""create or replace table {target} as
            select s.* replace (ml.nik as nik_l, mr.nik as nik_r, ml.nkk as nkk_l, mr.nkk as nkk_r)
            from {source} s
            left join pdpb_masks ml on ml.uid = s.uid_l
            left join pdpb_masks mr on mr.uid = s.uid_r"""
    )
    return target
