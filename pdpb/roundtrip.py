"""The clerical review round trip, once: a queue goes out as a sheet, the
filled sheet comes back, is checked whole and stored with an audit row per
decision.

Two kinds of review use it, each described by a `ReviewKind`: the events the
link stage could not decide (`pdpb.review`) and the duplicate pairs of the
whole list (`pdpb.dedupe`). What differs between them is data (which columns
identify a row, which table the decision goes to, which extra checks a row
must pass); the reading, the validation rules every decision shares, the
all-or-nothing import and the files written are here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from pdpb.config import PdpbError, Settings
from pdpb.files import atomic_target, column_label, read_table, write_csv
from pdpb.warehouse import connect, transaction

DECISION_COLUMNS = ("KEPUTUSAN", "PEMERIKSA", "CATATAN")
KEPUTUSAN = ("SAMA", "BEDA")


def yes_no(value: bool | None, missing: str) -> str:
    """YA / TIDAK, or `missing` (e.g. "tidak ada NIK") when one side has no
    value to compare: a missing NIK is not a different NIK."""
    if value is None:
        return missing
    return "YA" if value else "TIDAK"


@dataclass(frozen=True)
class ReviewKind:
    """One kind of review.

    `key_columns` identify a row of the sheet; `open_items(con)` returns what
    can be decided now, keyed like the rows, with whatever `check` and `store`
    need about it; `check(item, row, keputusan)` returns why a decided row is
    refused (or None); `store(con, decisions, decided_at, path)` writes the
    accepted decisions and their audit rows inside the import's transaction.
    A decision is the row's key, its item, KEPUTUSAN, PEMERIKSA and CATATAN.
    """

    what: str
    title: str  # what is reviewed, in the operators' words
    instructions: tuple[str, ...]  # what SAMA and BEDA mean for this kind
    export_command: str
    import_command: str
    key_columns: tuple[str, ...]
    sheet_title: str
    freeze: str
    describe: Callable[[tuple[str, ...]], str]
    open_items: Callable[[Any], dict[tuple[str, ...], Any]]
    check: Callable[[Any, dict, str], str | None]
    store: Callable[[Any, list[dict], datetime, Path], None]
    # The warehouse the decisions go to (a national home's is not a province's).
    connect: Callable[[Settings], Any] = connect


# --------------------------------------------------------------------------- export


def _instructions(kind: ReviewKind, columns: list[str]) -> list[str]:
    keys = ", ".join(column_label(c) for c in kind.key_columns)
    return [
        f"PETUNJUK PEMERIKSAAN: {kind.title}",
        "",
        *kind.instructions,
        "",
        "Cara mengisi:",
        f"1. Buka lembar '{kind.sheet_title}'. Setiap baris satu hal yang harus Anda putuskan.",
        "2. Bandingkan kolom-kolom yang berpasangan; kolom Alasan menjelaskan pertimbangan mesin,"
        " kolom Catatan Sistem memberi peringatan (misalnya kemungkinan kembar).",
        "3. Isi kolom 'Keputusan' dengan SAMA atau BEDA (pilih dari daftar).",
        "4. Isi kolom 'Pemeriksa' dengan nama Anda dan, bila perlu, 'Catatan' dengan alasannya.",
        "5. Baris yang belum Anda putuskan boleh dibiarkan kosong; baris itu tetap menunggu.",
        f"6. Simpan berkas ini (tetap .xlsx) lalu serahkan untuk diimpor: `{kind.import_command}`.",
        "",
        "Kolom lain dikunci agar tidak berubah tanpa sengaja. Jangan mengubah kolom "
        f"{keys}: kolom itu menunjukkan baris mana yang Anda putuskan.",
        "Bila berkas ditolak saat diimpor, pesan kesalahan menyebut nomor barisnya; "
        "tidak ada keputusan yang tersimpan sampai seluruh berkas benar.",
        "",
        f"Jumlah kolom di lembar '{kind.sheet_title}': {len(columns)}.",
    ]


def write_review_files(
    kind: ReviewKind, rows: list[dict], xlsx: Path, csv_path: Path
) -> tuple[Path, Path]:
    """The queue for operators, rows already `safe_cells`: an XLSX whose
    first sheet (PETUNJUK) explains the work and whose second holds the rows
    under headers in words, with a SAMA/BEDA drop-down and every column
    locked except the decision, the reviewer and the note; and its CSV twin
    under the column keys, for scripts."""
    columns = list(rows[0]) if rows else [*kind.key_columns, *DECISION_COLUMNS]
    book = Workbook()
    guide = book.active
    guide.title = "PETUNJUK"
    guide.column_dimensions["A"].width = 120
    for line in _instructions(kind, columns):
        guide.append([line])
        guide.cell(guide.max_row, 1).alignment = Alignment(wrap_text=True, vertical="top")
    guide.cell(1, 1).font = Font(bold=True, size=13)
    guide.protection.sheet = True
    sheet = book.create_sheet(kind.sheet_title)
    sheet.append([column_label(c) for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index, column in enumerate(columns, start=1):
        width = 24 if column in ("CATATAN", "CATATAN_SISTEM") or column.startswith("ALASAN") else 16
        sheet.column_dimensions[get_column_letter(index)].width = width
    for row in rows:
        sheet.append([row[c] for c in columns])
    last = max(len(rows), 1) + 1
    editable = [columns.index(c) + 1 for c in DECISION_COLUMNS if c in columns]
    for col in editable:
        for r in range(2, last + 1):
            sheet.cell(r, col).protection = Protection(locked=False)
    if "KEPUTUSAN" in columns:
        letter = get_column_letter(columns.index("KEPUTUSAN") + 1)
        choice = DataValidation(
            type="list",
            formula1='"' + ",".join(KEPUTUSAN) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="Keputusan",
            error="Isi SAMA atau BEDA.",
        )
        choice.add(f"{letter}2:{letter}{last}")
        sheet.add_data_validation(choice)
    sheet.freeze_panes = kind.freeze
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last}"
    # Locked cells stay readable, sortable and filterable; only edits are refused.
    sheet.protection.sheet = True
    sheet.protection.autoFilter = False
    sheet.protection.sort = False
    sheet.protection.formatColumns = False
    sheet.protection.formatRows = False
    book.active = 1
    with atomic_target(xlsx) as tmp:
        book.save(tmp)
    write_csv(csv_path, columns, ([row[c] for c in columns] for row in rows))
    return xlsx, csv_path


# --------------------------------------------------------------------------- import


def refuse_if_errors(path: Path, errors: list[str]) -> None:
    """Refuse the whole file with its first error, as one line."""
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PdpbError(f"{path.name}: {errors[0]}{more}; nothing was imported")


def validate(
    kind: ReviewKind,
    path: Path,
    rows: list[dict],
    items: dict[tuple[str, ...], Any],
    pemeriksa: str | None,
) -> list[dict]:
    """The decisions of a filled sheet; refuses the whole file on any bad row."""
    decisions: dict[tuple[str, ...], dict] = {}
    errors = []
    for number, row in enumerate(rows, start=2):
        keputusan = (row.get("KEPUTUSAN") or "").upper()
        if not keputusan:
            continue  # not decided yet
        key = tuple(row.get(c) or "" for c in kind.key_columns)
        reviewer = row.get("PEMERIKSA") or pemeriksa
        if keputusan not in KEPUTUSAN:
            errors.append(f"row {number}: KEPUTUSAN '{keputusan}' must be SAMA or BEDA")
        elif key not in items:
            errors.append(f"row {number}: no {kind.describe(key)} waiting for a decision")
        elif problem := kind.check(items[key], row, keputusan):
            errors.append(f"row {number}: {problem}")
        elif not reviewer:
            errors.append(f"row {number}: no PEMERIKSA; fill the column or pass --pemeriksa NAME")
        elif key in decisions and decisions[key]["keputusan"] != keputusan:
            errors.append(f"row {number}: {kind.describe(key)} is decided twice, differently")
        else:
            decisions[key] = {"key": key, "item": items[key], "row": row,
                              "keputusan": keputusan, "decided_by": reviewer,
                              "catatan": row.get("CATATAN")}  # fmt: skip
    refuse_if_errors(path, errors)
    return list(decisions.values())


def import_review(
    kind: ReviewKind, settings: Settings, path: Path, pemeriksa: str | None = None
) -> tuple[list[dict], list[dict]]:
    """Validate a filled sheet of `kind` and store its decisions, all or
    nothing; returns (the sheet's rows, the decisions stored)."""
    path = Path(path)
    if not path.is_file():
        raise PdpbError(f"{kind.what} file {path} does not exist")
    rows = read_table(
        path,
        required=(*kind.key_columns, "KEPUTUSAN"),
        export_command=kind.export_command,
        what=kind.what,
    )
    if not settings.warehouse_path.exists():
        raise PdpbError(f"home {settings.home} has no warehouse: nothing waits for a decision")
    con = kind.connect(settings)
    try:
        decisions = validate(kind, path, rows, kind.open_items(con), pemeriksa)
        with transaction(con):
            kind.store(con, decisions, datetime.now(), path)
    finally:
        con.close()
    return rows, decisions


def import_summary(rows: list[dict], decisions: list[dict]) -> dict:
    return {
        "decisions": len(decisions),
        "SAMA": sum(d["keputusan"] == "SAMA" for d in decisions),
        "BEDA": sum(d["keputusan"] == "BEDA" for d in decisions),
        "undecided": sum(1 for r in rows if not r.get("KEPUTUSAN")),
    }
