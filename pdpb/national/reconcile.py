"""Reconciliation across provinces after a national period.

Reads the provinces' warehouses read-only (attached, under each province's
writer lock) and writes only to the national warehouse:

- `nasional.province_runs`: each province's period as its own `core.periods` says;
- `nasional.move_reconciliation`: every move across provinces routed this
  period, SELESAI when it ended in exactly one TMS 4 in the origin and one
  BARU in the destination, otherwise TERTUNDA (a review or a province's
  period is pending) or PERIKSA (operators must look), with the reason;
- `nasional.ganda_proposals`: people active in two provinces, proposed once
  per pair for an operator's decision (never TMS 2 without one);
- the completed provinces' recaps (`nasional.rekap_kabkota`,
  `nasional.rekap_provinsi_asal`), which dbt rolls up into the national marts.

The joins run over the shards' identity columns only (NIK, NKK, birth date,
sex, the stored name forms): DuckDB reads those columns of the attached files
and no list is copied.
"""

from __future__ import annotations

import logging
from datetime import datetime

import duckdb

from pdpb.config import Settings, parse_period
from pdpb.locking import writer_lock
from pdpb.national.home import attached_provinces, connect_national, province_homes
from pdpb.warehouse import insert_rows, transaction

log = logging.getLogger(__name__)

# Reasons, in the operators' words.
TERTUNDA, PERIKSA, SELESAI, BUKAN_PEMILIH = "TERTUNDA", "PERIKSA", "SELESAI", "BUKAN_PEMILIH"

# How two records in two provinces come to be proposed as one person.
GANDA_RULES = {
    "NIK_SAMA": "a.nik = b.nik and length(a.nik) = 16",
    # One name, birth date, sex and place of birth, where the NIKs do not say
    # two people (`_two_own_niks`): a stale record's NIK is often missing or
    # mistyped. Without the place of birth, namesakes born the same day fill
    # the queue (on a generated 60,000-voter national list: 510 pairs, 11 of
    # them one person; with it and the NIK check: 11 pairs, all one person).
    "IDENTITAS_SAMA": (
        "a.tanggal_lahir = b.tanggal_lahir and a.jenis_kelamin = b.jenis_kelamin"
        " and a.nama_norm = b.nama_norm"
        " and upper(trim(a.tempat_lahir)) = upper(trim(b.tempat_lahir))"
    ),
}


def reconcile_period(settings: Settings, period: str) -> dict:
    """Reconcile one national period; returns counts (XCom-sized)."""
    parse_period(period)
    homes = province_homes(settings)
    with writer_lock(settings):
        con = connect_national(settings)
        try:
            with attached_provinces(con, homes) as catalogs:
                runs = _province_runs(con, catalogs, period)
                completed = sorted(k for k, r in runs.items() if r["status"] == "COMPLETED")
                moves = _reconcile_moves(con, catalogs, runs, period)
                proposals = _find_ganda(con, {k: catalogs[k] for k in completed})
                with transaction(con):
                    con.execute("delete from nasional.province_runs where period = ?", [period])
                    insert_rows(
                        con,
                        "nasional.province_runs",
                        ("period", "kode_provinsi", "status", "stage", "message", "started_at",
                         "finished_at"),
                        [{"period": period, "kode_provinsi": k, **r} for k, r in runs.items()],
                    )  # fmt: skip
                    con.execute(
                        "delete from nasional.move_reconciliation where period = ?", [period]
                    )
                    insert_rows(con, "nasional.move_reconciliation", MOVE_COLUMNS, moves)
                    new = _store_proposals(con, proposals, period)
                    _collect_recaps(con, catalogs, completed, period)
                    status = "COMPLETE" if len(completed) == len(homes) else "INCOMPLETE"
                    missing = [k for k in sorted(homes) if k not in completed]
                    message = (
                        None
                        if not missing
                        else "belum selesai: "
                        + "; ".join(f"provinsi {k} {_run_words(runs[k])}" for k in missing)
                    )
                    con.execute("delete from nasional.periods where period = ?", [period])
                    con.execute(
                        "insert into nasional.periods values (?, ?, ?, ?, ?, ?)",
                        [period, status, ",".join(sorted(homes)), ",".join(completed), message,
                         datetime.now()],
                    )  # fmt: skip
        finally:
            con.close()
    by_status: dict[str, int] = {}
    for m in moves:
        by_status[m["status"]] = by_status.get(m["status"], 0) + 1
    counts = {
        "period": period,
        "status": status,
        "provinces": len(homes),
        "provinces_completed": len(completed),
        "incomplete": message,
        "moves": len(moves),
        **{f"moves_{k.lower()}": v for k, v in sorted(by_status.items())},
        "ganda_proposed": new,
    }
    log.info("reconcile %s: %s", period, counts)
    return counts


def _run_words(run: dict) -> str:
    if run["status"] == "NOT_RUN":
        return "belum dijalankan"
    words = f"{run['status']} di tahap {run['stage']}"
    return f"{words}: {run['message']}" if run.get("message") else words


def _province_runs(con: duckdb.DuckDBPyConnection, catalogs: dict[str, str], period: str) -> dict:
    runs = {}
    for kode, cat in catalogs.items():
        row = con.execute(
            f"select status, stage, message, started_at, finished_at from {cat}.core.periods "
            "where period = ?",
            [period],
        ).fetchone()
        keys = ("status", "stage", "message", "started_at", "finished_at")
        runs[kode] = (
            dict(zip(keys, row, strict=True))
            if row
            else dict.fromkeys(keys) | {"status": "NOT_RUN"}
        )
    return runs


MOVE_COLUMNS = (
    "period", "sumber", "event_id", "kode_provinsi_asal", "kode_provinsi_tujuan", "outcome_asal",
    "dpid_asal", "tms_asal", "outcome_tujuan", "dpid_tujuan", "baru_tujuan", "status", "alasan",
)  # fmt: skip


def _side(con, catalogs: dict[str, str], period: str, side: str, rule: str) -> dict:
    """Outcome, dpid and the count of `rule` changes per move, on one side."""
    column = f"kode_provinsi_{side}"
    found: dict[tuple, tuple] = {}
    for kode, cat in catalogs.items():
        rows = con.execute(
            f"""select m.sumber, m.event_id, o.outcome, coalesce(c.dpid, o.dpid), o.detail,
                       coalesce(c.n, 0)
                from nasional.moves m
                left join {cat}.core.event_outcomes o
                  on o.period = m.period and o.sumber = m.sumber and o.event_id = m.event_id
                left join (select sumber, event_id, any_value(dpid) as dpid, count(*) as n
                           from {cat}.core.changes where period = ? and rule = ?
                           group by sumber, event_id) c
                  on c.sumber = m.sumber and c.event_id = m.event_id
                where m.period = ? and m.{column} = ?""",
            [period, rule, period, kode],
        ).fetchall()
        for sumber, event_id, *rest in rows:
            found[(sumber, event_id)] = tuple(rest)
    return found


def _reconcile_moves(con, catalogs: dict[str, str], runs: dict, period: str) -> list[dict]:
    origin = _side(con, catalogs, period, "asal", "TMS_PINDAH_KELUAR")
    dest = _side(con, catalogs, period, "tujuan", "BARU_PINDAH_MASUK")
    moves = con.execute(
        "select sumber, event_id, kode_provinsi_asal, kode_provinsi_tujuan from nasional.moves "
        "where period = ? order by sumber, event_id",
        [period],
    ).fetchall()
    out = []
    for sumber, event_id, asal, tujuan in moves:
        o = origin.get((sumber, event_id), (None, None, None, 0))
        d = dest.get((sumber, event_id), (None, None, None, 0))
        status, alasan = _move_status(asal, tujuan, runs, o, d)
        out.append({
            "period": period, "sumber": sumber, "event_id": event_id, "kode_provinsi_asal": asal,
            "kode_provinsi_tujuan": tujuan, "outcome_asal": o[0], "dpid_asal": o[1],
            "tms_asal": o[3], "outcome_tujuan": d[0], "dpid_tujuan": d[1], "baru_tujuan": d[3],
            "status": status, "alasan": alasan,
        })  # fmt: skip
    return out


def _move_status(asal: str, tujuan: str, runs: dict, o: tuple, d: tuple) -> tuple[str, str | None]:
    """SELESAI, TERTUNDA, BUKAN_PEMILIH or PERIKSA, and why, for one move."""
    o_outcome, o_dpid, o_detail, tms = o
    d_outcome, d_dpid, d_detail, baru = d
    for kode, words in ((asal, "asal"), (tujuan, "tujuan")):
        if kode not in runs:
            if kode == asal:
                # Only the destination is ours: its BARU is the whole move here.
                return (
                    (SELESAI, None)
                    if baru == 1
                    else (PERIKSA, f"provinsi asal {asal} di luar penerapan; tujuan: {d_outcome}")
                )
            return PERIKSA, f"provinsi tujuan {tujuan} di luar penerapan"
        if runs[kode]["status"] != "COMPLETED":
            return TERTUNDA, f"periode provinsi {words} {kode} {_run_words(runs[kode])}"
    if tms == 1 and baru == 1:
        return SELESAI, None
    if "REVIEW" in (o_outcome, d_outcome):
        where = " dan ".join(
            w for w, x in (("asal", o_outcome), ("tujuan", d_outcome)) if x == "REVIEW"
        )
        return TERTUNDA, f"menunggu pemeriksaan di provinsi {where}"
    if o_outcome in (None, "NOT_FOUND") and d_outcome == "FUTURE_VOTER":
        return BUKAN_PEMILIH, "belum berhak memilih: dicatat sebagai pemilih masa depan di tujuan"
    reasons = []
    if tms != 1:
        reasons.append(_side_words("asal", o_outcome, o_detail, tms, "TMS 4"))
    if baru != 1:
        reasons.append(_side_words("tujuan", d_outcome, d_detail, baru, "BARU"))
        if d_outcome in ("APPLIED", "NO_CHANGE") and d_dpid:
            reasons.append(f"sudah terdaftar di provinsi tujuan ({d_dpid}): mungkin ganda")
    return PERIKSA, "; ".join(reasons)


def _side_words(side: str, outcome: str | None, detail: str | None, n: int, change: str) -> str:
    if outcome is None:
        return f"baris tidak sampai di provinsi {side} (dikarantina saat ingest atau tidak dimuat)"
    if outcome == "NOT_FOUND":
        return f"pemilih tidak ditemukan di provinsi {side}"
    if outcome == "QUARANTINED":
        return f"baris dikarantina di provinsi {side}"
    extra = f": {detail}" if detail else ""
    return f"provinsi {side}: {outcome}, {n} {change}{extra}"


# --------------------------------------------------------------------------- ganda


def _identity_view(con, catalogs: dict[str, str]) -> bool:
    parts = [
        f"""select '{kode}' as kode_provinsi, v.dpid, v.nik, v.nkk, v.nama, v.tempat_lahir,
                   v.tanggal_lahir, v.jenis_kelamin, v.status_kawin, v.alamat, v.rt, v.rw,
                   v.kode_wilayah, v.tps, v.ktp_el, v.updated_period, f.nama_norm
            from {cat}.core.voters v
            left join (select nama, any_value(nama_norm) as nama_norm
                       from {cat}.core.name_forms group by nama) f using (nama)
            where v.status = 'AKTIF'"""
        for kode, cat in sorted(catalogs.items())
    ]
    if len(parts) < 2:
        return False
    con.execute("create or replace temp view _identitas as " + " union all ".join(parts))
    return True


def _find_ganda(con, catalogs: dict[str, str]) -> list[dict]:
    """Pairs of active records in two provinces that one of GANDA_RULES joins."""
    from linkage.dedupe import survivor_key

    if not _identity_view(con, catalogs):
        return []
    found: dict[tuple, tuple[str, dict, dict]] = {}
    for dasar, condition in GANDA_RULES.items():
        cursor = con.execute(
            f"""select a.*, b.* from _identitas a join _identitas b
                on a.kode_provinsi < b.kode_provinsi and {condition}"""
        )
        names = [d[0] for d in cursor.description]
        half = len(names) // 2
        for row in cursor.fetchall():
            a = dict(zip(names[:half], row[:half], strict=True))
            b = dict(zip(names[half:], row[half:], strict=True))
            found.setdefault((a["kode_provinsi"], a["dpid"], b["kode_provinsi"], b["dpid"]),
                             (dasar, a, b))  # fmt: skip
    # Whether each record's NIK agrees with its own birth date and sex, for
    # all records at once: one query per record took seconds per thousand pairs.
    nik_ok = _niks_agree([r for _, a, b in found.values() for r in (a, b)])
    pairs = []
    for key, (dasar, a, b) in found.items():
        if dasar != "NIK_SAMA" and _two_own_niks(a, b, nik_ok):
            continue
        ranked = sorted(
            (a, b), key=lambda v: survivor_key(v, nik_ok[(v["kode_provinsi"], v["dpid"])])
        )
        keep, drop = ranked
        pairs.append({
            "pair_id": "N{}-{}-{}-{}".format(*key),
            "kode_provinsi": drop["kode_provinsi"], "dpid": drop["dpid"],
            "kode_provinsi_bertahan": keep["kode_provinsi"], "dpid_bertahan": keep["dpid"],
            "dasar": dasar, "alasan_bertahan": _survivor_words(keep, drop, nik_ok),
            "kembar": _twins(a, b),
        })  # fmt: skip
    return pairs


def _niks_agree(records: list[dict]) -> dict[tuple[str, str], bool]:
    """(kode_provinsi, dpid) -> `linkage.frames.nik_agrees` of the record, in one query."""
    import pyarrow as pa

    from linkage.frames import clean_digits, nik_agrees_array

    if not records:
        return {}
    table = pa.table(
        {
            "nik": pa.array([clean_digits(r["nik"]) for r in records], pa.string()),
            "tanggal_lahir": pa.array([r["tanggal_lahir"] for r in records], pa.date32()),
            "jenis_kelamin": pa.array([r["jenis_kelamin"] for r in records], pa.string()),
        }
    )
    agrees = nik_agrees_array(table).to_pylist()
    return {
        (r["kode_provinsi"], r["dpid"]): bool(ok) for r, ok in zip(records, agrees, strict=True)
    }


def _two_own_niks(a: dict, b: dict, nik_ok: dict[tuple[str, str], bool]) -> bool:
    """Different NIKs that each agree with their own record's birth date and
    sex: two people (a NIK is for life; a move does not change it)."""
    return (
        a["nik"] != b["nik"]
        and nik_ok[(a["kode_provinsi"], a["dpid"])]
        and nik_ok[(b["kode_provinsi"], b["dpid"])]
    )


def _twins(a: dict, b: dict) -> bool:
    """Two people until an operator says otherwise (the dedupe queue's flag)."""
    near_nik = bool(
        a["nik"] and b["nik"] and a["nik"][:12] == b["nik"][:12] and a["nik"] != b["nik"]
    )
    same_card = bool(a["nkk"] and a["nkk"] == b["nkk"] and a["tanggal_lahir"] == b["tanggal_lahir"])
    return near_nik or (same_card and a["nama_norm"] != b["nama_norm"])


def _survivor_words(keep: dict, drop: dict, nik_ok: dict[tuple[str, str], bool]) -> str:
    from linkage.dedupe import survivor_key
    from pdpb.dedupe import SURVIVOR_REASONS

    k = survivor_key(keep, nik_ok[(keep["kode_provinsi"], keep["dpid"])])
    d = survivor_key(drop, nik_ok[(drop["kode_provinsi"], drop["dpid"])])
    for reason, x, y in zip(SURVIVOR_REASONS, k, d, strict=True):
        if x != y:
            return reason
    return SURVIVOR_REASONS[-1]


def _store_proposals(con, proposals: list[dict], period: str) -> int:
    """Insert the pairs not proposed before; a pair is proposed once, and a
    decided one keeps its decision. Returns how many are new."""
    known = {r[0] for r in con.execute("select pair_id from nasional.ganda_proposals").fetchall()}
    new = [
        {**p, "proposed_period": period, "proposed_at": datetime.now(), "decision": "REVIEW"}
        for p in proposals
        if p["pair_id"] not in known
    ]
    insert_rows(
        con,
        "nasional.ganda_proposals",
        ("pair_id", "kode_provinsi", "dpid", "kode_provinsi_bertahan", "dpid_bertahan", "dasar",
         "alasan_bertahan", "kembar", "proposed_period", "proposed_at", "decision"),
        new,
    )  # fmt: skip
    return len(new)


# --------------------------------------------------------------------------- recaps


def _collect_recaps(con, catalogs: dict[str, str], completed: list[str], period: str) -> None:
    """The completed provinces' kab/kota and province recap rows of the period."""
    for table, mart in (
        ("rekap_kabkota", "rpt_rekap_kabkota"),
        ("rekap_provinsi_asal", "rpt_rekap_provinsi"),
    ):
        if completed:
            first = catalogs[completed[0]]
            con.execute(
                f"create table if not exists nasional.{table} as "
                f"select ''::varchar as kode_provinsi, * from {first}.marts.{mart} limit 0"
            )
        if _exists(con, table):
            con.execute(f"delete from nasional.{table} where period = ?", [period])
        for kode in completed:
            con.execute(
                f"insert into nasional.{table} by name select '{kode}' as kode_provinsi, * "
                f"from {catalogs[kode]}.marts.{mart} where period = ?",
                [period],
            )


def _exists(con, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'nasional' and table_name = ?",
            [table],
        ).fetchone()[0]
    )
