"""The month's data-quality report per source: what is wrong with this
month's data and from whom (issue #22).

The figures and their flags are the dbt marts `marts.rpt_kualitas_sumber`
(per source), `marts.rpt_kualitas_file` (per delivered file) and
`marts.rpt_kiriman_kabkota` (per source and kab/kota); the rule that flags a
figure is the dbt macro `quality_flag` (docs/publish.md, "Data quality per
source"). This module reads them for one period and writes them where
operators look: a section of the operators' page (`page_context`), sheets of
the recap workbook (`write_quality_sheets`), and the period's quarantined
rows as a masked file to send back to the sources (`write_quarantine_csv`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from openpyxl import Workbook

from pdpb.contracts import LANDING_COLUMNS
from pdpb.domain import QUALITY_FLAG_LABELS, QUARANTINE_REASON_LABELS
from pdpb.files import (
    HEADER_ROW,
    SheetLayout,
    append_row,
    set_autofilter,
    start_sheet,
    write_csv,
)
from pdpb.publish.marts import existing_marts, period_subtitle

QUALITY_MARTS = ("rpt_kualitas_sumber", "rpt_kualitas_file", "rpt_kiriman_kabkota")

# The flagged figures of a source, in the order operators read them:
# (column, label, kind) with kind "count", "share" (a fraction) or "rate".
SOURCE_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("baris_masuk", "Baris masuk", "count"),
    ("pct_karantina", "Baris dikarantina", "share"),
    ("peristiwa_per_1000", "Peristiwa per 1.000 pemilih awal", "rate"),
    ("pct_nik_kosong", "NIK kosong", "share"),
    ("pct_nik_tidak_sah", "NIK tidak sah", "share"),
    ("pct_terlambat", "Peristiwa terlambat", "share"),
    ("pct_tidak_ditemukan", "Orangnya tidak ada di daftar (NOT_FOUND)", "share"),
    ("pct_review", "Menunggu pemeriksaan operator (REVIEW)", "share"),
)
RULE_TEXT = (
    "Setiap angka dibandingkan dengan mediannya pada enam periode sebelumnya "
    "(kurang dari enam di awal; paling sedikit dua). Ditandai bila paling sedikit "
    "2 kali median dan paling sedikit 5 poin persen serta 5 peristiwa (10 baris; "
    "2 peristiwa per 1.000 pemilih) di atasnya, atau untuk jumlah baris dan "
    "peristiwa per 1.000 pemilih paling banyak setengah median dan sejauh itu di "
    "bawahnya. Persentase hanya dinilai bila sumber mengirim paling sedikit 20 "
    "peristiwa. Kab/kota ditandai bila biasanya mengirim setiap bulan (median "
    "paling sedikit 8 peristiwa) tetapi periode ini tidak mengirim apa pun."
)
QUARANTINE_COLUMNS = (
    "sumber", "file_name", "row_number", "event_id", "alasan", "kode_alasan", "keterangan",
    *(f"data_{c}" for c in LANDING_COLUMNS), "data_kolom_lain",
)  # fmt: skip


@dataclass(frozen=True)
class SourceQuality:
    """One period of the three quality marts, as rows of dicts."""

    sources: list[dict[str, Any]]
    files: list[dict[str, Any]]
    kabkota: list[dict[str, Any]]

    @property
    def flagged_kabkota(self) -> list[dict[str, Any]]:
        return [r for r in self.kabkota if r["tanda"]]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, period: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql, [period])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_source_quality(con: duckdb.DuckDBPyConnection, period: str) -> SourceQuality | None:
    """The period's quality figures, or None in a warehouse built before the
    quality marts existed (the page and workbook then leave them out)."""
    if not set(QUALITY_MARTS) <= set(existing_marts(con)):
        return None
    return SourceQuality(
        sources=_rows(
            con, "select * from marts.rpt_kualitas_sumber where period = ? order by sumber", period
        ),
        files=_rows(
            con,
            "select * from marts.rpt_kualitas_file where period = ?"
            " order by sumber nulls last, file_name",
            period,
        ),
        kabkota=_rows(
            con,
            "select * from marts.rpt_kiriman_kabkota where period = ?"
            " order by sumber, kode_kabkota",
            period,
        ),
    )


# --- words and numbers operators read ------------------------------------------


def _num(value: object, decimals: int = 0) -> str:
    """Indonesian number format: 1.234 and 12,5."""
    if value is None:
        return ""
    text = f"{float(value):,.{decimals}f}" if decimals else f"{int(round(float(value))):,}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def format_figure(value: object, kind: str) -> str:
    if value is None:
        return ""
    if kind == "share":
        return _num(100 * float(value), 1) + "%"
    if kind == "rate":
        return _num(value, 1)
    return _num(value)


def source_findings(row: dict[str, Any]) -> list[str]:
    """The flagged figures of one source row, each as a sentence."""
    found = []
    for column, label, kind in SOURCE_FIGURES:
        flag = row.get(f"tanda_{column}")
        if flag:
            found.append(
                f"{label} {format_figure(row[column], kind)} "
                f"(median {row['periode_pembanding']} periode sebelumnya "
                f"{format_figure(row[f'median_{column}'], kind)}): {QUALITY_FLAG_LABELS[flag]}"
            )
    return found


def kabkota_finding(row: dict[str, Any]) -> str:
    name = row["nama_kabkota"] or row["kode_kabkota"]
    return (
        f"{row['sumber']} - {name} ({row['kode_kabkota']}): {_num(row['peristiwa'])} peristiwa, "
        f"median {row['periode_pembanding']} periode sebelumnya {_num(row['median_peristiwa'], 1)}: "
        f"{QUALITY_FLAG_LABELS[row['tanda']]}"
    )


def page_context(quality: SourceQuality | None, karantina_href: str | None) -> dict | None:
    """What the page's section "Kualitas Data per Sumber" shows: the
    findings in words, a row per source, a row per file, and only the
    flagged kab/kota (the workbook has them all)."""
    if quality is None:
        return None
    findings = [
        f"{r['sumber']}: {text}" for r in quality.sources for text in source_findings(r)
    ] + [kabkota_finding(r) for r in quality.flagged_kabkota]
    figures = [("jumlah_file", "Berkas", "count"), *SOURCE_FIGURES]
    sources = []
    for r in quality.sources:
        cells = [(r["sumber"], None)]
        for column, _, kind in figures:
            median = r.get(f"median_{column}")
            text = format_figure(r[column], kind)
            if median is not None:
                text += f" ({format_figure(median, kind)})"
            cells.append((text, r.get(f"tanda_{column}")))
        sources.append(cells)
    return {
        "rule": RULE_TEXT,
        "findings": findings,
        "source_headers": ["Sumber"] + [label for _, label, _ in figures],
        "sources": sources,
        "files": [
            [
                r["sumber"] or "tidak diketahui",
                r["file_name"],
                r["status"],
                _num(r["baris_masuk"]),
                _num(r["baris_dimuat"]),
                _num(r["baris_karantina"]),
                r["alasan_karantina"] or "",
            ]
            for r in quality.files
        ],  # fmt: skip
        "kabkota": [
            [
                r["sumber"],
                r["kode_kabkota"],
                r["nama_kabkota"] or "",
                _num(r["peristiwa"]),
                _num(r["median_peristiwa"], 1),
                QUALITY_FLAG_LABELS[r["tanda"]],
            ]
            for r in quality.flagged_kabkota
        ],  # fmt: skip
        "karantina_href": karantina_href,
    }


# --- the recap workbook ---------------------------------------------------------


def write_quality_sheets(
    wb: Workbook, quality: SourceQuality | None, period: str, cutoff: Any
) -> None:
    """Three sheets of the recap workbook: `Kualitas Sumber` (a row per
    source: each figure, its median and its flag in words), `Kualitas Berkas`
    (a row per delivered file) and `Kiriman Kab-Kota` (every source and
    kab/kota, flagged or not)."""
    if quality is None:
        return
    subtitle = period_subtitle(period, cutoff)
    headers = ["Sumber", "Berkas", "Baris Masuk", "Baris Dimuat", "Baris Dikarantina", "Peristiwa"]
    for _, label, kind in SOURCE_FIGURES[1:]:
        unit = " (%)" if kind == "share" else ""
        headers += [f"{label}{unit}", f"Median 6 Periode{unit}"]
    headers += ["Periode Pembanding", "Tanda"]
    ws = start_sheet(
        wb,
        SheetLayout(
            name="Kualitas Sumber",
            title="Kualitas Data per Sumber",
            subtitle=subtitle,
            headers=headers,
            widths=[14.0] + [12.0] * (len(headers) - 2) + [60.0],
            freeze=f"B{HEADER_ROW + 1}",
        ),
    )
    for r in quality.sources:
        values: list[object] = [
            r["sumber"], r["jumlah_file"], r["baris_masuk"], r["baris_dimuat"],
            r["baris_karantina"], r["peristiwa"],
        ]  # fmt: skip
        for column, _, kind in SOURCE_FIGURES[1:]:
            scale = 100 if kind == "share" else 1
            median = r[f"median_{column}"]
            values += [
                round(scale * float(r[column]), 2),
                None if median is None else round(scale * float(median), 2),
            ]
        values += [r["periode_pembanding"], "; ".join(source_findings(r))]
        append_row(ws, values)
    set_autofilter(ws, len(headers), len(quality.sources))

    headers = ["Sumber", "Berkas", "Status", "Baris Masuk", "Baris Dimuat", "Baris Dikarantina",
               "Alasan Karantina"]  # fmt: skip
    ws = start_sheet(
        wb,
        SheetLayout(
            name="Kualitas Berkas",
            title="Kualitas Data per Berkas Kiriman",
            subtitle=subtitle,
            headers=headers,
            widths=[14.0, 34.0, 12.0, 12.0, 12.0, 12.0, 70.0],
            freeze=f"C{HEADER_ROW + 1}",
        ),
    )
    for r in quality.files:
        append_row(ws, [r["sumber"], r["file_name"], r["status"], r["baris_masuk"],
                        r["baris_dimuat"], r["baris_karantina"], r["alasan_karantina"]])  # fmt: skip
    set_autofilter(ws, len(headers), len(quality.files))

    headers = ["Sumber", "Kode Kab/Kota", "Kabupaten/Kota", "Peristiwa", "Median 6 Periode",
               "Periode Pembanding", "Peristiwa per 1.000 Pemilih Awal", "Tanda"]  # fmt: skip
    ws = start_sheet(
        wb,
        SheetLayout(
            name="Kiriman Kab-Kota",
            title="Kiriman per Sumber dan Kabupaten/Kota",
            subtitle=subtitle,
            headers=headers,
            widths=[14.0, 12.0, 28.0, 12.0, 12.0, 12.0, 14.0, 50.0],
            freeze=f"D{HEADER_ROW + 1}",
        ),
    )
    for r in quality.kabkota:
        append_row(
            ws,
            [
                r["sumber"], r["kode_kabkota"], r["nama_kabkota"], r["peristiwa"],
                r["median_peristiwa"], r["periode_pembanding"],
                round(float(r["peristiwa_per_1000"]), 2),
                QUALITY_FLAG_LABELS.get(r["tanda"] or "", ""),
            ],
        )  # fmt: skip
    set_autofilter(ws, len(headers), len(quality.kabkota))


# --- the quarantined rows, masked ------------------------------------------------

# Each raw cell of a quarantined row (core.quarantine.raw: JSON keyed by the
# delivered header, pdpb.ingest.raw_json) with its canonical column name (as
# ingest matches headers) and its value, NIK and NKK masked by core.mask_nik:
# the nik and nkk columns, and any other cell that is a long number (a NIK in
# a column of another name). A NIK or NKK quoted in the detail is masked too.
_QUARANTINE_SQL = r"""
with q as (
    select file_name, row_number, sumber, event_id, reason, detail,
           map_entries(raw::json::map(varchar, varchar)) as cells
    from core.quarantine
    where period = ?
)
select
    sumber, file_name, row_number, event_id, reason,
    case when reason in ('NIK_NOT_NUMERIC', 'NKK_NOT_NUMERIC')
              and regexp_matches(detail, '''[^'']*''')
         then regexp_replace(
             detail, '''[^'']*''',
             '''' || core.mask_nik(regexp_extract(detail, '''([^'']*)''', 1)) || '''')
         else detail end as detail,
    list_transform(cells, lambda c: {
        'column': regexp_replace(lower(trim(replace(c.key, chr(65279), ''))), '\s+', '_', 'g'),
        'key': c.key,
        'value': case
            when regexp_replace(lower(trim(replace(c.key, chr(65279), ''))), '\s+', '_', 'g')
                 in ('nik', 'nkk')
              or regexp_full_match(
                  regexp_replace(coalesce(c.value, ''), '[\s.\-]', '', 'g'), '[0-9]{12,}')
            then core.mask_nik(c.value)
            else c.value end
    }) as cells
from q
order by file_name, row_number
"""


def write_quarantine_csv(con: duckdb.DuckDBPyConnection, reports: Path, period: str) -> Path:
    """`karantina_<period>.csv`: one row per quarantined row of the period,
    for the operator to send back to its source: source, file, row number,
    event id, the reason in words and as a code, the detail, and the row's
    delivered cells (`data_<column>`; cells outside the landing columns in
    `data_kolom_lain` as `header=value; ...`), NIK and NKK masked by
    `core.mask_nik`. Header only when nothing was quarantined."""

    def rows():
        cursor = con.execute(_QUARANTINE_SQL, [period])
        while batch := cursor.fetchmany(10_000):
            for sumber, file_name, row_number, event_id, reason, detail, cells in batch:
                by_column: dict[str, str | None] = {}
                other = []
                for cell in cells:
                    if cell["column"] in LANDING_COLUMNS and cell["column"] not in by_column:
                        by_column[cell["column"]] = cell["value"]
                    else:
                        other.append(f"{cell['key']}={cell['value'] or ''}")
                yield [
                    sumber, file_name, row_number, event_id,
                    QUARANTINE_REASON_LABELS.get(reason, reason), reason, detail,
                    *(by_column.get(c) for c in LANDING_COLUMNS), "; ".join(other),
                ]  # fmt: skip

    return write_csv(reports / f"karantina_{period}.csv", QUARANTINE_COLUMNS, rows())
