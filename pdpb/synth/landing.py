"""Landing files: each source's view of the period's events, with its own noise.

Dukcapil writes DD-MM-YYYY CSVs (split when large), TNI a UTF-8 CSV with BOM
and DD/MM/YYYY, Polri ISO dates, Imigrasi an XLSX with Excel serial dates, and
residents' reports (MASYARAKAT) a Windows-1252 CSV with `;`. Coordination
sources often leave the NIK empty and spell names their own way. A few rows
are malformed on purpose, and in one period a file is delivered twice under
another name. Output is byte-for-byte deterministic for a seed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
from openpyxl import Workbook

from pdpb.contracts import LANDING_COLUMNS
from pdpb.synth.events import Event
from pdpb.synth.names import noisy_name
from pdpb.synth.population import Population
from pdpb.synth.regions import Regions
from pdpb.synth.render import EXCEL_EPOCH_OFFSET, fmt_dates, render_identity


class Source:
    def __init__(self, prefix: str, date_style: str, missing_nik: float, name_noise: float) -> None:
        self.prefix, self.date_style = prefix, date_style
        self.missing_nik, self.name_noise = missing_nik, name_noise


SOURCES = {
    "DUKCAPIL": Source("DKC", "dmy-", 0.01, 0.08),
    "TNI": Source("TNI", "dmy/", 0.45, 0.30),
    "POLRI": Source("POL", "iso", 0.40, 0.30),
    "IMIGRASI": Source("IMI", "serial", 0.20, 0.20),
    "MASYARAKAT": Source("MSY", "dmy/", 0.60, 0.35),
}
DUKCAPIL_FILE_ROWS = 50_000
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def assign_event_ids(events: list[Event], period: str, rng: np.random.Generator) -> None:
    """Ids unique within a source; shuffled so that the id does not reveal the kind."""
    yyyymm = period.replace("-", "")
    for sumber, src in SOURCES.items():
        mine = [e for e in events if e.sumber == sumber]
        for i, j in enumerate(rng.permutation(len(mine))):
            mine[j].event_id = f"{src.prefix}-{yyyymm}-{i + 1:06d}"


def render_rows(
    events: list[Event],
    pop: Population,
    regions: Regions,
    vocab,
    places,
    rng: np.random.Generator,
    missing_nik: dict[str, float] | None = None,
) -> list[dict]:
    """One landing row per event, in the source's format and spelling.

    `missing_nik` overrides a source's share of rows without NIK (an incident:
    a source that suddenly leaves the NIK empty far more often); the random
    draws are the same either way, so without it the rows are unchanged."""
    persons = np.array([e.person for e in events], dtype=np.int64)
    ident = {
        c: v if isinstance(v, list) else v.to_pylist()
        for c, v in render_identity(
            pop, persons, regions, vocab, np.array(places, dtype=object)
        ).items()
    }
    # Every date in every source style at once: formatting row by row dominated large periods.
    days = np.array([e.day for e in events], dtype=np.int64)
    styles = {src.date_style for src in SOURCES.values()}
    births = {s: fmt_dates(pop.birth[persons], s) for s in styles}
    happened = {s: fmt_dates(days, s) for s in styles}
    rows = []
    for i, ev in enumerate(events):
        src = SOURCES[ev.sumber]
        row = {c: ident[c][i] for c in ident}
        if ev.nik_of >= 0:
            row["nik"] = str(pop.nik[ev.nik_of])
        if ev.jenis != "PERUBAHAN_DATA":
            share = (missing_nik or {}).get(ev.sumber, src.missing_nik)
            _source_noise(row, src, ev, bool(pop.sex[ev.person]), rng, share)
        row["tanggal_lahir"] = births[src.date_style][i]
        row["tanggal_peristiwa"] = happened[src.date_style][i]
        row.update(
            event_id=ev.event_id,
            sumber=ev.sumber,
            jenis_peristiwa=ev.jenis,
            kode_wilayah_asal=ev.origin if ev.jenis == "PINDAH" else "",
        )
        if ev.malformed:
            _corrupt(row, ev.malformed, src)
        rows.append({c: row[c] for c in LANDING_COLUMNS})
    return rows


def _source_noise(
    row: dict, src: Source, ev: Event, female: bool, rng: np.random.Generator, missing_nik: float
) -> None:
    r = rng.random(5)
    if ev.nik_mode == "KOSONG" or (r[0] < missing_nik and ev.nik_of < 0 and not ev.nik_mode):
        row["nik"] = ""
    if r[1] < src.name_noise and not ev.clean_name:
        kind = ("typo", "abbreviate", "old_spelling", "title")[int(rng.integers(4))]
        row["nama"] = noisy_name(row["nama"], female, rng, kind)
    if ev.sumber != "DUKCAPIL" and r[2] < 0.5:
        row["nkk"] = ""
    if ev.sumber == "MASYARAKAT":
        if r[3] < 0.4:  # typed by hand: title case, curly apostrophes, en dashes
            row["nama"] = row["nama"].title().replace("'", "\u2019")
            row["alamat"] = row["alamat"].title() + " \u2013 dekat masjid"
        if r[4] < 0.3:
            row["rt"], row["rw"] = "", ""


def _corrupt(row: dict, kind: str, src: Source) -> None:
    if kind == "NIK_HURUF":
        nik = row["nik"] or "3601010101900001"
        row["nik"] = nik[:8] + "O" + nik[9:]
    elif kind == "TANGGAL_MUSTAHIL":
        year = re.search(r"\d{4}", row["tanggal_lahir"] if src.date_style != "serial" else "1990")
        y = year.group(0) if year else "1990"
        row["tanggal_lahir"] = f"{y}-02-31" if src.date_style == "iso" else f"31-02-{y}"
    else:
        row["jenis_peristiwa"] = "CERAI"


def blank_spot_file(period: str, kabkota: str) -> str:
    """The Excel file in which a blank-spot kab/kota delivers its Dukcapil rows."""
    return f"dukcapil_{period}_{kabkota.replace('.', '')}.xlsx"


def in_kabkota(row: dict, kabkota: str) -> bool:
    return row["kode_wilayah"].startswith(kabkota + ".")


def write_period(
    folder: Path,
    period: str,
    rows: list[dict],
    redeliver: bool,
    blank_spot: str | None = None,
    blank_spot_rows: list[dict] | None = None,
    file_name_of: dict[tuple[str, str], str] | None = None,
) -> list[dict]:
    """Write the period's landing files; returns one ledger row per file.

    With `blank_spot` (a kab/kota code, e.g. "36.03"), that kab/kota's Dukcapil
    rows are left out of the Dukcapil CSVs: its office delivers
    `blank_spot_rows` as an Excel file of its own (`blank_spot_file`), or
    nothing when `blank_spot_rows` is None (the delivery did not arrive).
    `file_name_of`, when given, is filled with the file of every row."""
    folder.mkdir(parents=True, exist_ok=True)
    ledger = []
    for sumber in SOURCES:
        mine = [r for r in rows if r["sumber"] == sumber]
        if blank_spot and sumber == "DUKCAPIL":
            mine = [r for r in mine if not in_kabkota(r, blank_spot)]
        parts = _split(sumber, period, mine)
        if blank_spot and sumber == "DUKCAPIL" and blank_spot_rows is not None:
            parts.append((blank_spot_file(period, blank_spot), blank_spot_rows))
        for name, chunk in parts:
            if file_name_of is not None:
                file_name_of.update({(r["sumber"], r["event_id"]): name for r in chunk})
            path = folder / name
            if sumber == "IMIGRASI" or name.endswith(".xlsx"):
                _write_xlsx(path, chunk)
            elif sumber == "MASYARAKAT":
                _write_csv(path, chunk, "cp1252", ";")
            else:
                _write_csv(path, chunk, "utf-8-sig" if sumber == "TNI" else "utf-8", ",")
            ledger.append(
                {
                    "period": period,
                    "file_name": name,
                    "sumber": sumber,
                    "rows": len(chunk),
                    "sha256": _sha256(path),
                    "copy_of": "",
                }
            )
    if redeliver:
        original = next(f for f in ledger if f["sumber"] == "TNI")
        copy = original["file_name"].replace(".csv", "_kirim_ulang.csv")
        shutil.copyfile(folder / original["file_name"], folder / copy)
        ledger.append({**original, "file_name": copy, "copy_of": original["file_name"]})
    return ledger


def _split(sumber: str, period: str, rows: list[dict]) -> list[tuple[str, list[dict]]]:
    stem = f"{sumber.lower()}_{period}"
    if sumber == "IMIGRASI":
        return [(f"{stem}.xlsx", rows)]
    if sumber != "DUKCAPIL":
        return [(f"{stem}.csv", rows)]
    parts = max(1, -(-len(rows) // DUKCAPIL_FILE_ROWS))
    return [
        (f"{stem}_{i + 1:02d}.csv", rows[i * DUKCAPIL_FILE_ROWS : (i + 1) * DUKCAPIL_FILE_ROWS])
        for i in range(parts)
    ]


def _write_csv(path: Path, rows: list[dict], encoding: str, delimiter: str) -> None:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(
            fh,
            LANDING_COLUMNS,
            delimiter=delimiter,
            lineterminator="\r\n" if delimiter == ";" else "\n",
        )
        writer.writeheader()
        writer.writerows(rows)


def _write_xlsx(path: Path, rows: list[dict]) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("data")
    ws.append(LANDING_COLUMNS)
    for row in rows:
        ws.append([_excel_cell(c, row[c]) for c in LANDING_COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_normalise_zip(buf.getvalue()))


def _excel_cell(column: str, value: str) -> object:
    # Serial dates are numbers in the sheet, as Excel itself stores them.
    if column in ("tanggal_lahir", "tanggal_peristiwa") and value.isdigit():
        return int(value)
    return value


def _normalise_zip(data: bytes) -> bytes:
    """Fixed timestamps inside the XLSX so that two runs give the same bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", b"2026-01-01T00:00:00Z", body
                )
            dst.writestr(zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


__all__ = [
    "EXCEL_EPOCH_OFFSET",
    "SOURCES",
    "assign_event_ids",
    "blank_spot_file",
    "in_kabkota",
    "render_rows",
    "write_period",
]
