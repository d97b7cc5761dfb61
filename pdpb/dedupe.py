"""The whole-list duplicate (ganda) job: `pdpb dedupe` and its Airflow task.

Reads the active voters from the warehouse, asks `linkage.dedupe` for
duplicate clusters and survivors, and replaces the unapplied, undecided rows
of `core.dedupe_proposals` with the new ones (operator decisions and applied
rows are kept; their dpids are not proposed again). The next period's apply
turns AUTO and SAMA proposals into TMS 2. The cluster studio HTML for
operators is written to `<home>/review/dedupe/`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pdpb.config import PdpbError, Settings
from pdpb.warehouse import connect, insert_rows, transaction

log = logging.getLogger(__name__)

PROPOSAL_COLUMNS = (
    "cluster_id", "dpid", "survivor_dpid", "match_probability", "decision", "proposed_at",
)  # fmt: skip


def dedupe_dir(settings: Settings):
    return settings.home / "review" / "dedupe"


def run_dedupe(settings: Settings) -> dict:
    """Propose TMS 2 for duplicate registrations; returns counts (XCom-sized)."""
    from linkage.dedupe import find_duplicates

    con = connect(settings, read_only=True)
    try:
        voters = con.sql(
            """select dpid, nik, nkk, nama, gelar, tempat_lahir, tanggal_lahir, jenis_kelamin,
                      status_kawin, alamat, rt, rw, kode_wilayah, tps, ktp_el, status, updated_period
               from core.voters where status = 'AKTIF' order by dpid"""
        ).to_arrow_table()
    finally:
        con.close()
    if voters.num_rows == 0:
        raise PdpbError(
            f"home {settings.home} has no active voters: run `pdpb init --voters FILE` first"
        )
    studio = dedupe_dir(settings) / "cluster_studio.html"
    proposals = find_duplicates(
        voters,
        upper=settings.thresholds.upper,
        lower=settings.thresholds.lower,
        model_path=settings.model_path,
        studio_path=studio,
    )
    written = _replace_proposals(settings, proposals)
    counts = {
        "voters": voters.num_rows,
        "clusters": len({p.cluster_id for p in written}),
        "proposals": len(written),
        "AUTO": sum(p.decision == "AUTO" for p in written),
        "REVIEW": sum(p.decision == "REVIEW" for p in written),
        "studio": str(studio) if studio.exists() else None,
    }
    log.info("dedupe: %s", counts)
    return counts


def _replace_proposals(settings: Settings, proposals: list) -> list:
    """Delete open proposals, insert the new ones except for dpids an operator
    or a period has already dealt with."""
    now = datetime.now()
    con = connect(settings)
    try:
        with transaction(con):
            con.execute(
                "delete from core.dedupe_proposals where applied_period is null and decided_by is null"
            )
            settled = {
                r[0] for r in con.execute("select dpid from core.dedupe_proposals").fetchall()
            }
            fresh = [p for p in proposals if p.dpid not in settled]
            insert_rows(
                con,
                "core.dedupe_proposals",
                PROPOSAL_COLUMNS,
                ({**p.__dict__, "proposed_at": now} for p in fresh),
            )
    finally:
        con.close()
    return fresh
