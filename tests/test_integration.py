"""A whole period through the CLI on small generated data, checked against the truth."""

from __future__ import annotations

import csv
import json
import subprocess
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from pdpb.cli import main
from pdpb.warehouse import connect

pytestmark = pytest.mark.integration
PERIOD = "2026-01"
LEVELS = ("desa", "kecamatan", "kabkota", "provinsi", "nasional")


def test_every_recap_row_balances_for_l_p_and_total(period_home):
    con = connect(period_home, read_only=True)
    try:
        for level in LEVELS:
            rows = con.execute(
                f"select kode_wilayah, awal_l, baru_l, tms_l, akhir_l, awal_p, baru_p, tms_p, akhir_p, "
                f"awal_total, baru_total, tms_total, akhir_total from marts.rpt_rekap_{level} where period = ?",
                [PERIOD],
            ).fetchall()
            assert rows, f"no {level} recap rows for {PERIOD}"
            for kode, *n in rows:
                for awal, baru, tms, akhir in (n[0:4], n[4:8], n[8:12]):
                    assert awal + baru - tms == akhir, (
                        f"{level} {kode}: {awal} + {baru} - {tms} != {akhir}"
                    )
    finally:
        con.close()


def test_nasional_akhir_equals_active_voters(period_home):
    con = connect(period_home, read_only=True)
    try:
        akhir = con.execute(
            "select akhir_total from marts.rpt_rekap_nasional where period = ?", [PERIOD]
        ).fetchone()[0]
        aktif = con.execute("select count(*) from core.voters where status = 'AKTIF'").fetchone()[0]
    finally:
        con.close()
    assert akhir == aktif


def _truth_changes(small_synth) -> Counter:
    with (small_synth / "truth" / "expected_changes.csv").open() as fh:
        return Counter(
            (r["sumber"], r["event_id"], r["change_type"], r["tms_code"] or None, r["rule"],
             r["dpid"] if r["dpid"] != "NEW" else "NEW")
            for r in csv.DictReader(fh)
            if r["period"] == PERIOD and r["sumber"] != "PROMOSI"
        )  # fmt: skip


def _ledger_changes(settings) -> Counter:
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            """select c.sumber, c.event_id, c.change_type, c.tms_code::varchar, c.rule,
                      case when h.valid_from_period = '0000-00' then c.dpid else 'NEW' end
               from core.changes c
               join core.voter_history h on h.dpid = c.dpid and h.version = 1
               where c.period = ? and c.sumber <> 'PROMOSI'""",
            [PERIOD],
        ).fetchall()
    finally:
        con.close()
    return Counter(rows)


def test_change_ledger_agrees_with_the_generator_truth(period_home, small_synth):
    expected, actual = _truth_changes(small_synth), _ledger_changes(period_home)
    unexpected = actual - expected
    missed = expected - actual
    # No change the truth does not call for (above all no wrongful TMS), and the
    # expected ones found: anything uncertain must wait in review instead.
    assert not unexpected, f"changes not in the truth: {sorted(unexpected)}"
    assert sum(missed.values()) <= 0.05 * sum(expected.values()), f"missed: {sorted(missed)}"


def test_every_ingested_row_has_exactly_one_outcome(period_home):
    con = connect(period_home, read_only=True)
    try:
        rows_in = con.execute(
            "select sum(rows_in) from core.files where period = ?", [PERIOD]
        ).fetchone()[0]
        loaded, quarantined = con.execute(
            "select sum(rows_loaded), sum(rows_quarantined) from core.files where period = ?",
            [PERIOD],
        ).fetchone()
        outcomes = con.execute(
            "select count(*) from marts.fct_event_outcomes where period = ?", [PERIOD]
        ).fetchone()[0]
        events = con.execute(
            "select count(*) from core.events where period = ?", [PERIOD]
        ).fetchone()[0]
        q_rows = con.execute(
            "select count(*) from core.quarantine where period = ?", [PERIOD]
        ).fetchone()[0]
    finally:
        con.close()
    assert rows_in == loaded + quarantined
    assert outcomes == events + q_rows


def test_reports_are_published(period_home):
    reports = period_home.reports_dir(PERIOD)
    assert (reports / f"rekap_{PERIOD}.xlsx").stat().st_size > 0
    assert (reports / "index.html").stat().st_size > 0
    assert (period_home.datadocs_dir / "index.html").exists()
    assert (period_home.published_dir / "pdpb.duckdb").exists()


# The analysts' own DuckDB, older than the pipeline's, in its own environment
# (`make reader`, tests/reader-constraints.txt); README.md names the version.
READER = Path(__file__).resolve().parents[1] / ".venv" / "reader" / "bin" / "python"

READ_SNAPSHOT = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(json.dumps({
    "version": duckdb.__version__,
    "period": con.execute("select period from snapshot_info").fetchall()[0][0],
    "aktif": con.execute(
        "select count(*) from marts.pemilih_terkini where status = 'AKTIF'").fetchall()[0][0],
    "akhir": con.execute(
        "select akhir_total from marts.rpt_rekap_nasional where period = ?",
        [sys.argv[2]]).fetchall()[0][0],
    "table_comment": con.execute(
        "select comment from duckdb_tables()"
        " where schema_name = 'marts' and table_name = 'pemilih_terkini'").fetchall()[0][0],
    "column_comment": con.execute(
        "select comment from duckdb_columns() where schema_name = 'marts'"
        " and table_name = 'rpt_rekap_desa' and column_name = 'akhir_total'").fetchall()[0][0],
}))
"""


def test_an_older_duckdb_client_opens_the_snapshot_with_its_comments(period_home):
    if not READER.exists():
        pytest.skip(f"the older DuckDB reader is not installed (no {READER}; run `make reader`)")
    from pdpb.publish.snapshot import OLDEST_READER

    snapshot = period_home.published_dir / "pdpb.duckdb"
    result = subprocess.run(
        [str(READER), "-c", READ_SNAPSHOT, str(snapshot), PERIOD],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout)
    assert seen["version"] == OLDEST_READER
    con = connect(period_home, read_only=True)
    try:
        aktif = con.execute("select count(*) from core.voters where status = 'AKTIF'").fetchone()[0]
    finally:
        con.close()
    assert seen["period"] == PERIOD and seen["aktif"] == aktif == seen["akhir"]
    # The dbt descriptions travel with the tables, for any client to show.
    assert "voter list as it stands now" in seen["table_comment"]
    assert seen["column_comment"]


def test_rerunning_the_latest_period_gives_an_identical_voter_table(period_home):
    def voters_hash() -> str:
        con = connect(period_home, read_only=True)
        try:
            return con.execute(
                "select md5(string_agg(v::varchar, '|' order by dpid)) from core.voters v"
            ).fetchone()[0]
        finally:
            con.close()

    before = voters_hash()
    assert main(["--home", str(period_home.home), "run", "--period", PERIOD, "--yes"]) == 0
    assert voters_hash() == before


def test_rerunning_a_published_period_asks_for_yes_first(period_home, capsys):
    con = connect(period_home, read_only=True)
    try:
        before = con.execute("select status, finished_at from core.periods").fetchall()
    finally:
        con.close()
    assert before[0][0] == "COMPLETED"

    assert main(["--home", str(period_home.home), "run", "--period", PERIOD]) == 1

    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already published" in err and "--yes" in err
    con = connect(period_home, read_only=True)
    try:  # nothing rolled back, nothing re-run
        assert con.execute("select status, finished_at from core.periods").fetchall() == before
    finally:
        con.close()


def test_an_older_period_is_refused_without_rollback(period_home, capsys):
    assert main(["--home", str(period_home.home), "run", "--period", "2025-12"]) == 1
    err = capsys.readouterr().err
    assert "2025-12" in err and "--rollback" in err and len(err.strip().splitlines()) == 1


def test_a_month_that_has_not_ended_is_refused(period_home, capsys):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from pdpb.config import TIMEZONE

    this_month = datetime.now(ZoneInfo(TIMEZONE)).strftime("%Y-%m")

    assert main(["--home", str(period_home.home), "run", "--period", this_month]) == 1

    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"period {this_month} has not ended yet" in err


def _snapshot_list(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select * from marts.pemilih_terkini order by dpid").fetchall()
    finally:
        con.close()


def _warehouse_list(settings) -> list[tuple]:
    con = connect(settings, read_only=True)
    try:
        return con.execute("select * from marts.pemilih_terkini order by dpid").fetchall()
    finally:
        con.close()


def test_the_next_period_carries_the_published_list_over_and_it_equals_the_warehouse(
    period_home, small_synth, tmp_path, caplog
):
    """A publish rewrites in the analysts' snapshot only the records changed
    since the published period, and the result is the whole list; a snapshot
    that does not match is written whole instead, and a re-run period is
    never built on."""
    import logging
    import os
    import shutil

    from pdpb.config import Settings
    from pdpb.pipeline import resolve_cutoff
    from pdpb.publish.marts import open_warehouse
    from pdpb.publish.snapshot import _base_period, build_snapshot

    home = tmp_path / "home"
    shutil.copytree(period_home.home, home)
    settings = Settings.load(home)
    snapshot = settings.published_dir / "pdpb.duckdb"
    shutil.copytree(small_synth / "landing" / "2026-02", settings.landing_dir("2026-02"))
    con = open_warehouse(settings)
    try:
        assert _base_period(con, snapshot, "2026-02") == PERIOD
    finally:
        con.close()

    with caplog.at_level(logging.INFO, logger="pdpb.publish.snapshot"):
        assert main(["--home", str(home), "run", "--period", "2026-02"]) == 0
    assert "carried over from 2026-01" in caplog.text
    changed = _warehouse_list(settings)
    assert (
        sum(row[-1] == "2026-02" for row in changed) > 0
    )  # updated_period: the month changed some
    assert _snapshot_list(snapshot) == changed
    if READER.exists():  # a file built on keeps the format the oldest client reads
        result = subprocess.run(
            [str(READER), "-c", READ_SNAPSHOT, str(snapshot), "2026-02"],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert json.loads(result.stdout)["period"] == "2026-02"

    # A snapshot that lost a record is not built on: the checksum sends the
    # publish back to a whole copy.
    os.chmod(snapshot, 0o644)
    with duckdb.connect(str(snapshot)) as damaged:
        damaged.execute("delete from marts.pemilih_terkini where dpid = ?", [changed[0][0]])
    caplog.clear()
    con = open_warehouse(settings)
    try:
        with caplog.at_level(logging.WARNING, logger="pdpb.publish.snapshot"):
            build_snapshot(con, settings, "2026-03", resolve_cutoff("2026-03", None))
    finally:
        con.close()
    assert "differs from the warehouse's; writing the snapshot whole" in caplog.text
    assert _snapshot_list(snapshot) == changed

    # A period run again since its snapshot was published is not built on.
    with connect(settings) as writer:
        writer.execute("update core.periods set started_at = now() where period = '2026-02'")
    con = open_warehouse(settings)
    try:
        assert _base_period(con, snapshot, "2026-03") is None
    finally:
        con.close()
