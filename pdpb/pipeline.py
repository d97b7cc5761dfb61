"""The stages of one period, as the CLI and the Airflow DAG call them.

Each stage is one function taking the settings, the period and (where the
rules need it) the cut-off date, and returning a small dict of counts: XCom
carries those, never data. `run_period` chains them for the CLI; the DAG
runs the same functions as tasks. Period bookkeeping lives here too: a period
runs only after the previous one completed, and re-running an older period
needs an explicit rollback of the later ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime

from pdpb import console
from pdpb.audit import operator, record, record_changes
from pdpb.config import (
    PdpbError,
    Settings,
    default_cutoff,
    next_period,
    parse_period,
    period_has_ended,
)
from pdpb.faults import PAUSE_INSIDE, pause_if_testing
from pdpb.locking import writer_lock
from pdpb.warehouse import connect, transaction

log = logging.getLogger(__name__)

LATER_PERIOD_TABLES = ("events", "quarantine", "files", "matches")


# --------------------------------------------------------------------------- bookkeeping


def resolve_cutoff(period: str, cutoff: date | str | None) -> date:
    """The period's cut-off: the given date, or the period's last day. A
    cut-off before the period begins would count ages and eligibility at a
    day the period's events had not happened yet (and the period would then
    fail half-way): refused."""
    year, month = parse_period(period)
    if cutoff is None or cutoff == "":
        return default_cutoff(period)
    if isinstance(cutoff, str):
        try:
            cutoff = date.fromisoformat(cutoff)
        except ValueError as exc:
            raise PdpbError(f"cut-off '{cutoff}' is not a date YYYY-MM-DD") from exc
    if cutoff < date(year, month, 1):
        raise PdpbError(
            f"cut-off {cutoff} falls before period {period}: a cut-off is a day in or after "
            f"its period (default {default_cutoff(period)}, the period's last day)"
        )
    return cutoff


def start_period(
    settings: Settings, period: str, cutoff: date, rollback: bool = False, yes: bool = False
) -> dict:
    """Check the period may run now, roll back later periods if asked, mark it
    RUNNING. Re-running a period that is already published rolls it back and
    publishes it again, so it needs `yes` (`pdpb run --yes`, the DAG's
    `rerun` param); `rollback` asks for it too when it re-runs an older one."""
    parse_period(period)
    with writer_lock(settings):
        return _start_period(settings, period, cutoff, rollback, yes)


def _start_period(settings: Settings, period: str, cutoff: date, rollback: bool, yes: bool) -> dict:
    con = connect(settings)
    try:
        if not con.execute("select count(*) from core.voters").fetchone()[0]:
            raise PdpbError(
                f"home {settings.home} has no voter list: run `pdpb init --voters FILE` first"
            )
        periods = dict(
            con.execute("select period, status from core.periods order by period").fetchall()
        )
        later = sorted((p for p in periods if p > period), reverse=True)
        if later and not rollback:
            raise PdpbError(
                f"period {period} is older than {later[0]}, which has already run; "
                f"re-run with --rollback to undo {', '.join(sorted(later))} first"
            )
        if not period_has_ended(period):
            raise PdpbError(
                f"period {period} has not ended yet (its last day is {default_cutoff(period)}):"
                " a period runs once its month is over and its deliveries are in"
            )
        if periods.get(period) == "COMPLETED" and not (yes or rollback):
            raise PdpbError(
                f"period {period} is already published: re-running it rolls it back and "
                "publishes it again; confirm with --yes (Airflow: the param rerun)"
            )
        earlier = [p for p in periods if p < period]
        if earlier:
            latest = max(earlier)
            if periods[latest] != "COMPLETED":
                raise PdpbError(
                    f"period {latest} has not completed ({periods[latest]}): run it again before {period}"
                )
            if next_period(latest) != period:
                raise PdpbError(
                    f"period {period} cannot run before {next_period(latest)}: periods run in order"
                )
        if later:
            log.warning(
                "rolling back %s to re-run %s, requested by %s",
                ", ".join(sorted(later)),
                period,
                operator(),
            )
        with transaction(con):
            # Later periods first; then this period itself when it is re-run, so
            # that linking sees the list as it was before the period.
            for p in [*later, *([period] if period in periods else [])]:
                why = (
                    f"--rollback to re-run {period}"
                    if p != period
                    else f"re-run of {period} (was {periods[p]})"
                )
                rollback_period(con, p, why)
            con.execute(
                "insert into core.periods values (?, ?, 'RUNNING', ?, null, 'start', null)",
                [period, cutoff, datetime.now()],
            )
    finally:
        con.close()
    return {"period": period, "cutoff": cutoff.isoformat(), "rolled_back": later}


def rollback_period(con, period: str, why: str = "rollback") -> None:
    """Undo a whole period: its voter changes (apply.revert_period) and its ingested data.

    Runs inside the caller's transaction, so a failed rollback changes nothing;
    the audit log gets the ROLLBACK row in the same transaction (after any
    change of the period not yet recorded) and keeps every earlier row."""
    from pdpb.apply import revert_period

    log.warning("rolling back period %s", period)
    record_changes(con, period)
    undone = con.execute("select count(*) from core.changes where period = ?", [period]).fetchone()[
        0
    ]
    record(
        con, "ROLLBACK", period, period, f"period {period} undone: {undone} changes reverted", why
    )
    revert_period(con, period)
    for table in LATER_PERIOD_TABLES:
        con.execute(f"delete from core.{table} where period = ?", [period])
    con.execute("delete from core.periods where period = ?", [period])


def mark_stage(
    settings: Settings, period: str, stage: str, status: str = "RUNNING", message: str | None = None
) -> None:
    with writer_lock(settings):
        _mark_stage(settings, period, stage, status, message)


def _mark_stage(
    settings: Settings, period: str, stage: str, status: str, message: str | None
) -> None:
    con = connect(settings)
    try:
        con.execute(
            "update core.periods set stage = ?, status = ?, message = ?, "
            "finished_at = case when ? in ('COMPLETED', 'FAILED', 'REJECTED') then now() else null end where period = ?",
            [stage, status, message, status, period],
        )
    finally:
        con.close()


def finish_period(settings: Settings, period: str) -> dict:
    mark_stage(settings, period, "done", "COMPLETED")
    return {"period": period, "status": "COMPLETED"}


# --------------------------------------------------------------------------- stages


def ingest(settings: Settings, period: str) -> dict:
    from pdpb.ingest import ingest_period

    return ingest_period(settings, period)


def gate_events(settings: Settings, period: str) -> dict:
    from pdpb.quality import run_gate

    return run_gate(settings, "delta_events", period)


def link(settings: Settings, period: str) -> dict:
    from pdpb.linking import link_period

    return link_period(settings, period)


def apply(settings: Settings, period: str, cutoff: date) -> dict:
    from pdpb.apply import apply_period

    return apply_period(settings, period, cutoff)


def gate_voters(settings: Settings, period: str) -> dict:
    from pdpb.quality import run_gate

    return run_gate(settings, "voters", period)


def transform(settings: Settings, period: str) -> dict:
    from pdpb.transform import build_marts

    return build_marts(settings, period)


def gate_rekap(settings: Settings, period: str) -> dict:
    from pdpb.quality import run_gate

    return run_gate(settings, "rekap", period)


def publish(settings: Settings, period: str, cutoff: date) -> dict:
    from pdpb.publish import publish as publish_reports

    return publish_reports(settings, period, cutoff)


def stages(settings: Settings, period: str, cutoff: date) -> list[tuple[str, Callable[[], dict]]]:
    """The period's stages in order, each bound to its arguments."""
    return [
        ("ingest", lambda: ingest(settings, period)),
        ("gate_events", lambda: gate_events(settings, period)),
        ("link", lambda: link(settings, period)),
        ("apply", lambda: apply(settings, period, cutoff)),
        ("gate_voters", lambda: gate_voters(settings, period)),
        ("transform", lambda: transform(settings, period)),
        ("gate_rekap", lambda: gate_rekap(settings, period)),
        ("publish", lambda: publish(settings, period, cutoff)),
    ]


def run_stage(settings: Settings, period: str, name: str, fn: Callable[[], dict]) -> dict:
    """Run one stage under the writer lock, recording in core.periods where the
    period is and why it failed."""
    started = time.monotonic()
    with writer_lock(settings):
        mark_stage(settings, period, name)
        try:
            if name not in PAUSE_INSIDE:
                pause_if_testing(settings, name)
            result = fn()
        except Exception as exc:
            mark_stage(settings, period, name, "FAILED", f"{type(exc).__name__}: {exc}"[:1000])
            raise
    log.info("%s %s: %s", period, name, summarize(result))
    console.stage_done(period, name, time.monotonic() - started, result)
    return result


def run_period(
    settings: Settings,
    period: str,
    cutoff: date | str | None = None,
    rollback: bool = False,
    yes: bool = False,
) -> dict:
    """Run every stage of one period without Airflow; returns each stage's counts."""
    cutoff = resolve_cutoff(period, cutoff)
    with writer_lock(settings):  # held for the whole period: no writer slips in between stages
        results: dict[str, dict] = {"start": start_period(settings, period, cutoff, rollback, yes)}
        for name, fn in stages(settings, period, cutoff):
            results[name] = run_stage(settings, period, name, fn)
        results["finish"] = finish_period(settings, period)
    return results


def summarize(result: object) -> object:
    if isinstance(result, dict):
        return {
            k: v
            for k, v in result.items()
            if isinstance(v, (int, float, str, bool)) and len(str(v)) < 120
        }
    return result
