"""Rules of the whole-list dedupe job: truth's duplicates found, survivor rule
kept, uncertain pairs offered one pair at a time, and operators' decisions
taken in (masked export, validated import, audit rows, TMS 2 in the next period)."""

from __future__ import annotations

import csv
import re
import shutil
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from openpyxl import load_workbook

from linkage.dedupe import ScoredPair, review_pairs, survivor_key
from linkage.names import NAME_FORMS_VERSION
from pdpb.cli import main
from pdpb.config import PdpbError, Settings, default_cutoff
from pdpb.dedupe import (
    _active_frame,
    dedupe_dir,
    evaluate_dedupe,
    export_dedupe,
    find_proposals,
    import_dedupe_decisions,
    run_dedupe,
)
from pdpb.files import column_key
from pdpb.pipeline import apply, start_period
from pdpb.voterlist import init_voters
from pdpb.warehouse import connect

PERIOD = "2026-01"
FULL_NUMBER = re.compile(rb"(?<!\d)\d{16}(?!\d)")


def test_survivor_is_valid_nik_first_then_most_complete_then_latest_then_lowest_dpid():
    full = {
        "dpid": "9",
        "nik": "x",
        "nkk": "y",
        "nama": "A",
        "alamat": "JL",
        "rt": "001",
        "updated_period": "0000-00",
    }
    sparse = {"dpid": "1", "nik": "x", "nama": "A", "rt": "000", "updated_period": "2026-02"}

    assert min([full, sparse], key=lambda v: survivor_key(v, v is sparse))["dpid"] == "1"
    assert min([full, sparse], key=lambda v: survivor_key(v, True))["dpid"] == "9"
    assert min([{**full, "dpid": "2", "updated_period": "2026-01"}, full],
               key=lambda v: survivor_key(v, True))["dpid"] == "2"  # fmt: skip
    assert min([full, {**full, "dpid": "3"}], key=lambda v: survivor_key(v, True))["dpid"] == "3"


def _voters(small_synth) -> dict[str, dict]:
    with (small_synth / "voters.csv").open(encoding="utf-8") as fh:
        return {r["dpid"]: r for r in csv.DictReader(fh)}


def test_review_pairs_never_chain_through_a_third_record(small_synth):
    # Three members of one household: A~B and B~C are uncertain pairs sharing
    # the family card; A and C were never scored against each other.
    households: dict[str, list[str]] = {}
    for dpid, v in _voters(small_synth).items():
        households.setdefault(v["nkk"], []).append(dpid)
    a, b, c = next(sorted(d) for d in households.values() if len(d) >= 3)[:3]
    pairs = [ScoredPair(a, b, 0.97, False, True), ScoredPair(b, c, 0.98, False, True)]

    proposals = review_pairs(pairs, [], rank=lambda uid: (uid,))

    assert [(p.survivor_dpid, p.dpid, p.decision) for p in proposals] == [
        (a, b, "REVIEW"),
        (b, c, "REVIEW"),
    ]
    assert len({p.cluster_id for p in proposals}) == 2


def test_review_pairs_skip_records_an_auto_cluster_retires_and_unanchored_look_alikes(
    small_synth,
):
    a, b, c, d = sorted(_voters(small_synth))[:4]
    pairs = [
        ScoredPair(a, b, 0.999, True, True),  # inside the AUTO cluster
        ScoredPair(b, c, 0.97, False, True),  # b is retired by the AUTO cluster
        ScoredPair(a, c, 0.97, False, True),  # the AUTO survivor may still be asked about
        ScoredPair(c, d, 0.999, False, False),  # a look-alike: no shared NIK or family card
    ]

    proposals = review_pairs(pairs, [[a, b]], rank=lambda uid: (uid,))

    assert [(p.survivor_dpid, p.dpid) for p in proposals] == [(a, c)]


@pytest.fixture(scope="module")
def deduped(small_synth, tmp_path_factory):
    settings = Settings.load(tmp_path_factory.mktemp("dedupe_home"))
    init_voters(settings, small_synth / "voters.csv")
    counts = run_dedupe(settings)
    return settings, counts, _proposals(settings)


def _proposals(settings: Settings) -> list[tuple]:
    con = connect(settings, read_only=True)
    try:
        return con.execute(
            """select cluster_id, dpid, survivor_dpid, decision, decided_by, decided_at
               from core.dedupe_proposals order by cluster_id, dpid"""
        ).fetchall()
    finally:
        con.close()


def _truth_person(small_synth) -> dict[str, str]:
    with (small_synth / "truth" / "duplicates.csv").open(encoding="utf-8") as fh:
        return {r["dpid"]: r["person_id"] for r in csv.DictReader(fh)}


def _is_duplicate(small_synth, dpid: str, survivor: str) -> bool:
    person = _truth_person(small_synth)
    return dpid in person and person[dpid] == person.get(survivor)


def test_auto_proposals_are_all_true_duplicates_and_find_most(deduped, small_synth):
    settings, _, _ = deduped

    result = evaluate_dedupe(settings, small_synth / "truth")

    # AUTO only where one person is certainly registered twice (the same own
    # NIK, or one record without a NIK, with one name and birth date); the
    # rest that shares a NIK or a card waits for an operator.
    assert result["auto"] and result["auto_precision"] == 1.0
    assert result["recall_if_review_decided"] >= 0.95


def test_every_review_proposal_is_one_pair_sharing_a_nik_or_family_card(deduped, small_synth):
    _, counts, rows = deduped
    voters = _voters(small_synth)

    review = [(c, d, s) for c, d, s, decision, *_ in rows if decision == "REVIEW"]

    assert review and len(review) == counts["REVIEW"]
    assert any(_is_duplicate(small_synth, d, s) for _, d, s in review)
    for cluster_id, dpid, survivor in review:
        assert cluster_id == f"P{survivor}-{dpid}"
        g, b = voters[dpid], voters[survivor]
        assert (g["nik"] and g["nik"] == b["nik"]) or (g["nkk"] and g["nkk"] == b["nkk"])


def test_rerunning_dedupe_replaces_open_proposals(deduped):
    settings, counts, rows = deduped

    again = run_dedupe(settings)

    assert _proposals(settings) == rows
    assert again["proposals"] == counts["proposals"] == len(rows)


def test_the_list_scored_in_parts_gives_the_proposals_of_the_whole_list(deduped):
    settings, counts, rows = deduped
    frame = _active_frame(settings)

    def proposals(partition_rows: int) -> list[tuple]:
        found = find_proposals(settings, frame, partition_rows=partition_rows)
        return sorted(
            (p.cluster_id, p.dpid, p.survivor_dpid, p.decision, round(p.match_probability, 9))
            for p in found
        )

    whole = proposals(frame.num_rows)
    # Seven parts by family card, and the records sharing a NIK.
    parted = proposals(frame.num_rows // 7 + 1)

    assert parted == whole
    assert len(whole) == counts["proposals"] == len(rows)
    assert {"AUTO", "REVIEW"} <= {p[3] for p in whole}


def test_the_frame_computes_the_name_forms_that_the_warehouse_lacks(deduped):
    settings, _, _ = deduped
    stored = _active_frame(settings)

    def set_version(old: str, new: str) -> None:
        con = connect(settings)
        try:
            con.execute(
                "update core.name_forms set forms_version = ? where forms_version = ?", [new, old]
            )
        finally:
            con.close()

    # As after a change of the name code: every stored form is stale.
    set_version(NAME_FORMS_VERSION, "older")
    try:
        computed = _active_frame(settings)
    finally:
        set_version("older", NAME_FORMS_VERSION)

    key = [("uid", "ascending")]
    assert computed.num_rows == stored.num_rows > 0
    for column in ("nama_norm", "nama_sorted", "bk_first", "bk_sorted"):
        assert (
            computed.sort_by(key).column(column).cast(pa.string()).to_pylist()
            == stored.sort_by(key).column(column).cast(pa.string()).to_pylist()
        )
    assert pc.count(stored.column("nama_norm")).as_py() > 0


def test_cluster_studio_is_written_offline(deduped):
    from linkage.scoring import remote_resources

    settings, counts, _ = deduped

    html = Path(counts["studio"]).read_text(encoding="utf-8")

    assert counts["studio"].startswith(str(settings.home / "review" / "dedupe"))
    assert remote_resources(html) == []


@pytest.fixture
def home_copy(deduped, tmp_path):
    """A private copy of the deduped home, for tests that change it."""
    settings, _, _ = deduped
    shutil.copytree(settings.home, tmp_path / "home")
    return Settings.load(tmp_path / "home")


def test_export_shows_both_records_side_by_side_masked_and_escaped(home_copy, small_synth):
    voters = _voters(small_synth)
    review = [r for r in _proposals(home_copy) if r[3] == "REVIEW"]
    survivor = review[0][2]
    con = connect(home_copy)
    try:
        con.execute("update core.voters set alamat = '=HYPERLINK(1)' where dpid = ?", [survivor])
    finally:
        con.close()

    result = export_dedupe(home_copy)

    sheet = load_workbook(result["xlsx"])["GANDA"]
    header = [column_key(c.value) for c in sheet[1]]
    rows = [
        dict(zip(header, [c.value for c in r], strict=True)) for r in sheet.iter_rows(min_row=2)
    ]
    con = connect(home_copy, read_only=True)
    try:
        stored = dict(con.execute("select dpid, nama from core.voters").fetchall())
    finally:
        con.close()
    assert result["pairs"] == len(rows) == len(review)
    for row in rows:
        g, b = voters[row["DPID_GANDA"]], voters[row["DPID_BERTAHAN"]]
        for value, nik in ((row["NIK_GANDA"], g["nik"]), (row["NIK_BERTAHAN"], b["nik"])):
            if len(nik) >= 8:
                assert value == nik[:6] + "*" * (len(nik) - 8) + nik[-2:]
        # the names as the warehouse holds them (titles split off at init)
        assert (row["NAMA_GANDA"], row["NAMA_BERTAHAN"]) == (
            stored[row["DPID_GANDA"]],
            stored[row["DPID_BERTAHAN"]],
        )
        assert row["NKK_SAMA"] == ("YA" if g["nkk"] == b["nkk"] else "TIDAK")
        assert row["ALASAN_RUMAH_TANGGA"].endswith(")") and "(" in row["ALASAN_NIK"]
        assert row["KEPUTUSAN"] is None
    first = next(r for r in rows if r["DPID_BERTAHAN"] == survivor)
    assert first["ALAMAT_BERTAHAN"] == "'=HYPERLINK(1)"
    text = Path(result["csv"]).read_text(encoding="utf-8-sig")
    for row in rows:
        for dpid in (row["DPID_GANDA"], row["DPID_BERTAHAN"]):
            assert len(voters[dpid]["nik"]) < 8 or voters[dpid]["nik"] not in text
    assert Path(result["viewer"]).is_file()


def test_no_file_for_operators_holds_a_full_nik_or_nkk(home_copy, small_synth):
    secrets = {n for v in _voters(small_synth).values() for n in (v["nik"], v["nkk"]) if n}
    export_dedupe(home_copy)

    files = sorted(dedupe_dir(home_copy).iterdir())
    found = {}
    for path in files:
        parts = [path.read_bytes()]
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                parts = [archive.read(name) for name in archive.namelist()]
        numbers = {m.decode() for part in parts for m in FULL_NUMBER.findall(part)}
        found[path.name] = sorted(numbers & secrets)[:1]

    assert {p.name for p in files} >= {
        "cluster_studio.html", "pembanding_ganda.html", "periksa_ganda.csv", "periksa_ganda.xlsx",
    }  # fmt: skip
    assert {k: v for k, v in found.items() if v} == {}


def _filled(settings: Settings, tmp_path: Path, decide) -> Path:
    """The exported CSV with KEPUTUSAN filled by `decide(row)`."""
    export = export_dedupe(settings)
    with open(export["csv"], encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["KEPUTUSAN"] = decide(row)
    path = tmp_path / "isian_ganda.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _status(settings: Settings, dpid: str) -> tuple:
    con = connect(settings, read_only=True)
    try:
        return con.execute(
            "select status, tms_code from core.voters where dpid = ?", [dpid]
        ).fetchone()
    finally:
        con.close()


def _audit(settings: Settings) -> list[tuple]:
    con = connect(settings, read_only=True)
    try:
        return con.execute(
            "select actor, kind, subject, what, ref from core.audit_log order by seq"
        ).fetchall()
    finally:
        con.close()


def test_sama_becomes_tms_2_in_the_next_period_and_beda_does_not(home_copy, small_synth, tmp_path):
    path = _filled(
        home_copy,
        tmp_path,
        lambda r: (
            "SAMA" if _is_duplicate(small_synth, r["DPID_GANDA"], r["DPID_BERTAHAN"]) else "BEDA"
        ),
    )

    result = import_dedupe_decisions(home_copy, path, pemeriksa="Rina")

    decided = [r for r in _proposals(home_copy) if r[3] in ("SAMA", "BEDA")]
    assert result["SAMA"] >= 1 and result["BEDA"] >= 1
    assert len(decided) == result["decisions"]
    assert all(r[4] == "Rina" and r[5] is not None for r in decided)
    audit = [a for a in _audit(home_copy) if a[1] == "DEDUPE_DECISION"]
    assert sorted((a[2], a[4]) for a in audit) == sorted((r[1], r[0]) for r in decided)
    assert all(a[0] == "Rina" and "isian_ganda.csv" in a[3] for a in audit)

    cutoff = default_cutoff(PERIOD)
    start_period(home_copy, PERIOD, cutoff)
    apply(home_copy, PERIOD, cutoff)

    for _, dpid, survivor, decision, *_ in decided:
        assert _status(home_copy, survivor) == ("AKTIF", None)
        assert _status(home_copy, dpid) == (("TMS", 2) if decision == "SAMA" else ("AKTIF", None))
    con = connect(home_copy, read_only=True)
    try:
        ganda = con.execute(
            "select dpid from core.changes where rule = 'TMS_GANDA' and sumber = 'DEDUPE'"
        ).fetchall()
    finally:
        con.close()
    sama = {r[1] for r in decided if r[3] == "SAMA"}
    auto = {r[1] for r in _proposals(home_copy) if r[3] == "AUTO"}
    assert {d for (d,) in ganda} == sama | auto


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"KEPUTUSAN": "YA"}, r"row 2: KEPUTUSAN 'YA' must be SAMA or BEDA"),
        ({"DPID_GANDA": "36999999999"}, r"row 2: no dedupe proposal KLASTER '.*' with DPID_GANDA '36999999999'"),
        ({"PEMERIKSA": ""}, r"row 2: no PEMERIKSA"),
    ],
)  # fmt: skip
def test_bad_import_is_refused_in_one_line_and_nothing_is_stored(
    home_copy, tmp_path, change, message
):
    path = _filled(home_copy, tmp_path, lambda r: "SAMA")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["PEMERIKSA"] = "Rina"
    rows[0].update(change)  # the other rows are valid: nothing of them may be stored either
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before, audit_before = _proposals(home_copy), _audit(home_copy)

    with pytest.raises(PdpbError, match=message) as err:
        import_dedupe_decisions(home_copy, path)

    assert "\n" not in str(err.value) and "nothing was imported" in str(err.value)
    assert _proposals(home_copy) == before and _audit(home_copy) == audit_before


def test_cli_import_of_a_foreign_file_exits_non_zero_with_one_line(home_copy, tmp_path, capsys):
    path = tmp_path / "lain.csv"
    path.write_text("PERIODE,SUMBER,EVENT_ID,KEPUTUSAN\n2026-01,DUKCAPIL,1,SAMA\n")

    code = main(["--home", str(home_copy.home), "dedupe", "import", str(path)])

    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err
    assert "missing columns KLASTER, DPID_GANDA" in err and "pdpb dedupe export" in err


def test_sama_on_pairs_sharing_a_record_points_every_record_at_one_survivor(
    home_copy, small_synth, tmp_path
):
    # The true REVIEW pair x~y, and y offered again beside a third record w of
    # its household: an operator who says SAMA to both says all three are one
    # person, so x must leave in favour of w, not of y (which leaves too).
    voters = _voters(small_synth)
    rows = _proposals(home_copy)
    x, y = next((d, s) for _, d, s, decision, *_ in rows
                if decision == "REVIEW" and _is_duplicate(small_synth, d, s))  # fmt: skip
    proposed = {d for r in rows for d in r[1:3]}
    w = next(d for d, v in sorted(voters.items())
             if v["nkk"] == voters[y]["nkk"] and d not in proposed)  # fmt: skip
    con = connect(home_copy)
    try:
        con.execute(
            """insert into core.dedupe_proposals
               (cluster_id, dpid, survivor_dpid, match_probability, decision, proposed_at)
               values (?, ?, ?, 0.97, 'REVIEW', now())""",
            [f"P{w}-{y}", y, w],
        )
    finally:
        con.close()
    path = _filled(home_copy, tmp_path, lambda r: "SAMA" if r["DPID_GANDA"] in (x, y) else "")

    import_dedupe_decisions(home_copy, path, pemeriksa="Rina")
    run_dedupe(home_copy)  # a later run keeps the decisions and proposes nothing twice
    cutoff = default_cutoff(PERIOD)
    start_period(home_copy, PERIOD, cutoff)
    apply(home_copy, PERIOD, cutoff)

    survivors = {r[1]: r[2] for r in _proposals(home_copy) if r[1] in (x, y)}
    assert survivors == {x: w, y: w}
    assert [_status(home_copy, d) for d in (w, x, y)] == [("AKTIF", None), ("TMS", 2), ("TMS", 2)]
