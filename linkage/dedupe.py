"""Whole-list dedupe: find people registered more than once and pick a survivor.

Splink `predict_within` over the active voter list, in parts that keep every
pair with the same NIK or family card (`_parts`), with the trained model (its
prior describes duplicates inside a list, so it is used as trained), the link
stage's safety net over the scores (born more than a year apart with another
first name is never the same person). A pair is certain only where one person
is certainly registered twice (`CERTAIN_SQL`: the same own NIK, name and birth
date; never two trusted NIKs that differ, as twins' do). Certain pairs are
clustered with
`cluster_pairwise_predictions_at_threshold` at the upper threshold; a cluster
whose every pair is certain is AUTO: one record survives (`survivor_key`), the
others are proposals for TMS 2. What is left is offered to an operator pair by
pair (REVIEW): a pair is one decision about two records, never a cluster
chained through a third record, and only pairs that share a NIK or a family
card are offered, since look-alikes elsewhere (same name and birth date,
another family) outnumber real duplicates a hundred to one. The cluster
studio for operators shows NIK and NKK masked.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from splink.clustering import cluster_pairwise_predictions_at_threshold

from linkage.link import DECISIVE_BIRTH_GAP_DAYS
from linkage.scoring import PairScorer, write_offline_html
from linkage.settings import NIK_CONFLICT_SQL, aliased
from pdpb.console import progress
from pdpb.files import masked_pairs, register_masks

logger = logging.getLogger(__name__)

# Identity fields counted for "most complete data" in the survivor rule.
COMPLETENESS_FIELDS = (
    "nik", "nkk", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin",
    "status_kawin", "alamat", "rt", "rw", "kode_wilayah", "tps", "ktp_el",
)  # fmt: skip
STUDIO_CLUSTERS = 50


@dataclass
class Proposal:
    cluster_id: str  # G<survivor> for an AUTO cluster, P<survivor>-<dpid> for a REVIEW pair
    dpid: str
    survivor_dpid: str
    match_probability: float
    decision: str  # AUTO or REVIEW


@dataclass(frozen=True)
class ScoredPair:
    uid_l: str
    uid_r: str
    probability: float
    certain: bool
    anchored: bool


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


# A pair is certain (AUTO: TMS 2 with nobody looking) only where one person is
# certainly registered twice: besides scoring at or above the upper threshold,
# the same NIK, trusted on both records (it agrees with each record's own
# birth date and sex), the same name after normalisation and the same birth
# date. Everything else that shares a NIK or a family card is REVIEW. Why:
# twins share the card, the address, the birth date, usually the sex, and
# their NIKs differ only in the serial; their names often differ by one letter
# (RINA / RINI), which a name similarity takes for a typo. Records carry a
# relative's or a stranger's NIK, so a shared NIK is proof only when it is
# each record's own and the names are one. A record without a NIK proves
# nothing either: on the Banten-scale list two twin pairs had one record
# without a NIK and, after normalisation, one name (FATIMAH / FATIMA; ROHMAH
# / ROHMA with the H lost to a typo), the same card, birth date and sex, and
# no third record close. Two trusted NIKs that differ in any way are two
# people unless an operator says otherwise (`capped`).
CERTAIN_SQL = """
    p.match_probability >= {upper} and not capped and same_name and same_birth_date
    and p.nik_l = p.nik_r and niks_own
"""
# A pair that is not certain is worth an operator's time only when the two
# records share an identity number: the same NIK or the same family card (a
# registration twice comes from the person's own Dukcapil data). Everything
# else above the lower threshold is a look-alike: on the seed-7 province 853
# such pairs (same name and birth date in another family, or a neighbour whose
# address reads alike), not one of them a duplicate.
ANCHORED_SQL = "p.nik_l = p.nik_r or p.nkk_l = p.nkk_r"
# So every proposal, AUTO (CERTAIN_SQL) or REVIEW (ANCHORED_SQL), is a pair
# with the same NIK or the same family card, and only such pairs are scored:
# the link stage's wider rules (same birth date and first name, same name and
# birth year in the kab/kota) would score a great many look-alike pairs in a
# province's list to propose none of them.
SAME_NIK, SAME_NKK = 'l."nik" = r."nik"', 'l."nkk" = r."nkk"'
DEDUPE_BLOCKING_RULES = [SAME_NIK, SAME_NKK]
# The list is scored in parts of about this many records, so that a
# province's list (36 M voters in Jawa Barat) never sits in DuckDB whole: the
# records with a family card in parts cut by a hash of the card (a pair with
# the same card is always in one part), and once more the records whose NIK
# another record also holds (a few percent), for the pairs with the same NIK
# and different cards. Each pair is so scored exactly once, as one
# predict_within over the whole list with both rules would score it.
PARTITION_ROWS = 2_000_000


def _parts(scorer: PairScorer, partition_rows: int) -> list[tuple[str, str, str]]:
    """(records of pdpb_score_reference, blocking rule, pairs kept) per part."""
    records = scorer.con.execute("select count(*) from pdpb_score_reference").fetchone()[0]
    parts = max(1, math.ceil(records / partition_rows))
    by_card = [
        (f"nkk is not null and hash(nkk) % {parts} = {i}", SAME_NKK, "true") for i in range(parts)
    ]
    shared_nik = """nik in (select nik from pdpb_score_reference where nik is not null
                            group by nik having count(*) > 1)"""
    # A pair with the same NIK and the same card was scored in its card's part.
    return [*by_card, (shared_nik, SAME_NIK, "not coalesce(p.nkk_l = p.nkk_r, false)")]


def _scored_pairs(
    scorer: PairScorer, lower: float, upper: float, partition_rows: int = PARTITION_ROWS
) -> str:
    """predict_within over the list, part by part (`_parts`), with the safety
    nets; each pair marked `certain` and `anchored` or not. Returns the table
    name."""
    con = scorer.con
    parts = _parts(scorer, partition_rows)
    for number, (records, rule, kept) in enumerate(progress(parts, len(parts), "ganda")):
        con.execute(
            f"""create or replace table pdpb_dedupe_part as
                select * from pdpb_score_reference where {records}"""
        )
        part = scorer.db_api.register("pdpb_dedupe_part", table_name=f"pdpb_dedupe_part_{number}")
        predictions = scorer.linker.inference.predict_within(
            part,
            blocking_rules_to_generate_predictions=[rule],
            threshold_match_probability=lower,
            warning_mode="never",
        )
        verb = (
            "create or replace table pdpb_dedupe_pairs as"
            if number == 0
            else "insert into pdpb_dedupe_pairs"
        )
        con.execute(
            f"""{verb}
                with p as (
                    select p.*,
                           coalesce({aliased(NIK_CONFLICT_SQL)}, false) as capped,
                           coalesce(e.nik_ok and f.nik_ok, false) as niks_own,
                           coalesce(e.nama_norm = f.nama_norm
                                    or e.nama_sorted = f.nama_sorted, false) as same_name,
                           coalesce(e.tanggal_lahir = f.tanggal_lahir, false) as same_birth_date
                    from {predictions.physical_name} p
                    join pdpb_dedupe_part e on e.uid = p.uid_l
                    join pdpb_dedupe_part f on f.uid = p.uid_r
                    where not coalesce(
                        abs(date_diff('day', e.tanggal_lahir, f.tanggal_lahir))
                            > {DECISIVE_BIRTH_GAP_DAYS}
                        and e.bk_first <> f.bk_first, false)
                      and {kept}
                )
                select p.*, {CERTAIN_SQL.format(upper=upper)} as certain,
                       coalesce({ANCHORED_SQL}, false) as anchored
                from p"""
        )
        predictions.drop_table_from_database_and_remove_from_cache()
    con.execute("drop table pdpb_dedupe_part")
    return "pdpb_dedupe_pairs"


def _certain_clusters(scorer: PairScorer, upper: float) -> dict[str, list[str]]:
    """Splink clusters (two records or more) of the certain pairs, over the
    records in a certain pair only (not the whole list)."""
    scorer.con.execute(
        "create or replace table pdpb_dedupe_certain as select * from pdpb_dedupe_pairs where certain"
    )
    scorer.con.execute(
        """create or replace table pdpb_dedupe_certain_nodes as
           select uid_l as uid from pdpb_dedupe_certain
           union select uid_r from pdpb_dedupe_certain"""
    )
    clusters = cluster_pairwise_predictions_at_threshold(
        "pdpb_dedupe_certain_nodes",
        "pdpb_dedupe_certain",
        scorer.db_api,
        node_id_column_name="uid",
        threshold_match_probability=upper,
    )
    groups: dict[str, list[str]] = {}
    for cluster_id, uid in scorer.con.execute(
        f"select cluster_id, uid from {clusters.physical_name}"
    ).fetchall():
        groups.setdefault(cluster_id, []).append(uid)
    return {c: u for c, u in groups.items() if len(u) > 1}


def find_duplicates(
    frame: pa.Table,
    details: Callable[[list[str]], pa.Table],
    *,
    upper: float,
    lower: float,
    model_path: Path | None = None,
    studio_path: Path | None = None,
    partition_rows: int = PARTITION_ROWS,
) -> list[Proposal]:
    """Proposals for the active voters whose comparison frame
    (`linkage.frames.reference_frame`, dpid as uid) is `frame`: AUTO clusters
    of certain pairs, then REVIEW pairs (`review_pairs`). `details(dpids)`
    gives the core.voters columns of the records in a scored pair (the
    survivor rule ranks them) with `nik_masked` and `nkk_masked`, which the
    cluster studio shows instead of NIK and NKK (blank when absent)."""
    with PairScorer(frame, model_path, blocking_rules=DEDUPE_BLOCKING_RULES) as scorer:
        _scored_pairs(scorer, lower, upper, partition_rows)
        pairs = [
            ScoredPair(*row)
            for row in scorer.con.execute(
                """select uid_l, uid_r, match_probability, certain, anchored
                   from pdpb_dedupe_pairs order by uid_l, uid_r"""
            ).fetchall()
        ]
        # Only the records in a scored pair are ranked: a province has millions.
        involved = sorted({u for p in pairs for u in (p.uid_l, p.uid_r)})
        voters = details(involved)
        by_dpid = {v["dpid"]: v for v in voters.to_pylist()}
        in_pairs = pc.is_in(frame.column("uid"), value_set=pa.array(involved, pa.string()))
        frame_in_pairs = frame.filter(in_pairs)
        nik_ok = dict(
            zip(
                frame_in_pairs.column("uid").to_pylist(),
                frame_in_pairs.column("nik_ok").to_pylist(),
                strict=True,
            )
        )

        def rank(uid: str) -> tuple:
            return survivor_key(by_dpid[uid], bool(nik_ok[uid]))

        score = {frozenset((p.uid_l, p.uid_r)): p for p in pairs}
        auto = {c: u for c, u in _certain_clusters(scorer, upper).items() if _all_certain(u, score)}
        proposals = _auto_proposals(auto, score, rank)
        proposals += review_pairs(pairs, auto.values(), rank)
        if studio_path is not None and proposals:
            register_masks(scorer.con, voters)
            _write_studio(scorer, proposals, studio_path)
    return proposals


def _all_certain(uids: list[str], score: dict[frozenset, ScoredPair]) -> bool:
    inner = [score.get(frozenset((a, b))) for i, a in enumerate(uids) for b in uids[i + 1 :]]
    return all(s is not None and s.certain for s in inner)


def _auto_proposals(
    clusters: dict[str, list[str]],
    score: dict[frozenset, ScoredPair],
    rank: Callable[[str], tuple],
) -> list[Proposal]:
    proposals = []
    for uids in clusters.values():
        survivor = min(uids, key=rank)
        for uid in sorted(uids):
            if uid != survivor:
                direct = score[frozenset((uid, survivor))]  # every pair is scored and certain
                proposals.append(
                    Proposal(f"G{survivor}", uid, survivor, direct.probability, "AUTO")
                )
    return sorted(proposals, key=lambda p: (p.cluster_id, p.dpid))


def review_pairs(
    pairs: Iterable[ScoredPair],
    auto_clusters: Iterable[list[str]],
    rank: Callable[[str], tuple],
) -> list[Proposal]:
    """One REVIEW proposal per uncertain pair worth a decision: certain or
    anchored, not inside one AUTO cluster, and not touching a record an AUTO
    cluster already retires. Each pair stands alone: its survivor is the
    better of its two records by the survivor rule, and no proposal joins two
    records that were not scored against each other."""
    cluster_of: dict[str, int] = {}
    retired: set[str] = set()
    for number, uids in enumerate(auto_clusters):
        survivor = min(uids, key=rank)
        for uid in uids:
            cluster_of[uid] = number
            if uid != survivor:
                retired.add(uid)
    proposals = []
    for p in pairs:
        if not (p.certain or p.anchored) or p.uid_l in retired or p.uid_r in retired:
            continue
        if p.uid_l in cluster_of and cluster_of[p.uid_l] == cluster_of.get(p.uid_r):
            continue
        survivor, other = sorted((p.uid_l, p.uid_r), key=rank)
        proposals.append(Proposal(f"P{survivor}-{other}", other, survivor, p.probability, "REVIEW"))
    return sorted(proposals, key=lambda p: (p.cluster_id, p.dpid))


def _write_studio(scorer: PairScorer, proposals: list[Proposal], path: Path) -> None:
    """Cluster studio for operators: the REVIEW pairs first, then AUTO clusters,
    each shown as the proposal presents it (a pair, or an AUTO cluster)."""
    members: dict[str, set[str]] = {}
    for p in proposals:
        members.setdefault(p.cluster_id, set()).update((p.dpid, p.survivor_dpid))
    review = sorted(c for c in members if c.startswith("P"))
    chosen = [*review, *sorted(c for c in members if c.startswith("G"))][:STUDIO_CLUSTERS]
    nodes = pa.table(
        {
            "cluster_id": [c for c in chosen for _ in sorted(members[c])],
            "node_uid": [u for c in chosen for u in sorted(members[c])],
        }
    )
    scorer.con.register("pdpb_dedupe_membership", nodes)
    scorer.con.execute(
        """create or replace table pdpb_dedupe_nodes as
           select m.cluster_id, r.* replace (k.nik as nik, k.nkk as nkk)
           from pdpb_dedupe_membership m
           join pdpb_score_reference r on r.uid = m.node_uid
           left join pdpb_masks k on k.uid = r.uid"""
    )
    scorer.con.unregister("pdpb_dedupe_membership")
    masked_pairs(scorer.con, "pdpb_dedupe_pairs", "pdpb_dedupe_edges")
    edges = scorer.db_api.table_to_splink_dataframe("__splink__df_predict", "pdpb_dedupe_edges")
    clustered = scorer.db_api.table_to_splink_dataframe(
        "__splink__df_clustered", "pdpb_dedupe_nodes"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    html = scorer.linker.visualisations.cluster_studio_dashboard(
        edges, clustered, str(path), cluster_ids=chosen, overwrite=True,
        return_html_as_string=True,
    )  # fmt: skip
    write_offline_html(html, path)
