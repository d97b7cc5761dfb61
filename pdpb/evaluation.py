"""Score the warehouse's links against a generator's truth: `pdpb linkage evaluate`.

A link is a pair (event, record). The truth (`truth/events.csv`) names the
person behind each event and that person's records on the list; a link is
right when its record is one of them (or a tracked future voter created by an
event about the same person). Pairwise precision and recall, F1, wrongful
links, the review share, and the wrongful TMS (a TMS change the truth's
`expected_changes.csv` does not call for, on a record that is not the event's
person; TMS 2 from dedupe is checked against `duplicates.csv`) are reported at
the configured thresholds. A TMS on the right person's other record (someone
registered twice) is counted apart: no one loses a vote, but that person's
other record stays on the list. A precision-recall curve over the stored
match probabilities is written as a self-contained SVG to
`<home>/reports/evaluation/`. Every wrong link and wrongful TMS is counted by
the relation it confused (`pdpb.synth.truth.relation`): twin, sibling, parent/child,
spouse, other family or unrelated, so that a rule is judged by what it does
to the people it could wrongly remove.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

from pdpb.config import PdpbError, Settings
from pdpb.synth.truth import RELATIONS, relation
from pdpb.warehouse import connect

log = logging.getLogger(__name__)

CURVE_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999)


@dataclass
class Link:
    period: str
    sumber: str
    event_id: str
    decision: str
    target_id: str | None
    probability: float | None
    method: str | None = None  # match_method: NIK_EXACT, SPLINK, REVIEW_DECISION, NONE


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        raise PdpbError(
            f"truth file {path} does not exist; pass --truth the generator's truth/ folder"
        )
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class TruthPersons:
    """The persons of a truth folder that some wrong decisions involve, and the
    person behind each record of the initial list. A province's truth has
    millions of persons and records: only the rows asked for are kept."""

    def __init__(self, truth_dir: Path, dpids: set[str], persons: set[str]) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pv

        self.person_of_dpid: dict[str, str] = {}
        self.persons: dict[str, dict] = {}
        if not dpids and not persons:
            return
        voters = pv.read_csv(
            Path(truth_dir) / "voters.csv",
            convert_options=pv.ConvertOptions(
                include_columns=["dpid", "person_id"],
                column_types={"dpid": pa.string(), "person_id": pa.string()},
            ),
        )
        voters = voters.filter(pc.is_in(voters["dpid"], pa.array(sorted(dpids), pa.string())))
        self.person_of_dpid = dict(
            zip(voters["dpid"].to_pylist(), voters["person_id"].to_pylist(), strict=True)
        )
        wanted = persons | set(self.person_of_dpid.values())
        path = Path(truth_dir) / "persons.csv"
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh))
        # kembar_dengan is absent from truth written before twins were named
        columns = [
            c for c in ("person_id", "household_id", "hubungan", "kembar_dengan") if c in header
        ]
        table = pv.read_csv(
            path,
            convert_options=pv.ConvertOptions(
                include_columns=columns, column_types={c: pa.string() for c in columns}
            ),
        )
        table = table.filter(pc.is_in(table["person_id"], pa.array(sorted(wanted), pa.string())))
        self.persons = {r["person_id"]: r for r in table.to_pylist()}

    def relation(
        self, person: str | None, dpid: str | None = None, other: str | None = None
    ) -> str:
        """Relation of `person` to the person of record `dpid` (or to `other`)."""
        other = other if other is not None else self.person_of_dpid.get(dpid or "")
        if person is None or other is None or person not in self.persons:
            return "tidak_terkait"
        if other not in self.persons:
            return "orang_sama" if other == person else "tidak_terkait"
        return relation(self.persons[person], self.persons[other])


def count_by_relation(relations: list[str]) -> dict[str, int]:
    """Counts per relation, every relation of two people listed (zeros included)."""
    counts = dict.fromkeys((r for r in RELATIONS if r != "orang_sama"), 0)
    for r in relations:
        counts[r] = counts.get(r, 0) + 1
    return counts


def format_relations(counts: dict[str, int]) -> str:
    shown = [f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if v]
    return ", ".join(shown) or "-"


@dataclass
class Stored:
    """What the warehouse holds of the period(s) for an evaluation."""

    matches: list[Link]
    futures: dict[str, tuple]  # future voter -> (sumber, event_id) that created it
    tms: list[tuple]  # (period, sumber, event_id, dpid, tms_code)
    survivors: dict[tuple[str, str], str]  # dedupe (cluster_id, dpid) -> survivor
    promoted: list[tuple]  # (period, future_id) of BARU_PROMOSI changes
    # the model's own estimate (pdpb.link_quality.expected), None without the mart
    expected: dict | None = None
    # dedupe TMS 2 of AUTO proposals: (cluster_id, dpid, survivor_dpid)
    auto_ganda: list[tuple] = field(default_factory=list)


def _warehouse(settings: Settings, period: str | None, truth_dir: Path) -> tuple[Stored, dict]:
    """The period(s)' links, future voters, TMS changes, dedupe survivors,
    promotions, the model's expected wrong links (marts.fct_link_quality) and
    the applied AUTO dedupe proposals, read on one connection; and the true
    person of each record the pipeline created (`created_records`)."""
    from pdpb import link_quality
    from pdpb.dedupe import created_records

    if not settings.warehouse_path.exists():
        raise PdpbError(f"home {settings.home} has no warehouse: run a period first")
    where = "where period = ?" if period else ""
    params = [period] if period else []
    con = connect(settings, read_only=True)
    try:
        matches = [
            Link(*row)
            for row in con.execute(
                f"""select period, sumber, event_id, decision, target_id, match_probability,
                           match_method
                    from core.matches {where}""",
                params,
            ).fetchall()
        ]
        futures = {
            f: (s, e)
            for f, s, e in con.execute(
                "select future_id, sumber, event_id from core.future_voters"
            ).fetchall()
        }
        tms = con.execute(
            f"select period, sumber, event_id, dpid, tms_code from core.changes {where} "
            f"{'and' if period else 'where'} change_type = 'TMS'",
            params,
        ).fetchall()
        survivors = {
            (c, d): s
            for c, d, s in con.execute(
                "select cluster_id, dpid, survivor_dpid from core.dedupe_proposals"
            ).fetchall()
        }
        promoted = con.execute(
            f"select period, event_id from core.changes {where} "
            f"{'and' if period else 'where'} rule = 'BARU_PROMOSI'",
            params,
        ).fetchall()
        expected = link_quality.expected(con, period)
        auto_ganda = con.execute(
            f"""select p.cluster_id, p.dpid, p.survivor_dpid from core.dedupe_proposals p
                where p.decision = 'AUTO' and p.applied_period is not null
                {"and p.applied_period = ?" if period else ""}""",
            params,
        ).fetchall()
        # the person behind a record the pipeline made, for judging a TMS 2 on it
        ganda = auto_ganda or any(s == "DEDUPE" for _, s, *_ in tms)
        created = created_records(con, truth_dir) if ganda else {}
    finally:
        con.close()
    if not matches:
        raise PdpbError(f"no linked events in {settings.home}{' for ' + period if period else ''}")
    return Stored(matches, futures, tms, survivors, promoted, expected, auto_ganda), created


def _truth_persons(truth_dir: Path) -> tuple[dict, dict]:
    """(event key -> (person_id, records on the list)), (sumber|event_id -> person_id)."""
    events: dict[tuple[str, str, str], tuple[str, set[str]]] = {}
    person_of: dict[tuple[str, str], str] = {}
    for r in _read_csv(truth_dir / "events.csv"):
        if r["is_malformed"] == "true":
            continue
        dpids = {d for d in r["dpids"].split(";") if d}
        events[(r["period"], r["sumber"], r["event_id"])] = (r["person_id"], dpids)
        person_of[(r["sumber"], r["event_id"])] = r["person_id"]
    return events, person_of


def _is_right(link: Link, truth: tuple[str, set[str]], futures: dict, person_of: dict) -> bool:
    person, dpids = truth
    if link.target_id in dpids:
        return True
    creator = futures.get(link.target_id)
    return creator is not None and person_of.get(creator) == person


def _wrongful_tms(
    truth_dir: Path,
    tms: list[tuple],
    truth: dict,
    survivors: dict[tuple[str, str], str],
    created: dict[str, str],
) -> tuple[list[tuple], list[tuple]]:
    """(wrongful, other record) among the TMS changes the truth does not call for.

    Wrongful: the record is not the event's person (for dedupe's TMS 2: the
    removed record and its survivor are not one person): a living or
    different citizen loses the vote. Other record: the right person,
    registered twice, removed on the record the truth did not pick (for
    TMS 2: the truth's primary retired, its duplicate kept); that person's
    other record stays on the list. `created`: the person behind each record
    the pipeline made (dedupe.created_records)."""
    expected = {
        (r["period"], r["sumber"], r["event_id"], r["dpid"], r["tms_code"])
        for r in _read_csv(truth_dir / "expected_changes.csv")
        if r["change_type"] == "TMS"
    }
    duplicates = (
        _read_csv(truth_dir / "duplicates.csv") if (truth_dir / "duplicates.csv").exists() else []
    )
    ganda = {r["dpid"] for r in duplicates if r["is_primary"] != "true"}
    kept = {d: survivors.get((e, d)) for _, s, e, d, _ in tms if s == "DEDUPE"}
    index = TruthPersons(
        truth_dir, (set(kept) | {k for k in kept.values() if k}) - set(created), set()
    )

    def person(dpid: str | None) -> str | None:
        return created.get(dpid or "") or index.person_of_dpid.get(dpid or "")

    wrong, other_record = [], []
    for p, s, e, dpid, code in tms:
        if s == "DEDUPE":
            if person(dpid) is None or person(dpid) != person(survivors.get((e, dpid))):
                wrong.append((p, s, e, dpid, code))
            elif dpid not in ganda:
                other_record.append((p, s, e, dpid, code))
        elif (p, s, e, dpid, str(code)) not in expected:
            dpids = truth.get((p, s, e), (None, set()))[1]
            (other_record if dpid in dpids else wrong).append((p, s, e, dpid, code))
    return wrong, other_record


def _precision_recall(
    scored: list[tuple[float, bool]], positives: int, threshold: float
) -> tuple[float, float]:
    chosen = [right for p, right in scored if p >= threshold]
    correct = sum(chosen)
    precision = correct / len(chosen) if chosen else 1.0
    return precision, (correct / positives if positives else 1.0)


def pairwise_scores(
    matches: list[Link], truth: dict, futures: dict, person_of: dict
) -> tuple[dict, list[tuple[Link, tuple]], list[Link]]:
    """Precision, recall and F1 of the links among `matches` (LINK and
    DUPLICATE_EVENT with a target) against the truth; also the judged matches
    (those the truth knows, for the precision-recall curve) and the wrong links. Shared by
    `evaluate` and the benchmark's peer, so both are scored alike."""
    linked = [m for m in matches if m.decision in ("LINK", "DUPLICATE_EVENT") and m.target_id]
    judged = [(m, truth.get((m.period, m.sumber, m.event_id))) for m in matches]
    judged = [(m, t) for m, t in judged if t is not None]
    creators = _creators_by_person(futures, person_of)
    positives = sum(1 for m, (person, dpids) in judged if dpids or _future_of(m, person, creators))
    wrong = [
        m
        for m in linked
        if not (
            (t := truth.get((m.period, m.sumber, m.event_id)))
            and _is_right(m, t, futures, person_of)
        )
    ]
    right = len(linked) - len(wrong)
    # REVIEW events whose proposed record is the right one: found once an
    # operator confirms the proposal (SAMA).
    proposed = sum(
        1
        for m, t in judged
        if m.decision == "REVIEW" and m.target_id and _is_right(m, t, futures, person_of)
    )
    precision = right / len(linked) if linked else 1.0
    recall = right / positives if positives else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    scores = {
        "events": len(matches),
        "links": len(linked),
        "true_pairs": positives,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "wrongful_links": len(wrong),
        "recall_if_review_decided": round((right + proposed) / positives, 4) if positives else 1.0,
    }
    return scores, judged, wrong


def evaluate(settings: Settings, truth_dir: Path, period: str | None = None) -> dict:
    """Pairwise scores of the stored links against the truth, wrong links and
    wrongful TMS by the relation they confused; writes the PR chart."""
    truth_dir = Path(truth_dir)
    stored, created = _warehouse(settings, period, truth_dir)
    matches, futures, tms = stored.matches, stored.futures, stored.tms
    truth, person_of = _truth_persons(truth_dir)
    scores, judged, wrong = pairwise_scores(matches, truth, futures, person_of)
    positives = scores["true_pairs"]
    wrongful_tms, other_record_tms = _wrongful_tms(truth_dir, tms, truth, stored.survivors, created)
    # The curve: every event with a stored candidate, scored by its probability.
    scored = [
        (m.probability, _is_right(m, t, futures, person_of))
        for m, t in judged
        if m.target_id
        and m.probability is not None
        and m.decision in ("LINK", "REVIEW", "DUPLICATE_EVENT")
    ]
    curve = [(th, *_precision_recall(scored, positives, th)) for th in CURVE_THRESHOLDS]
    chart = _write_chart(settings, curve, period)
    promotions = _promotions(truth_dir, period, stored)
    links_by_relation, tms_by_relation = _relations(
        truth_dir, truth, futures, person_of, wrong, wrongful_tms, stored.survivors
    )
    estimate = estimate_against_truth(truth_dir, stored, created, wrong, wrongful_tms)
    return {
        "period": period or "all",
        **scores,
        **estimate,
        "wrong_links_by_relation": links_by_relation,
        "wrongful_tms": len(wrongful_tms),
        "wrongful_tms_by_relation": tms_by_relation,
        "tms_other_record": len(other_record_tms),
        **promotions,
        "review": sum(m.decision == "REVIEW" for m in matches),
        "review_share": round(sum(m.decision == "REVIEW" for m in matches) / len(matches), 4),
        "upper": settings.thresholds.upper,
        "lower": settings.thresholds.lower,
        "wrong_examples": [
            f"{m.period} {m.sumber}|{m.event_id} -> {m.target_id}" for m in wrong[:5]
        ],
        "wrongful_tms_examples": [
            f"{p} {s}|{e} -> {d} (TMS {c})" for p, s, e, d, c in wrongful_tms[:5]
        ],
        "chart": str(chart),
    }


AUTOMATIC_METHODS = ("NIK_EXACT", "SPLINK")


def estimate_against_truth(
    truth_dir: Path, stored: Stored, created: dict, wrong: list[Link], wrongful_tms: list[tuple]
) -> dict:
    """The model's expected wrong automatic links and wrongful TMS
    (marts.fct_link_quality, summed by pdpb.link_quality.expected; None when
    the warehouse has no mart) beside the true counts: wrong LINK decisions
    no person made, by method; wrongful TMS of those links; AUTO dedupe
    proposals applied as TMS 2 whose two records are not one person."""
    automatic = {
        (m.period, m.sumber, m.event_id): m.method
        for m in stored.matches
        if m.decision == "LINK" and m.method in AUTOMATIC_METHODS
    }
    wrong_auto = [m for m in wrong if (m.period, m.sumber, m.event_id) in automatic]
    tms_auto = [t for t in wrongful_tms if t[1] != "DEDUPE" and t[:3] in automatic]
    dpids = {d for _, d, s in stored.auto_ganda for d in (d, s)}
    index = TruthPersons(truth_dir, dpids - set(created), set())

    def person(dpid: str) -> str | None:
        return created.get(dpid) or index.person_of_dpid.get(dpid)

    wrong_ganda = [
        (c, d, s) for c, d, s in stored.auto_ganda if person(d) is None or person(d) != person(s)
    ]
    expected = stored.expected
    link, dedupe = (expected or {}).get("link", {}), (expected or {}).get("dedupe", {})
    return {
        "estimate_available": expected is not None,
        "auto_links": len(automatic),
        "expected_wrong_auto_links": link.get("expected_wrong_links"),
        "true_wrong_auto_links": len(wrong_auto),
        "true_wrong_auto_links_by_method": {
            method: sum(automatic[(m.period, m.sumber, m.event_id)] == method for m in wrong_auto)
            for method in AUTOMATIC_METHODS
        },
        "expected_wrongful_auto_tms": link.get("expected_wrongful_tms"),
        "true_wrongful_auto_tms": len(tms_auto),
        "auto_ganda": len(stored.auto_ganda),
        "expected_wrongful_auto_ganda": dedupe.get("expected_wrongful_tms"),
        "true_wrongful_auto_ganda": len(wrong_ganda),
    }


def _estimate_rows(result: dict) -> list[tuple[str, object]]:
    """The model's estimate beside the truth, for `format_table`, each saying
    whether the truth lies within the tolerance docs/linkage.md states."""
    from pdpb.link_quality import tolerance, within_tolerance

    if not result["estimate_available"]:
        missing = "marts.fct_link_quality belum ada (jalankan tahap transform / dbt build)"
        return [("perkiraan model", missing)]
    by_method = ", ".join(
        f"{k.replace('_', ' ')} {v}" for k, v in result["true_wrong_auto_links_by_method"].items()
    )

    def versus(expected: str, true: str) -> str:
        e, t = result[expected], result[true]
        inside = "dalam" if within_tolerance(e, t) else "DI LUAR"
        return f"{e:.3f} / {t} ({inside} toleransi \u00b1{tolerance(e):.1f})"

    return [
        (
            "tautan otomatis salah: perkiraan / benar",
            f"{versus('expected_wrong_auto_links', 'true_wrong_auto_links')}"
            f"; benar per metode: {by_method}; dari {result['auto_links']} tautan otomatis",
        ),
        (
            "TMS salah dari tautan otomatis: perkiraan / benar",
            versus("expected_wrongful_auto_tms", "true_wrongful_auto_tms"),
        ),
        (
            "TMS 2 salah dari ganda AUTO: perkiraan / benar",
            f"{versus('expected_wrongful_auto_ganda', 'true_wrongful_auto_ganda')}"
            f"; dari {result['auto_ganda']} TMS 2 otomatis",
        ),
    ]


def _promotions(truth_dir: Path, period: str | None, stored: Stored) -> dict:
    """Future voters the truth promotes (BARU in the period of their 17th
    birthday or marriage) against those the pipeline promoted, each named by
    the event that made them a future voter."""
    expected = {
        (r["period"], r["event_id"])
        for r in _read_csv(truth_dir / "expected_changes.csv")
        if r["sumber"] == "PROMOSI" and (period is None or r["period"] == period)
    }
    made = {(p, "|".join(stored.futures.get(f, ("?", f)))) for p, f in stored.promoted}
    return {
        "promotions_expected": len(expected),
        "promotions_made": len(made & expected),
        "promotions_missing": len(expected - made),
        "promotions_extra": len(made - expected),
    }


def _relations(
    truth_dir: Path,
    truth: dict,
    futures: dict,
    person_of: dict,
    wrong: list[Link],
    wrongful_tms: list[tuple],
    survivors: dict[tuple[str, str], str],
) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by relation of the wrong links (the event's person and the
    linked record's) and of the wrongful TMS (the event's person and the
    removed record's; for dedupe's TMS 2, the removed record's and its
    survivor's)."""
    # (person, record dpid or None, other person or None), related as
    # TruthPersons.relation relates them
    link_pairs = []
    for m in wrong:
        person = truth.get((m.period, m.sumber, m.event_id), (None,))[0]
        creator = futures.get(m.target_id)
        other = person_of.get(creator) if creator else None
        link_pairs.append((person, None if creator else m.target_id, other))
    dedupe = [(d, survivors.get((e, d))) for _, s, e, d, _ in wrongful_tms if s == "DEDUPE"]
    events = [
        (truth.get((p, s, e), (None,))[0], d) for p, s, e, d, _ in wrongful_tms if s != "DEDUPE"
    ]
    dpids = {d for _, d, _ in link_pairs if d} | {d for _, d in events}
    dpids |= {d for pair in dedupe for d in pair if d}
    persons = {p for p, _, _ in link_pairs if p} | {o for _, _, o in link_pairs if o}
    persons |= {p for p, _ in events if p}
    index = TruthPersons(truth_dir, dpids, persons)
    tms_relations = [index.relation(p, d) for p, d in events] + [
        index.relation(index.person_of_dpid.get(d), survivor) for d, survivor in dedupe
    ]
    return (
        count_by_relation([index.relation(*x) for x in link_pairs]),
        count_by_relation(tms_relations),
    )


def _creators_by_person(futures: dict, person_of: dict) -> dict[str, set]:
    """person_id -> the events that made that person a tracked future voter."""
    creators: dict[str, set] = {}
    for creator in futures.values():
        person = person_of.get(creator)
        if person is not None:
            creators.setdefault(person, set()).add(creator)
    return creators


def _future_of(link: Link, person: str, creators: dict[str, set]) -> bool:
    """Whether another event made this person a tracked future voter (looked
    up per person: a province has some 100,000 future voters and as many
    events to judge)."""
    return bool(creators.get(person, set()) - {(link.sumber, link.event_id)})


def refuse_wrongful_tms(what: str, count: int, by_relation: dict[str, int]) -> None:
    """`--strict`: any wrongful TMS is a failure, stated in one line."""
    if count:
        raise PdpbError(
            f"{count} wrongful TMS in the {what} evaluation ({format_relations(by_relation)}): "
            "living voters would lose their vote"
        )


def format_table(result: dict) -> str:
    rows = [
        ("periode", result["period"]),
        ("peristiwa", result["events"]),
        ("tautan", result["links"]),
        ("precision", f"{result['precision']:.4f}"),
        ("recall", f"{result['recall']:.4f}"),
        ("recall bila review diputuskan", f"{result['recall_if_review_decided']:.4f}"),
        ("F1", f"{result['f1']:.4f}"),
        ("tautan salah", result["wrongful_links"]),
        ("tautan salah per hubungan", format_relations(result["wrong_links_by_relation"])),
        ("TMS salah", result["wrongful_tms"]),
        ("TMS salah per hubungan", format_relations(result["wrongful_tms_by_relation"])),
        ("TMS di rekaman ganda lain", result["tms_other_record"]),
        (
            "promosi calon pemilih",
            f"{result['promotions_made']} dari {result['promotions_expected']} "
            f"(kurang {result['promotions_missing']}, lebih {result['promotions_extra']})",
        ),
        *_estimate_rows(result),
        ("review", f"{result['review']} ({result['review_share']:.2%})"),
        ("ambang", f"atas {result['upper']}, bawah {result['lower']}"),
        ("grafik", result["chart"]),
        *(("contoh TMS salah", x) for x in result["wrongful_tms_examples"]),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _write_chart(
    settings: Settings, curve: list[tuple[float, float, float]], period: str | None
) -> Path:
    """Precision and recall against the threshold, as inline SVG (no scripts)."""
    out = settings.home / "reports" / "evaluation" / f"precision_recall_{period or 'all'}.svg"
    out.parent.mkdir(parents=True, exist_ok=True)
    w, h, pad = 640, 360, 50
    lo = min(min(p, r) for _, p, r in curve)
    floor = min(0.9, lo - 0.01)

    def x(i: int) -> float:
        return pad + i * (w - 2 * pad) / (len(curve) - 1)

    def y(v: float) -> float:
        return h - pad - (v - floor) / (1 - floor) * (h - 2 * pad)

    def line(idx: int, colour: str) -> str:
        points = " ".join(f"{x(i):.1f},{y(c[idx]):.1f}" for i, c in enumerate(curve))
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'

    ticks = "".join(
        f'<text x="{x(i):.1f}" y="{h - pad + 18}" font-size="10" text-anchor="middle">{t}</text>'
        for i, (t, _, _) in enumerate(curve)
    )
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">
<title>Precision dan recall per ambang probabilitas</title>
<rect width="{w}" height="{h}" fill="white"/>
<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="black"/>
<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="black"/>
<text x="{pad - 6}" y="{y(1):.1f}" font-size="10" text-anchor="end">1.00</text>
<text x="{pad - 6}" y="{y(floor):.1f}" font-size="10" text-anchor="end">{floor:.2f}</text>
{ticks}
<text x="{w / 2}" y="{h - 10}" font-size="12" text-anchor="middle">ambang probabilitas</text>
<text x="{w / 2}" y="24" font-size="14" text-anchor="middle">Precision (biru) dan recall (oranye), periode {period or "semua"}</text>
{line(1, "#1f77b4")}
{line(2, "#ff7f0e")}
</svg>
"""
    out.write_text(svg, encoding="utf-8")
    return out
