"""The stages of one period, as the CLI and the Airflow DAG call them.

Each stage is one function taking the settings, the period and (where the
rules need it) the cut-off date, and returning a small dict of counts: XCom
carries those, never data. `run_period` chains them for the CLI; the DAG
runs the same functions as tasks. Period bookkeeping lives here too: a period
runs only after the previous one completed, and re-running an older period
needs an explicit rollback of the later ones.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING

from pdpb.audit import operator, record, record_changes
from pdpb.config import PdpbError, Settings, default_cutoff, next_period, parse_period
from pdpb.faults import PAUSE_INSIDE, pause_if_testing
from pdpb.locking import writer_lock
from pdpb.warehouse import connect, transaction

if TYPE_CHECKING:
    import pyarrow as pa

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


def start_period(settings: Settings, period: str, cutoff: date, rollback: bool = False) -> dict:
    """Check the period may run now, roll back later periods if asked, mark it RUNNING."""
    parse_period(period)
    with writer_lock(settings):
        return _start_period(settings, period, cutoff, rollback)


def _start_period(settings: Settings, period: str, cutoff: date, rollback: bool) -> dict:
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


# The reference of the link stage: every voter and every open future voter.
_REFERENCE_ROWS = """
    select dpid as target_id, nik, nkk, nama, gelar, tempat_lahir, tanggal_lahir, jenis_kelamin,
           status_kawin, alamat, rt, rw, kode_wilayah, status
    from core.voters
    union all
    select future_id, nik, nkk, nama, gelar, tempat_lahir, tanggal_lahir, jenis_kelamin,
           status_kawin, alamat, rt, rw, kode_wilayah, 'CALON'
    from core.future_voters where closed_period is null"""
_EVENT_ROWS = """
    select sumber, event_id, jenis_peristiwa, tanggal_peristiwa, nik, nik_valid, nkk, nama, gelar,
           tempat_lahir, tanggal_lahir, jenis_kelamin, status_kawin, alamat, rt, rw,
           kode_wilayah, kode_wilayah_asal
    from core.events where period = $period"""


def refresh_name_forms(con, period: str | None = None) -> int:
    """Store the comparison name forms (`linkage.frames.name_forms`) of every
    name of the reference, and of `period`'s events, that core.name_forms
    lacks; forms made by other code (another NAME_FORMS_VERSION) are dropped
    first. A period so computes only the names that are new to the warehouse,
    not the list's hundreds of thousands. Returns the number of names added."""
    from linkage.frames import NAME_FORMS_VERSION, name_forms_table

    events = "union all select nama from core.events where period = $period" if period else ""
    with transaction(con):
        con.execute("delete from core.name_forms where forms_version <> ?", [NAME_FORMS_VERSION])
        missing = con.execute(
            f"""select distinct nama from (select nama from ({_REFERENCE_ROWS}) {events}) r
                where nama is not null
                  and nama not in (select nama from core.name_forms)""",
            {"period": period} if period else {},
        ).fetchall()
        if missing:
            forms = name_forms_table([n for (n,) in missing])
            con.register("_forms", forms)
            con.execute(
                "insert into core.name_forms by name select *, ? as forms_version from _forms",
                [NAME_FORMS_VERSION],
            )
            con.unregister("_forms")
    return len(missing)


def read_link_inputs(con, period: str, model: dict | None = None):
    """(events, reference, decisions, counts) as the link stage reads them.

    The reference is a stream, read while `con` stays open: a province's list
    is turned into the link stage's frame a batch at a time, never held whole
    as raw rows. Without `model` it is the whole reference and counts is
    None. With `model` (the link model's JSON), events and reference carry
    the stored name forms (`refresh_name_forms` must have run: a name without
    them is an error), the reference holds only the records that may share a
    key of the model's blocking rules with an event, and counts
    (`linkage.link.ReferenceCounts`) describes the whole reference. The
    selection is a superset of what `linkage.link_events` keeps: it compares
    a PINDAH at both its desa, and the stored digits of NIK and NKK as they
    are (all-zero numbers included), so the linker's own filter decides."""
    from linkage.frames import REFERENCE_BATCH_ROWS

    forms = stored = ""
    params: dict = {"period": period}
    if model is not None:
        import pyarrow.compute as pc

        from linkage.frames import FORM_COLUMNS, NAME_FORMS_VERSION
        from linkage.link import ReferenceCounts, reachable_sql

        forms = ", " + ", ".join(f"f.{c}" for c in FORM_COLUMNS)
        params["version"] = NAME_FORMS_VERSION
        stored = "left join (select * from core.name_forms where forms_version = $version) f using (nama)"
        # One pass over the list for its size, its rows per name form and
        # any name without stored forms (it would block and compare as blank).
        names = con.sql(
            f"""select f.nama_norm, count(*) as n,
                       count(*) filter (where r.nama is not null and f.nama is null) as missing
                from ({_REFERENCE_ROWS}) r {stored} group by 1""",
            params={"version": NAME_FORMS_VERSION},
        ).to_arrow_table()
        missing = pc.sum(names.column("missing")).as_py() or 0
        missing += con.execute(
            f"""select count(*) from ({_EVENT_ROWS}) r {stored}
                where r.nama is not null and f.nama is null""",
            params,
        ).fetchall()[0][0]
        if missing:
            raise PdpbError(
                f"{missing} names of the list and the period's events have no stored name "
                "forms: refresh_name_forms must run before the link stage reads its inputs"
            )
        records = pc.sum(names.column("n")).as_py() or 0
        names = names.filter(pc.is_valid(names.column("nama_norm"))).select(["nama_norm", "n"])
        counts = ReferenceCounts(records, names)
    events = con.sql(
        f"select e.*{forms} from ({_EVENT_ROWS}) e {stored} order by sumber, event_id",
        params=params,
    ).to_arrow_table()
    decisions = con.sql(
        "select sumber, event_id, target_id, keputusan from core.review_decisions where period = ?",
        params=[period],
    ).to_arrow_table()
    if model is None:
        reference = con.sql(_REFERENCE_ROWS).to_arrow_reader(REFERENCE_BATCH_ROWS)
        return events, reference, decisions, None
    # Keys as the linker's frames have them, for every record and event; a
    # PINDAH event probes at both its desa (the frame uses the old one).
    keys = f"""
        with candidates as materialized (
            select r.target_id as uid, r.nik, r.nkk, r.tanggal_lahir,
                   year(r.tanggal_lahir) as lahir_tahun, r.kode_wilayah as wilayah,
                   f.bk_first, f.bk_sorted
            from ({_REFERENCE_ROWS}) r {stored}),
        probes as materialized (
            select e.nik, e.nkk, e.tanggal_lahir, year(e.tanggal_lahir) as lahir_tahun,
                   unnest([e.kode_wilayah, coalesce(e.kode_wilayah_asal, e.kode_wilayah)]) as wilayah,
                   f.bk_first, f.bk_sorted
            from ({_EVENT_ROWS}) e {stored}),
        reachable as ({reachable_sql(model, "candidates", "probes")})"""
    # Last: while the stream is open, the connection runs no other query.
    reference = con.sql(
        f"""{keys}
            select r.*{forms} from ({_REFERENCE_ROWS}) r {stored}
            semi join reachable k on k.uid = r.target_id""",
        params=params,
    ).to_arrow_reader(REFERENCE_BATCH_ROWS)
    return events, reference, decisions, counts


def link_decisions(con, settings: Settings, period: str) -> tuple[pa.Table, pa.Table]:
    """(events, one decision per event) for `period` on the writable `con`:
    the name forms are refreshed first, the decisions not stored."""
    from linkage import link_events

    started = time.perf_counter()
    added = refresh_name_forms(con, period)
    log.info(
        "link: name forms of %d new names stored in %.1f s", added, time.perf_counter() - started
    )
    started = time.perf_counter()
    model = json.loads(settings.model_path.read_text())
    events, reference, decisions, counts = read_link_inputs(con, period, model)
    log.info("link: inputs and the list's counts read in %.1f s", time.perf_counter() - started)
    thresholds = settings.thresholds
    matches = link_events(
        events,
        reference,
        upper=thresholds.upper,
        lower=thresholds.lower,
        model_path=settings.model_path,
        decisions=decisions if decisions.num_rows else None,
        counts=counts,
    )
    return events, matches


def _has_events(con, period: str) -> bool:
    return con.execute(
        "select exists (select 1 from core.events where period = ?)", [period]
    ).fetchone()[0]


def link(settings: Settings, period: str) -> dict:
    """Link the period's events to voters and tracked future voters."""
    con = connect(settings)
    try:
        if not _has_events(con, period):
            # A quiet month: nothing to link. Skipping saves a pass over the
            # whole list (its name forms and counts); a re-run still clears
            # the matches an earlier run of the period stored.
            with transaction(con):
                con.execute("delete from core.matches where period = ?", [period])
            log.info("link %s: no events in the period, nothing to link", period)
            return {"events": 0}
        events, matches = link_decisions(con, settings, period)
        with transaction(con):
            con.execute("delete from core.matches where period = ?", [period])
            con.register("_matches", matches)
            con.execute(
                """insert into core.matches
                   select ? as period, sumber, event_id, decision, target_id, match_method,
                          match_probability, duplicate_of, flag from _matches""",
                [period],
            )
            con.unregister("_matches")
            pause_if_testing(settings, "link")
        counts = dict(
            con.execute(
                "select decision, count(*) from core.matches where period = ? group by 1", [period]
            ).fetchall()
        )
    finally:
        con.close()
    counts["events"] = events.num_rows
    return counts


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
    return result


def run_period(
    settings: Settings,
    period: str,
    cutoff: date | str | None = None,
    rollback: bool = False,
    on_stage: Callable[[str], None] | None = None,
) -> dict:
    """Run every stage of one period without Airflow; returns each stage's counts."""
    cutoff = resolve_cutoff(period, cutoff)
    with writer_lock(settings):  # held for the whole period: no writer slips in between stages
        results: dict[str, dict] = {"start": start_period(settings, period, cutoff, rollback)}
        for name, fn in stages(settings, period, cutoff):
            if on_stage:
                on_stage(name)
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
