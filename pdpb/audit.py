"""The audit trail: who changed what in the warehouse, when and why.

`core.audit_log` is append-only: rows are only ever inserted, by the function
that records the action inside the transaction of the action itself where it
owns that transaction (review decisions, rollbacks, init), and right after
apply's commit for the voter changes (see record_changes). No code path
deletes or updates a row, not even a rollback: a re-run period appends a
ROLLBACK row and then a fresh set of CHANGE rows, so reading the log in `seq`
order tells the whole story. Subjects are dpids, event ids and periods, never
a NIK or NKK, so `pdpb audit` can print the log as it is.

Kinds: INIT (`pdpb init`), CHANGE (apply; subject dpid, ref change_id),
REVIEW_DECISION (`pdpb review import`: a period's event, subject
sumber|event_id), DEDUPE_DECISION (`pdpb dedupe import`: a pair of the
whole-list dedupe, subject the dpid that would become TMS 2, ref the cluster
id), ROLLBACK (subject the period undone), APPROVAL (the answer at the
approval step of `pdpb_monthly`: `what` starts APPROVE or REJECT, the actor
is the Airflow user who answered or the run's param, `why` their comment). A dedupe decision concerns the
list, not a period, so its period is empty: `pdpb audit --period P` does not
show it, `pdpb audit` (every row) does.
"""

from __future__ import annotations

import getpass
import os

import duckdb

from pdpb.config import Settings
from pdpb.warehouse import connect

USER_ENV = "PDPB_USER"
KINDS = ("INIT", "CHANGE", "REVIEW_DECISION", "DEDUPE_DECISION", "ROLLBACK", "APPROVAL")


def operator() -> str:
    """Who is acting: $PDPB_USER (set by a deployment or a reviewer), else the OS user."""
    named = os.environ.get(USER_ENV, "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    period: str | None,
    subject: str | None,
    what: str,
    why: str | None = None,
    actor: str | None = None,
    ref: str | None = None,
) -> None:
    """Append one audit row on `con` (inside the caller's transaction)."""
    assert kind in KINDS, kind
    con.execute(
        """insert into core.audit_log (seq, recorded_at, actor, kind, period, subject, what, why, ref)
           values (nextval('core.audit_seq'), now(), ?, ?, ?, ?, ?, ?, ?)""",
        [actor or operator(), kind, period, subject, what, why, ref],
    )


def record_changes(con: duckdb.DuckDBPyConnection, period: str, actor: str | None = None) -> int:
    """Append a CHANGE row for each change of `period` not yet recorded since the
    period's last rollback; returns how many were added. Idempotent, so the
    stage and a later rollback can both call it and nothing is missed or doubled."""
    before = con.execute("select count(*) from core.audit_log").fetchone()[0]
    con.execute(
        """insert into core.audit_log (seq, recorded_at, actor, kind, period, subject, what, why, ref)
           select nextval('core.audit_seq'), now(), ?, 'CHANGE', c.period, c.dpid,
                  c.change_type || coalesce(' ' || c.tms_code, '') || ' ' || c.rule
                    || coalesce(' [' || c.changed_fields || ']', '')
                    || coalesce(' via ' || c.sumber || ' ' || c.event_id, ''),
                  c.reason, c.change_id
           from core.changes c
           where c.period = ?
             and not exists (
               select 1 from core.audit_log a
               where a.kind = 'CHANGE' and a.ref = c.change_id
                 and a.seq > coalesce((select max(seq) from core.audit_log r
                                       where r.kind = 'ROLLBACK' and r.period = ?), 0))
           order by c.change_id""",
        [actor or operator(), period, period],
    )
    return con.execute("select count(*) from core.audit_log").fetchone()[0] - before


def audit_rows(settings: Settings, period: str | None = None) -> list[tuple]:
    con = connect(settings, read_only=True)
    try:
        if not con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'core' and table_name = 'audit_log'"
        ).fetchone()[0]:
            return []  # a warehouse not written since the audit log exists
        where, params = ("where period = ?", [period]) if period else ("", [])
        return con.execute(
            f"""select seq, strftime(recorded_at, '%Y-%m-%d %H:%M:%S'), actor, kind,
                       coalesce(period, '-'), coalesce(subject, '-'), what, coalesce(why, '')
                from core.audit_log {where} order by seq""",
            params,
        ).fetchall()
    finally:
        con.close()


def format_audit(rows: list[tuple], period: str | None = None) -> str:
    """The log as tab-separated lines (easy to grep and to paste into a sheet)."""
    if not rows:
        return f"no audit rows{' for period ' + period if period else ''}"
    header = "seq\twaktu\tpelaku\tjenis\tperiode\tsubjek\tapa\talasan"
    return "\n".join([header, *("\t".join(str(v) for v in r) for r in rows)])
