"""The analyst snapshot: `published/pdpb.duckdb`, a read-only copy of the
marts and the masked voter list, swapped in whole, with its README."""

from __future__ import annotations

import datetime as dt
import os
import re
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


def build_snapshot(
    con: duckdb.DuckDBPyConnection, settings: Settings, period: str, cutoff: dt.date
) -> tuple[Path, Path]:
    """`published/pdpb.duckdb` (marts copies, masked voters, snapshot_info)
    and `published/README.txt`, each swapped in whole with os.replace."""
    folder = settings.published_dir
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / "pdpb.duckdb"
    tmp = folder / f".pdpb.duckdb.tmp-{os.getpid()}"
    tmp_wal = tmp.with_name(tmp.name + ".wal")
    for leftover in (tmp, tmp_wal):
        leftover.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    try:
        snap = duckdb.connect(str(tmp))
        try:
            snap.execute("create schema marts")
            for table in sorted(existing_marts(con)):
                query = f'select {_select_list(con, "marts", table)} from marts."{table}"'
                counts[f"marts.{table}"] = _copy_table(con, snap, query, f'marts."{table}"')
            pause_if_testing(settings, "publish")  # the crash test kills it here, half-written
            voters = f"select {_select_list(con, 'core', 'voters')} from core.voters"
            counts["voters"] = _copy_table(con, snap, voters, "main.voters")
            published_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
            latest = trend(con, "9999-12")[0][-1]
            snap.execute(
                "create table main.snapshot_info as select ? as period, ? as cutoff,"
                " ? as periode_terakhir, ? as published_at",
                [period, cutoff, latest, published_at],
            )
            snap.execute("checkpoint")
        finally:
            snap.close()
        tmp.chmod(0o444)  # a snapshot is never edited in place, only replaced
        os.replace(tmp, final)
    finally:
        for leftover in (tmp, tmp_wal):
            leftover.unlink(missing_ok=True)
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

pdpb.duckdb is a read-only copy of the warehouse: every marts.* table and a
table `voters` (current voter list). NIK and NKK are masked with the
warehouse rule core.mask_nik (region prefix and last 2 digits kept). The
table `snapshot_info` says which period the snapshot reflects.

The file is replaced whole after each published period; open it read-only:

    import duckdb
    con = duckdb.connect("pdpb.duckdb", read_only=True)
    con.sql("select * from marts.rpt_rekap_kabkota where period = '{period}'")

Tables:
{tables}
"""
