"""The clerical review queue: events the model could not decide, out and back in.

`export_review` writes, under `<home>/review/<period>/`, every event whose
outcome is REVIEW beside its candidate record (XLSX and CSV), the model's
reasons per attribute in plain Indonesian (pairs re-scored with the trained
model), and Splink's comparison viewer (offline HTML). NIK and NKK appear only
masked by the warehouse macro `core.mask_nik`, in the spreadsheets and in the
viewer (`linkage.dedupe.masked_pairs`); whether the two numbers are equal is
shown separately. Clerks fill KEPUTUSAN (SAMA/BEDA), PEMERIKSA and
CATATAN; `import_decisions` validates the file and upserts
`core.review_decisions`, which the next run of the period applies. The
spreadsheet helpers (`safe_cells`, `write_xlsx`, `write_csv`, `read_table`,
`refuse_if_errors`) serve the dedupe review (`pdpb.dedupe`) too.
"""

from __future__ import annotations

import csv
import logging
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from pdpb.audit import record
from pdpb.config import PdpbError, Settings, parse_period
from pdpb.publish import escape_formula
from pdpb.warehouse import connect, transaction

log = logging.getLogger(__name__)

KEY_COLUMNS = ("PERIODE", "SUMBER", "EVENT_ID", "DPID_KANDIDAT")
DECISION_COLUMNS = ("KEPUTUSAN", "PEMERIKSA", "CATATAN")
KEPUTUSAN = ("SAMA", "BEDA")
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
with candidates as (
    select dpid as target_id, nik, nkk, nama, gelar, tempat_lahir, tanggal_lahir, jenis_kelamin,
           status_kawin, alamat, rt, rw, kode_wilayah, status from core.voters
    union all
    select future_id, nik, nkk, nama, gelar, tempat_lahir, tanggal_lahir, jenis_kelamin,
           status_kawin, alamat, rt, rw, kode_wilayah, 'CALON' from core.future_voters
)
select o.period, o.sumber, o.event_id, e.jenis_peristiwa, e.tanggal_peristiwa,
       m.target_id, m.match_probability, m.flag,
       core.mask_nik(e.nik) as nik_e, core.mask_nik(c.nik) as nik_c,
       core.mask_nik(e.nkk) as nkk_e, core.mask_nik(c.nkk) as nkk_c,
       e.nik is not null and e.nik = c.nik as nik_sama,
       e.nkk is not null and e.nkk = c.nkk as nkk_sama,
       {side_by_side}
from core.event_outcomes o
join core.matches m using (period, sumber, event_id)
join core.events e using (period, sumber, event_id)
left join candidates c on c.target_id = m.target_id
where o.period = ? and o.outcome = 'REVIEW'
order by o.sumber, o.event_id
"""


def yes_no(value: object) -> str:
    return "YA" if value else "TIDAK"


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
    `dpid`, `nik_masked`, `nkk_masked`, as `linkage.dedupe.register_masks`
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
            """select dpid as target_id, nik, nkk, nama, tempat_lahir, tanggal_lahir, jenis_kelamin,
                      alamat, rt, rw, kode_wilayah from core.voters
               union all
               select future_id, nik, nkk, nama, tempat_lahir, tanggal_lahir, jenis_kelamin,
                      alamat, rt, rw, kode_wilayah from core.future_voters where closed_period is null"""
        ).to_arrow_table()
        candidate_masks = con.sql(
            """select c.target_id as dpid, core.mask_nik(c.nik) as nik_masked,
                      core.mask_nik(c.nkk) as nkk_masked
               from (select dpid as target_id, nik, nkk from core.voters
                     union all
                     select future_id, nik, nkk from core.future_voters) c
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
    with NIK and NKK masked (`linkage.dedupe.masked_pairs`, as the dedupe
    viewer and cluster studio do): the HTML is a file for people."""
    from linkage.dedupe import masked_pairs, register_masks
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
            "NIK_SAMA": yes_no(r["nik_sama"]),
            "NKK_PERISTIWA": r["nkk_e"],
            "NKK_PEMILIH": r["nkk_c"],
            "NKK_SAMA": yes_no(r["nkk_sama"]),
        }
        for label, column in SIDE_BY_SIDE:
            row[f"{label}_PERISTIWA"] = r[f"{column}_e"]
            row[f"{label}_PEMILIH"] = r[f"{column}_c"]
        for name, label in REASON_COLUMNS.items():
            row[label] = why.get(name)
        row.update({c: None for c in DECISION_COLUMNS})
        rows.append(safe_cells(row))
    return rows


def _text(value: object) -> object:
    """Dates as ISO text so CSV and XLSX read back the same way."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def safe_cells(row: dict) -> dict:
    """A row ready for a spreadsheet: dates as ISO text, and every text cell
    starting with = + - @ escaped so that it is never run as a formula."""
    return {k: escape_formula(_text(v)) for k, v in row.items()}


def write_csv(rows: list[dict], columns: list[str], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def write_xlsx(
    rows: list[dict], columns: list[str], path: Path, title: str = "REVIEW", freeze: str = "E2"
) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([row[c] for c in columns])
    sheet.freeze_panes = freeze
    book.save(path)


def export_review(settings: Settings, period: str) -> dict:
    """Write the period's review queue (XLSX, CSV, comparison viewer HTML)."""
    queue = review_queue(settings, period)
    out_dir = settings.review_dir(period)
    out_dir.mkdir(parents=True, exist_ok=True)
    reasons = _explained(settings, period, queue, out_dir)
    rows = _export_rows(queue, reasons)
    columns = list(rows[0]) if rows else [*KEY_COLUMNS, *DECISION_COLUMNS]
    xlsx, csv_path = out_dir / f"review_{period}.xlsx", out_dir / f"review_{period}.csv"
    write_xlsx(rows, columns, xlsx)
    write_csv(rows, columns, csv_path)
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


def unescape(value: object) -> str | None:
    """Cell text as the clerk meant it: trimmed, and without the quote that
    escape_formula put before a leading = + - @."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        text = text[1:]
    return text or None


def read_table(
    path: Path,
    required: tuple[str, ...] = (*KEY_COLUMNS[:3], "KEPUTUSAN"),
    export_command: str = "pdpb review export",
    what: str = "review decisions",
) -> list[dict]:
    """Rows of the filled XLSX or CSV as {COLUMN: text}, numbered from 2."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".xlsx":
            sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
            values = list(sheet.iter_rows(values_only=True))
        elif suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as fh:
                values = list(csv.reader(fh))
        else:
            raise PdpbError(f"{path.name}: {what} must be an .xlsx or .csv file")
    except PdpbError:
        raise
    except Exception as exc:
        raise PdpbError(f"{path.name}: cannot be read as {suffix[1:].upper()} ({exc})") from exc
    if not values:
        raise PdpbError(f"{path.name}: the file is empty")
    header = [str(h or "").strip().lstrip("\ufeff").upper() for h in values[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise PdpbError(
            f"{path.name}: missing columns {', '.join(missing)}; use the file written by `{export_command}`"
        )
    return [dict(zip(header, (unescape(v) for v in row), strict=False)) for row in values[1:]]


def refuse_if_errors(path: Path, errors: list[str]) -> None:
    """Refuse the whole file with its first error, as one line."""
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PdpbError(f"{path.name}: {errors[0]}{more}; nothing was imported")


def _validate(
    path: Path,
    rows: list[dict],
    known: dict[tuple[str, str, str], str | None],
    dpids: set[str],
    pemeriksa: str | None,
) -> list[dict]:
    """Decisions to store; raises on the first bad row (one line, with its number)."""
    decisions, errors = [], []
    for number, row in enumerate(rows, start=2):
        keputusan = (row.get("KEPUTUSAN") or "").upper()
        if not keputusan:
            continue  # not decided yet
        key = (row.get("PERIODE") or "", row.get("SUMBER") or "", row.get("EVENT_ID") or "")
        target = row.get("DPID_KANDIDAT") or known.get(key)
        reviewer = row.get("PEMERIKSA") or pemeriksa
        if keputusan not in KEPUTUSAN:
            errors.append(f"row {number}: KEPUTUSAN '{keputusan}' must be SAMA or BEDA")
        elif key not in known:
            errors.append(
                f"row {number}: no event {key[1]}|{key[2]} to review in period {key[0] or '(empty)'}"
            )
        elif keputusan == "SAMA" and (target is None or target not in dpids):
            errors.append(f"row {number}: SAMA needs a known DPID_KANDIDAT (got '{target or ''}')")
        elif not reviewer:
            errors.append(f"row {number}: no PEMERIKSA; fill the column or pass --pemeriksa NAME")
        else:
            decisions.append({"period": key[0], "sumber": key[1], "event_id": key[2],
                              "target_id": target if keputusan == "SAMA" else None,
                              "keputusan": keputusan, "decided_by": reviewer,
                              "catatan": row.get("CATATAN")})  # fmt: skip
    refuse_if_errors(path, errors)
    return decisions


def import_decisions(settings: Settings, path: Path, pemeriksa: str | None = None) -> dict:
    """Validate a filled review file and upsert its decisions into core.review_decisions."""
    path = Path(path)
    if not path.is_file():
        raise PdpbError(f"review file {path} does not exist")
    rows = read_table(path)
    con = connect(settings)
    try:
        known = {
            (p, s, e): t
            for p, s, e, t in con.execute(
                "select period, sumber, event_id, target_id from core.matches"
            ).fetchall()
        }
        dpids = {
            r[0]
            for r in con.execute(
                "select dpid from core.voters union all select future_id from core.future_voters"
            ).fetchall()
        }
        decisions = _validate(path, rows, known, dpids, pemeriksa)
        now = datetime.now()
        with transaction(con):
            for d in decisions:
                con.execute(
                    """insert or replace into core.review_decisions
                       (period, sumber, event_id, target_id, keputusan, decided_by, decided_at, catatan)
                       values (?, ?, ?, ?, ?, ?, ?, ?)""",
                    [d["period"], d["sumber"], d["event_id"], d["target_id"], d["keputusan"],
                     d["decided_by"], now, d["catatan"]],
                )  # fmt: skip
                target = f" -> {d['target_id']}" if d["target_id"] else ""
                record(con, "REVIEW_DECISION", d["period"], f"{d['sumber']}|{d['event_id']}",
                       f"{d['keputusan']}{target} (from {path.name})", d["catatan"],
                       actor=d["decided_by"])  # fmt: skip
    finally:
        con.close()
    periods = sorted({d["period"] for d in decisions})
    return {
        "decisions": len(decisions),
        "SAMA": sum(d["keputusan"] == "SAMA" for d in decisions),
        "BEDA": sum(d["keputusan"] == "BEDA" for d in decisions),
        "undecided": sum(1 for r in rows if not r.get("KEPUTUSAN")),
        "periods": periods,
    }
