"""A national period on one machine, without Airflow: `pdpb national run`.

route -> the provinces' periods in parallel (`--jobs`, default the cores),
each in its own process (`pdpb --home <province> run`, so one province's
crash or failed gate touches nobody else) -> reconcile -> the national marts
(dbt) -> the national reports. The pdpb_national DAG runs the same functions,
with the provinces as mapped tasks.

A province whose period is already COMPLETED is not run again (so re-running
the national period after fixing one province re-runs that province alone),
unless `yes` asks to re-run every selected province.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from pdpb import console
from pdpb.config import PdpbError, Settings
from pdpb.national.home import province_homes
from pdpb.warehouse import connect

log = logging.getLogger(__name__)


def province_period_status(home: Settings, period: str) -> str | None:
    con = connect(home, read_only=True)
    try:
        row = con.execute("select status from core.periods where period = ?", [period]).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def active_voters(home: Settings) -> int:
    con = connect(home, read_only=True)
    try:
        return con.execute("select count(*) from core.voters where status = 'AKTIF'").fetchone()[0]
    finally:
        con.close()


def by_size(settings: Settings, homes: dict[str, Settings]) -> dict[str, list[str]]:
    """The provinces largest first (the longest periods start first), the big
    ones (`large_province_voters`) apart: `besar` and `biasa`."""
    sizes = {kode: active_voters(home) for kode, home in homes.items()}
    ordered = sorted(homes, key=lambda k: (-sizes[k], k))
    big = [k for k in ordered if sizes[k] >= settings.large_province_voters]
    return {"besar": big, "biasa": [k for k in ordered if k not in big]}


def run_province(
    home: Settings, period: str, cutoff: date | str | None = None, yes: bool = False
) -> dict:
    """One province's period in a process of its own; never raises for the
    province's own failure: returns its status, the one-line reason, its wall
    seconds and its process's peak RSS (`peak_mb`, for the sizing of workers)."""
    started = time.monotonic()
    if not yes and province_period_status(home, period) == "COMPLETED":
        return {"status": "COMPLETED", "skipped": True, "message": "sudah selesai sebelumnya"}
    command = [sys.executable, "-m", "pdpb.cli", "--home", str(home.home), "-q", "run",
               "--period", period]  # fmt: skip
    if cutoff:
        command += ["--cutoff", str(cutoff)]
    if yes:
        command.append("--yes")
    # Reaped with wait4 rather than waited for by subprocess, so that the
    # child's own resource usage (its peak RSS) comes back with its status;
    # stderr goes to a file, which cannot fill up as an unread pipe would.
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", errors="replace")
    lines = [line for line in stderr.splitlines() if line.strip()]
    return {
        "status": "COMPLETED" if returncode == 0 else "FAILED",
        "skipped": False,
        "message": lines[-1] if returncode and lines else None,
        "seconds": round(time.monotonic() - started, 1),
        "peak_mb": round(usage.ru_maxrss / 1024),  # Linux: kilobytes
    }


def run_provinces(
    settings: Settings,
    homes: dict[str, Settings],
    period: str,
    jobs: int | None = None,
    cutoff: date | str | None = None,
    yes: bool = False,
) -> dict[str, dict]:
    """The provinces' periods, `jobs` processes at a time (default the cores),
    the largest started first; code -> `run_province`'s result."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    sizes = by_size(settings, homes)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            k: pool.submit(run_province, homes[k], period, cutoff, yes)
            for k in sizes["besar"] + sizes["biasa"]
        }
        done = {k: f.result() for k, f in sorted(futures.items())}
    for kode, r in done.items():
        log.info("province %s %s: %s", kode, period, r)
    return done


def national_recap(settings: Settings, counts: dict) -> dict:
    """The national marts (once a province has completed the period) and the
    national reports, after reconciliation returned `counts`."""
    from pdpb.national.publish import publish_national
    from pdpb.transform import build_national_marts

    results = {}
    if counts["provinces_completed"]:
        results["transform"] = build_national_marts(settings)
    results["publish"] = publish_national(settings, counts["period"])
    return results


def national_tail(settings: Settings, period: str) -> dict:
    """After the provinces: reconciliation, national marts, national reports."""
    from pdpb.national.reconcile import reconcile_period

    results = {"reconcile": reconcile_period(settings, period)}
    results.update(national_recap(settings, results["reconcile"]))
    return results


def run_national(
    settings: Settings,
    period: str,
    provinces: list[str] | None = None,
    jobs: int | None = None,
    cutoff: date | str | None = None,
    yes: bool = False,
) -> dict:
    """Route, run the provinces in parallel, reconcile and publish the national recap."""
    from pdpb.national.route import route_period

    started = time.monotonic()
    homes = province_homes(settings, provinces)
    results: dict = {"route": route_period(settings, period)}
    console.stage_done(period, "route", time.monotonic() - started, results["route"])
    results["provinces"] = run_provinces(settings, homes, period, jobs, cutoff, yes)
    results.update(national_tail(settings, period))
    results["seconds"] = round(time.monotonic() - started, 1)
    return results


def require_complete(results: dict) -> None:
    """Refuse (exit non-zero) when the national period is incomplete."""
    rec = results["reconcile"]
    if rec["status"] != "COMPLETE":
        raise PdpbError(
            f"national period {rec['period']} is INCOMPLETE ({rec['provinces_completed']} of "
            f"{rec['provinces']} provinces): {rec['incomplete']}; fix the province and run "
            f"`pdpb national run --period {rec['period']} --provinces KODE` again"
        )
