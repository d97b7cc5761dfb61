"""The analyst snapshot: `published/pdpb.duckdb`, a read-only copy of the
marts and the masked voter list, swapped in whole, with its README."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pdpb.config import Settings
from pdpb.faults import pause_if_testing
from pdpb.files import atomic_target
from pdpb.publish.marts import count, existing_marts, trend

# Columns masked in copied marts too, in case a model exposes an identity
# number; `nik_valid` and similar flags are not identity numbers.
MASKED_COLUMN_RE = re.compile(r"^(nik|nkk)(_.*)?$|_(nik|nkk)$")


def _select_list(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    items = []
    for name, data_type in rows:
        quoted = '"' + name.replace('"', '""') + '"'
        if data_type == "VARCHAR" and MASKED_COLUMN_RE.search(name):
            items.append(f"core.mask_nik({quoted}) as {quoted}")
        else:
            items.append(quoted)
    return ", ".join(items)


def _copy_table(
    source: duckdb.DuckDBPyConnection, target: duckdb.DuckDBPyConnection, query: str, name: str
) -> int:
    """Stream a query's result into a new table of the snapshot via Arrow
    batches (the warehouse is read-only, so it cannot attach the target)."""
    reader = source.sql(query).to_arrow_reader(100_000)
    target.register("_publish_source", reader)
    try:
        target.execute(f"create table {name} as select * from _publish_source")
    finally:
        target.unregister("_publish_source")
    return count(target, f"select count(*) from {name}")


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
}


def _sql_text(text: str) -> str:
    return "'" + " ".join(text.split()).replace("'", "''") + "'"


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
            "select column_name from duckdb_columns() where schema_name || '.' || table_name = ?",
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
def snapshot_file(folder: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with a new file attached as `snapshot`
    in the storage format of SNAPSHOT_STORAGE_VERSION (so DuckDB clients from
    OLDEST_READER on open it); on success the file is made read-only and
    swapped in whole as `folder/pdpb.duckdb` (os.replace), else removed."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{SNAPSHOT_NAME}.tmp-{os.getpid()}"
    tmp_wal = tmp.with_name(tmp.name + ".wal")
    for leftover in (tmp, tmp_wal):
        leftover.unlink(missing_ok=True)
    try:
        snap = duckdb.connect()
        try:
            path = str(tmp).replace("'", "''")
            snap.execute(
                f"attach '{path}' as snapshot (storage_version '{SNAPSHOT_STORAGE_VERSION}')"
            )
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


def build_snapshot(
    con: duckdb.DuckDBPyConnection, settings: Settings, period: str, cutoff: dt.date
) -> tuple[Path, Path]:
    """`published/pdpb.duckdb` (the marts, masked, with their dbt descriptions
    as comments, and snapshot_info) and `published/README.txt`, each swapped
    in whole with os.replace. The file is written in the storage format of
    SNAPSHOT_STORAGE_VERSION, so DuckDB clients from OLDEST_READER on open it."""
    folder = settings.published_dir
    counts: dict[str, int] = {}
    described = dbt_descriptions(settings)
    with snapshot_file(folder) as snap:
        snap.execute("use snapshot")
        snap.execute("create schema marts")
        for table in sorted(existing_marts(con)):
            query = f'select {_select_list(con, "marts", table)} from marts."{table}"'
            counts[f"marts.{table}"] = _copy_table(con, snap, query, f'marts."{table}"')
            text, columns = described.get(table, ("", {}))
            _comment(snap, f"marts.{table}", text, columns)
        pause_if_testing(settings, "publish")  # the crash test kills it here, half-written
        published_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        latest = trend(con, "9999-12")[0][-1]
        snap.execute(
            "create table main.snapshot_info as select ?::varchar as period,"
            " ?::date as cutoff, ?::varchar as periode_terakhir,"
            " ?::timestamptz as published_at",
            [period, cutoff, latest, published_at],
        )
        _comment(snap, "main.snapshot_info", "Which period this snapshot reflects.",
                 INFO_COMMENTS)  # fmt: skip
    final = folder / SNAPSHOT_NAME
    readme = folder / "README.txt"
    with atomic_target(readme) as tmp_readme:
        tmp_readme.write_text(
            _snapshot_readme(period, cutoff, latest, published_at, counts), encoding="utf-8"
        )
    return final, readme


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
