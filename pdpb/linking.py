"""The link stage's warehouse side: what it reads, and what it stores.

`linkage` links events to records on Arrow tables and knows nothing of the
warehouse; this module reads the period's events and the link candidates
(the view `core.link_candidates`) with their stored name forms, hands them to
`linkage.link_events`, and stores its decisions in `core.matches`, as
`pdpb.dedupe` does for the dedupe job. The stage function is
`pipeline.link`; the benchmark and the tests read the inputs through
`read_link_inputs`, as the stage does.
"""

from __future__ import annotations

import json
import logging
import time

import pyarrow as pa

from pdpb.config import PdpbError, Settings
from pdpb.faults import pause_if_testing
from pdpb.warehouse import connect, transaction

log = logging.getLogger(__name__)

# The reference of the link stage (one definition: the view core.link_candidates).
_REFERENCE_ROWS = "select * from core.link_candidates"
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
    from linkage.frames import name_forms_table
    from linkage.names import NAME_FORMS_VERSION

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

        from linkage.frames import FORM_COLUMNS
        from linkage.link import ReferenceCounts, reachable_sql
        from linkage.names import NAME_FORMS_VERSION

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


def link_period(settings: Settings, period: str) -> dict:
    """The link stage: link the period's events to voters and tracked future
    voters and store one decision per event in core.matches."""
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
