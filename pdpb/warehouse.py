"""The DuckDB warehouse: connection and the tables the Python stages own.

`core.*` is the system of record written by ingest, link and apply. dbt reads
it as sources and builds `marts.*`. The DDL below is the internal contract
between the stages; docs/warehouse.md describes each table for analysts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from pdpb.config import PdpbError, Settings

DDL = """
create schema if not exists core;
create schema if not exists marts;

-- The one masking rule for NIK and NKK wherever people other than the data
-- division see them (reports, review files, analyst views, logs): keep the
-- 6-digit region prefix and the last 2 digits, hide the birth date and serial.
create or replace macro core.mask_nik(x) as
    case when x is null or length(x) < 8 then x
         else left(x, 6) || repeat('*', length(x) - 8) || right(x, 2) end;

-- Current state of every voter record (one row per dpid).
create table if not exists core.voters (
    dpid varchar primary key,
    nkk varchar, nik varchar, nama varchar, gelar varchar, tempat_lahir varchar,
    tanggal_lahir date, jenis_kelamin varchar, status_kawin varchar,
    alamat varchar, rt varchar, rw varchar, disabilitas varchar, ktp_el varchar,
    kode_wilayah varchar, tps varchar, sumber varchar, keterangan varchar,
    status varchar not null,              -- AKTIF or TMS
    tms_code integer,                     -- set when status = TMS
    updated_period varchar                -- period of the last change ('0000-00' for the initial list)
);

-- SCD2 history: one row per dpid and version.
create table if not exists core.voter_history (
    dpid varchar not null, version integer not null,
    nkk varchar, nik varchar, nama varchar, gelar varchar, tempat_lahir varchar,
    tanggal_lahir date, jenis_kelamin varchar, status_kawin varchar,
    alamat varchar, rt varchar, rw varchar, disabilitas varchar, ktp_el varchar,
    kode_wilayah varchar, tps varchar, sumber varchar, keterangan varchar,
    status varchar not null, tms_code integer,
    valid_from_period varchar not null,   -- '0000-00' for the initial list
    valid_to_period varchar,              -- null while current; else the period that replaced it
    change_id varchar,                    -- the change that created this version
    primary key (dpid, version)
);

-- The comparison name forms (linkage.frames.name_forms) of each distinct name
-- of the list, the future voters and the events: kept by the link stage
-- (linking.refresh_name_forms) so a period computes only new names' forms.
-- forms_version names the code that made them; other versions are dropped.
create table if not exists core.name_forms (
    nama varchar primary key, forms_version varchar not null,
    nama_norm varchar, nama_sorted varchar, bk_first varchar, bk_sorted varchar
);

-- People known to the population data but not yet eligible (under 17, unmarried):
-- promoted to BARU automatically in the period they qualify.
create table if not exists core.future_voters (
    future_id varchar primary key,
    nkk varchar, nik varchar, nama varchar, gelar varchar, tempat_lahir varchar,
    tanggal_lahir date, jenis_kelamin varchar, status_kawin varchar,
    alamat varchar, rt varchar, rw varchar, kode_wilayah varchar,
    first_period varchar not null, sumber varchar, event_id varchar,
    closed_period varchar,                -- promoted to the list, or no longer tracked
    closed_reason varchar,                -- PROMOSI, KAWIN, MENINGGAL, ...
    promoted_dpid varchar
);

-- What the link stage compares an event with, defined once for the link stage
-- and the review: every voter (AKTIF or TMS) and every future voter still tracked.
create or replace view core.link_candidates as
select dpid as target_id, nik, nkk, nama, gelar, tempat_lahir, tanggal_lahir, jenis_kelamin,
       status_kawin, alamat, rt, rw, kode_wilayah, status
from core.voters
union all
select future_id, nik, nkk, nama, gelar, tempat_lahir, tanggal_lahir, jenis_kelamin,
       status_kawin, alamat, rt, rw, kode_wilayah, 'CALON'
from core.future_voters where closed_period is null;

-- Start-of-period values of the future voters a period updated or closed, so
-- that reverting the period restores them exactly.
create table if not exists core.future_voter_snapshots (
    period varchar not null, future_id varchar not null,
    nkk varchar, nik varchar, nama varchar, gelar varchar, tempat_lahir varchar,
    tanggal_lahir date, jenis_kelamin varchar, status_kawin varchar,
    alamat varchar, rt varchar, rw varchar, kode_wilayah varchar,
    first_period varchar not null, sumber varchar, event_id varchar,
    closed_period varchar, closed_reason varchar, promoted_dpid varchar,
    primary key (period, future_id)
);

-- One row per period run.
create table if not exists core.periods (
    period varchar primary key, cutoff date not null, status varchar not null,
    started_at timestamp, finished_at timestamp, stage varchar, message varchar
);

-- One row per delivered file and period (the file ledger).
create table if not exists core.files (
    period varchar not null, file_name varchar not null, sha256 varchar not null,
    size_bytes bigint, sumber varchar, rows_in integer, rows_loaded integer,
    rows_quarantined integer, status varchar, message varchar, loaded_at timestamp,
    primary key (period, file_name)
);

-- Normalised events of each period (staging for link and apply).
create table if not exists core.events (
    period varchar not null, sumber varchar not null, event_id varchar not null,
    jenis_peristiwa varchar not null, tanggal_peristiwa date,
    nik varchar, nik_valid boolean, nik_flag varchar, nkk varchar,
    nama varchar, gelar varchar, tempat_lahir varchar, tanggal_lahir date,
    jenis_kelamin varchar, status_kawin varchar, alamat varchar, rt varchar, rw varchar,
    kode_wilayah varchar, kode_wilayah_asal varchar,
    is_late boolean, file_name varchar, row_number integer, extra varchar,
    primary key (period, sumber, event_id)
);

-- Rows that could not be loaded, with the raw row and a reason code.
create table if not exists core.quarantine (
    period varchar not null, file_name varchar not null, row_number integer not null,
    sumber varchar, event_id varchar, reason varchar not null, detail varchar, raw varchar,
    primary key (period, file_name, row_number)
);

-- The link decision for each event of a period.
create table if not exists core.matches (
    period varchar not null, sumber varchar not null, event_id varchar not null,
    decision varchar not null,           -- LINK, NEW, REVIEW, DUPLICATE_EVENT
    target_id varchar,                   -- dpid or future_id (F-prefixed) for LINK / REVIEW candidate
    match_method varchar,                -- NIK_EXACT, SPLINK, REVIEW_DECISION, NONE
    match_probability double,
    duplicate_of varchar,                -- sumber|event_id of the primary event for DUPLICATE_EVENT
    flag varchar,                        -- e.g. NIK_MISUSE_SUSPECTED
    primary key (period, sumber, event_id)
);

-- The change ledger: one row per change to the list.
create table if not exists core.changes (
    period varchar not null, change_id varchar primary key,
    sumber varchar, event_id varchar,   -- the event (or DEDUPE cluster / PROMOSI) behind it
    dpid varchar not null, change_type varchar not null, tms_code integer,
    rule varchar not null, reason varchar, changed_fields varchar,
    match_method varchar, match_probability double,
    kode_wilayah varchar, jenis_kelamin varchar
);

-- Clerical decisions on the review queue (pdpb review import): SAMA links the
-- event to target_id, BEDA treats it as a new person; used by the next run of the period.
create table if not exists core.review_decisions (
    period varchar not null, sumber varchar not null, event_id varchar not null,
    target_id varchar, keputusan varchar not null,      -- SAMA or BEDA
    decided_by varchar not null, decided_at timestamp not null, catatan varchar,
    primary key (period, sumber, event_id)
);

-- Duplicate registrations found by the whole-list dedupe job (pdpb dedupe), one
-- row per record proposed for TMS 2. cluster_id: G<survivor dpid> for an AUTO
-- cluster (every pair certain, one row per non-survivor), P<survivor dpid>-<dpid>
-- for a REVIEW pair (one uncertain pair, one decision; never chained). REVIEW
-- waits for an operator (pdpb dedupe import sets SAMA or BEDA, decided_by,
-- decided_at). Rows with decision AUTO or SAMA become TMS 2 (ganda) in the
-- next period's apply (sumber 'DEDUPE', event_id = cluster_id, applied_period).
create table if not exists core.dedupe_proposals (
    cluster_id varchar not null, dpid varchar not null, survivor_dpid varchar not null,
    match_probability double, decision varchar not null,   -- AUTO, REVIEW, SAMA, BEDA
    proposed_at timestamp not null, decided_by varchar, decided_at timestamp,
    applied_period varchar,
    primary key (cluster_id, dpid)
);

-- Exactly one outcome per ingested row of a period.
create table if not exists core.event_outcomes (
    period varchar not null, sumber varchar not null, event_id varchar not null,
    outcome varchar not null, dpid varchar, match_method varchar,
    match_probability double, detail varchar,
    primary key (period, sumber, event_id)
);

-- The audit trail (pdpb/audit.py): append-only, one row per recorded action,
-- in `seq` order. kind: INIT, CHANGE (subject dpid, ref change_id),
-- REVIEW_DECISION (an event's review, pdpb review import: subject sumber|event_id),
-- DEDUPE_DECISION (a dedupe pair, pdpb dedupe import: subject the dpid that would
-- become TMS 2, ref the cluster_id, period null: the whole list, not a period,
-- so `pdpb audit` without --period lists it), ROLLBACK (subject the period undone).
-- Never deleted, not even by a rollback. Holds no NIK or NKK.
create sequence if not exists core.audit_seq;
create table if not exists core.audit_log (
    seq bigint primary key, recorded_at timestamp not null, actor varchar not null,
    kind varchar not null, period varchar, subject varchar, what varchar not null,
    why varchar, ref varchar
);
"""


def connect(
    settings: Settings,
    read_only: bool = False,
    ddl: str = DDL,
    missing: str = "run `pdpb init --voters FILE` first",
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating the file and its tables (`ddl`: the core
    tables of a province home) if needed; read-only, never: a home without a
    warehouse is refused in one line (`missing` says what to do) and left as it was."""
    path: Path = settings.warehouse_path
    if read_only:
        if not path.exists():
            raise PdpbError(f"home {settings.home} has no warehouse yet: {missing}")
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute(ddl)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Commit everything in the block, or nothing."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], rows: Iterable[dict]
) -> int:
    """Insert dict rows through Arrow (fast, and typed by the target table)."""
    rows = list(rows)
    if not rows:
        return 0
    batch = pa.table({c: [r.get(c) for r in rows] for c in columns})
    con.register("_insert_batch", batch)
    try:
        con.execute(
            f"insert into {table} ({', '.join(columns)}) select {', '.join(columns)} from _insert_batch"
        )
    finally:
        con.unregister("_insert_batch")
    return len(rows)
