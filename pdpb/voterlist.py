"""Init: load the initial voter list (a Sidalih export) into an empty home.

The list becomes version 1 of every dpid in `core.voter_history` (period
`0000-00`) and the current `core.voters`. Rows that cannot be used go to
`core.quarantine` with a reason, and the file is recorded in `core.files`, so
rows in = loaded + quarantined holds for the list as for any delivery.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

from pdpb import normalize as nz
from pdpb.apply import HISTORY_COLUMNS, INIT_PERIOD, VOTER_COLUMNS
from pdpb.config import PdpbError, Settings
from pdpb.contracts import SIDALIH_COLUMNS
from pdpb.ingest import FileRejected, read_rows, sha256_of
from pdpb.warehouse import connect, insert_rows, transaction

log = logging.getLogger(__name__)


def normalise_voter(values: dict[str, object], today: date) -> dict:
    dpid = nz.clean_text(values.get("dpid"))
    if dpid is None:
        raise nz.InvalidValue("MISSING_DPID", "dpid is empty")
    lahir = nz.parse_date(values.get("tanggal_lahir"))
    if lahir is not None and (lahir > today or lahir.year < 1900):
        raise nz.InvalidValue("INVALID_BIRTH_DATE", f"tanggal_lahir {lahir} is implausible")
    nama, gelar = nz.split_name(values.get("nama"))
    keterangan = nz.clean_text(values.get("keterangan"))
    tms_code = (
        int(keterangan)
        if keterangan and keterangan.isdigit() and 1 <= int(keterangan) <= 9
        else None
    )
    kode = nz.region_code(values.get("kode_wilayah"))
    if kode is None:
        raise nz.InvalidValue("UNKNOWN_REGION", "kode_wilayah is empty")
    tps = nz.clean_text(values.get("tps"))
    return {
        "dpid": dpid,
        "nkk": nz.digits(values.get("nkk")),
        "nik": nz.digits(values.get("nik")),
        "nama": nama,
        "gelar": gelar,
        "tempat_lahir": nz.clean_text(values.get("tempat_lahir")),
        "tanggal_lahir": lahir,
        "jenis_kelamin": nz.jenis_kelamin(values.get("jenis_kelamin")),
        "status_kawin": nz.status_kawin(values.get("status_kawin")),
        "alamat": nz.clean_text(values.get("alamat")),
        "rt": nz.rt_rw(values.get("rt")),
        "rw": nz.rt_rw(values.get("rw")),
        "disabilitas": nz.clean_text(values.get("disabilitas")) or "0",
        "ktp_el": nz.clean_text(values.get("ktp_el")),
        "kode_wilayah": kode,
        "tps": f"{int(tps):03d}" if tps and tps.isdigit() else tps,
        "sumber": nz.clean_text(values.get("sumber")),
        "keterangan": keterangan,
        "status": "TMS" if tms_code else "AKTIF",
        "tms_code": tms_code,
        "updated_period": INIT_PERIOD,
    }


def read_voter_list(path: Path) -> tuple[list[dict], list[dict]]:
    """Read and normalise a Sidalih export: (voters, quarantine rows with reasons)."""
    path = Path(path)
    if not path.is_file():
        raise PdpbError(f"voter list {path} does not exist")
    header, rows = read_rows(path)
    positions = {str(h or "").strip().lstrip("\ufeff").lower(): i for i, h in enumerate(header)}
    missing = [c for c in SIDALIH_COLUMNS if c not in positions]
    if missing:
        raise FileRejected(f"{path.name}: missing required columns: {', '.join(missing)}")
    voters, quarantine, seen = [], [], set()
    today = datetime.now().date()
    for row_number, row in enumerate(rows, start=2):
        values = {
            c: (row[positions[c]] if positions[c] < len(row) else None) for c in SIDALIH_COLUMNS
        }
        try:
            voter = normalise_voter(values, today)
            if voter["dpid"] in seen:
                raise nz.InvalidValue("DUPLICATE_DPID", f"dpid {voter['dpid']} repeats")
        except nz.InvalidValue as bad:
            quarantine.append({"period": INIT_PERIOD, "file_name": path.name, "row_number": row_number,
                               "sumber": "SIDALIH", "event_id": nz.clean_text(values.get("dpid")),
                               "reason": bad.reason, "detail": bad.detail,
                               "raw": str({k: v for k, v in values.items() if k not in ("nik", "nkk")})[:4000]})  # fmt: skip
            continue
        seen.add(voter["dpid"])
        voters.append(voter)
    return voters, quarantine


def init_voters(settings: Settings, path: Path) -> dict:
    """Load the initial list; refuses a home that already has voters."""
    path = Path(path)
    if not path.is_file():
        raise PdpbError(f"voter list {path} does not exist")
    con = connect(settings)
    try:
        if con.execute("select count(*) from core.voters").fetchone()[0]:
            raise PdpbError(
                f"home {settings.home} already has a voter list; init needs an empty home"
            )
        voters, quarantine = read_voter_list(path)
        history = [
            {
                **v,
                "version": 1,
                "valid_from_period": INIT_PERIOD,
                "valid_to_period": None,
                "change_id": None,
            }
            for v in voters
        ]
        with transaction(con):
            insert_rows(con, "core.voters", VOTER_COLUMNS, voters)
            insert_rows(con, "core.voter_history", HISTORY_COLUMNS, history)
            insert_rows(con, "core.quarantine",
                        ("period", "file_name", "row_number", "sumber", "event_id", "reason", "detail", "raw"),
                        quarantine)  # fmt: skip
            con.execute(
                "insert into core.files values (?, ?, ?, ?, 'SIDALIH', ?, ?, ?, 'LOADED', null, now())",
                [INIT_PERIOD, path.name, sha256_of(path), path.stat().st_size,
                 len(voters) + len(quarantine), len(voters), len(quarantine)],
            )  # fmt: skip
    finally:
        con.close()
    counts = {
        "rows_in": len(voters) + len(quarantine),
        "voters": len(voters),
        "quarantined": len(quarantine),
    }
    log.info("init from %s: %s", path.name, counts)
    return counts
