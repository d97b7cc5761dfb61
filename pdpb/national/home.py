"""The national home's layout and its warehouse (schema `nasional`).

`provinces/<kode>/` under the national home are the provinces' homes: a
province is part of the deployment when its folder holds a warehouse (it was
initialised with `pdpb --home <national>/provinces/<kode> init`). The national
warehouse never holds a voter list: it keeps the routing ledger, the moves
across provinces and their reconciliation, the proposals of people active in
two provinces, the province recaps it collected and the national marts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import duckdb

from pdpb.config import PdpbError, Settings

PROVINCES_DIR = "provinces"
PROVINCE_RE = re.compile(r"^\d{2}$")

DDL = """
create schema if not exists nasional;
create schema if not exists marts;

-- One row per national delivery routed: rows_in = rows_routed + rows_quarantined.
create table if not exists nasional.route_files (
    period varchar not null, file_name varchar not null, sha256 varchar,
    rows_in bigint not null, rows_routed bigint not null, rows_quarantined bigint not null,
    status varchar not null, message varchar, routed_at timestamp not null,
    primary key (period, file_name)
);

-- What routing wrote into each province's landing folder (a move counts in both).
create table if not exists nasional.route_outputs (
    period varchar not null, file_name varchar not null, kode_provinsi varchar not null,
    output_name varchar not null, rows bigint not null,
    primary key (period, file_name, kode_provinsi)
);

-- Rows no province can take, with the reason (raw: the delivered row as JSON).
create table if not exists nasional.route_quarantine (
    period varchar not null, file_name varchar not null, row_number bigint not null,
    sumber varchar, event_id varchar, reason varchar not null, detail varchar, raw varchar
);

-- PINDAH rows whose origin desa is in another province than the destination.
create table if not exists nasional.moves (
    period varchar not null, sumber varchar not null, event_id varchar not null,
    kode_provinsi_asal varchar not null, kode_wilayah_asal varchar,
    kode_provinsi_tujuan varchar not null, kode_wilayah varchar,
    primary key (period, sumber, event_id)
);

-- Each province's period as the national run saw it.
create table if not exists nasional.province_runs (
    period varchar not null, kode_provinsi varchar not null, status varchar not null,
    stage varchar, message varchar, started_at timestamp, finished_at timestamp,
    primary key (period, kode_provinsi)
);

-- Every move across provinces after the period: SELESAI when it ended in one
-- TMS 4 in the origin and one BARU in the destination, else why not.
create table if not exists nasional.move_reconciliation (
    period varchar not null, sumber varchar not null, event_id varchar not null,
    kode_provinsi_asal varchar not null, kode_provinsi_tujuan varchar not null,
    outcome_asal varchar, dpid_asal varchar, tms_asal integer not null,
    outcome_tujuan varchar, dpid_tujuan varchar, baru_tujuan integer not null,
    status varchar not null, alasan varchar,
    primary key (period, sumber, event_id)
);

-- People active in two provinces: one row per pair, proposed once, decided by
-- an operator (SAMA / BEDA) like the dedupe pairs; SAMA is delivered to the
-- province of the record that does not survive as TMS 2 (delivered_period).
create table if not exists nasional.ganda_proposals (
    pair_id varchar primary key,
    kode_provinsi varchar not null, dpid varchar not null,                   -- proposed for TMS 2
    kode_provinsi_bertahan varchar not null, dpid_bertahan varchar not null, -- survives
    dasar varchar not null, alasan_bertahan varchar, kembar boolean not null,
    proposed_period varchar not null, proposed_at timestamp not null,
    decision varchar not null,          -- REVIEW, SAMA, BEDA
    decided_by varchar, decided_at timestamp, catatan varchar,
    delivered_period varchar
);

-- The national period: COMPLETE when every province of the deployment published it.
create table if not exists nasional.periods (
    period varchar primary key, status varchar not null, provinces varchar not null,
    provinces_completed varchar, message varchar, finished_at timestamp
);
"""


def provinces_root(settings: Settings) -> Path:
    return settings.home / PROVINCES_DIR


def province_settings(settings: Settings, kode: str) -> Settings:
    """The province home under the national home, with the national knobs."""
    from dataclasses import replace

    return replace(settings, home=provinces_root(settings) / kode)


def province_homes(settings: Settings, wanted: list[str] | None = None) -> dict[str, Settings]:
    """The deployment's provinces (code -> settings), or refuse in one line."""
    root = provinces_root(settings)
    found = {
        p.name: province_settings(settings, p.name)
        for p in sorted(root.iterdir() if root.is_dir() else [])
        if PROVINCE_RE.match(p.name) and (p / "warehouse" / "pdpb.duckdb").exists()
    }
    if not found:
        raise PdpbError(
            f"home {settings.home} is not a national home: no {PROVINCES_DIR}/<kode>/ with a "
            f"warehouse; initialise each province with `pdpb --home {root}/<kode> init --voters FILE`"
        )
    if wanted:
        unknown = sorted(set(wanted) - set(found))
        if unknown:
            raise PdpbError(
                f"province {', '.join(unknown)} has no home under {root} "
                f"(the deployment holds {', '.join(found)})"
            )
        found = {k: v for k, v in found.items() if k in wanted}
    return found


def is_national(settings: Settings) -> bool:
    return provinces_root(settings).is_dir()


def connect_national(settings: Settings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The national warehouse (schema `nasional`, the national marts)."""
    from pdpb.warehouse import connect

    return connect(settings, read_only, DDL, "run a national period (`pdpb national run`)")


@contextmanager
def attached_provinces(
    con: duckdb.DuckDBPyConnection, homes: dict[str, Settings]
) -> Iterator[dict[str, str]]:
    """Attach each province's warehouse read-only as `p<kode>` while holding
    its writer lock, so no province writes while the national step reads it;
    yields code -> catalog name. Only the columns a query names are read."""
    from pdpb.locking import writer_lock

    with ExitStack() as stack:
        names = {}
        for kode, home in sorted(homes.items()):
            stack.enter_context(writer_lock(home))
            name = f"p{kode}"
            path = str(home.warehouse_path).replace("'", "''")
            con.execute(f"attach '{path}' as {name} (read_only)")
            stack.callback(con.execute, f"detach {name}")
            names[kode] = name
        yield names
