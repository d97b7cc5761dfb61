"""Whole-list dedupe: find people registered more than once and pick a survivor.

Splink `predict_within` over the active voter list with the trained model (its
prior describes duplicates inside a list, so it is used as trained), the link
stage's safety nets over the scores (two different trusted NIKs are never
certain; born more than a year apart with another first name is never the same
person), then `cluster_pairwise_predictions_at_threshold` at the lower
threshold. In each cluster one record survives (`survivor_key`); the others
are proposals for TMS 2. A cluster is AUTO only when every pair of its members
was scored at or above the upper threshold; otherwise an operator decides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from linkage.frames import reference_frame
from linkage.link import DECISIVE_BIRTH_GAP_DAYS, _aliased
from linkage.scoring import PairScorer, write_offline_html
from linkage.settings import DIFFERENT_NIKS_SQL

logger = logging.getLogger(__name__)

# Identity fields counted for "most complete data" in the survivor rule.
COMPLETENESS_FIELDS = (
    "nik", "nkk", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin",
    "status_kawin", "alamat", "rt", "rw", "kode_wilayah", "tps", "ktp_el",
)  # fmt: skip
STUDIO_CLUSTERS = 50


@dataclass
class Proposal:
    cluster_id: str
    dpid: str
    survivor_dpid: str
    match_probability: float
    decision: str  # AUTO or REVIEW


def _filled(value: object) -> bool:
    """RT/RW '000' and empty strings are missing data, not data."""
    return value is not None and str(value).strip("0 ") != ""


def survivor_key(voter: dict, nik_ok: bool) -> tuple:
    """Sort key, smallest survives: a valid NIK (one that agrees with its own
    birth date and sex) first, then the most complete record, then the most
    recently updated, then the lowest dpid."""
    completeness = sum(_filled(voter.get(f)) for f in COMPLETENESS_FIELDS)
    updated = voter.get("updated_period") or ""
    return (not nik_ok, -completeness, _descending(updated), voter["dpid"])


def _descending(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


# A pair is certain (AUTO) only when, besides scoring at or above the upper
# threshold, the NIK is the same, or the family card is the same, the NIKs
# differ by at most a typo (or one is missing) and the names agree (Jaro-Winkler
# >= 0.88 or better). Why: a person registered twice keeps their family card,
# while same-day births in one household (twins) and look-alikes elsewhere
# (same name and birth date, a NIK of another kecamatan one digit away) score
# high on everything else. On the seed-7 province these rules remove all but a
# handful of the 69 wrong pairs the score alone let through.
CERTAIN_SQL = """
    p.match_probability >= {upper} and not capped and (
        p.gamma_nik = 4
        or (p.gamma_rumah_tangga = 6 and p.gamma_nik in (-1, 2) and p.gamma_nama >= 2))
"""


def _scored_pairs(scorer: PairScorer, lower: float, upper: float) -> str:
    """predict_within over the list with the safety nets; each pair marked
    `certain` or not. Returns the table name."""
    predictions = scorer.linker.inference.predict_within(
        scorer.reference, threshold_match_probability=lower, warning_mode="never"
    )
    scorer.con.execute(
        f"""create or replace table pdpb_dedupe_pairs as
            with p as (
                select p.*, coalesce({_aliased(DIFFERENT_NIKS_SQL)}, false) as capped
                from {predictions.physical_name} p
                join pdpb_score_reference e on e.uid = p.uid_l
                join pdpb_score_reference f on f.uid = p.uid_r
                where not coalesce(
                    abs(date_diff('day', e.tanggal_lahir, f.tanggal_lahir)) > {DECISIVE_BIRTH_GAP_DAYS}
                    and e.bk_first <> f.bk_first, false)
            )
            select p.*, {CERTAIN_SQL.format(upper=upper)} as certain from p"""
    )
    return "pdpb_dedupe_pairs"


def _clusters(scorer: PairScorer, where: str, threshold: float):
    """Splink clusters of the pairs matching `where`: (clusters sdf, {cluster: uids})."""
    table = f"pdpb_dedupe_pairs_{threshold:.6f}".replace(".", "_")
    scorer.con.execute(
        f"create or replace table {table} as select * from pdpb_dedupe_pairs where {where}"
    )
    sdf = scorer.db_api.table_to_splink_dataframe("__splink__df_predict", table)
    clusters = scorer.linker.clustering.cluster_pairwise_predictions_at_threshold(
        sdf, threshold_match_probability=threshold
    )
    groups: dict[str, list[str]] = {}
    for cluster_id, uid in scorer.con.execute(
        f"select cluster_id, uid from {clusters.physical_name}"
    ).fetchall():
        groups.setdefault(cluster_id, []).append(uid)
    return sdf, clusters, {c: u for c, u in groups.items() if len(u) > 1}


def find_duplicates(
    voters: pa.Table,
    *,
    upper: float,
    lower: float,
    model_path: Path | None = None,
    studio_path: Path | None = None,
) -> list[Proposal]:
    """Proposals for the active `voters` (core.voters columns, dpid as id).

    Certain pairs are clustered first (AUTO when every pair inside is certain);
    the remaining pairs above `lower`, among records not in an AUTO cluster,
    are clustered again and wait for an operator (REVIEW)."""
    reference = voters.rename_columns(
        ["target_id" if c == "dpid" else c for c in voters.column_names]
    )
    frame = reference_frame(reference)
    with PairScorer(frame, model_path) as scorer:
        _scored_pairs(scorer, lower, upper)
        pairs = scorer.con.execute(
            "select uid_l, uid_r, match_probability, certain from pdpb_dedupe_pairs"
        ).fetchall()
        score = {frozenset((a, b)): (p, certain) for a, b, p, certain in pairs}
        _, _, strong = _clusters(scorer, "certain", upper)
        auto = {c: u for c, u in strong.items() if _all_certain(u, score)}
        taken = [u for uids in auto.values() for u in uids]
        scorer.con.execute(
            "create or replace temp table pdpb_dedupe_taken as select unnest(?) as uid", [taken]
        )
        rest = "uid_l not in (select uid from pdpb_dedupe_taken) and uid_r not in (select uid from pdpb_dedupe_taken)"
        all_sdf, all_clusters, _ = _clusters(scorer, "true", lower)
        _, _, weak = _clusters(scorer, rest, lower)
        proposals = _proposals(voters, frame, auto, "AUTO", score)
        proposals += _proposals(voters, frame, weak, "REVIEW", score)
        if studio_path is not None and proposals:
            _write_studio(scorer, all_sdf, all_clusters, proposals, studio_path)
    return proposals


def _all_certain(uids: list[str], score: dict) -> bool:
    inner = [score.get(frozenset((a, b))) for i, a in enumerate(uids) for b in uids[i + 1 :]]
    return all(s is not None and s[1] for s in inner)


def _proposals(
    voters: pa.Table, frame: pa.Table, clusters: dict[str, list[str]], decision: str, score: dict
) -> list[Proposal]:
    by_dpid = {v["dpid"]: v for v in voters.to_pylist()}
    nik_ok = dict(
        zip(frame.column("uid").to_pylist(), frame.column("nik_ok").to_pylist(), strict=True)
    )
    proposals = []
    for uids in clusters.values():
        survivor = min(uids, key=lambda u: survivor_key(by_dpid[u], bool(nik_ok[u])))
        for uid in sorted(uids):
            if uid == survivor:
                continue
            direct = score.get(frozenset((uid, survivor)))
            best = max((s[0] for k, s in score.items() if uid in k and k <= set(uids)), default=0.0)
            proposals.append(
                Proposal(f"G{survivor}", uid, survivor, direct[0] if direct else best, decision)
            )
    return proposals


def _write_studio(
    scorer: PairScorer, pairs_sdf, clusters, proposals: list[Proposal], path: Path
) -> None:
    """Cluster studio for operators: the uncertain clusters first."""
    review = sorted({p.cluster_id for p in proposals if p.decision == "REVIEW"})
    auto = sorted({p.cluster_id for p in proposals if p.decision == "AUTO"})
    chosen = [*review, *auto][:STUDIO_CLUSTERS]
    survivors = [c[1:] for c in chosen]
    ids = scorer.con.execute(
        f"select distinct cluster_id from {clusters.physical_name} where uid in (select unnest(?))",
        [survivors],
    ).fetchall()
    path.parent.mkdir(parents=True, exist_ok=True)
    html = scorer.linker.visualisations.cluster_studio_dashboard(
        pairs_sdf,
        clusters,
        str(path),
        cluster_ids=[r[0] for r in ids],
        overwrite=True,
        return_html_as_string=True,
    )
    write_offline_html(html, path)
