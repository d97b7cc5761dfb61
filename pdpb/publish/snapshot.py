"""The analyst snapshot: `published/pdpb.duckdb`, a read-only copy of the
marts and the masked voter list, swapped in whole, with its README."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pdpb.config import PdpbError, Settings
from pdpb.faults import pause_if_testing
from pdpb.files import atomic_target
from pdpb.publish.marts import count, existing_marts, trend

log = logging.getLogger(__name__)

# Columns masked in copied marts too, in case a model exposes an identity
# number; `nik_valid` and similar flags are not identity numbers.
MASKED_COLUMN_RE = re.compile(r"^(nik|nkk)(_.*)?$|_(nik|nkk)$")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_catalog = ? and table_schema = 'marts' and table_name = ?"
        " order by ordinal_position",
        [catalog, table],
    ).fetchall()


def _catalog(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select current_database()").fetchall()[0][0]


def _select_list(snap: duckdb.DuckDBPyConnection, table: str) -> str:
    """The mart's columns as the snapshot holds them: identity numbers masked
    by the warehouse's own macro (the warehouse is attached as `wh`)."""
    items = []
    for name, data_type in _columns(snap, "wh", table):
        quoted = _quoted(name)
        if data_type == "VARCHAR" and MASKED_COLUMN_RE.search(name):
            items.append(f"wh.core.mask_nik({quoted}) as {quoted}")
        else:
            items.append(quoted)
    return ", ".join(items)


# The storage format of the snapshot: DuckDB 1.0.0 and every later reader
# open it (a file in the writer's own newest format needs DuckDB 2). Analysts'
# clients lag the pipeline's DuckDB; README.md names the oldest version, and
# tests/test_publish.py reads a snapshot with it in its own environment.
SNAPSHOT_STORAGE_VERSION = "v1.0.0"
OLDEST_READER = "1.0.0"

INFO_COMMENTS = {
    "period": "The period whose publish wrote this snapshot.",
    "cutoff": "That period's cut-off date.",
    "periode_terakhir": "The latest period in the recaps.",
    "published_at": "When the snapshot was written (UTC).",
    "period_started_at": "When the period's run started in the pipeline (core.periods):"
    " the next publish builds on this snapshot only if that run still stands.",
}


def _sql_text(text: str) -> str:
    return "'" + " ".join(text.split()).replace("'", "''") + "'"


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def dbt_descriptions(settings: Settings) -> dict[str, tuple[str, dict[str, str]]]:
    """Per marts table: (model description, {column: description}) from the
    manifest of the last dbt build; empty when there is none (marts by hand)."""
    path = settings.dbt_target_dir / "manifest.json"
    if not path.is_file():
        return {}
    try:
        nodes = json.loads(path.read_text(encoding="utf-8")).get("nodes", {})
    except (OSError, ValueError):
        return {}
    found = {}
    for node in nodes.values():
        if node.get("resource_type") == "model" and node.get("schema") == "marts":
            columns = {
                name: column.get("description") or ""
                for name, column in (node.get("columns") or {}).items()
            }
            found[node["name"]] = (node.get("description") or "", columns)
    return found


def _comment(snap: duckdb.DuckDBPyConnection, table: str, text: str, columns: dict) -> None:
    """COMMENT ON the table and its columns, so any client shows them."""
    present = {
        name
        for (name,) in snap.execute(
            "select column_name from duckdb_columns() where database_name = current_database()"
            " and schema_name || '.' || table_name = ?",
            [table],
        ).fetchall()
    }
    schema, name = table.split(".")
    if text:
        snap.execute(f'comment on table {schema}."{name}" is {_sql_text(text)}')
    for column, description in columns.items():
        if description and column in present:
            snap.execute(
                f'comment on column {schema}."{name}"."{column}" is {_sql_text(description)}'
            )


SNAPSHOT_NAME = "pdpb.duckdb"


@contextmanager
def snapshot_file(folder: Path, base: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with a new file attached as `snapshot`
    in the storage format of SNAPSHOT_STORAGE_VERSION (so DuckDB clients from
    OLDEST_READER on open it), or with a copy of the snapshot `base` (which
    keeps the format it was written in); on success the file is made
    read-only and swapped in whole as `folder/pdpb.duckdb` (os.replace), else
    removed."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{SNAPSHOT_NAME}.tmp-{os.getpid()}"
    tmp_wal = tmp.with_name(tmp.name + ".wal")
    for leftover in (tmp, tmp_wal):
        leftover.unlink(missing_ok=True)
    try:
        if base is not None:
            shutil.copyfile(base, tmp)  # a new file: the published one stays as it is
        snap = duckdb.connect()
        try:
            version = "" if base else f" (storage_version '{SNAPSHOT_STORAGE_VERSION}')"
            snap.execute(f"attach {_sql_path(tmp)} as snapshot{version}")
            yield snap
            snap.execute("use memory")
            snap.execute("detach snapshot")
        finally:
            snap.close()
        tmp.chmod(0o444)  # a snapshot is never edited in place, only replaced
        os.replace(tmp, folder / SNAPSHOT_NAME)
    finally:
        for leftover in (tmp, tmp_wal):
            leftover.unlink(missing_ok=True)


# The one mart as large as the list. A publish carries it over from the
# published snapshot and rewrites only the records changed since that
# snapshot's period, when the snapshot can be trusted for it (`_base_period`);
# every other mart is copied whole.
LIST_MART = "pemilih_terkini"


class _SnapshotDiffers(PdpbError):
    """The snapshot's list does not match the warehouse's."""


def _list_checksum(snap: duckdb.DuckDBPyConnection, catalog: str) -> tuple[int, int]:
    return snap.execute(
        f"select count(*), coalesce(sum(hash(dpid, updated_period)), 0)"
        f" from {catalog}.marts.{LIST_MART}"
    ).fetchall()[0]


def _started_at(con: duckdb.DuckDBPyConnection, period: str) -> dt.datetime | None:
    """When the period's run started (core.periods), None for a period not run."""
    rows = con.execute("select started_at from core.periods where period = ?", [period])
    return (rows.fetchall() or [(None,)])[0][0]


def _base_period(con: duckdb.DuckDBPyConnection, published: Path, period: str) -> str | None:
    """The period of the published snapshot when this publish can build on
    it: an earlier period, whose run in the warehouse is the one that
    snapshot was published from (same `core.periods.started_at`: not rolled
    back or re-run since), and whose list mart has the warehouse's columns.
    Every record changed since then carries a later `updated_period` (apply
    sets it with each new version, and a rollback restores the version, and
    so the period, of before), so the list is that snapshot's plus those.
    None means: write the snapshot whole."""
    if not published.is_file():
        return None
    try:
        with duckdb.connect(str(published), read_only=True) as old:
            base, started = old.execute(
                "select period, period_started_at from snapshot_info"
            ).fetchall()[0]
            old_columns = _columns(old, _catalog(old), LIST_MART)
    except (duckdb.Error, OSError, IndexError):
        return None  # unreadable, or written before snapshots recorded their run
    columns = _columns(con, _catalog(con), LIST_MART)
    run_stands = started is not None and _started_at(con, base) == started
    if base < period and run_stands and old_columns == columns and columns:
        return base
    return None


def build_snapshot(
    con: duckdb.DuckDBPyConnection, settings: Settings, period: str, cutoff: dt.date
) -> tuple[Path, Path]:
    """`published/pdpb.duckdb` (the marts, masked, with their dbt descriptions
    as comments, and snapshot_info) and `published/README.txt`, each swapped
    in whole with os.replace. The file is written in the storage format of
    SNAPSHOT_STORAGE_VERSION, so DuckDB clients from OLDEST_READER on open it.
    The list mart is carried over from the published snapshot when it can be
    (`_base_period`) and checked against the warehouse's either way."""
    folder = settings.published_dir
    base = _base_period(con, folder / SNAPSHOT_NAME, period)
    try:
        counts, published_at, latest = _write_snapshot(con, settings, period, cutoff, base)
    except _SnapshotDiffers as differs:
        log.warning("%s; writing the snapshot whole", differs)
        counts, published_at, latest = _write_snapshot(con, settings, period, cutoff, None)
    final = folder / SNAPSHOT_NAME
    readme = folder / "README.txt"
    with atomic_target(readme) as tmp_readme:
        tmp_readme.write_text(
            _snapshot_readme(period, cutoff, latest, published_at, counts), encoding="utf-8"
        )
    return final, readme


def _write_snapshot(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    period: str,
    cutoff: dt.date,
    base: str | None,
) -> tuple[dict[str, int], dt.datetime, str]:
    """Write the snapshot file (from the published one when `base` names its
    period); (row counts per table, published_at, latest period)."""
    folder = settings.published_dir
    described = dbt_descriptions(settings)
    marts = sorted(existing_marts(con))
    with snapshot_file(folder, folder / SNAPSHOT_NAME if base else None) as snap:
        snap.execute(f"attach {_sql_path(settings.warehouse_path)} as wh (read_only)")
        snap.execute("use snapshot")
        snap.execute("create schema if not exists snapshot.marts")
        snap.execute("drop table if exists snapshot.main.snapshot_info")
        kept = {
            name
            for (name,) in snap.execute(
                "select table_name from information_schema.tables"
                " where table_catalog = 'snapshot' and table_schema = 'marts'"
            ).fetchall()
        }
        for table in kept - ({LIST_MART} if base else set()):
            snap.execute(f"drop table snapshot.marts.{_quoted(table)}")
        for table in marts:
            select = f"select {_select_list(snap, table)} from wh.marts.{_quoted(table)}"
            if base and table == LIST_MART:
                # Records changed since the base period: replaced by their current row.
                snap.execute(
                    f"delete from snapshot.marts.{LIST_MART} where dpid in"
                    " (select dpid from wh.core.voters where updated_period > ?)",
                    [base],
                )
                snap.execute(
                    f"insert into snapshot.marts.{LIST_MART} {select} where updated_period > ?",
                    [base],
                )
            else:
                snap.execute(f"create table snapshot.marts.{_quoted(table)} as {select}")
        if base and LIST_MART in marts:
            log.info("snapshot: list carried over from %s, records changed since rewritten", base)
        if LIST_MART in marts and _list_checksum(snap, "snapshot") != _list_checksum(snap, "wh"):
            raise _SnapshotDiffers(
                f"the list carried over from the {base} snapshot differs from the warehouse's"
                if base
                else "the snapshot's list differs from the warehouse's"
            )
        counts = {
            f"marts.{table}": count(snap, f"select count(*) from snapshot.marts.{_quoted(table)}")
            for table in marts
        }
        for table in marts:
            text, columns = described.get(table, ("", {}))
            _comment(snap, f"marts.{table}", text, columns)
        pause_if_testing(settings, "publish")  # the crash test kills it here, half-written
        published_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        latest = trend(con, "9999-12")[0][-1]
        snap.execute(
            "create table snapshot.main.snapshot_info as select ?::varchar as period,"
            " ?::date as cutoff, ?::varchar as periode_terakhir,"
            " ?::timestamptz as published_at, ?::timestamp as period_started_at",
            [period, cutoff, latest, published_at, _started_at(con, period)],
        )
        _comment(snap, "main.snapshot_info", "Which period this snapshot reflects.",
                 INFO_COMMENTS)  # fmt: skip
        snap.execute("detach wh")
    return counts, published_at, latest


def _snapshot_readme(
    period: str, cutoff: dt.date, latest: str, published_at: dt.datetime, counts: dict[str, int]
) -> str:
    tables = "\n".join(f"  {name:<36} {count:>12,} rows" for name, count in counts.items())
    return f"""PDPB analyst snapshot (salinan baca-saja untuk analis)
=======================================================

Published by the publish stage of period {period} (cut-off {cutoff.isoformat()})
at {published_at.isoformat()}. Latest period in the recaps: {latest}.

pdpb.duckdb is a read-only copy of the warehouse's marts: the recaps
(marts.rpt_rekap_*), the changes (marts.fct_voter_changes,
marts.rpt_daftar_perubahan), the event outcomes, the regions, and the voter
list as it stands now, marts.pemilih_terkini (every record, status AKTIF or
TMS). NIK and NKK are masked with the warehouse rule core.mask_nik (region
prefix and last 2 digits kept). The table snapshot_info says which period
the snapshot reflects. Every table and column carries its description as a
comment (duckdb_tables(), duckdb_columns(), or your client's table view).

Open it with DuckDB {OLDEST_READER} or later (the CLI, DBeaver, Python, R),
read-only; the file is replaced whole after each published period:

    import duckdb
    con = duckdb.connect("pdpb.duckdb", read_only=True)
    con.sql("select * from marts.rpt_rekap_kabkota where period = '{period}'")

The dbt documentation of every table (lineage, columns, tests) is beside the
period's reports: reports/{period}/dbt-docs/index.html.

Tables:
{tables}
"""
