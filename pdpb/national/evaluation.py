"""`pdpb national evaluate`: a national home against a national data set's truth.

The truth (`pdpb synth --province 31,32,36`, docs/synth.md) lists the moves
across provinces (`truth/moves.csv`) and the pairs of records planted in two
provinces (`truth/pairs.csv`: `orang_sama`, one person registered twice, or
`kembar`, twins living apart). Scored here:

- moves: how many ended SELESAI (one TMS 4 in the origin, one BARU in the
  destination), and the others by status;
- two-province pairs: each `orang_sama` pair proposed (recall), proposals that
  are no planted `orang_sama` pair, the `kembar` pairs proposed (REVIEW only);
- wrongful TMS of national decisions: SAMA decisions whose two records are
  two people (the twins); zero unless an operator got it wrong, since no
  pair is removed without one. Wrongful TMS inside a province (a wrong link)
  is the province's own evaluation (`pdpb linkage evaluate`).
"""

from __future__ import annotations

import csv
from pathlib import Path

from pdpb.config import PdpbError, Settings
from pdpb.national.home import connect_national, province_settings
from pdpb.warehouse import connect


def _read(path: Path) -> list[dict]:
    if not path.is_file():
        raise PdpbError(
            f"truth file {path} does not exist; pass --truth the national truth/ folder"
        )
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _persons(settings: Settings, truth_dir: Path, records: set[tuple[str, str]]) -> dict:
    """(kode, dpid) -> (kode, true person) through each province's own truth
    (`<data>/provinces/<kode>/truth`): its voters.csv for the initial list,
    the creating event for a record the pipeline made (a move's new record)."""
    from pdpb.dedupe import created_records
    from pdpb.evaluation import TruthPersons

    found = {}
    for kode in sorted({k for k, _ in records}):
        truth = truth_dir.parent / "provinces" / kode / "truth"
        dpids = {d for k, d in records if k == kode}
        con = connect(province_settings(settings, kode), read_only=True)
        try:
            created = created_records(con, truth)
        finally:
            con.close()
        index = TruthPersons(truth, dpids, set())
        for d in dpids:
            person = created.get(d) or index.person_of_dpid.get(d)
            found[(kode, d)] = (kode, person) if person else None
    return found


def evaluate_national(settings: Settings, truth_dir: Path) -> dict:
    truth_dir = Path(truth_dir)
    moves = _read(truth_dir / "moves.csv")
    pairs = _read(truth_dir / "pairs.csv")
    con = connect_national(settings, read_only=True)
    try:
        status = {
            (s, e): st
            for s, e, st in con.execute(
                "select sumber, event_id, status from nasional.move_reconciliation"
            ).fetchall()
        }
        proposals = con.execute(
            "select kode_provinsi, dpid, kode_provinsi_bertahan, dpid_bertahan, decision, pair_id "
            "from nasional.ganda_proposals"
        ).fetchall()
    finally:
        con.close()
    by_status: dict[str, int] = {}
    for m in moves:
        st = status.get((m["sumber"], m["event_id"]), "TIDAK_DIREKONSILIASI")
        by_status[st] = by_status.get(st, 0) + 1
    # Records are judged by their true persons: a proposal may name the new
    # record a move within a province made, where the truth names the old one.
    truth_pairs = [((p["kode_provinsi_a"], p["dpid_a"]), (p["kode_provinsi_b"], p["dpid_b"]),
                    p["relasi"]) for p in pairs]  # fmt: skip
    records = {r for a, b, _ in truth_pairs for r in (a, b)}
    records |= {r for a, da, b, db, *_ in proposals for r in ((a, da), (b, db))}
    person = _persons(settings, truth_dir, records)
    relation = {frozenset((person[a], person[b])): rel for a, b, rel in truth_pairs}
    proposed: dict[frozenset, list[str]] = {}
    one_person = []
    for a, da, b, db, decision, pair_id in proposals:
        key = frozenset((person[(a, da)] or (a, da), person[(b, db)] or (b, db)))
        proposed.setdefault(key, []).append(decision)
        if relation.get(key) == "orang_sama":
            one_person.append(pair_id)
    same = [k for k, r in relation.items() if r == "orang_sama"]
    twins = [k for k, r in relation.items() if r == "kembar"]
    sama_twins = sum("SAMA" in proposed.get(k, []) for k in twins)
    wrongful = {
        "kembar": sama_twins,
        "tidak_terkait": sum(
            "SAMA" in d for k, d in proposed.items() if relation.get(k) != "orang_sama"
        )
        - sama_twins,
    }
    return {
        "moves": len(moves),
        "moves_by_status": dict(sorted(by_status.items())),
        "moves_selesai": by_status.get("SELESAI", 0),
        "orang_sama": len(same),
        "orang_sama_proposed": sum(k in proposed for k in same),
        "proposed_more_than_once": sum(len(d) > 1 for d in proposed.values()),
        "proposals": len(proposed),
        "proposals_not_same_person": sum(relation.get(k) != "orang_sama" for k in proposed),
        "kembar": len(twins),
        "kembar_proposed": sum(k in proposed for k in twins),
        "wrongful_tms": sum(wrongful.values()),
        "wrongful_tms_by_relation": wrongful,
        "one_person_pairs": sorted(one_person),
    }


def format_national(result: dict) -> str:
    moves = ", ".join(f"{k} {v}" for k, v in result["moves_by_status"].items()) or "-"
    by = ", ".join(f"{k} {v}" for k, v in result["wrongful_tms_by_relation"].items())
    return "\n".join(
        [
            f"moves across provinces: {result['moves']} ({moves})",
            f"registered in two provinces: {result['orang_sama_proposed']} of "
            f"{result['orang_sama']} proposed; {result['proposals']} pairs proposed, "
            f"{result['proposals_not_same_person']} of them not one person "
            f"(twins proposed {result['kembar_proposed']} of {result['kembar']}, all REVIEW); "
            f"proposed more than once: {result['proposed_more_than_once']}",
            f"wrongful TMS 2 of national decisions: {result['wrongful_tms']} ({by})",
        ]
    )
