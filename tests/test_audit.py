"""The audit log: every change, rollback and initial load is recorded with who,
when, what and why, append-only, and `pdpb audit --period P` prints it."""

from __future__ import annotations

from pdpb.audit import USER_ENV, record_changes
from pdpb.cli import main
from pdpb.config import Settings
from pdpb.pipeline import rollback_period
from pdpb.warehouse import connect, transaction

PERIOD = "2026-01"


def _add_change(con, change_id: str, dpid: str) -> None:
    con.execute(
        "insert into core.changes (period, change_id, dpid, change_type, rule, reason) "
        "values (?, ?, ?, 'TMS', 'TMS_MENINGGAL', 'meninggal 2026-01-03')",
        [PERIOD, change_id, dpid],
    )


def test_every_change_of_a_period_run_has_one_audit_row(period_home):
    con = connect(period_home, read_only=True)
    try:
        missing = con.execute(
            """select count(*) from core.changes c where c.period = ? and not exists (
                 select 1 from core.audit_log a where a.kind = 'CHANGE' and a.ref = c.change_id)""",
            [PERIOD],
        ).fetchone()[0]
        kinds = dict(con.execute("select kind, count(*) from core.audit_log group by 1").fetchall())
    finally:
        con.close()
    assert missing == 0
    assert kinds["INIT"] >= 1 and kinds["CHANGE"] > 0


def test_pdpb_audit_prints_who_what_and_why_for_the_period(period_home, capsys):
    assert main(["--home", str(period_home.home), "audit", "--period", PERIOD]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == [
        "seq", "waktu", "pelaku", "jenis", "periode", "subjek", "apa", "alasan",
    ]  # fmt: skip
    first = lines[1].split("\t")
    assert first[3] == "CHANGE" and first[4] == PERIOD and first[2] and first[7]


def test_a_rollback_appends_and_never_deletes_audit_rows(tmp_path, monkeypatch):
    monkeypatch.setenv(USER_ENV, "operator-a")
    settings = Settings.load(tmp_path)
    con = connect(settings)
    with transaction(con):
        _add_change(con, "C1", "D1")
        record_changes(con, PERIOD)
    before = con.execute("select * from core.audit_log order by seq").fetchall()

    with transaction(con):
        rollback_period(con, PERIOD, "re-run requested")
        _add_change(con, "C1", "D1")  # the re-run makes the same change again
        record_changes(con, PERIOD)
    after = con.execute("select kind, actor, why from core.audit_log order by seq").fetchall()
    con.close()

    assert len(before) == 1
    assert [k for k, _, _ in after] == ["CHANGE", "ROLLBACK", "CHANGE"]
    assert after[1] == ("ROLLBACK", "operator-a", "re-run requested")


def test_recording_changes_twice_adds_nothing_the_second_time(tmp_path):
    con = connect(Settings.load(tmp_path))
    _add_change(con, "C1", "D1")
    first = record_changes(con, PERIOD)
    second = record_changes(con, PERIOD)
    con.close()
    assert (first, second) == (1, 0)


def test_an_airflow_users_answer_at_the_approval_step_is_in_the_audit(tmp_path, capsys):
    """What the ApprovalOperator returns when a user answers in the UI (its
    HITL payload) becomes an APPROVAL row naming that user, the time and the
    comment; `pdpb audit --period P` shows it."""
    import datetime as dt

    from pdpb.cli import main
    from pdpb.config import Settings
    from pdpb.orchestration import approval_decision, record_approval
    from pdpb.warehouse import connect

    settings = Settings.load(tmp_path / "home")
    connect(settings).close()
    response = {
        "chosen_options": ["Reject"],
        "params_input": {"catatan": "angka TMS Lebak perlu dicek ulang"},
        "responded_at": dt.datetime(2026, 4, 2, 9, 30, tzinfo=dt.UTC),
        "responded_by_user": {"id": "7", "name": "siti.kpu.lebak"},
    }
    decision = approval_decision(response, {"approval": "ask"})
    assert decision["answer"] == "REJECT" and decision["actor"] == "siti.kpu.lebak"
    record_approval(settings, "2026-03", decision, "ab" * 32)
    approved = approval_decision({**response, "chosen_options": ["Approve"]}, {})
    record_approval(settings, "2026-03", approved, "ab" * 32)
    timed_out = approval_decision({"chosen_options": ["Reject"], "timedout": True}, {})
    assert timed_out["actor"].startswith("nobody")

    assert main(["--home", str(settings.home), "audit", "--period", "2026-03"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[1:]
    rows = [line.split("\t") for line in lines]
    assert [(r[2], r[3], r[6].split()[0], r[7]) for r in rows] == [
        ("siti.kpu.lebak", "APPROVAL", "REJECT", "angka TMS Lebak perlu dicek ulang"),
        ("siti.kpu.lebak", "APPROVAL", "APPROVE", "angka TMS Lebak perlu dicek ulang"),
    ]
    assert "2026-04-02 09:30" in rows[0][6] and "draft recap abababababab" in rows[0][6]
