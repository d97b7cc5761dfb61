"""The whole-list duplicate (ganda) job: `pdpb dedupe`, its review, and its Airflow task.

`run_dedupe` reads the active voters from the warehouse into comparison frames
(a batch at a time, with the stored name forms), asks `linkage.dedupe`
for AUTO clusters and REVIEW pairs, and replaces the unapplied, undecided rows
of `core.dedupe_proposals` with the new ones (operator decisions and applied
rows are kept, and the pairs they settled are not proposed again). The cluster
studio HTML for operators is written to `<home>/review/dedupe/`.

Operators decide the REVIEW pairs: `export_dedupe` writes them side by side
(XLSX and CSV, NIK and NKK masked by `core.mask_nik`, the model's reasons in
plain words, formula cells escaped, plus Splink's comparison viewer);
`import_dedupe_decisions` stores SAMA or BEDA with the operator's name and
time, and one audit row per decision, all or nothing. The next period's apply
turns AUTO and SAMA proposals into TMS 2 (`pdpb.apply.apply_dedupe`).
"""

from __future__ import annotations

import csv
import logging
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from pdpb.audit import record
from pdpb.config import PdpbError, Settings
from pdpb.files import masked_pairs, register_masks, safe_cells
from pdpb.review import REASON_COLUMNS, SIDE_BY_SIDE
from pdpb.roundtrip import (
    DECISION_COLUMNS,
    ReviewKind,
    import_review,
    import_summary,
    write_review_files,
    yes_no,
)
from pdpb.warehouse import connect, insert_rows, transaction

log = logging.getLogger(__name__)

PROPOSAL_COLUMNS = (
    "cluster_id", "dpid", "survivor_dpid", "match_probability", "decision", "proposed_at",
)  # fmt: skip
VOTER_COLUMNS = (
    "dpid, nik, nkk, nama, gelar, tempat_lahir, tanggal_lahir, jenis_kelamin, status_kawin, "
    "alamat, rt, rw, kode_wilayah, tps, ktp_el, status, updated_period, "
    # what the dashboards (HTML files for people) show instead of the numbers
    "core.mask_nik(nik) as nik_masked, core.mask_nik(nkk) as nkk_masked"
)
KEY_COLUMNS = ("KLASTER", "DPID_GANDA", "DPID_BERTAHAN")
# Shown side by side besides SIDE_BY_SIDE of the event review: (label, core.voters column).
MORE_SIDE_BY_SIDE = (("KTP_EL", "ktp_el"), ("TPS", "tps"), ("DIPERBARUI", "updated_period"))
# Why the survivor was chosen: the first element of linkage.dedupe.survivor_key that differs.
SURVIVOR_REASONS = ("NIK sah", "data lebih lengkap", "data lebih baru", "DPID lebih kecil")
SCORE_CHUNK = 500  # pairs re-scored at once (the scorer compares a chunk's cross product)


def dedupe_dir(settings: Settings) -> Path:
    return settings.home / "review" / "dedupe"


# The comparison frame's columns of the active voters, with the stored name
# forms (core.name_forms) and whether a name lacks them.
_ACTIVE_FRAME_SQL = """
    select v.dpid as target_id, v.nik, v.nkk, v.nama, v.tempat_lahir, v.tanggal_lahir,
           v.jenis_kelamin, v.alamat, v.rt, v.rw, v.kode_wilayah, {forms},
           v.nama is not null and f.nama is null as forms_missing
    from core.voters v
    left join (select * from core.name_forms where forms_version = $version) f using (nama)
    where v.status = 'AKTIF'"""


def _active_frame(settings: Settings) -> pa.Table:
    """The comparison frame (`linkage.frames.reference_frame`, dpid as uid)
    of every active voter, made a million records at a time from the
    warehouse: a province's list is never held as raw rows (at 36 M voters,
    some 8 GB, and twice that while DuckDB hands them over). The stored name
    forms are used; a batch with a name that lacks them (stored by an older
    version of the name code) computes its forms instead."""
    import pyarrow.compute as pc

    from linkage.frames import (
        FORM_COLUMNS,
        FRAME_SCHEMA,
        REFERENCE_BATCH_ROWS,
        reference_frame,
        table_batches,
    )
    from linkage.names import NAME_FORMS_VERSION

    if not settings.warehouse_path.exists():
        raise PdpbError(
            f"home {settings.home} has no warehouse: run `pdpb init --voters FILE` first"
        )
    sql = _ACTIVE_FRAME_SQL.format(forms=", ".join(f"f.{c}" for c in FORM_COLUMNS))
    frames = []
    con = connect(settings, read_only=True)
    try:
        reader = con.sql(sql, params={"version": NAME_FORMS_VERSION}).to_arrow_reader(
            REFERENCE_BATCH_ROWS
        )
        for rows in table_batches(reader, REFERENCE_BATCH_ROWS):
            if pc.any(rows.column("forms_missing")).as_py():
                rows = rows.drop_columns(list(FORM_COLUMNS))
            frames.append(reference_frame(rows))
    finally:
        con.close()
    return pa.concat_tables(frames) if frames else FRAME_SCHEMA.empty_table()


def _voter_details(settings: Settings, dpids: list[str]) -> pa.Table:
    """core.voters columns (VOTER_COLUMNS: NIK and NKK also masked) of `dpids`."""
    con = connect(settings, read_only=True)
    try:
        con.register("_dpids", pa.table({"dpid": pa.array(dpids, pa.string())}))
        return con.sql(
            f"select {VOTER_COLUMNS} from core.voters semi join _dpids using (dpid)"
        ).to_arrow_table()
    finally:
        con.close()


def find_proposals(
    settings: Settings,
    frame: pa.Table,
    studio_path: Path | None = None,
    partition_rows: int | None = None,
) -> list:
    """`linkage.dedupe.find_duplicates` on `frame` (`_active_frame`) with the
    home's thresholds and model; the records in a scored pair are read from
    the warehouse."""
    from linkage.dedupe import PARTITION_ROWS, find_duplicates

    return find_duplicates(
        frame,
        lambda dpids: _voter_details(settings, dpids),
        upper=settings.thresholds.upper,
        lower=settings.thresholds.lower,
        model_path=settings.model_path,
        studio_path=studio_path,
        partition_rows=partition_rows or PARTITION_ROWS,
    )


def run_dedupe(settings: Settings) -> dict:
    """Propose TMS 2 for duplicate registrations; returns counts (XCom-sized)."""
    frame = _active_frame(settings)
    if frame.num_rows == 0:
        raise PdpbError(
            f"home {settings.home} has no active voters: run `pdpb init --voters FILE` first"
        )
    studio = dedupe_dir(settings) / "cluster_studio.html"
    studio.unlink(missing_ok=True)  # never leave an older run's studio beside new proposals
    proposals = find_proposals(settings, frame, studio)
    written = _replace_proposals(settings, proposals)
    counts = {
        "voters": frame.num_rows,
        "clusters": len({p.cluster_id for p in written if p.decision == "AUTO"}),
        "proposals": len(written),
        "AUTO": sum(p.decision == "AUTO" for p in written),
        "REVIEW": sum(p.decision == "REVIEW" for p in written),
        "studio": str(studio) if studio.exists() else None,
    }
    log.info("dedupe: %s", counts)
    return counts


def _replace_proposals(settings: Settings, proposals: list) -> list:
    """Delete open proposals, insert the new ones except for pairs an operator
    or a period has already dealt with."""
    now = datetime.now()
    con = connect(settings)
    try:
        with transaction(con):
            con.execute(
                "delete from core.dedupe_proposals where applied_period is null and decided_by is null"
            )
            kept = con.execute(
                "select cluster_id, dpid, survivor_dpid from core.dedupe_proposals"
            ).fetchall()
            # a pair once decided or applied is settled, also when its survivor
            # was re-pointed since (resolve_survivors) and only its key is left
            settled = {frozenset((d, s)) for _, d, s in kept} | {(c, d) for c, d, _ in kept}
            fresh = [
                p
                for p in proposals
                if frozenset((p.dpid, p.survivor_dpid)) not in settled
                and (p.cluster_id, p.dpid) not in settled
            ]
            insert_rows(
                con,
                "core.dedupe_proposals",
                PROPOSAL_COLUMNS,
                ({**p.__dict__, "proposed_at": now} for p in fresh),
            )
            resolve_survivors(con)
    finally:
        con.close()
    return fresh


def resolve_survivors(con) -> int:
    """Point every accepted (AUTO or SAMA), unapplied proposal at a survivor
    that no accepted proposal retires: when an operator says C is B and B is A,
    C's survivor becomes A, so that apply never skips C because B left first.
    Decisions are pairwise; only what they accept is followed transitively.
    Returns how many proposals were re-pointed. Runs inside the caller's
    transaction."""
    rows = con.execute(
        """select cluster_id, dpid, survivor_dpid, applied_period
           from core.dedupe_proposals where decision in ('AUTO', 'SAMA')
           order by applied_period is null, cluster_id, dpid"""
    ).fetchall()
    retired_by: dict[str, str] = {}
    for _, dpid, survivor, _ in rows:
        retired_by.setdefault(dpid, survivor)  # applied rows first: what really happened
    moved = []
    for cluster_id, dpid, survivor, applied in rows:
        if applied is not None:
            continue
        seen, end = {dpid, survivor}, survivor
        while end in retired_by and retired_by[end] not in seen:
            end = retired_by[end]
            seen.add(end)
        if end != survivor:
            moved.append((end, cluster_id, dpid))
    for end, cluster_id, dpid in moved:
        con.execute(
            "update core.dedupe_proposals set survivor_dpid = ? where cluster_id = ? and dpid = ?",
            [end, cluster_id, dpid],
        )
    return len(moved)


# --------------------------------------------------------------------------- export

_QUEUE_SQL = """
select p.cluster_id, p.dpid, p.survivor_dpid, p.match_probability,
       core.mask_nik(g.nik) as nik_g, core.mask_nik(b.nik) as nik_b,
       core.mask_nik(g.nkk) as nkk_g, core.mask_nik(b.nkk) as nkk_b,
       case when g.nik is null or b.nik is null then null else g.nik = b.nik end as nik_sama,
       case when g.nkk is null or b.nkk is null then null else g.nkk = b.nkk end as nkk_sama,
       -- two people until an operator says otherwise (docs/dedupe.md)
       (left(g.nik, 12) = left(b.nik, 12) and g.nik <> b.nik)
       or (g.nkk = b.nkk and g.tanggal_lahir = b.tanggal_lahir
           and coalesce(fg.nama_norm <> fb.nama_norm, g.nama <> b.nama)) as kembar,
       {side_by_side}
from core.dedupe_proposals p
join core.voters g on g.dpid = p.dpid
join core.voters b on b.dpid = p.survivor_dpid
left join core.name_forms fg on fg.nama = g.nama
left join core.name_forms fb on fb.nama = b.nama
where p.decision = 'REVIEW' and p.applied_period is null
  and g.status = 'AKTIF' and b.status = 'AKTIF'
order by p.cluster_id, p.dpid
"""


def _labels() -> tuple[tuple[str, str], ...]:
    return (*SIDE_BY_SIDE, *MORE_SIDE_BY_SIDE)


def dedupe_queue(settings: Settings) -> list[dict]:
    """Open REVIEW pairs whose two records are both still active, NIK and NKK masked."""
    if not settings.warehouse_path.exists():
        raise PdpbError(f"home {settings.home} has no warehouse: run `pdpb dedupe` first")
    side = ", ".join(f"g.{c} as {c}_g, b.{c} as {c}_b" for _, c in _labels())
    con = connect(settings, read_only=True)
    try:
        return con.sql(_QUEUE_SQL.format(side_by_side=side)).to_arrow_table().to_pylist()
    finally:
        con.close()


def _explained(
    settings: Settings, queue: list[dict], viewer: Path
) -> tuple[dict[tuple[str, str], dict], dict[str, bool]]:
    """Per (dpid, survivor): the model's reasons in Indonesian, from the pairs
    re-scored as the dedupe job scores them (whole active list as reference,
    the trained within-list prior); and nik_ok per record. Writes Splink's
    comparison viewer of the pairs, NIK and NKK masked. Unmasked values never
    leave this process."""
    import pyarrow.compute as pc

    from linkage.scoring import PairScorer, explain

    frame = _active_frame(settings)
    pairs = [(r["dpid"], r["survivor_dpid"]) for r in queue]
    queued = frame.filter(
        pc.is_in(frame["uid"], value_set=pa.array({u for pair in pairs for u in pair}, pa.string()))
    )
    nik_ok = dict(
        zip(queued.column("uid").to_pylist(), queued.column("nik_ok").to_pylist(), strict=True)
    )
    reasons: dict[tuple[str, str], dict] = {}
    if not pairs:
        return reasons, nik_ok
    with PairScorer(frame, settings.model_path) as scorer:
        for start in range(0, len(pairs), SCORE_CHUNK):
            chunk = pairs[start : start + SCORE_CHUNK]
            left = frame.filter(pc.is_in(frame["uid"], value_set=pa.array({a for a, _ in chunk})))
            right = frame.filter(pc.is_in(frame["uid"], value_set=pa.array({b for _, b in chunk})))
            scored = scorer.score(left, right, chunk)
            verb = (
                "create table pdpb_dedupe_scored as"
                if start == 0
                else "insert into pdpb_dedupe_scored"
            )
            scorer.con.execute(f"{verb} select * from {scored.physical_name}")
        every = scorer.db_api.table_to_splink_dataframe(
            "__splink__df_predict", "pdpb_dedupe_scored"
        )
        for row in scorer.rows(every):
            reasons[(row["uid_l"], row["uid_r"])] = explain(row)
        register_masks(scorer.con, _voter_details(settings, sorted(nik_ok)))
        masked = masked_pairs(scorer.con, "pdpb_dedupe_scored", "pdpb_dedupe_shown")
        scorer.comparison_viewer(
            scorer.db_api.table_to_splink_dataframe("__splink__df_predict", masked), viewer
        )
    return reasons, nik_ok


def _survivor_reason(row: dict, nik_ok: dict[str, bool]) -> str:
    """Which step of the survivor rule chose DPID_BERTAHAN, in words."""
    from linkage.dedupe import survivor_key

    def voter(side: str, dpid: str) -> dict:
        values = {c: row[f"{c}_{side}"] for _, c in _labels()}
        values.update(dpid=dpid, nik=row[f"nik_{side}"], nkk=row[f"nkk_{side}"])
        return values

    kept = survivor_key(voter("b", row["survivor_dpid"]), nik_ok.get(row["survivor_dpid"], False))
    left = survivor_key(voter("g", row["dpid"]), nik_ok.get(row["dpid"], False))
    for reason, a, b in zip(SURVIVOR_REASONS, kept, left, strict=True):
        if a != b:
            return reason
    return SURVIVOR_REASONS[-1]


def _export_rows(
    queue: list[dict], reasons: dict[tuple[str, str], dict], nik_ok: dict[str, bool]
) -> list[dict]:
    appearances: dict[str, int] = {}
    for r in queue:
        for dpid in (r["dpid"], r["survivor_dpid"]):
            appearances[dpid] = appearances.get(dpid, 0) + 1
    rows = []
    for r in queue:
        why = reasons.get((r["dpid"], r["survivor_dpid"]), {})
        others = sorted(
            f"{label} ada di {appearances[d] - 1} pasangan lain"
            for label, d in (("DPID_GANDA", r["dpid"]), ("DPID_BERTAHAN", r["survivor_dpid"]))
            if appearances[d] > 1
        )
        row = {
            "KLASTER": r["cluster_id"],
            "DPID_GANDA": r["dpid"],
            "DPID_BERTAHAN": r["survivor_dpid"],
            "PROBABILITAS": None
            if r["match_probability"] is None
            else round(r["match_probability"], 4),
            "ALASAN_BERTAHAN": _survivor_reason(r, nik_ok),
            "CATATAN_SISTEM": "; ".join(
                (["kemungkinan kembar: dua orang kecuali terbukti sama"] if r["kembar"] else [])
                + others
            )
            or None,
            "NIK_GANDA": r["nik_g"],
            "NIK_BERTAHAN": r["nik_b"],
            "NIK_SAMA": yes_no(r["nik_sama"], "tidak ada NIK"),
            "NKK_GANDA": r["nkk_g"],
            "NKK_BERTAHAN": r["nkk_b"],
            "NKK_SAMA": yes_no(r["nkk_sama"], "tidak ada NKK"),
        }
        for label, column in _labels():
            row[f"{label}_GANDA"] = r[f"{column}_g"]
            row[f"{label}_BERTAHAN"] = r[f"{column}_b"]
        for name, label in REASON_COLUMNS.items():
            row[label] = why.get(name)
        row.update({c: None for c in DECISION_COLUMNS})
        rows.append(safe_cells(row))
    return rows


def export_dedupe(settings: Settings) -> dict:
    """Write the open REVIEW pairs for operators (XLSX, CSV, comparison viewer HTML)."""
    queue = dedupe_queue(settings)
    out_dir = dedupe_dir(settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    viewer = out_dir / "pembanding_ganda.html"
    viewer.unlink(missing_ok=True)
    reasons, nik_ok = _explained(settings, queue, viewer)
    rows = _export_rows(queue, reasons, nik_ok)
    xlsx, csv_path = write_review_files(
        DEDUPE_REVIEW, rows, out_dir / "periksa_ganda.xlsx", out_dir / "periksa_ganda.csv"
    )
    log.info("dedupe review queue: %d pairs", len(rows))
    return {
        "pairs": len(rows),
        "xlsx": str(xlsx),
        "csv": str(csv_path),
        "viewer": str(viewer) if viewer.exists() else None,
    }


# --------------------------------------------------------------------------- import


def _open_items(con) -> dict[tuple[str, ...], tuple]:
    """Every proposal, keyed (KLASTER, DPID_GANDA): (survivor, decision,
    applied period); `_check` refuses the ones no longer waiting."""
    return {
        (c, d): (s, decision, applied)
        for c, d, s, decision, applied in con.execute(
            """select cluster_id, dpid, survivor_dpid, decision, applied_period
               from core.dedupe_proposals"""
        ).fetchall()
    }


def _check(item: tuple, row: dict, keputusan: str) -> str | None:
    survivor, decision, applied = item
    pair = f"{row['DPID_GANDA']} in {row['KLASTER']}"
    if applied is not None:
        return f"{pair} was already applied in {applied}"
    if decision == "AUTO":
        return f"{pair} is AUTO, not waiting for a decision"
    if row.get("DPID_BERTAHAN") not in (None, survivor):
        return (
            f"DPID_BERTAHAN '{row['DPID_BERTAHAN']}' is not the proposal's survivor {survivor};"
            " the survivor follows the rule, answer SAMA or BEDA"
        )
    return None


def _store(con, decisions: list[dict], decided_at: datetime, path: Path) -> None:
    for d in decisions:
        cluster_id, dpid = d["key"]
        survivor = d["item"][0]
        con.execute(
            """update core.dedupe_proposals set decision = ?, decided_by = ?, decided_at = ?
               where cluster_id = ? and dpid = ?""",
            [d["keputusan"], d["decided_by"], decided_at, cluster_id, dpid],
        )
        record(con, "DEDUPE_DECISION", None, dpid,
               f"ganda {d['keputusan']}: {dpid} vs {survivor} in {cluster_id} (from {path.name})",
               d["catatan"], actor=d["decided_by"], ref=cluster_id)  # fmt: skip
    resolve_survivors(con)


DEDUPE_REVIEW = ReviewKind(
    what="dedupe decisions",
    title="pemilih yang mungkin terdaftar ganda",
    instructions=(
        "Setiap baris adalah dua data di daftar pemilih yang mungkin orang yang sama: data"
        " Ganda (yang akan dicoret) dan data Bertahan (yang tetap, dipilih menurut aturan"
        " pada kolom Alasan Bertahan).",
        "SAMA: keduanya satu orang. Data Ganda menjadi TMS 2 (ganda) pada periode berikutnya.",
        "BEDA: dua orang yang berbeda (misalnya kembar). Keduanya tetap di daftar dan"
        " pasangan ini tidak diusulkan lagi.",
        "Kembar biasanya punya NKK, alamat dan tanggal lahir yang sama dan nama yang hanya"
        " beda satu huruf; NIK-nya berbeda. Bila ragu, jawab BEDA atau biarkan kosong:"
        " TMS yang salah menghilangkan hak pilih seseorang.",
    ),
    export_command="pdpb dedupe export",
    import_command="pdpb dedupe import BERKAS",
    key_columns=KEY_COLUMNS[:2],
    sheet_title="GANDA",
    freeze="D2",
    describe=lambda key: f"dedupe proposal KLASTER '{key[0]}' with DPID_GANDA '{key[1]}'",
    open_items=_open_items,
    check=_check,
    store=_store,
)


def import_dedupe_decisions(settings: Settings, path: Path, pemeriksa: str | None = None) -> dict:
    """Validate a filled dedupe review file and store its SAMA/BEDA decisions
    in core.dedupe_proposals, with one audit row each; all or nothing."""
    return import_summary(*import_review(DEDUPE_REVIEW, settings, path, pemeriksa))


# --------------------------------------------------------------------------- evaluation


def _truth_pairs(truth_dir: Path) -> set[frozenset]:
    path = Path(truth_dir) / "duplicates.csv"
    if not path.is_file():
        raise PdpbError(
            f"truth file {path} does not exist; pass --truth the generator's truth/ folder"
        )
    by_person: dict[str, list[str]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            by_person.setdefault(r["person_id"], []).append(r["dpid"])
    return {
        frozenset((a, b)) for d in by_person.values() for i, a in enumerate(d) for b in d[i + 1 :]
    }


def created_records(con, truth_dir: Path) -> dict[str, str]:
    """dpid -> true person of the records the pipeline created (BARU), found
    through the event that created them, or the event that made the person a
    tracked future voter; the truth's voters.csv knows only the initial list."""
    from pdpb.evaluation import _truth_persons

    _, person_of = _truth_persons(Path(truth_dir))
    creators = {
        f: (s, e)
        for f, s, e in con.execute(
            "select future_id, sumber, event_id from core.future_voters"
        ).fetchall()
    }
    created = {}
    for dpid, sumber, event_id in con.execute(
        "select dpid, sumber, event_id from core.changes where change_type = 'BARU'"
    ).fetchall():
        key = creators.get(event_id, (sumber, event_id))
        if key in person_of:
            created[dpid] = person_of[key]
    return created


def evaluate_dedupe(settings: Settings, truth_dir: Path) -> dict:
    """Pairwise figures of core.dedupe_proposals against the generator's
    `duplicates.csv`: AUTO precision and recall, the REVIEW queue and its
    share of true pairs, recall if every REVIEW pair is decided correctly,
    and the wrongful TMS 2 (an accepted pair of two people) by relation. A
    pair is right when both records are one true person: the truth's
    voters.csv names the person of each initial record, the creating event
    that of a record the pipeline created (`created_records`)."""
    from pdpb.evaluation import TruthPersons, count_by_relation

    truth = _truth_pairs(truth_dir)
    if not settings.warehouse_path.exists():
        raise PdpbError(f"home {settings.home} has no warehouse: run `pdpb dedupe` first")
    con = connect(settings, read_only=True)
    try:
        # A pair with a survivor in another province is the national list's
        # (pdpb national ganda), scored against the national truth.
        rows = con.execute(
            "select dpid, survivor_dpid, decision from core.dedupe_proposals "
            "where survivor_dpid not like '%:%'"
        ).fetchall()
        created = created_records(con, truth_dir)
    finally:
        con.close()
    by_decision: dict[str, set[frozenset]] = {}
    for dpid, survivor, decision in rows:
        by_decision.setdefault(decision, set()).add(frozenset((dpid, survivor)))
    auto, review = by_decision.get("AUTO", set()), by_decision.get("REVIEW", set())
    accepted = auto | by_decision.get("SAMA", set())
    involved = {d for p in accepted | review for d in p}
    index = TruthPersons(truth_dir, involved, {created[d] for d in involved if d in created})

    def person(dpid: str) -> str | None:
        return created.get(dpid) or index.person_of_dpid.get(dpid)

    def one_person(pair: frozenset) -> bool:
        a, b = sorted(pair)
        return person(a) is not None and person(a) == person(b)

    def related(pair: frozenset) -> str:
        a, b = sorted(pair)
        return index.relation(person(a), other=person(b))

    # An accepted pair (AUTO, or SAMA by an operator) that is not one person
    # registered twice removes a living voter's record: a wrongful TMS 2. The
    # REVIEW pairs that are two people are counted by relation too (the
    # operators' work, e.g. twins).
    wrong = sorted((p for p in accepted if not one_person(p)), key=sorted)
    not_one_person = [p for p in review if not one_person(p)]

    def precision(pairs: set) -> float:
        return round(sum(map(one_person, pairs)) / len(pairs), 4) if pairs else 1.0

    def recall(pairs: set) -> float:
        return round(len(pairs & truth) / len(truth), 4) if truth else 1.0

    return {
        "truth_pairs": len(truth),
        "auto": len(auto),
        "auto_precision": precision(auto),
        "auto_recall": recall(auto),
        "review": len(review),
        "review_true": sum(map(one_person, review)),
        "review_share_true": precision(review) if review else 0.0,
        "recall_if_review_decided": recall(accepted | review),
        "accepted": len(accepted),
        "accepted_precision": precision(accepted),
        "accepted_recall": recall(accepted),
        "beda": len(by_decision.get("BEDA", set())),
        "wrongful_tms": len(wrong),
        "wrongful_tms_by_relation": count_by_relation([related(p) for p in wrong]),
        "review_by_relation": count_by_relation([related(p) for p in not_one_person]),
    }


def format_evaluation(result: dict) -> str:
    from pdpb.evaluation import format_relations

    rows = [
        ("pasangan ganda (kebenaran)", result["truth_pairs"]),
        ("AUTO", result["auto"]),
        ("AUTO precision", f"{result['auto_precision']:.4f}"),
        ("AUTO recall", f"{result['auto_recall']:.4f}"),
        ("REVIEW (belum diputus)", f"{result['review']} ({result['review_true']} benar ganda, "
                                   f"{result['review_share_true']:.1%})"),
        ("recall jika REVIEW diputus benar", f"{result['recall_if_review_decided']:.4f}"),
        ("AUTO + SAMA", result["accepted"]),
        ("AUTO + SAMA precision", f"{result['accepted_precision']:.4f}"),
        ("AUTO + SAMA recall", f"{result['accepted_recall']:.4f}"),
        ("BEDA", result["beda"]),
        ("TMS 2 salah (AUTO + SAMA bukan ganda)", result["wrongful_tms"]),
        ("TMS 2 salah per hubungan", format_relations(result["wrongful_tms_by_relation"])),
        ("REVIEW bukan ganda per hubungan", format_relations(result["review_by_relation"])),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
