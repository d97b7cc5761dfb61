"""People active in two provinces: the national pairs out to operators and
their decisions back (`pdpb national ganda export` / `import`).

The pairs come from reconciliation (`nasional.ganda_proposals`, every one
REVIEW: a person registered in two provinces is never removed without a
person looking). The sheet is the dedupe sheet's round trip
(pdpb/roundtrip.py): PETUNJUK, the two records side by side with NIK and NKK
masked, SAMA/BEDA. A SAMA is delivered to the province of the record that
does not survive, as an accepted dedupe proposal whose survivor is
`<kode>:<dpid>` of the other province; that province's next period makes it
TMS 2 (pdpb/apply.py apply_dedupe), with the national pair as its cluster.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pdpb.audit import record
from pdpb.config import Settings
from pdpb.files import safe_cells
from pdpb.locking import writer_lock
from pdpb.national.home import attached_provinces, connect_national, province_homes
from pdpb.roundtrip import (
    DECISION_COLUMNS,
    ReviewKind,
    import_review,
    import_summary,
    write_review_files,
    yes_no,
)
from pdpb.warehouse import connect, transaction

SIDE = (("NAMA", "nama"), ("TANGGAL_LAHIR", "tanggal_lahir"), ("JENIS_KELAMIN", "jenis_kelamin"),
        ("TEMPAT_LAHIR", "tempat_lahir"), ("ALAMAT", "alamat"), ("KODE_WILAYAH", "kode_wilayah"),
        ("TPS", "tps"), ("DIPERBARUI", "updated_period"))  # fmt: skip


def ganda_dir(settings: Settings) -> Path:
    return settings.home / "review" / "ganda_nasional"


def _details(con, catalogs: dict[str, str], wanted: list[tuple[str, str]]) -> dict:
    """core.voters rows (NIK and NKK masked) of (kode, dpid) pairs."""
    found = {}
    for kode, cat in catalogs.items():
        dpids = [d for k, d in wanted if k == kode]
        if not dpids:
            continue
        cursor = con.execute(
            f"""select dpid, core_mask(nik) as nik, core_mask(nkk) as nkk, nik as nik_raw,
                       nkk as nkk_raw, {", ".join(c for _, c in SIDE)}
                from {cat}.core.voters where dpid in (select unnest(?::varchar[]))""",
            [dpids],
        )
        names = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            found[(kode, row[0])] = dict(zip(names, row, strict=True))
    return found


def export_ganda(settings: Settings) -> dict:
    """Write the open national pairs to <home>/review/ganda_nasional/."""
    homes = province_homes(settings)
    con = connect_national(settings)
    try:
        # The masking rule of pdpb/warehouse.py (core.mask_nik), for this session.
        con.execute(
            "create or replace temp macro core_mask(x) as case when x is null or length(x) < 8 "
            "then x else left(x, 6) || repeat('*', length(x) - 8) || right(x, 2) end"
        )
        pairs = con.execute(
            "select * from nasional.ganda_proposals where decision = 'REVIEW' order by pair_id"
        ).fetchall()
        names = [d[0] for d in con.description]
        pairs = [dict(zip(names, p, strict=True)) for p in pairs]
        with attached_provinces(con, homes) as catalogs:
            wanted = [(p["kode_provinsi"], p["dpid"]) for p in pairs] + [
                (p["kode_provinsi_bertahan"], p["dpid_bertahan"]) for p in pairs
            ]
            details = _details(con, catalogs, wanted)
    finally:
        con.close()
    rows = []
    for p in pairs:
        g = details.get((p["kode_provinsi"], p["dpid"]), {})
        b = details.get((p["kode_provinsi_bertahan"], p["dpid_bertahan"]), {})
        row = {
            "PASANGAN": p["pair_id"],
            "PROVINSI_GANDA": p["kode_provinsi"], "DPID_GANDA": p["dpid"],
            "PROVINSI_BERTAHAN": p["kode_provinsi_bertahan"], "DPID_BERTAHAN": p["dpid_bertahan"],
            "DASAR": p["dasar"], "ALASAN_BERTAHAN": p["alasan_bertahan"],
            "CATATAN_SISTEM": "kemungkinan kembar: dua orang kecuali terbukti sama"
            if p["kembar"] else None,
            "NIK_GANDA": g.get("nik"), "NIK_BERTAHAN": b.get("nik"),
            "NIK_SAMA": yes_no(None if not (g.get("nik_raw") and b.get("nik_raw"))
                               else g["nik_raw"] == b["nik_raw"], "tidak ada NIK"),
            "NKK_GANDA": g.get("nkk"), "NKK_BERTAHAN": b.get("nkk"),
        }  # fmt: skip
        for label, column in SIDE:
            row[f"{label}_GANDA"] = g.get(column)
            row[f"{label}_BERTAHAN"] = b.get(column)
        row.update(dict.fromkeys(DECISION_COLUMNS))
        rows.append(safe_cells(row))
    folder = ganda_dir(settings)
    xlsx, csv_path = write_review_files(
        national_ganda_review(settings), rows, folder / "periksa_ganda_nasional.xlsx",
        folder / "periksa_ganda_nasional.csv",
    )  # fmt: skip
    return {"pairs": len(rows), "xlsx": str(xlsx), "csv": str(csv_path)}


def _open_items(con) -> dict[tuple[str, ...], dict]:
    cursor = con.execute("select * from nasional.ganda_proposals")
    names = [d[0] for d in cursor.description]
    return {(r[0],): dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def _check(item: dict, row: dict, keputusan: str) -> str | None:
    if item["decision"] != "REVIEW":
        return f"pair {item['pair_id']} was already decided ({item['decision']})"
    if row.get("DPID_GANDA") not in (None, item["dpid"]):
        return f"DPID_GANDA '{row['DPID_GANDA']}' is not the pair's record {item['dpid']}"
    return None


def national_ganda_review(settings: Settings) -> ReviewKind:
    def store(con, decisions: list[dict], decided_at: datetime, path: Path) -> None:
        homes = province_homes(settings)
        for d in decisions:
            item = d["item"]
            con.execute(
                "update nasional.ganda_proposals set decision = ?, decided_by = ?, decided_at = ?, "
                "catatan = ? where pair_id = ?",
                [d["keputusan"], d["decided_by"], decided_at, d["catatan"], item["pair_id"]],
            )
            if d["keputusan"] == "SAMA":
                _deliver(homes[item["kode_provinsi"]], item, d, decided_at, path)

    return ReviewKind(
        what="national dedupe decisions",
        title="pemilih yang mungkin terdaftar di dua provinsi",
        instructions=(
            "Setiap baris adalah dua data aktif di dua provinsi yang mungkin orang yang sama:"
            " data Ganda (yang akan dicoret di provinsinya) dan data Bertahan.",
            "SAMA: keduanya satu orang. Data Ganda menjadi TMS 2 (ganda) pada periode"
            " berikutnya provinsinya.",
            "BEDA: dua orang yang berbeda (misalnya kembar yang tinggal di provinsi lain)."
            " Keduanya tetap di daftar dan pasangan ini tidak diusulkan lagi.",
            "Bila ragu, jawab BEDA atau biarkan kosong: TMS yang salah menghilangkan hak pilih"
            " seseorang.",
        ),
        export_command="pdpb national ganda export",
        import_command="pdpb national ganda import BERKAS",
        key_columns=("PASANGAN",),
        sheet_title="GANDA_NASIONAL",
        freeze="C2",
        describe=lambda key: f"national pair PASANGAN '{key[0]}'",
        open_items=_open_items,
        check=_check,
        store=store,
        connect=connect_national,
    )


def _deliver(home: Settings, item: dict, decision: dict, decided_at: datetime, path: Path) -> None:
    """The SAMA as an accepted proposal in the province of the record that goes."""
    survivor = f"{item['kode_provinsi_bertahan']}:{item['dpid_bertahan']}"
    with writer_lock(home):
        con = connect(home)
        try:
            with transaction(con):
                con.execute(
                    "insert or replace into core.dedupe_proposals (cluster_id, dpid, survivor_dpid,"
                    " match_probability, decision, proposed_at, decided_by, decided_at) "
                    "values (?, ?, ?, null, 'SAMA', ?, ?, ?)",
                    [item["pair_id"], item["dpid"], survivor, item["proposed_at"],
                     decision["decided_by"], decided_at],
                )  # fmt: skip
                record(con, "DEDUPE_DECISION", None, item["dpid"],
                       f"ganda nasional SAMA: {item['dpid']} vs {survivor} in {item['pair_id']} "
                       f"(from {path.name})", decision["catatan"], actor=decision["decided_by"],
                       ref=item["pair_id"])  # fmt: skip
        finally:
            con.close()


def import_ganda_decisions(settings: Settings, path: Path, pemeriksa: str | None = None) -> dict:
    """Store the SAMA/BEDA decisions of a filled national pairs file; each SAMA
    is delivered to its province as TMS 2 for the next period; all or nothing."""
    with writer_lock(settings):
        return import_summary(
            *import_review(national_ganda_review(settings), settings, path, pemeriksa)
        )
