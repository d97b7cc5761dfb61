"""History, re-runs and rollbacks of apply: accepted duplicates become TMS 2,
tracked future voters keep their updates, older periods re-run only on request,
and `pdpb history` explains every version with the NIK masked."""

from datetime import date, datetime

import pytest
from test_apply_rules import ADULT, DESA_A, DESA_B, changes_of, event, make_home, run

from pdpb.config import PdpbError
from pdpb.history import voter_history
from pdpb.pipeline import start_period
from pdpb.warehouse import connect, insert_rows

TABLES = ("voters", "voter_history", "future_voters", "changes", "event_outcomes", "events",
          "matches", "dedupe_proposals")  # fmt: skip


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


def snapshot(settings) -> dict[str, list]:
    """Every row of the tables apply and rollback touch, in a stable order."""
    con = connect(settings, read_only=True)
    try:
        return {t: con.execute(f"select * from core.{t} order by all").fetchall() for t in TABLES}
    finally:
        con.close()


def propose(settings, *rows) -> None:
    con = connect(settings)
    insert_rows(con, "core.dedupe_proposals",
                ("cluster_id", "dpid", "survivor_dpid", "match_probability", "decision", "proposed_at"),
                [dict(zip(("cluster_id", "dpid", "survivor_dpid", "match_probability", "decision"), r, strict=True),
                      proposed_at=datetime(2026, 1, 2)) for r in rows])  # fmt: skip
    con.close()


def mark_completed(settings, *periods) -> None:
    con = connect(settings)
    for p in periods:
        con.execute(
            "insert or replace into core.periods values (?, ?, 'COMPLETED', null, null, 'done', null)",
            [p, date.fromisoformat(f"{p}-28")],
        )
    con.close()


def test_accepted_duplicate_becomes_tms_2_naming_its_cluster(home):
    propose(
        home, ("G1", "V00002", "V00001", 0.998, "AUTO"), ("G2", "V00004", "V00003", 0.97, "SAMA")
    )
    changes, _, voters = run(home, "2026-01", [])
    assert sorted(c[1:] for c in changes) == [
        ("V00002", "TMS", 2, "TMS_GANDA"),
        ("V00004", "TMS", 2, "TMS_GANDA"),
    ]
    g1 = next(c for c in changes_of(home, "2026-01") if c["dpid"] == "V00002")
    assert (g1["sumber"], g1["event_id"], g1["match_method"], g1["match_probability"]) == (
        "DEDUPE", "G1", "DEDUPE", 0.998,
    )  # fmt: skip
    assert voters["V00001"][0] == "AKTIF" and voters["V00002"][:2] == ("TMS", 2)
    con = connect(home, read_only=True)
    applied = con.execute("select distinct applied_period from core.dedupe_proposals").fetchall()
    con.close()
    assert applied == [("2026-01",)]


def test_duplicate_waiting_for_review_or_judged_different_changes_nothing(home):
    propose(
        home, ("G1", "V00002", "V00001", 0.8, "REVIEW"), ("G2", "V00004", "V00003", 0.8, "BEDA")
    )
    changes, _, _ = run(home, "2026-01", [])
    assert changes == []


def test_duplicate_whose_survivor_left_the_list_this_period_stays_pending(home):
    propose(home, ("G1", "V00002", "V00001", 0.999, "AUTO"))
    changes, _, voters = run(home, "2026-01", [event("E1", "MENINGGAL", target="V00001")])
    assert [c[4] for c in changes] == ["TMS_MENINGGAL"] and voters["V00002"][0] == "AKTIF"
    con = connect(home, read_only=True)
    assert con.execute("select applied_period from core.dedupe_proposals").fetchall() == [(None,)]
    con.close()


def test_death_of_a_duplicate_outranks_its_tms_2(home):
    propose(home, ("G1", "V00002", "V00001", 0.999, "AUTO"))
    changes, _, _ = run(home, "2026-01", [event("E1", "MENINGGAL", target="V00002")])
    assert [c[4] for c in changes] == ["TMS_MENINGGAL"]


def test_rerunning_a_period_with_duplicates_replaces_its_results_exactly(home):
    propose(home, ("G1", "V00002", "V00001", 0.999, "AUTO"))
    run(home, "2026-01", [event("E1", "MENINGGAL", target="V00003")])
    first = snapshot(home)
    run(home, "2026-01", [event("E1", "MENINGGAL", target="V00003")])
    assert snapshot(home) == first


def test_pindah_of_a_tracked_future_voter_is_kept_and_used_at_promotion(home):
    run(home, "2026-01", [event("E1", "PENDUDUK_BARU", decision="NEW", status_kawin="B",
                                tanggal_lahir=date(2009, 3, 10), kode_wilayah=DESA_A)])  # fmt: skip
    con = connect(home, read_only=True)
    [(future_id,)] = con.execute("select future_id from core.future_voters").fetchall()
    con.close()
    _, outcomes, _ = run(home, "2026-02", [event("E2", "PINDAH", target=future_id,
                                                 kode_wilayah=DESA_B, alamat="KP. BARU")])  # fmt: skip
    assert outcomes["E2"] == "FUTURE_VOTER"
    con = connect(home, read_only=True)
    assert con.execute("select kode_wilayah, alamat from core.future_voters").fetchall() == [
        (DESA_B, "KP. BARU")
    ]
    con.close()
    changes, _, voters = run(home, "2026-03", [])
    assert [c[4] for c in changes] == ["BARU_PROMOSI"] and voters[changes[0][1]][2] == DESA_B


def test_rolling_back_a_future_voter_update_restores_its_previous_values(home):
    run(home, "2026-01", [event("E1", "PENDUDUK_BARU", decision="NEW", status_kawin="B",
                                tanggal_lahir=date(2009, 6, 10), kode_wilayah=DESA_A)])  # fmt: skip
    mark_completed(home, "2026-01")
    after_january = snapshot(home)
    future_id = after_january["future_voters"][0][0]
    february = [
        event("E2", "PERUBAHAN_DATA", target=future_id, nama="ANAK BARU", kode_wilayah=DESA_B)
    ]
    run(home, "2026-02", february)
    mark_completed(home, "2026-02")
    after_february = snapshot(home)

    start_period(home, "2026-02", date(2026, 2, 28), yes=True)  # a re-run first rolls it back

    assert after_february["future_voters"] != after_january["future_voters"]
    assert snapshot(home) == after_january
    run(home, "2026-02", february)
    assert snapshot(home) == after_february


def test_rerunning_an_older_period_without_rollback_is_refused_in_one_line(home):
    run(home, "2026-01", [event("E1", "MENINGGAL", target="V00001")])
    run(home, "2026-02", [event("E2", "WNA", target="V00002")])
    mark_completed(home, "2026-01", "2026-02")
    with pytest.raises(PdpbError) as refused:
        start_period(home, "2026-01", date(2026, 1, 31))
    message = str(refused.value)
    assert "2026-02" in message and "--rollback" in message and "\n" not in message


def test_rollback_removes_later_periods_and_the_older_period_reruns_identically(home):
    january = [event("E1", "MENINGGAL", target="V00001"),
               event("E3", "PENDUDUK_BARU", decision="NEW", **ADULT)]  # fmt: skip
    run(home, "2026-01", january)
    mark_completed(home, "2026-01")
    after_january = snapshot(home)
    run(home, "2026-02", [event("E2", "WNA", target="V00002"),
                          event("E4", "PINDAH", target="V00003", kode_wilayah=DESA_B)])  # fmt: skip
    mark_completed(home, "2026-02")

    result = start_period(home, "2026-01", date(2026, 1, 31), rollback=True)

    assert result["rolled_back"] == ["2026-02"]
    con = connect(home, read_only=True)
    left = {t: con.execute(f"select count(*) from core.{t} where period >= '2026-01'").fetchone()[0]
            for t in ("changes", "event_outcomes", "events", "matches")}  # fmt: skip
    versions = con.execute(
        "select count(*) from core.voter_history where valid_from_period > '0000-00' "
        "or valid_to_period is not null"
    ).fetchone()[0]
    periods = con.execute("select period, status from core.periods").fetchall()
    voters = con.execute("select count(*) from core.voters where status = 'AKTIF'").fetchone()[0]
    con.close()
    assert left == {"changes": 0, "event_outcomes": 0, "events": 0, "matches": 0}
    assert versions == 0 and voters == 5 and periods == [("2026-01", "RUNNING")]
    run(home, "2026-01", january)
    con = connect(home)
    con.execute("update core.periods set status = 'COMPLETED', stage = 'done'")
    con.close()
    rerun = snapshot(home)
    assert rerun == after_january


def test_history_by_nik_shows_each_version_with_its_reason_and_the_nik_masked(home):
    run(home, "2026-01", [event("E1", "MENINGGAL", target="V00001")])
    nik = "3601010101900001"  # voter("V00001")'s NIK

    shown = voter_history(home, nik=nik)

    assert "V00001 v1 [0000-00 .. 2026-01] AKTIF" in shown
    assert "V00001 v2 [2026-01 .. -] TMS 1" in shown
    assert "TMS TMS_MENINGGAL by DUKCAPIL E1 (NIK_EXACT p=1.000)" in shown
    assert nik not in shown and "360101********01" in shown


def test_history_of_an_unknown_nik_is_a_one_line_refusal(home):
    with pytest.raises(PdpbError, match="no voter record has that NIK"):
        voter_history(home, nik="3601019999999999")
