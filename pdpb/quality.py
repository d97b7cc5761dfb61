"""The three Great Expectations gates of a period: delta_events, voters, rekap.

Each gate reads the warehouse read-only, turns the tables it guards into small
pandas frames with SQL (derived and aggregated columns only: no NIK or NKK ever
reaches GX, because Data Docs print unexpected values), runs the committed
checkpoints of `expectations/gx/` on those frames, builds Data Docs under the
home (self-contained, see pdpb.datadocs) and writes
`reports/<period>/quality_<gate>.json` with the result page of each
checkpoint. A failed critical expectation stops the period with `GateFailed`;
expectations with severity `warning` are reported but never stop it. GX's SQL data source over
duckdb-engine returns empty metrics, hence the pandas route.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import duckdb
import pandas as pd

from pdpb import datadocs, warehouse
from pdpb.config import (
    GX_PROJECT_DIR,
    PdpbError,
    Settings,
    default_cutoff,
    previous_period,
)
from pdpb.domain import (
    RECAP_BARU_CATEGORIES,
    RECAP_COUNT_HEADERS,
    RECAP_LEVELS,
    RECAP_PEOPLE_COUNTS,
    RECAP_TMS_CATEGORIES,
)

if TYPE_CHECKING:  # GX takes seconds to import: only when a gate runs
    from great_expectations.checkpoint.checkpoint import CheckpointResult
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.data_context import FileDataContext
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

log = logging.getLogger(__name__)

# Month-over-month TMS spike per kab/kota that raises a warning, and the
# smallest count worth comparing (2 -> 7 deaths is noise, not a spike).
# Read from Settings when it grows these fields.
# An event older than this is a wrong date, not a late registration.
MAX_EVENT_AGE_YEARS = 100

# Region counts depend on how each level counts itself; only people roll up.
ROLLUP_COLUMNS = tuple(RECAP_PEOPLE_COUNTS)


class GateFailed(PdpbError):
    """A critical expectation failed: the period must not go further."""


@dataclass(frozen=True)
class Frame:
    """One checkpoint of a gate and the frame it validates."""

    checkpoint: str
    data: pd.DataFrame


FrameBuilder = Callable[[duckdb.DuckDBPyConnection, Settings, str], list[Frame]]


# ---------------------------------------------------------------- frames


def _events_frames(con: duckdb.DuckDBPyConnection, settings: Settings, period: str) -> list[Frame]:
    events = con.execute(
        """
        select sumber, event_id, jenis_peristiwa, tanggal_peristiwa, jenis_kelamin,
               status_kawin, coalesce(nik_valid, false)::integer as nik_valid,
               kode_wilayah, file_name, row_number
        from core.events
        where period = $period
        order by file_name, row_number
        """,
        {"period": period},
    ).df()
    # One row: the period's share of events with a valid NIK, null when the
    # period has no events (a quiet month), so that only a real share is judged.
    nik = con.execute(
        """
        select count(*) as jumlah_peristiwa,
               avg(coalesce(nik_valid, false)::integer) as porsi_nik_valid
        from core.events
        where period = $period
        """,
        {"period": period},
    ).df()
    files = con.execute(
        """
        with karantina as (
            select file_name, count(*) as baris_karantina,
                   -- events already processed in an earlier period are a re-sent
                   -- export, not a broken one: they do not count towards the share
                   count(*) filter (where reason <> 'ALREADY_PROCESSED') as baris_rusak
            from core.quarantine
            where period = $period
            group by file_name
        )
        select f.file_name, f.sumber, f.rows_in, f.rows_loaded, f.rows_quarantined,
               coalesce(k.baris_karantina, 0) as baris_karantina,
               -- a share over a handful of rows says nothing about the file: one bad
               -- row in a 3-row TNI delivery is not a broken export
               case when f.rows_in >= $min_rows
                    then coalesce(k.baris_rusak, 0)::double / f.rows_in end as share_karantina
        from core.files as f
        left join karantina as k using (file_name)
        where f.period = $period
        order by f.file_name
        """,
        {"period": period, "min_rows": settings.min_rows_for_quarantine_share},
    ).df()
    return [
        Frame("delta_events", events),
        Frame("delta_events_nik", nik),
        Frame("delta_events_files", files),
    ]


def _voters_frames(con: duckdb.DuckDBPyConnection, settings: Settings, period: str) -> list[Frame]:
    # One row per distinct combination with its count: the frame stays at a few
    # tens of thousands of rows for 8.9 M voters, and each bad value shows once.
    profile = con.execute(
        """
        select status, tms_code, jenis_kelamin, kode_wilayah, count(*) as jumlah_pemilih
        from core.voters
        group by all
        order by all
        """
    ).df()
    dpid = con.execute(
        """
        select count(*) - count(dpid) as jumlah_dpid_kosong,
               count(dpid) - count(distinct dpid) as jumlah_dpid_ganda
        from core.voters
        """
    ).df()
    return [Frame("voters", profile), Frame("voters_dpid", dpid)]


def _rekap_union_sql() -> str:
    """All five recap levels of the period as one relation with a `tingkat` column."""
    counts = ", ".join(f"{c}::bigint as {c}" for c in tuple(RECAP_COUNT_HEADERS))
    selects = [
        f"select '{level}' as tingkat, kode_wilayah, nama_wilayah, kode_induk, {counts} "
        f"from marts.rpt_rekap_{level} where period = $period"
        for level in RECAP_LEVELS
    ]
    return "\nunion all\n".join(selects)


def _rekap_frame(con: duckdb.DuckDBPyConnection, settings: Settings, period: str) -> pd.DataFrame:
    floor = settings.min_tms_for_spike
    sex_gap = " + ".join(
        f"abs({part}_total - {part}_l - {part}_p)" for part in ("awal", "baru", "tms", "akhir")
    )
    sql = f"""
        with rekap as ({_rekap_union_sql()}),
        provinsi as (
            select distinct left(kode_wilayah, 2) as kode
            from rekap where tingkat <> 'nasional'
        ),
        desa_hilang as (
            select 'desa' as tingkat, w.kode_wilayah, w.nama_wilayah, w.kode_induk,
                   false as tercatat_di_rekap
            from marts.dim_wilayah as w
            where w.tingkat = 'desa'
              and left(w.kode_wilayah, 2) in (select kode from provinsi)
              and w.kode_wilayah not in (
                  select kode_wilayah from rekap where tingkat = 'desa')
        ),
        sebelumnya as (
            select kode_wilayah, tms_meninggal as meninggal_sebelumnya,
                   tms_pindah_domisili as pindah_sebelumnya
            from marts.rpt_rekap_kabkota where period = $previous
        ),
        diperiksa as (
            select r.*, s.meninggal_sebelumnya, s.pindah_sebelumnya, true as tercatat_di_rekap,
                   awal_l + baru_l - tms_l - akhir_l as neraca_l,
                   awal_p + baru_p - tms_p - akhir_p as neraca_p,
                   awal_total + baru_total - tms_total - akhir_total as neraca_total,
                   {sex_gap} as selisih_jenis_kelamin,
                   tms_total - ({" + ".join(RECAP_TMS_CATEGORIES)}) as selisih_kategori_tms,
                   baru_total - ({" + ".join(RECAP_BARU_CATEGORIES)}) as selisih_kategori_baru,
                   case when r.tingkat = 'kabkota' and r.tms_meninggal >= $floor
                        then r.tms_meninggal / greatest(s.meninggal_sebelumnya, 1) end
                       as rasio_lonjakan_meninggal,
                   case when r.tingkat = 'kabkota' and r.tms_pindah_domisili >= $floor
                        then r.tms_pindah_domisili / greatest(s.pindah_sebelumnya, 1) end
                       as rasio_lonjakan_pindah
            from rekap as r
            left join sebelumnya as s
              on r.tingkat = 'kabkota' and s.kode_wilayah = r.kode_wilayah
        )
        select * from diperiksa
        union all by name
        select * from desa_hilang
        order by tingkat, kode_wilayah
    """
    params = {"period": period, "previous": previous_period(period), "floor": floor}
    return con.execute(sql, params).df()


def _values_frame(con: duckdb.DuckDBPyConnection, period: str) -> pd.DataFrame:
    """Every count of every recap row, long, with its difference to the sum of
    the same count over the rows one level down (null where nothing rolls up)."""
    counts = ", ".join(tuple(RECAP_COUNT_HEADERS))
    rollup = ", ".join(ROLLUP_COLUMNS)
    parent_of = " ".join(
        f"when '{child}' then '{parent}'"
        for child, parent in zip(RECAP_LEVELS[:-1], RECAP_LEVELS[1:], strict=True)
    )
    sql = f"""
        with rekap as ({_rekap_union_sql()}),
        nilai as (
            select tingkat, kode_wilayah, kolom, nilai
            from rekap unpivot include nulls (nilai for kolom in ({counts}))
        ),
        bawahan as (
            select tingkat, kode_wilayah, kolom, sum(nilai) as jumlah_bawahan
            from (
                unpivot (
                    select case tingkat {parent_of} end as tingkat,
                           coalesce(kode_induk, 'ID') as kode_wilayah, {rollup}
                    from rekap where tingkat <> 'nasional'
                )
                on {rollup} into name kolom value nilai
            )
            group by all
        ),
        final as (
            select coalesce(n.tingkat, b.tingkat) as tingkat,
                   coalesce(n.kode_wilayah, b.kode_wilayah) as kode_wilayah,
                   coalesce(n.kolom, b.kolom) as kolom,
                   n.nilai, b.jumlah_bawahan,
                   case when coalesce(n.tingkat, b.tingkat) <> 'desa'
                         and coalesce(n.kolom, b.kolom) in ({", ".join(f"'{c}'" for c in ROLLUP_COLUMNS)})
                        then coalesce(n.nilai, 0) - coalesce(b.jumlah_bawahan, 0) end
                       as selisih_bawahan
            from nilai as n
            full join bawahan as b
              on b.tingkat = n.tingkat and b.kode_wilayah = n.kode_wilayah and b.kolom = n.kolom
        )
        select * from final order by tingkat, kode_wilayah, kolom
    """
    return con.execute(sql, {"period": period}).df()


def _rekap_frames(con: duckdb.DuckDBPyConnection, settings: Settings, period: str) -> list[Frame]:
    try:
        rekap = _rekap_frame(con, settings, period)
        values = _values_frame(con, period)
    except duckdb.CatalogException as exc:
        raise PdpbError(
            f"recap tables for {period} are missing ({str(exc).splitlines()[0]}); "
            "run dbt build for the period first"
        ) from exc
    return [Frame("rekap", rekap), Frame("rekap_nilai", values)]


GATES: dict[str, FrameBuilder] = {
    "delta_events": _events_frames,
    "voters": _voters_frames,
    "rekap": _rekap_frames,
}


def expectation_parameters(settings: Settings, period: str) -> dict[str, Any]:
    """Values of the `$PARAMETER` placeholders in the committed suites."""
    end = default_cutoff(period)
    oldest = date(end.year - MAX_EVENT_AGE_YEARS, end.month, 1)
    return {
        "akhir_periode": pd.Timestamp(end),
        "tanggal_peristiwa_min": pd.Timestamp(oldest),
        "min_valid_nik_share": settings.min_valid_nik_share,
        "max_quarantine_share": settings.max_quarantine_share,
        "max_rasio_lonjakan_tms": float(settings.max_tms_spike_ratio),
    }


# ---------------------------------------------------------------- GX


@lru_cache(maxsize=4)
def _context(results_dir: str, datadocs_dir: str) -> FileDataContext:
    """The committed file context with results and Data Docs under the home.

    Cached because loading GX costs seconds; keyed by the home's folders so
    two homes in one process never share stores.
    """
    import great_expectations as gx  # heavy import, only when a gate runs

    return gx.get_context(
        mode="file",
        project_root_dir=GX_PROJECT_DIR,
        runtime_environment={
            "PDPB_GX_RESULTS_DIR": results_dir,
            "PDPB_DATADOCS_DIR": datadocs_dir,
        },
    )


def _run_checkpoint(
    context: FileDataContext, frame: Frame, period: str, parameters: dict[str, Any]
) -> CheckpointResult:
    from great_expectations.core.run_identifier import RunIdentifier

    checkpoint = context.checkpoints.get(frame.checkpoint)
    return checkpoint.run(
        batch_parameters={"dataframe": frame.data},
        expectation_parameters=parameters,
        run_id=RunIdentifier(run_name=f"{frame.checkpoint}-{period}"),
    )


def _describe(checkpoint: str, result: ExpectationValidationResult) -> dict[str, Any]:
    """The operator-facing summary of one failed expectation (no personal data)."""
    config = result.expectation_config
    kwargs = dict(config.kwargs)
    details = result.result or {}
    rows = details.get("partial_unexpected_index_list") or []
    return {
        "checkpoint": checkpoint,
        "expectation": config.type,
        "column": kwargs.get("column") or kwargs.get("column_A") or kwargs.get("column_list"),
        "severity": _severity(result),
        "notes": (config.meta or {}).get("notes"),
        "observed_value": _jsonable(details.get("observed_value")),
        "unexpected_count": details.get("unexpected_count"),
        "unexpected_examples": _jsonable((details.get("partial_unexpected_list") or [])[:5]),
        "rows": _jsonable(rows[:5]),
        "exception": (result.exception_info or {}).get("exception_message")
        if result.exception_info and result.exception_info.get("raised_exception")
        else None,
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _severity(result: ExpectationValidationResult) -> str:
    severity = getattr(result.expectation_config, "severity", "critical")
    return getattr(severity, "value", severity)


def _failure_message(
    suite: str, period: str, failure: dict[str, Any], total: int, page: Path
) -> str:
    column = failure["column"]
    parts = [f"quality gate {suite} failed for {period}: {failure['expectation']}"]
    if column:
        parts.append(f"on column {column}")
    if failure["unexpected_count"]:
        examples = ", ".join(map(str, failure["unexpected_examples"][:3]))
        parts.append(f"({failure['unexpected_count']} unexpected, e.g. {examples})")
    elif failure["observed_value"] is not None:
        parts.append(f"(observed {failure['observed_value']})")
    elif not failure["exception"]:
        parts.append("(nothing observed: no rows for this period?)")
    located = sorted({str(r["file_name"]) for r in failure["rows"] if "file_name" in r})
    regions = [
        " ".join(str(r[k]) for k in ("tingkat", "kode_wilayah", "kolom") if k in r)
        for r in failure["rows"]
        if "tingkat" in r
    ]
    if located:
        parts.append(f"in file {', '.join(located)}")
    elif regions:
        parts.append(f"at {', '.join(regions[:3])}")
    if failure["exception"]:
        parts.append(f"[error: {failure['exception']}]")
    if total > 1:
        parts.append(f"and {total - 1} more critical failure(s)")
    return " ".join(parts) + f"; details in {page}"


# ---------------------------------------------------------------- the gate


def run_gate(settings: Settings, suite: str, period: str) -> dict[str, Any]:
    """Validate one gate for a period, build Data Docs and write
    `reports/<period>/quality_<suite>.json`; raise GateFailed on a critical failure.

    Returns the summary that was written.
    """
    if suite not in GATES:
        raise PdpbError(f"unknown quality gate '{suite}' (choose from {', '.join(GATES)})")
    default_cutoff(period)  # rejects a malformed period before any work
    if not settings.warehouse_path.exists():
        raise PdpbError(f"no warehouse at {settings.warehouse_path}; run pdpb init first")
    con = warehouse.connect(settings, read_only=True)
    try:
        frames = GATES[suite](con, settings, period)
    finally:
        con.close()

    context = _context(str(settings.gx_results_dir), str(settings.datadocs_dir))
    outcome = _validate(context, frames, period, expectation_parameters(settings, period))
    pages = _build_data_docs(context, settings.datadocs_dir, frames, outcome)
    page = _result_page(frames, outcome, pages)
    summary = {
        "suite": suite,
        "period": period,
        "success": not outcome.critical,
        "critical_failures": outcome.critical,
        "warnings": outcome.warnings,
        "statistics": outcome.statistics,
        "data_docs_index": str(settings.datadocs_dir / "index.html"),
        "data_docs_result": str(page),
        "data_docs_results": {checkpoint: str(path) for checkpoint, path in pages.items()},
    }
    path = _write_summary(settings, suite, period, summary)
    log.info(
        "quality gate %s %s: %d critical, %d warnings -> %s",
        *(suite, period, len(outcome.critical), len(outcome.warnings), path),
    )
    if outcome.critical:
        first = outcome.critical[0]
        raise GateFailed(_failure_message(suite, period, first, len(outcome.critical), page))
    return summary


@dataclass
class Outcome:
    """What the checkpoints of one gate found, split by severity."""

    critical: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    statistics: dict[str, Any] = field(default_factory=dict)
    # checkpoint -> the ValidationResultIdentifier of its run
    validated: dict[str, ValidationResultIdentifier] = field(default_factory=dict)


def _build_data_docs(
    context: FileDataContext, site: Path, frames: list[Frame], outcome: Outcome
) -> dict[str, Path]:
    """Result pages of this run plus the suite pages, which are the only ones
    GX 1.x renders the operator notes on; then the site is made to work
    offline. Returns the result page of each checkpoint."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    suites = [ExpectationSuiteIdentifier(name=frame.checkpoint) for frame in frames]
    # Once per gate rather than as a checkpoint action: rendering costs about a
    # second per build and the index would otherwise be rebuilt per checkpoint.
    context.build_data_docs(resource_identifiers=[*outcome.validated.values(), *suites])
    pages = {
        checkpoint: _page(context, identifier)
        for checkpoint, identifier in outcome.validated.items()
    }
    datadocs.make_offline(site, [*pages.values(), *(_page(context, s) for s in suites)])
    return pages


def _page(
    context: FileDataContext, identifier: ValidationResultIdentifier | ExpectationSuiteIdentifier
) -> Path:
    """The Data Docs file GX wrote for a validation result or a suite."""
    sites = context.get_docs_sites_urls(resource_identifier=identifier)
    url = sites[0]["site_url"] if sites else None
    if not url or urlparse(url).scheme != "file":
        raise PdpbError(f"Data Docs have no page for {identifier.to_tuple()} (got {url!r})")
    return Path(unquote(urlparse(url).path))


def _result_page(frames: list[Frame], outcome: Outcome, pages: dict[str, Path]) -> Path:
    """The page an operator should open first: the checkpoint of the first
    critical failure, else of the first warning, else the gate's main one."""
    for found in (*outcome.critical, *outcome.warnings):
        return pages[found["checkpoint"]]
    return pages[frames[0].checkpoint]


def _validate(
    context: FileDataContext, frames: list[Frame], period: str, parameters: dict[str, Any]
) -> Outcome:
    outcome = Outcome()
    for frame in frames:
        result = _run_checkpoint(context, frame, period, parameters)
        for identifier in result.run_results:
            outcome.validated[frame.checkpoint] = identifier
        for validation in result.run_results.values():
            outcome.statistics[frame.checkpoint] = {
                "rows": len(frame.data),
                **validation.statistics,
            }
            for expectation in validation.results:
                if expectation.success:
                    continue
                found = _describe(frame.checkpoint, expectation)
                is_warning = found["severity"] == "warning"
                (outcome.warnings if is_warning else outcome.critical).append(found)
    return outcome


def _write_summary(settings: Settings, suite: str, period: str, summary: dict[str, Any]) -> Path:
    path = settings.reports_dir(period) / f"quality_{suite}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(summary), indent=2, ensure_ascii=False) + "\n")
    return path
