"""The change rules of docs/architecture.md, applied at the cut-off date (one test per rule)."""

from datetime import date

import pytest

from pdpb.apply import HISTORY_COLUMNS, VOTER_COLUMNS, apply_period, is_eligible
from pdpb.config import Settings
from pdpb.warehouse import connect, insert_rows

CUTOFF = date(2026, 1, 31)
DESA_A = "36.01.01.2001"  # Kab. Pandeglang
DESA_B = "36.01.01.2002"  # same kab/kota
DESA_KOTA = "36.71.01.1001"  # Kota Tangerang


def voter(dpid, **kw):
    base = {
        "dpid": dpid, "nkk": "3601010101200001", "nik": f"36010101019{dpid[-5:]}", "nama": f"WARGA {dpid}",
        "gelar": None, "tempat_lahir": "PANDEGLANG", "tanggal_lahir": date(1980, 1, 1), "jenis_kelamin": "L",
        "status_kawin": "S", "alamat": "KP. SUKAMAJU", "rt": "001", "rw": "002", "disabilitas": "0",
        "ktp_el": "S", "kode_wilayah": DESA_A, "tps": "001", "sumber": "DP4", "keterangan": None,
        "status": "AKTIF", "tms_code": None, "updated_period": "0000-00",
    }  # fmt: skip
    base.update(kw)
    return base


def event(event_id, jenis, decision="LINK", target=None, **kw):
    base = {
        "sumber": "DUKCAPIL", "event_id": event_id, "jenis_peristiwa": jenis,
        "tanggal_peristiwa": date(2026, 1, 10), "nik": None, "nik_valid": False, "nkk": None,
        "nama": "WARGA", "tempat_lahir": None, "tanggal_lahir": None, "jenis_kelamin": "L",
        "status_kawin": None, "alamat": None, "rt": None, "rw": None, "kode_wilayah": None,
        "kode_wilayah_asal": None, "decision": decision, "target_id": target,
    }  # fmt: skip
    base.update(kw)
    return base


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


def make_home(tmp_path):
    """A home whose list holds five voters in DESA_A, TPS 001, as initial versions."""
    settings = Settings.load(tmp_path)
    con = connect(settings)
    voters = [voter("V00001"), voter("V00002"), voter("V00003", jenis_kelamin="P"), voter("V00004"),
              voter("V00005", status_kawin="B", tanggal_lahir=date(1990, 5, 5))]  # fmt: skip
    insert_rows(con, "core.voters", VOTER_COLUMNS, voters)
    insert_rows(con, "core.voter_history", HISTORY_COLUMNS,
                [{**v, "version": 1, "valid_from_period": "0000-00"} for v in voters])  # fmt: skip
    con.close()
    return settings


def run(settings, period, events, cutoff=None):
    con = connect(settings)
    con.execute("delete from core.events where period = ?", [period])
    con.execute("delete from core.matches where period = ?", [period])
    event_cols = ("period", "sumber", "event_id", "jenis_peristiwa", "tanggal_peristiwa", "nik", "nik_valid",
                  "nkk", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "status_kawin", "alamat",
                  "rt", "rw", "kode_wilayah", "kode_wilayah_asal")  # fmt: skip
    insert_rows(con, "core.events", event_cols, [{"period": period, **e} for e in events])
    insert_rows(con, "core.matches", ("period", "sumber", "event_id", "decision", "target_id", "match_method",
                                      "match_probability"),
                [{"period": period, "match_method": "NIK_EXACT", "match_probability": 1.0, **e} for e in events])  # fmt: skip
    con.close()
    apply_period(settings, period, cutoff or date.fromisoformat(f"{period}-28"))
    con = connect(settings, read_only=True)
    changes = con.execute(
        "select event_id, dpid, change_type, tms_code, rule from core.changes where period = ? order by change_id",
        [period],
    ).fetchall()
    outcomes = dict(
        con.execute(
            "select event_id, outcome from core.event_outcomes where period = ?", [period]
        ).fetchall()
    )
    voters = {
        r[0]: r[1:]
        for r in con.execute(
            "select dpid, status, tms_code, kode_wilayah, tps from core.voters"
        ).fetchall()
    }
    con.close()
    return changes, outcomes, voters


def test_meninggal_event_marks_voter_tms_1(home):
    changes, outcomes, voters = run(home, "2026-01", [event("E1", "MENINGGAL", target="V00001")])
    assert changes == [("E1", "V00001", "TMS", 1, "TMS_MENINGGAL")]
    assert outcomes["E1"] == "APPLIED"
    assert voters["V00001"][:2] == ("TMS", 1)


def test_pindah_across_kabkota_gives_tms_4_and_baru_in_destination(home):
    changes, _, voters = run(home, "2026-01", [event("E1", "PINDAH", target="V00001", kode_wilayah=DESA_KOTA,
                                                     alamat="JL. MERDEKA", kode_wilayah_asal=DESA_A)])  # fmt: skip
    assert [c[2:] for c in changes] == [
        ("TMS", 4, "TMS_PINDAH_KELUAR"),
        ("BARU", None, "BARU_PINDAH_MASUK"),
    ]
    new_dpid = changes[1][1]
    assert voters[new_dpid][0] == "AKTIF" and voters[new_dpid][2] == DESA_KOTA
    assert voters["V00001"][:2] == ("TMS", 4)


def test_pindah_to_another_province_is_tms_4_only(home):
    """The destination province's home makes the BARU (routing sends it the
    same event); this home must not open a record in a desa it does not hold."""
    desa_jakarta = "31.71.01.1001"
    changes, outcomes, voters = run(home, "2026-01", [event("E1", "PINDAH", target="V00001",
                                                            kode_wilayah=desa_jakarta, alamat="JL. MERDEKA",
                                                            kode_wilayah_asal=DESA_A)])  # fmt: skip
    assert [c[1:] for c in changes] == [("V00001", "TMS", 4, "TMS_PINDAH_KELUAR")]
    assert outcomes["E1"] == "APPLIED"
    assert voters["V00001"][:2] == ("TMS", 4)
    assert not any(v[2] == desa_jakarta for v in voters.values())


def test_unlinked_pindah_to_another_province_registers_nobody_here(home):
    """The origin home did not find the mover (no NIK, say): it must not open
    a record in the destination province, which registers them itself."""
    changes, outcomes, voters = run(home, "2026-01", [event("E1", "PINDAH", decision="NEW",
                                                            kode_wilayah="31.71.01.1001",
                                                            kode_wilayah_asal=DESA_A,
                                                            tanggal_lahir=date(1990, 1, 1))])  # fmt: skip
    assert changes == []
    assert outcomes["E1"] == "NOT_FOUND"
    assert len(voters) == 5


def test_pindah_within_kabkota_is_ubah_with_new_tps(home):
    changes, _, voters = run(home, "2026-01", [event("E1", "PINDAH", target="V00002", kode_wilayah=DESA_B,
                                                     alamat="KP. BARU", kode_wilayah_asal=DESA_A)])  # fmt: skip
    assert [c[2:] for c in changes] == [("UBAH", None, "UBAH_PINDAH_DALAM_KABKOTA")]
    assert voters["V00002"] == ("AKTIF", None, DESA_B, "001")


def test_masuk_tni_then_purna_tni_restores_the_same_record(home):
    run(home, "2026-01", [event("E1", "MASUK_TNI", target="V00004")])
    changes, _, voters = run(home, "2026-02", [event("E2", "PURNA_TNI", target="V00004")])
    assert changes == [("E2", "V00004", "BARU", None, "BARU_PURNA_TNI")]
    assert voters["V00004"][0] == "AKTIF"


def test_event_for_a_voter_already_tms_changes_nothing(home):
    run(home, "2026-01", [event("E1", "MENINGGAL", target="V00003")])
    changes, outcomes, _ = run(home, "2026-02", [event("E2", "MASUK_POLRI", target="V00003")])
    assert changes == [] and outcomes["E2"] == "NO_CHANGE"


def test_death_of_a_person_not_on_the_list_changes_nothing(home):
    changes, outcomes, _ = run(home, "2026-01", [event("E1", "MENINGGAL", decision="NEW")])
    assert changes == [] and outcomes["E1"] == "NOT_FOUND"


def test_seventeenth_birthday_exactly_on_the_cutoff_is_eligible():
    assert is_eligible(date(2009, 1, 31), "B", date(2026, 1, 31)) is True
    assert is_eligible(date(2009, 2, 1), "B", date(2026, 1, 31)) is False


def test_married_sixteen_year_old_becomes_baru(home):
    changes, _, _ = run(home, "2026-01", [event("E1", "KAWIN", decision="NEW", status_kawin="S",
                                                tanggal_lahir=date(2010, 1, 1), kode_wilayah=DESA_A)])  # fmt: skip
    assert [c[2:] for c in changes] == [("BARU", None, "BARU_KAWIN")]


def test_future_voter_is_promoted_in_the_period_they_turn_17(home):
    _, outcomes, _ = run(home, "2026-01", [event("E1", "PENDUDUK_BARU", decision="NEW", status_kawin="B",
                                                 tanggal_lahir=date(2009, 3, 15), kode_wilayah=DESA_A)])  # fmt: skip
    assert outcomes["E1"] == "FUTURE_VOTER"
    changes_feb, _, _ = run(home, "2026-02", [])
    changes_mar, _, _ = run(home, "2026-03", [])
    assert changes_feb == []
    assert [c[2:] for c in changes_mar] == [("BARU", None, "BARU_PROMOSI")]


def test_two_events_for_one_voter_apply_in_date_order(home):
    changes, _, voters = run(home, "2026-01", [
        event("E2", "MENINGGAL", target="V00002", tanggal_peristiwa=date(2026, 1, 20)),
        event("E1", "PINDAH", target="V00002", kode_wilayah=DESA_B, tanggal_peristiwa=date(2026, 1, 5)),
    ])  # fmt: skip
    assert [c[0] for c in changes] == ["E1", "E2"]
    assert voters["V00002"][:3] == ("TMS", 1, DESA_B)


def test_rerunning_a_period_replaces_its_results_exactly(home):
    events = [event("E1", "MENINGGAL", target="V00001"),
              event("E2", "PINDAH", target="V00002", kode_wilayah=DESA_KOTA)]  # fmt: skip
    first = run(home, "2026-01", events)
    con = connect(home, read_only=True)
    before = con.execute("select * from core.voter_history order by dpid, version").fetchall()
    con.close()
    second = run(home, "2026-01", events)
    con = connect(home, read_only=True)
    after = con.execute("select * from core.voter_history order by dpid, version").fetchall()
    con.close()
    assert first == second and before == after


def test_correction_showing_an_unmarried_voter_under_17_gives_one_tms_3(home):
    changes, outcomes, voters = run(home, "2026-01", [
        event("E1", "PERUBAHAN_DATA", target="V00001", tanggal_lahir=date(2010, 6, 1), status_kawin="B"),
    ])  # fmt: skip
    assert changes == [("E1", "V00001", "TMS", 3, "TMS_BAWAH_UMUR")]
    assert outcomes["E1"] == "APPLIED" and voters["V00001"][:2] == ("TMS", 3)


def changes_of(settings, period):
    """The period's change rows with the columns that explain each change."""
    con = connect(settings, read_only=True)
    try:
        return (
            con.sql(
                "select * from core.changes where period = ? order by change_id", params=[period]
            )
            .to_arrow_table()
            .to_pylist()
        )
    finally:
        con.close()


ADULT = {"tanggal_lahir": date(1995, 7, 7), "status_kawin": "B", "kode_wilayah": DESA_A}


@pytest.mark.parametrize(
    ("jenis", "code", "rule"),
    [
        ("MASUK_TNI", 6, "TMS_MASUK_TNI"),
        ("MASUK_POLRI", 7, "TMS_MASUK_POLRI"),
        ("WNA", 5, "TMS_WNA"),
        ("HAK_PILIH_DICABUT", 9, "TMS_HAK_PILIH_DICABUT"),
    ],
    ids=["TMS_MASUK_TNI", "TMS_MASUK_POLRI", "TMS_WNA", "TMS_HAK_PILIH_DICABUT"],
)
def test_event_linked_to_active_voter_marks_tms_with_its_code(home, jenis, code, rule):
    changes, outcomes, voters = run(home, "2026-01", [event("E1", jenis, target="V00002")])
    assert changes == [("E1", "V00002", "TMS", code, rule)]
    assert outcomes["E1"] == "APPLIED" and voters["V00002"][:2] == ("TMS", code)


def test_kawin_of_an_active_voter_is_ubah_listing_status_kawin(home):
    run(home, "2026-01", [event("E1", "KAWIN", target="V00005", status_kawin="S")])
    [change] = changes_of(home, "2026-01")
    assert (change["change_type"], change["rule"], change["changed_fields"]) == (
        "UBAH", "UBAH_KAWIN", "status_kawin",
    )  # fmt: skip


def test_perubahan_data_is_ubah_listing_the_changed_fields(home):
    run(home, "2026-01", [event("E1", "PERUBAHAN_DATA", target="V00001", nama="WARGA V00001 BIN ALI",
                                rt="005", jenis_kelamin="L")])  # fmt: skip
    [change] = changes_of(home, "2026-01")
    assert (change["rule"], change["changed_fields"]) == ("UBAH_PERUBAHAN_DATA", "nama,rt")


def test_perubahan_data_with_the_same_values_changes_nothing(home):
    changes, outcomes, _ = run(home, "2026-01", [event("E1", "PERUBAHAN_DATA", target="V00001",
                                                       nama="WARGA V00001")])  # fmt: skip
    assert changes == [] and outcomes["E1"] == "NO_CHANGE"


@pytest.mark.parametrize(
    ("jenis", "rule"),
    [
        ("PENDUDUK_BARU", "BARU_PEMILIH_PEMULA"),
        ("KAWIN", "BARU_KAWIN"),
        ("PURNA_TNI", "BARU_PURNA_TNI"),
        ("PURNA_POLRI", "BARU_PURNA_POLRI"),
        ("HAK_PILIH_PULIH", "BARU_HAK_PILIH_PULIH"),
        ("PINDAH", "BARU_PINDAH_MASUK"),
    ],
    ids=["BARU_PEMILIH_PEMULA", "BARU_KAWIN", "BARU_PURNA_TNI", "BARU_PURNA_POLRI",
         "BARU_HAK_PILIH_PULIH", "BARU_PINDAH_MASUK"],
)  # fmt: skip
def test_unlinked_eligible_person_becomes_baru_by_its_source_rule(home, jenis, rule):
    changes, outcomes, voters = run(home, "2026-01", [event("E1", jenis, decision="NEW", **ADULT)])
    [(event_id, dpid, change_type, tms_code, got_rule)] = changes
    assert (event_id, change_type, got_rule) == ("E1", "BARU", rule)
    assert outcomes["E1"] == "APPLIED"
    assert voters[dpid] == ("AKTIF", None, DESA_A, "001")


@pytest.mark.parametrize(
    "jenis", ["MENINGGAL", "WNA", "MASUK_TNI", "MASUK_POLRI", "HAK_PILIH_DICABUT", "PERUBAHAN_DATA"]
)
def test_event_about_an_unknown_person_is_not_found_and_changes_nothing(home, jenis):
    changes, outcomes, _ = run(home, "2026-01", [event("E1", jenis, decision="NEW", **ADULT)])
    assert changes == [] and outcomes["E1"] == "NOT_FOUND"


def test_purna_polri_restores_a_voter_tms_7(home):
    run(home, "2026-01", [event("E1", "MASUK_POLRI", target="V00004")])
    changes, _, voters = run(home, "2026-02", [event("E2", "PURNA_POLRI", target="V00004")])
    assert changes == [("E2", "V00004", "BARU", None, "BARU_PURNA_POLRI")]
    assert voters["V00004"][:2] == ("AKTIF", None)


def test_hak_pilih_pulih_restores_a_voter_tms_9(home):
    run(home, "2026-01", [event("E1", "HAK_PILIH_DICABUT", target="V00004")])
    changes, _, voters = run(home, "2026-02", [event("E2", "HAK_PILIH_PULIH", target="V00004")])
    assert changes == [("E2", "V00004", "BARU", None, "BARU_HAK_PILIH_PULIH")]
    assert voters["V00004"][0] == "AKTIF"


def test_purna_tni_does_not_restore_a_voter_tms_for_another_reason(home):
    run(home, "2026-01", [event("E1", "MENINGGAL", target="V00004")])
    changes, outcomes, voters = run(home, "2026-02", [event("E2", "PURNA_TNI", target="V00004")])
    assert changes == [] and outcomes["E2"] == "NO_CHANGE" and voters["V00004"][:2] == ("TMS", 1)


def test_seventeenth_birthday_on_29_february_counts_from_1_march_in_common_years():
    assert is_eligible(date(2008, 2, 29), "B", date(2025, 2, 28)) is False
    assert is_eligible(date(2008, 2, 29), "B", date(2025, 3, 1)) is True
    assert is_eligible(date(2012, 2, 29), "B", date(2029, 2, 28)) is False


def test_future_voter_with_17th_birthday_on_the_cutoff_is_promoted_that_period(home):
    run(home, "2026-01", [event("E1", "PENDUDUK_BARU", decision="NEW", status_kawin="B",
                                tanggal_lahir=date(2009, 2, 20), kode_wilayah=DESA_A)])  # fmt: skip
    changes, _, _ = run(home, "2026-02", [], cutoff=date(2026, 2, 20))
    assert [c[2:] for c in changes] == [("BARU", None, "BARU_PROMOSI")]


def test_future_voter_a_day_short_of_17_on_the_cutoff_waits(home):
    run(home, "2026-01", [event("E1", "PENDUDUK_BARU", decision="NEW", status_kawin="B",
                                tanggal_lahir=date(2009, 2, 21), kode_wilayah=DESA_A)])  # fmt: skip
    changes, _, _ = run(home, "2026-02", [], cutoff=date(2026, 2, 20))
    assert changes == []


def test_future_voter_is_promoted_with_no_event_two_periods_after_registration(home):
    run(home, "2026-01", [event("E1", "PENDUDUK_BARU", decision="NEW", status_kawin="B",
                                tanggal_lahir=date(2009, 3, 10), kode_wilayah=DESA_B)])  # fmt: skip
    con = connect(home, read_only=True)
    [(future_id,)] = con.execute("select future_id from core.future_voters").fetchall()
    con.close()
    assert run(home, "2026-02", [])[0] == []
    run(home, "2026-03", [])
    [change] = changes_of(home, "2026-03")
    assert (change["rule"], change["sumber"], change["event_id"], change["match_method"]) == (
        "BARU_PROMOSI", "PROMOSI", future_id, "PROMOSI",
    )  # fmt: skip
    assert change["kode_wilayah"] == DESA_B


def test_new_voters_fill_the_desa_tps_to_capacity_then_open_the_next(tmp_path):
    settings = Settings.load(tmp_path, tps_capacity=3)
    con = connect(settings)
    voters = [voter("V00001"), voter("V00002")]  # TPS 001 of DESA_A holds 2
    insert_rows(con, "core.voters", VOTER_COLUMNS, voters)
    insert_rows(con, "core.voter_history", HISTORY_COLUMNS,
                [{**v, "version": 1, "valid_from_period": "0000-00"} for v in voters])  # fmt: skip
    con.close()
    events = [event(f"E{i}", "PENDUDUK_BARU", decision="NEW", **ADULT) for i in range(1, 6)]
    changes, _, voters_after = run(settings, "2026-01", events)
    assert [voters_after[c[1]][3] for c in changes] == ["001", "002", "002", "002", "003"]


def test_every_change_names_its_event_rule_method_and_probability(home):
    run(home, "2026-01", [
        event("E1", "MENINGGAL", target="V00001"),
        event("E2", "PINDAH", target="V00002", kode_wilayah=DESA_KOTA, alamat="JL. MERDEKA"),
        event("E3", "PERUBAHAN_DATA", target="V00003", nama="WARGA TIGA"),
        event("E4", "PENDUDUK_BARU", decision="NEW", **ADULT),
    ])  # fmt: skip
    changes = changes_of(home, "2026-01")
    assert len(changes) == 5
    for change in changes:
        assert change["sumber"] == "DUKCAPIL" and change["event_id"].startswith("E")
        assert change["rule"] and change["reason"]
        assert change["match_method"] == "NIK_EXACT" and change["match_probability"] == 1.0


def test_every_event_has_exactly_one_outcome(home):
    events = [
        event("E1", "MENINGGAL", target="V00001"),
        event("E2", "MENINGGAL", decision="REVIEW", target="V00002"),
        event("E3", "MENINGGAL", decision="DUPLICATE_EVENT"),
        event("E4", "MENINGGAL", decision="NEW"),
        event("E5", "PENDUDUK_BARU", decision="NEW", status_kawin="B",
              tanggal_lahir=date(2012, 1, 1), kode_wilayah=DESA_A),
        event("E6", "PURNA_TNI", target="V00003"),
    ]  # fmt: skip
    changes, outcomes, voters = run(home, "2026-01", events)
    assert outcomes == {"E1": "APPLIED", "E2": "REVIEW", "E3": "DUPLICATE_EVENT", "E4": "NOT_FOUND",
                        "E5": "FUTURE_VOTER", "E6": "NO_CHANGE"}  # fmt: skip
    assert voters["V00002"][0] == "AKTIF"
