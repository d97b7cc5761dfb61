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
from openpyxl.styles import Font

from pdpb.config import PdpbError, Settings
from pdpb.files import atomic_target, read_table, write_csv
from pdpb.warehouse import connect, transaction

DECISION_COLUMNS = ("KEPUTUSAN", "PEMERIKSA", "CATATAN")
KEPUTUSAN = ("SAMA", "BEDA")


def yes_no(value: object) -> str:
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
    export_command: str
    key_columns: tuple[str, ...]
    sheet_title: str
    freeze: str
    describe: Callable[[tuple[str, ...]], str]
    open_items: Callable[[Any], dict[tuple[str, ...], Any]]
    check: Callable[[Any, dict, str], str | None]
    store: Callable[[Any, list[dict], datetime, Path], None]


# --------------------------------------------------------------------------- export


def write_review_files(
    kind: ReviewKind, rows: list[dict], xlsx: Path, csv_path: Path
) -> tuple[Path, Path]:
    """The queue as an XLSX and its CSV twin; rows are already `safe_cells`."""
    columns = list(rows[0]) if rows else [*kind.key_columns, *DECISION_COLUMNS]
    book = Workbook()
    sheet = book.active
    sheet.title = kind.sheet_title
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([row[c] for c in columns])
    sheet.freeze_panes = kind.freeze
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
    con = connect(settings)
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
