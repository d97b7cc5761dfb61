"""Link quality without a truth: read `marts.fct_link_quality` for analysts'
tools, the operators' page and `pdpb linkage evaluate`.

Real deliveries carry no truth, so the only measure of this month's linking
is the model's own: the mart (dbt_project/models/marts/fct_link_quality.sql,
one implementation) sums 1 - p over the automatic links of each period and
job (`link`: the period's events; `dedupe`: the whole-list duplicate job), and
counts links near the thresholds and the review queue and its age.
`expected` sums those figures for `pdpb linkage evaluate`, which sets them
beside the truth's counts; `page_section` is the page's "Kualitas
Pencocokan"; `within_tolerance` is the agreement docs/linkage.md states from
what was measured. The publish and evaluation read the warehouse read-only: a
warehouse without the mart (built before it existed, or periods run without
the transform stage) gives None, never an error.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

JOBS = ("link", "dedupe")
MART = "fct_link_quality"
# The figures of a period that add up over periods (evaluate sums them).
ADDITIVE = (
    "auto_links",
    "auto_links_nik_exact",
    "auto_links_splink",
    "expected_wrong_links",
    "auto_links_tms",
    "expected_wrongful_tms",
)

# |true - expected| <= TOLERANCE_ABSOLUTE + TOLERANCE_SIGMAS * sqrt(expected):
# a count of rare independent errors is about Poisson, so its spread grows
# with the square root of its mean; the absolute part covers a mean near zero
# (Poisson(0.2) gives 0, 1 or 2). docs/linkage.md gives the measured table.
TOLERANCE_ABSOLUTE = 2.0
TOLERANCE_SIGMAS = 3.0


def tolerance(expected: float) -> float:
    """How far the true count may lie from the model's `expected` count."""
    return TOLERANCE_ABSOLUTE + TOLERANCE_SIGMAS * math.sqrt(max(expected, 0.0))


def within_tolerance(expected: float, true: int) -> bool:
    return abs(true - expected) <= tolerance(expected)


def has_mart(con: duckdb.DuckDBPyConnection) -> bool:
    from pdpb.publish.marts import existing_marts

    return MART in existing_marts(con)


def read_rows(con: duckdb.DuckDBPyConnection, period: str | None = None) -> list[dict[str, Any]]:
    """The mart's rows up to and including `period` (all without), by period
    and job; [] when the warehouse has no mart."""
    if not has_mart(con):
        return []
    where = "where period <= ?" if period else ""
    cursor = con.execute(
        f"select * from marts.{MART} {where} order by period, job", [period] if period else []
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def expected(con: duckdb.DuckDBPyConnection, period: str | None = None) -> dict | None:
    """Per job, the ADDITIVE figures summed over the mart's rows of `period`
    (of every period without); None when the warehouse has no mart."""
    if not has_mart(con):
        return None
    where = "where period = ?" if period else ""
    sums = ", ".join(f"coalesce(sum({c}), 0) as {c}" for c in ADDITIVE)
    cursor = con.execute(
        f"select job, count(*) as periods, {sums} from marts.{MART} {where} group by job",
        [period] if period else [],
    )
    names = [d[0] for d in cursor.description]
    found = {row[0]: dict(zip(names[1:], row[1:], strict=True)) for row in cursor.fetchall()}
    empty = {"periods": 0, **dict.fromkeys(ADDITIVE, 0)}
    return {job: found.get(job, empty) for job in JOBS}


# --------------------------------------------------------------------------- the page


def _angka(value: float | int | None, digits: int = 2) -> str:
    """A number the Indonesian way: 1.234 and 0,07."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    if value == 0:
        return "0"
    if abs(value) < 0.5 * 10**-digits:  # not shown as a false 0,00
        return "< " + _angka(10.0**-digits, digits)
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def _umur(row: dict) -> str:
    if row["job"] == "link":
        if not row["review_open"]:
            return "-"
        return f"{row['review_oldest_age_periods']} periode (sejak {row['review_oldest_period']})"
    if not row["review_open"] or row["review_oldest_age_days"] is None:
        return "-"
    return f"{row['review_oldest_age_days']} hari"


def _band_edges(upper: float, lower: float) -> dict[str, str]:
    """The band edges the mart uses (a factor of two in the odds), to print."""
    return {
        "upper_top": _angka(2 * upper / (1 + upper), 4),
        "upper_bottom": _angka(upper / (2 - upper), 4),
        "lower_top": _angka(2 * lower / (1 + lower), 3),
        "lower_bottom": _angka(lower / (2 - lower), 3),
        "upper": _angka(upper, 4).rstrip("0").rstrip(","),
        "lower": _angka(lower, 4).rstrip("0").rstrip(","),
    }


def page_section(con: duckdb.DuckDBPyConnection, period: str) -> dict | None:
    """The "Kualitas Pencocokan" section of the operators' page: this
    period's figures for the link stage and dedupe side by side, and trend
    charts over the periods so far; None when the mart is absent or has no
    row for `period`."""
    from markupsafe import Markup

    from pdpb.domain import LINK_QUALITY_LABELS as LABELS
    from pdpb.publish.page import svg_line

    rows = read_rows(con, period)
    now = {r["job"]: r for r in rows if r["period"] == period}
    if set(now) != set(JOBS):
        return None
    link, dedupe = now["link"], now["dedupe"]
    bands = _band_edges(link["upper_threshold"], link["lower_threshold"])

    def both(key: str, fmt=_angka) -> list[str]:
        return [fmt(link[key]), fmt(dedupe[key])]

    def methods(r: dict) -> str:
        if r["job"] == "dedupe":
            return _angka(r["auto_links"])
        nik, splink = _angka(r["auto_links_nik_exact"]), _angka(r["auto_links_splink"])
        return f"{_angka(r['auto_links'])} (NIK {nik}, Splink {splink})"

    table = [
        (LABELS["auto_links"], [methods(link), methods(dedupe)]),
        (LABELS["expected_wrong_links"], both("expected_wrong_links")),
        (LABELS["auto_links_tms"], both("auto_links_tms")),
        (LABELS["expected_wrongful_tms"], both("expected_wrongful_tms")),
        (LABELS["links_near_upper"].format(**bands), both("links_near_upper")),
        (LABELS["review_near_upper"].format(**bands), both("review_near_upper")),
        (LABELS["review_near_lower"].format(**bands), both("review_near_lower")),
        (LABELS["new_near_lower"].format(**bands), both("new_near_lower")),
        (LABELS["review_added"], both("review_added")),
        (LABELS["review_open"], both("review_open")),
        (LABELS["review_oldest"], [_umur(link), _umur(dedupe)]),
    ]
    links = [r for r in rows if r["job"] == "link"]
    labels = [r["period"] for r in links]
    charts = [
        (
            title,
            svg_line(labels, values, y_label=y_label, title=title, zero_based=True),
        )
        for title, y_label, values in (
            (
                "Tren perkiraan tautan otomatis yang salah (pencocokan peristiwa)",
                "Perkiraan salah",
                [float(r["expected_wrong_links"]) for r in links],
            ),
            (
                "Tren antrean verifikasi peristiwa yang belum diputuskan",
                "Belum diputuskan",
                [int(r["review_open"] or 0) for r in links],
            ),
        )
    ]
    return {
        "headers": [LABELS["measure"], LABELS["link"], LABELS["dedupe"]],
        "rows": table,
        "bands": bands,
        "charts": [(title, Markup(svg)) for title, svg in charts],
    }
