"""The clerical review queue: events the model could not decide, out and back in.

`export_review` writes, under `<home>/review/<period>/`, every event whose
outcome is REVIEW beside its candidate record (XLSX and CSV), the model's
reasons per attribute in plain Indonesian (pairs re-scored with the trained
model), and Splink's comparison viewer (offline HTML). NIK and NKK appear only
masked by the warehouse macro `core.mask_nik`, in the spreadsheets and in the
viewer (`pdpb.files.masked_pairs`); whether the two numbers are equal is
shown separately. Clerks fill KEPUTUSAN (SAMA/BEDA), PEMERIKSA and
CATATAN; `import_decisions` validates the file and upserts
`core.review_decisions`, which the next run of the period applies. The round
trip itself (sheet out, checks, all-or-nothing import) is `pdpb.roundtrip`,
shared with the dedupe review; this module is its event instance.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from pdpb.audit import record
from pdpb.config import PdpbError, Settings, parse_period
from pdpb.files import masked_pairs, register_masks, safe_cells
from pdpb.roundtrip import (
    DECISION_COLUMNS,
    ReviewKind,
    import_review,
    import_summary,
    write_review_files,
    yes_no,
)
from pdpb.warehouse import connect

log = logging.getLogger(__name__)

KEY_COLUMNS = ("PERIODE", "SUMBER", "EVENT_ID", "DPID_KANDIDAT")
# Identity columns shown side by side: (label, column of core.events / core.voters).
SIDE_BY_SIDE = (
    ("NAMA", "nama"),
    ("TEMPAT_LAHIR", "tempat_lahir"),
    ("TANGGAL_LAHIR", "tanggal_lahir"),
    ("JENIS_KELAMIN", "jenis_kelamin"),
    ("STATUS_KAWIN", "status_kawin"),
    ("ALAMAT", "alamat"),
    ("RT", "rt"),
    ("RW", "rw"),
    ("KODE_WILAYAH", "kode_wilayah"),
)
REASON_COLUMNS = {
    "nik": "ALASAN_NIK",
    "nama": "ALASAN_NAMA",
    "tanggal_lahir": "ALASAN_TANGGAL_LAHIR",
    "jenis_kelamin": "ALASAN_JENIS_KELAMIN",
    "tempat_lahir": "ALASAN_TEMPAT_LAHIR",
    "rumah_tangga": "ALASAN_RUMAH_TANGGA",
}

_QUEUE_SQL = """
select o.period, o.sumber, o.event_id, e.jenis_peristiwa, e.tanggal_peristiwa,
       m.target_id, m.match_probability, m.flag,
       core.mask_nik(e.nik) as nik_e, core.mask_nik(c.nik) as nik_c,
       core.mask_nik(e.nkk) as nkk_e, core.mask_nik(c.nkk) as nkk_c,
       case when e.nik is null or c.nik is null then null else e.nik = c.nik end as nik_sama,
       case when e.nkk is null or c.nkk is null then null else e.nkk = c.nkk end as nkk_sama,
       {side_by_side}
from core.event_outcomes o
join core.matches m using (period, sumber, event_id)
join core.events e using (period, sumber, event_id)
left join core.link_candidates c on c.target_id = m.target_id
where o.period = ? and o.outcome = 'REVIEW'
order by o.sumber, o.event_id
"""


def review_queue(settings: Settings, period: str) -> list[dict]:
    """REVIEW events of `period` with their candidate, identity values masked."""
    parse_period(period)
    side = ", ".join(f"e.{c} as {c}_e, c.{c} as {c}_c" for _, c in SIDE_BY_SIDE)
    con = connect(settings, read_only=True)
    try:
        if not con.execute(
            "select count(*) from core.periods where period = ?", [period]
        ).fetchall()[0][0]:
            raise PdpbError(f"period {period} has not run in {settings.home}: nothing to review")
        return (
            con.sql(_QUEUE_SQL.format(side_by_side=side), params=[period])
            .to_arrow_table()
            .to_pylist()
        )
    finally:
        con.close()


def _pair_frames(
    settings: Settings, period: str, queue: list[dict]
) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    """(events frame, candidates frame, whole reference frame, masks) for
    re-scoring, built from the unmasked warehouse rows (they never leave this
    process). `masks` holds, per uid of the queued events and candidates, NIK
    and NKK masked by the warehouse's one rule `core.mask_nik` (columns
    `dpid`, `nik_masked`, `nkk_masked`, as `pdpb.files.register_masks`
    takes them): what the comparison viewer shows instead of the numbers."""
    import pyarrow.compute as pc

    from linkage.frames import event_frame, event_uids, reference_frame

    keys = [(r["sumber"], r["event_id"]) for r in queue]
    targets = pa.array(sorted({r["target_id"] for r in queue if r["target_id"]}), pa.string())
    con = connect(settings, read_only=True)
    try:
        con.register(
            "pdpb_review_keys",
            pa.table({"sumber": [k[0] for k in keys], "event_id": [k[1] for k in keys]}),
        )
        con.register("pdpb_review_targets", pa.table({"target_id": targets}))
        events = con.sql(
            """select e.* from core.events e join pdpb_review_keys k using (sumber, event_id)
               where e.period = ?""",
            params=[period],
        ).to_arrow_table()
        reference = con.sql(
            """select target_id, nik, nkk, nama, tempat_lahir, tanggal_lahir, jenis_kelamin,
                      alamat, rt, rw, kode_wilayah from core.link_candidates"""
        ).to_arrow_table()
        candidate_masks = con.sql(
            """select c.target_id as dpid, core.mask_nik(c.nik) as nik_masked,
                      core.mask_nik(c.nkk) as nkk_masked
               from core.link_candidates c
               join pdpb_review_targets t using (target_id)"""
        ).to_arrow_table()
        event_masks = con.sql(
            """select core.mask_nik(e.nik) as nik_masked, core.mask_nik(e.nkk) as nkk_masked,
                      e.sumber, e.event_id
               from core.events e join pdpb_review_keys k using (sumber, event_id)
               where e.period = ?""",
            params=[period],
        ).to_arrow_table()
    finally:
        con.close()
    masks = pa.concat_tables(
        [
            pa.table(
                {
                    "dpid": event_uids(event_masks),
                    "nik_masked": event_masks["nik_masked"],
                    "nkk_masked": event_masks["nkk_masked"],
                }
            ),
            candidate_masks,
        ],
        promote_options="permissive",
    )
    ref_frame = reference_frame(reference)
    candidates = ref_frame.filter(pc.is_in(ref_frame["uid"], value_set=targets))
    return event_frame(events), candidates, ref_frame, masks


def _explained(
    settings: Settings, period: str, queue: list[dict], out_dir: Path
) -> dict[tuple[str, str], dict]:
    """Per (event uid, target): Indonesian reasons; writes the comparison viewer
    with NIK and NKK masked (`pdpb.files.masked_pairs`, as the dedupe
    viewer and cluster studio do): the HTML is a file for people."""
    from linkage.scoring import PairScorer, explain

    pairs = [(f"{r['sumber']}|{r['event_id']}", r["target_id"]) for r in queue if r["target_id"]]
    if not pairs:
        return {}
    events, candidates, reference, masks = _pair_frames(settings, period, queue)
    with PairScorer(reference, settings.model_path, prior_rows=reference.num_rows) as scorer:
        scored = scorer.score(events, candidates, pairs)
        reasons = {(r["uid_l"], r["uid_r"]): explain(r) for r in scorer.rows(scored)}
        register_masks(scorer.con, masks)
        shown = masked_pairs(scorer.con, scored.physical_name, "pdpb_review_shown")
        scorer.comparison_viewer(
            scorer.db_api.table_to_splink_dataframe("__splink__df_predict", shown),
            out_dir / f"pembanding_{period}.html",
        )
        return reasons


# The link stage's flags in the operators' words.
FLAG_WORDS = {
    "NIK_MISUSE_SUSPECTED": "NIK dipakai orang lain?",
    "KEMUNGKINAN_KEMBAR": "kemungkinan kembar: pastikan orang yang dimaksud",
    "KELUARGA_MIRIP": "anggota keluarga mirip: pastikan orang yang dimaksud",
    "ORANG_SENAMA": "ada pemilih lain senama: pastikan orang yang dimaksud",
}


def _export_rows(queue: list[dict], reasons: dict[tuple[str, str], dict]) -> list[dict]:
    rows = []
    for r in queue:
        why = reasons.get((f"{r['sumber']}|{r['event_id']}", r["target_id"]), {})
        row = {
            "PERIODE": r["period"],
            "SUMBER": r["sumber"],
            "EVENT_ID": r["event_id"],
            "DPID_KANDIDAT": r["target_id"],
            "JENIS_PERISTIWA": r["jenis_peristiwa"],
            "TANGGAL_PERISTIWA": r["tanggal_peristiwa"],
            "PROBABILITAS": None
            if r["match_probability"] is None
            else round(r["match_probability"], 4),
            "CATATAN_SISTEM": FLAG_WORDS.get(r["flag"], r["flag"]),
            "NIK_PERISTIWA": r["nik_e"],
            "NIK_PEMILIH": r["nik_c"],
            "NIK_SAMA": yes_no(r["nik_sama"], "tidak ada NIK"),
            "NKK_PERISTIWA": r["nkk_e"],
            "NKK_PEMILIH": r["nkk_c"],
            "NKK_SAMA": yes_no(r["nkk_sama"], "tidak ada NKK"),
        }
        for label, column in SIDE_BY_SIDE:
            row[f"{label}_PERISTIWA"] = r[f"{column}_e"]
            row[f"{label}_PEMILIH"] = r[f"{column}_c"]
        for name, label in REASON_COLUMNS.items():
            row[label] = why.get(name)
        row.update({c: None for c in DECISION_COLUMNS})
        rows.append(safe_cells(row))
    return rows


def export_review(settings: Settings, period: str) -> dict:
    """Write the period's review queue (XLSX, CSV, comparison viewer HTML)."""
    queue = review_queue(settings, period)
    out_dir = settings.review_dir(period)
    out_dir.mkdir(parents=True, exist_ok=True)
    reasons = _explained(settings, period, queue, out_dir)
    rows = _export_rows(queue, reasons)
    xlsx, csv_path = write_review_files(
        EVENT_REVIEW, rows, out_dir / f"review_{period}.xlsx", out_dir / f"review_{period}.csv"
    )
    html = out_dir / f"pembanding_{period}.html"
    log.info("review queue %s: %d events", period, len(rows))
    return {
        "period": period,
        "events": len(rows),
        "xlsx": str(xlsx),
        "csv": str(csv_path),
        "viewer": str(html) if html.exists() and rows else None,
    }


# --------------------------------------------------------------------------- import


def _open_items(con) -> dict[tuple[str, ...], dict]:
    """Every matched event can be decided (or decided again), keyed (PERIODE,
    SUMBER, EVENT_ID), with the model's candidate and the records a SAMA may
    name."""
    targets = {r[0] for r in con.execute("select target_id from core.link_candidates").fetchall()}
    return {
        (p, s, e): {"target": t, "targets": targets}
        for p, s, e, t in con.execute(
            "select period, sumber, event_id, target_id from core.matches"
        ).fetchall()
    }


def _check(item: dict, row: dict, keputusan: str) -> str | None:
    target = row.get("DPID_KANDIDAT") or item["target"]
    if keputusan == "SAMA" and (target is None or target not in item["targets"]):
        return f"SAMA needs a known DPID_KANDIDAT (got '{target or ''}')"
    return None


def _store(con, decisions: list[dict], decided_at: datetime, path: Path) -> None:
    for d in decisions:
        period, sumber, event_id = d["key"]
        target = (
            (d["row"].get("DPID_KANDIDAT") or d["item"]["target"])
            if d["keputusan"] == "SAMA"
            else None
        )
        con.execute(
            """insert or replace into core.review_decisions
               (period, sumber, event_id, target_id, keputusan, decided_by, decided_at, catatan)
               values (?, ?, ?, ?, ?, ?, ?, ?)""",
            [period, sumber, event_id, target, d["keputusan"], d["decided_by"], decided_at,
             d["catatan"]],
        )  # fmt: skip
        arrow = f" -> {target}" if target else ""
        record(con, "REVIEW_DECISION", period, f"{sumber}|{event_id}",
               f"{d['keputusan']}{arrow} (from {path.name})", d["catatan"],
               actor=d["decided_by"])  # fmt: skip


EVENT_REVIEW = ReviewKind(
    what="review decisions",
    title="peristiwa yang belum pasti orangnya",
    instructions=(
        "Setiap baris adalah satu peristiwa dari Dukcapil atau sumber lain (kolom ... Peristiwa)"
        " dan satu pemilih di daftar yang paling mirip dengannya (kolom ... Pemilih). Mesin tidak"
        " cukup yakin keduanya orang yang sama, jadi peristiwa ini belum mengubah daftar.",
        "SAMA: peristiwa itu memang tentang pemilih ini. Perubahannya (misalnya TMS karena"
        " meninggal) diterapkan pada pemilih ini saat periode dijalankan lagi.",
        "BEDA: orang yang berbeda. Peristiwa diperlakukan sebagai orang yang tidak ada di"
        " daftar; pemilih ini tidak diubah.",
        "Bila ragu, terutama bila Catatan Sistem menyebut kembar atau anggota keluarga, jawab"
        " BEDA atau biarkan kosong dan periksa dokumennya: TMS yang salah menghilangkan hak"
        " pilih seseorang.",
    ),
    export_command="pdpb review export",
    import_command="pdpb review import BERKAS",
    key_columns=KEY_COLUMNS[:3],
    sheet_title="REVIEW",
    freeze="E2",
    describe=lambda key: f"event {key[1]}|{key[2]} of period {key[0] or '(empty)'}",
    open_items=_open_items,
    check=_check,
    store=_store,
)


def import_decisions(settings: Settings, path: Path, pemeriksa: str | None = None) -> dict:
    """Validate a filled review file and upsert its decisions into
    core.review_decisions, which the next run of the period applies."""
    rows, decisions = import_review(EVENT_REVIEW, settings, path, pemeriksa)
    return {**import_summary(rows, decisions), "periods": sorted({d["key"][0] for d in decisions})}
