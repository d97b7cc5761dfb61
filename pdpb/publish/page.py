"""The operators' page: `index.html` with inline SVG charts, the quality
status of the three gates, the downloads, and the dbt docs beside it."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from pdpb.config import Settings
from pdpb.domain import GATE_LABELS, OUTCOME_LABELS, RECAP_COUNT_HEADERS
from pdpb.files import atomic_target
from pdpb.link_quality import page_section as link_quality_section
from pdpb.publish.marts import (
    TMS_CATEGORY_COLUMNS,
    Approval,
    Recap,
    existing_marts,
    format_tanggal,
    trend,
)
from pdpb.publish.recap import recap_totals
from pdpb.publish.source_quality import SourceQuality, page_context
from pdpb.transform import DOCS_PAGE

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
QUALITY_SUITES = ("delta_events", "voters", "rekap")


def copy_dbt_docs(settings: Settings, reports: Path) -> Path | None:
    """`dbt-docs/index.html`: the one-file dbt docs page of the last build,
    beside the reports so the static web server that serves them serves it
    too. None when no build has left one (e.g. marts made by hand)."""
    source = settings.dbt_target_dir / DOCS_PAGE
    if not source.is_file():
        return None
    path = reports / "dbt-docs" / "index.html"
    with atomic_target(path) as tmp:
        shutil.copyfile(source, tmp)
    return path


PALETTE = {"baru": "#2e7d32", "ubah": "#f9a825", "tms": "#c62828", "line": "#1f4e79"}


def _fmt(value: object) -> str:
    """Thousands with dots, the Indonesian way (1.234.567)."""
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    if isinstance(value, float):  # 0,07: a decimal comma; never a false 0,00
        return "< 0,01" if 0 < abs(value) < 0.005 else f"{value:.2f}".replace(".", ",")
    return "" if value is None else str(value)


def svg_stacked_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int]]],
    title: str = "Komposisi perubahan",
) -> str:
    """Horizontal stacked bars, one per label; series are (name, colour, values)."""
    width, label_w, bar_h, gap, top = 860, 220, 18, 8, 30
    plot_w = width - label_w - 90
    totals = [sum(values[i] for _, _, values in series) for i in range(len(labels))]
    scale = plot_w / (max(totals, default=0) or 1)
    height = top + len(labels) * (bar_h + gap) + 10
    parts = [_svg_open(width, height, title)]
    x = label_w
    for name, colour, _ in series:
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="16">{html.escape(name)}</text>')
        x += 16 + 8 * len(name) + 20
    for i, label in enumerate(labels):
        y = top + i * (bar_h + gap)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{html.escape(label)}</text>'
        )
        x = float(label_w)
        for name, colour, values in series:
            w = values[i] * scale
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                f"<title>{html.escape(label)} - {html.escape(name)}: {_fmt(values[i])}</title></rect>"
            )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 13}">{_fmt(totals[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_bars(labels: Sequence[str], values: Sequence[int], colour: str) -> str:
    """Horizontal bars with their values, for counts per category."""
    return svg_stacked_bars(labels, [("Jumlah", colour, values)], "Jumlah per kategori")


# The y axis of the trend starts at zero unless the list moves so little next
# to its size that a zero baseline would show a flat line (the lowest value
# above half the highest); then it spans the data and the axis is drawn
# broken, with words saying it does not start at zero.
ZERO_BASELINE_BELOW = 0.5


def _ticks(low: float, high: float, count: int = 5) -> list[int]:
    """About `count` round values between low and high, for the y axis."""
    raw = max((high - low) / count, 1)
    magnitude = 10 ** (len(str(int(raw))) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = -(-int(low) // step) * step
    return list(range(first, int(high) + 1, step))


def svg_line(
    labels: Sequence[str],
    values: Sequence[float],
    y_label: str = "Pemilih akhir",
    title: str = "Tren pemilih akhir per periode",
    zero_based: bool = False,
) -> str:
    """A line over periods with a labelled y axis (`y_label`, pemilih akhir)
    and x axis (periode). The y axis starts at zero, or, when month-to-month
    changes are small next to the size of the list, spans the data with a
    marked break and says so (ZERO_BASELINE_BELOW), so that a change of 0.1%
    is read as such and not as a climb. `zero_based` always starts at zero
    (small counts, where a break would exaggerate)."""
    width, height, left, right, top, bottom = 860, 280, 110, 30, 20, 60
    low, high = min(values, default=0), max(values, default=0)
    broken = not zero_based and low > 0 and low > ZERO_BASELINE_BELOW * high
    if broken:
        pad = max((high - low) * 0.1, 1)
        low, high = low - pad, high + pad
    else:
        low, high = 0, max(high * 1.1, 1)
    inset = 40  # the first period clear of the y axis and its break mark
    step = (width - left - inset - right) / max(len(values) - 1, 1)
    # A single period sits in the middle rather than stuck to the left edge.
    start = left + inset if len(values) > 1 else (left + width - right) / 2
    base = height - bottom

    def y_of(v: float) -> float:
        return top + (high - v) / (high - low) * (base - top)

    def point(i: int, v: int) -> tuple[float, float]:
        return start + i * step, y_of(v)

    what = title + ("; sumbu tegak tidak mulai dari nol" if broken else "")
    parts = [_svg_open(width, height, what)]
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#999"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#999"/>')
    for tick in _ticks(low, high):
        y = y_of(tick)
        parts.append(
            f'<line x1="{left - 5}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            'stroke="#e5e5e5"/>'
            f'<text class="tick" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(tick)}</text>"
        )
    if broken:  # two slanted strokes across the y axis just above the x axis
        for dy in (0, 6):
            parts.append(
                f'<line class="axis-break" x1="{left - 6}" y1="{base - 10 - dy}" '
                f'x2="{left + 6}" y2="{base - 16 - dy}" stroke="#333" stroke-width="1.5"/>'
            )
    parts.append(
        f'<text x="16" y="{(top + base) / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(top + base) / 2:.1f})">{html.escape(y_label)}</text>'
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - 8}" text-anchor="middle">'
        "Periode</text>"
    )
    if broken:
        parts.append(
            f'<text class="axis-note" x="{left}" y="{height - 8}" font-style="italic">'
            "Sumbu tegak tidak mulai dari 0</text>"
        )
    points = [point(i, v) for i, v in enumerate(values)]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{PALETTE["line"]}" stroke-width="2"/>'
        )
    every = -(-len(values) // 12)  # at most ~12 labels so they never overlap
    for i, ((x, y), label, value) in enumerate(zip(points, labels, values, strict=True)):
        tip = f"<title>{html.escape(label)}: {html.escape(_fmt(value))}</title>"
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{PALETTE["line"]}">{tip}</circle>'
        )
        if i % every == 0 or i == len(values) - 1:
            parts.append(
                f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle">'
                f"{html.escape(_fmt(value))}</text>"
            )
            parts.append(
                f'<text x="{x:.1f}" y="{base + 18}" text-anchor="middle">'
                f"{html.escape(label)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{html.escape(label)}" '
        'font-family="sans-serif" font-size="12">'
    )


@dataclass(frozen=True)
class QualityStatus:
    """One GX suite's result as the HTML shows it."""

    suite: str
    status: str  # Lulus, Gagal, belum dijalankan, tidak terbaca
    critical_failures: list[str]
    warnings: list[str]
    data_docs_href: str | None  # the gate's latest result page in Data Docs

    @property
    def label(self) -> str:
        """The gate in the operators' words, e.g. `Rekapitulasi`."""
        return GATE_LABELS.get(self.suite, self.suite)


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [_describe_failure(item) for item in items]


def _describe_failure(item: object) -> str:
    """One line per failed expectation in the operator's words. Examples of
    unexpected values are left out on purpose: they may hold a NIK."""
    if not isinstance(item, dict):
        return str(item)
    what = item.get("notes") or item.get("expectation") or "pemeriksaan gagal"
    where = ", ".join(
        str(part)
        for part in (item.get("checkpoint"), item.get("column") and f"kolom {item['column']}")
        if part
    )
    count = item.get("unexpected_count")
    detail = where + (f": {count} baris" if count is not None else "")
    return f"{what} ({detail})" if detail else str(what)


def _href(target: object, base: Path) -> str | None:
    """A link the report can use from its own folder: URLs stay, paths become
    relative so the reports tree can be served by a static web server."""
    if not target:
        return None
    text = str(target)
    if re.match(r"^[a-z][a-z0-9+.-]*://", text):
        return text
    path = Path(text)
    return os.path.relpath(path, base) if path.is_absolute() else text


def read_quality(results: Path, page: Path | None = None) -> list[QualityStatus]:
    """The status of each GX suite from `quality_<suite>.json` in `results`
    (the period's reports folder), links relative to the page's folder."""
    page = page or results
    statuses = []
    for suite in QUALITY_SUITES:
        path = results / f"quality_{suite}.json"
        if not path.exists():
            statuses.append(QualityStatus(suite, "belum dijalankan", [], [], None))
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            statuses.append(QualityStatus(suite, "tidak terbaca", [], [], None))
            continue
        status = "Lulus" if data.get("success") else "Gagal"
        statuses.append(
            QualityStatus(
                suite,
                status,
                _as_list(data.get("critical_failures")),
                _as_list(data.get("warnings")),
                # the gate's own result page; summaries written before it was
                # recorded only name the Data Docs index
                _href(data.get("data_docs_result") or data.get("data_docs_index"), page),
            )
        )
    return statuses


def _outcomes(con: duckdb.DuckDBPyConnection, period: str) -> list[tuple[str, int]]:
    if "fct_event_outcomes" not in existing_marts(con):
        return []
    return con.execute(
        "select outcome, count(*) from marts.fct_event_outcomes where period = ?"
        " group by outcome order by count(*) desc, outcome",
        [period],
    ).fetchall()


def _summary_table(recap: Recap, unit: str) -> dict[str, Any]:
    columns = [
        ("kode_wilayah", "Kode"), ("nama_wilayah", unit), ("awal_total", "Pemilih Awal"),
        ("baru_total", "Pemilih Baru"), ("tms_total", "TMS"), ("ubah", "Perbaikan Data"),
        ("akhir_l", "Pemilih Akhir L"), ("akhir_p", "Pemilih Akhir P"),
        ("akhir_total", "Pemilih Akhir"),
    ]  # fmt: skip
    keys = [c for c, _ in columns]
    totals = recap_totals(recap.rows, keys)
    return {
        "headers": [h for _, h in columns],
        "rows": [[_fmt(r[c]) for c in keys] for r in recap.rows],
        "totals": [_fmt(totals.get(c, "JUMLAH" if c == "nama_wilayah" else "")) for c in keys],
    }


def write_index_html(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    recaps: dict[str, Recap],
    period: str,
    cutoff: dt.date,
    written: dict[str, Path],
    reports: Path,
    draft: bool = False,
    approval: Approval | None = None,
    quality: SourceQuality | None = None,
) -> Path:
    """`index.html` in `reports`: one self-contained page (inline CSS and
    SVG, no scripts). A draft says so in its title and on every screen and
    print; a published page says who approved it."""
    quality_dir = settings.reports_dir(period)  # the gates' results stay beside the period
    nasional = recaps["nasional"].rows[0]
    kabkota = recaps["kabkota"].rows
    trend_labels, trend_values = trend(con, period)
    tms_labels = [RECAP_COUNT_HEADERS[c].removeprefix("TMS ") for c in TMS_CATEGORY_COLUMNS]
    context = {
        "draft": draft,
        "approval": approval
        and {
            "actor": approval.actor,
            "at": approval.at.strftime("%Y-%m-%d %H:%M"),
            "why": approval.why,
        },
        "period": period,
        "cutoff": format_tanggal(cutoff),
        "headline": [
            ("Pemilih Awal", _fmt(nasional["awal_total"])),
            ("Pemilih Baru", _fmt(nasional["baru_total"])),
            ("TMS", _fmt(nasional["tms_total"])),
            ("Perbaikan Data", _fmt(nasional["ubah"])),
            ("Pemilih Akhir", _fmt(nasional["akhir_total"])),
            ("Pemilih Akhir L", _fmt(nasional["akhir_l"])),
            ("Pemilih Akhir P", _fmt(nasional["akhir_p"])),
            ("Desa/Kelurahan", _fmt(len(recaps["desa"].rows))),
        ],
        "kabkota": _summary_table(recaps["kabkota"], "Kabupaten/Kota"),
        "provinsi": _summary_table(recaps["provinsi"], "Provinsi"),
        "chart_changes": Markup(
            svg_stacked_bars(
                [r["nama_wilayah"] or r["kode_wilayah"] for r in kabkota],
                [
                    ("Pemilih Baru", PALETTE["baru"], [int(r["baru_total"] or 0) for r in kabkota]),
                    ("Perbaikan Data", PALETTE["ubah"], [int(r["ubah"] or 0) for r in kabkota]),
                    ("TMS", PALETTE["tms"], [int(r["tms_total"] or 0) for r in kabkota]),
                ],
            )
        ),
        "chart_tms": Markup(
            svg_bars(
                tms_labels, [int(nasional[c] or 0) for c in TMS_CATEGORY_COLUMNS], PALETTE["tms"]
            )
        ),
        "chart_trend": Markup(svg_line(trend_labels, trend_values)),
        "outcomes": [(OUTCOME_LABELS.get(o, o), _fmt(n)) for o, n in _outcomes(con, period)],
        "link_quality": link_quality_section(con, period),
        "quality": read_quality(quality_dir, reports),
        "review_href": os.path.relpath(settings.review_dir(period), reports) + "/",
        "downloads": _download_links(written, reports),
        "dbt_docs_href": _href(written.get("dbt_docs"), reports),
        "source_quality": page_context(quality, _href(written.get("karantina_csv"), reports)),
        "proyeksi": _projection_section(con, settings, period, cutoff),
    }
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html", "j2"])
    )
    page = env.get_template("index.html.j2").render(**context)
    path = reports / "index.html"
    with atomic_target(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def _projection_section(
    con: duckdb.DuckDBPyConnection, settings: Settings, period: str, cutoff: dt.date
) -> dict[str, Any]:
    """The list projected to the planned voting day, per kab/kota (pdpb/projection.py)."""
    from pdpb.projection import page_section  # it imports this module's number format

    return page_section(con, settings, period, cutoff)


def _download_links(written: dict[str, Path], reports: Path) -> list[tuple[str, str]]:
    return [
        (path.name, os.path.relpath(path, reports))
        for key, path in written.items()
        if key != "dbt_docs"  # linked on its own: its file name says nothing
    ]
