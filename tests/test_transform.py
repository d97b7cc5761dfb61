"""Specifications of the dbt transform: recaps, balances, roll-ups, contracts.

One tiny warehouse is written by hand into core.* (seven initial voters in
Banten, a period with every kind of change, then a quiet period) and built
once with dbt for the module; the failure test builds a corrupted copy.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pdpb.config import PdpbError, Settings
from pdpb.transform import build_marts
from pdpb.warehouse import connect

P1, P2 = "2026-01", "2026-02"
# Desa A and B share kecamatan 36.01.01; C is another kecamatan of the same
# kab/kota (36.01); D is in another kab/kota (36.02).
A, B, C, D = "36.01.01.2001", "36.01.01.2002", "36.01.02.2001", "36.02.01.2002"
RECAP_LEVELS = ("desa", "kecamatan", "kabkota", "provinsi", "nasional")
RECAP_COLUMNS = [
    "period",
    "kode_wilayah",
    "nama_wilayah",
    "kode_induk",
    "jumlah_kecamatan",
    "jumlah_desa",
    "awal_l",
    "awal_p",
    "awal_total",
    "baru_l",
    "baru_p",
    "baru_total",
    "baru_pemilih_pemula",
    "baru_pindah_masuk",
    "baru_purna_tni_polri",
    "baru_hak_pilih_pulih",
    "tms_l",
    "tms_p",
    "tms_total",
    "tms_meninggal",
    "tms_ganda",
    "tms_bawah_umur",
    "tms_pindah_domisili",
    "tms_wna",
    "tms_tni",
    "tms_polri",
    "tms_salah_tps",
    "tms_hak_pilih_dicabut",
    "ubah",
    "akhir_l",
    "akhir_p",
    "akhir_total",
]
COUNT_COLUMNS = RECAP_COLUMNS[4:]

# (dpid, jenis_kelamin, kode_wilayah) of the initial list (period '0000-00').
INITIAL = [
    ("V1", "L", A),  # unchanged
    ("V2", "P", A),  # dies: TMS 1
    ("V3", "L", A),  # moves within the kab/kota to desa C: UBAH
    ("V4", "P", B),  # moves to another kab/kota: TMS 4 here, BARU V7 in D
    ("V5", "L", B),  # two corrections in one period: UBAH twice
    ("V6", "P", D),  # unchanged
    ("V10", "P", B),  # joins the TNI: TMS 6
]
# (change_id, dpid, change_type, tms_code, rule, sumber, kode_wilayah, jenis_kelamin)
CHANGES = [
    ("C1", "V2", "TMS", 1, "TMS_MENINGGAL", "DUKCAPIL", A, "P"),
    ("C2", "V3", "UBAH", None, "UBAH_PINDAH_DALAM_KABKOTA", "DUKCAPIL", C, "L"),
    ("C3", "V4", "TMS", 4, "TMS_PINDAH_KELUAR", "DUKCAPIL", B, "P"),
    ("C4", "V7", "BARU", None, "BARU_PINDAH_MASUK", "DUKCAPIL", D, "P"),
    ("C5", "V5", "UBAH", None, "UBAH_PERUBAHAN_DATA", "DUKCAPIL", B, "L"),
    ("C6", "V5", "UBAH", None, "UBAH_KAWIN", "DUKCAPIL", B, "L"),
    ("C7", "V8", "BARU", None, "BARU_PEMILIH_PEMULA", "DUKCAPIL", C, "L"),
    ("C8", "V9", "BARU", None, "BARU_PROMOSI", "PROMOSI", A, "L"),
    ("C9", "V10", "TMS", 6, "TMS_MASUK_TNI", "TNI", B, "P"),
]
# (dpid, version, jenis_kelamin, kode_wilayah, status, tms_code, valid_from, valid_to, change_id)
LATER_VERSIONS = [
    ("V2", 2, "P", A, "TMS", 1, P1, None, "C1"),
    ("V3", 2, "L", C, "AKTIF", None, P1, None, "C2"),
    ("V4", 2, "P", B, "TMS", 4, P1, None, "C3"),
    ("V7", 1, "P", D, "AKTIF", None, P1, None, "C4"),
    ("V5", 2, "L", B, "AKTIF", None, P1, P1, "C5"),  # intermediate: never visible
    ("V5", 3, "L", B, "AKTIF", None, P1, None, "C6"),
    ("V8", 1, "L", C, "AKTIF", None, P1, None, "C7"),
    ("V9", 1, "L", A, "AKTIF", None, P1, None, "C8"),
    ("V10", 2, "P", B, "TMS", 6, P1, None, "C9"),
]
CHANGED_IN_P1 = {"V2", "V3", "V4", "V5", "V10"}


def _nik(number: int) -> str:
    return f"3601014101{number:06d}"


def _write_core(con: duckdb.DuckDBPyConnection) -> None:
    """Insert the scenario into core.*: history first, then current voters."""
    con.executemany(
        "insert into core.periods (period, cutoff, status) values (?, ?, 'DONE')",
        [(P1, "2026-01-31"), (P2, "2026-02-28")],
    )
    versions = [
        (dpid, 1, jk, kode, "AKTIF", None, "0000-00", P1 if dpid in CHANGED_IN_P1 else None, None)
        for dpid, jk, kode in INITIAL
    ] + LATER_VERSIONS
    for number, (dpid, version, jk, kode, status, tms, v_from, v_to, change_id) in enumerate(
        versions
    ):
        con.execute(
            """insert into core.voter_history (dpid, version, nkk, nik, nama, tanggal_lahir,
                   jenis_kelamin, kode_wilayah, status, tms_code, valid_from_period,
                   valid_to_period, change_id)
               values (?, ?, ?, ?, ?, date '1990-01-01', ?, ?, ?, ?, ?, ?, ?)""",
            [
                dpid,
                version,
                _nik(number),
                _nik(number),
                f"PEMILIH {dpid}",
                jk,
                kode,
                status,
                tms,
                v_from,
                v_to,
                change_id,
            ],
        )
    con.execute(
        """insert into core.voters (dpid, nkk, nik, nama, tanggal_lahir, jenis_kelamin,
               kode_wilayah, status, tms_code, updated_period)
           select dpid, nkk, nik, nama, tanggal_lahir, jenis_kelamin, kode_wilayah, status,
                  tms_code, valid_from_period
           from core.voter_history where valid_to_period is null"""
    )
    con.executemany(
        """insert into core.changes (period, change_id, dpid, change_type, tms_code, rule,
               sumber, event_id, kode_wilayah, jenis_kelamin, match_method, match_probability)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'NIK_EXACT', 1.0)""",
        [
            (P1, cid, dpid, ctype, tms, rule, sumber, f"E-{cid}", kode, jk)
            for cid, dpid, ctype, tms, rule, sumber, kode, jk in CHANGES
        ],
    )
    con.executemany(
        """insert into core.events (period, sumber, event_id, jenis_peristiwa, kode_wilayah)
           values (?, ?, ?, 'MENINGGAL', ?)""",
        [(P1, sumber, f"E-{cid}", kode) for cid, _, _, _, _, sumber, kode, _ in CHANGES],
    )
    con.executemany(
        """insert into core.event_outcomes (period, sumber, event_id, outcome, dpid,
               match_method, match_probability)
           values (?, ?, ?, 'APPLIED', ?, 'NIK_EXACT', 1.0)""",
        [(P1, sumber, f"E-{cid}", dpid) for cid, dpid, _, _, _, sumber, _, _ in CHANGES],
    )
    con.execute(
        """insert into core.event_outcomes (period, sumber, event_id, outcome, match_method)
           values (?, 'DUKCAPIL', 'E-BAD', 'QUARANTINED', 'NONE')""",
        [P1],
    )


def _make_warehouse(home: Path) -> Settings:
    settings = Settings.load(home)
    con = connect(settings)
    try:
        _write_core(con)
    finally:
        con.close()
    return settings


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict]:
    settings = _make_warehouse(tmp_path_factory.mktemp("transform_home"))
    result = build_marts(settings, P1)
    return settings, result


@pytest.fixture
def marts(built: tuple[Settings, dict]) -> Iterator[duckdb.DuckDBPyConnection]:
    # Per test, so that no connection is open while a test runs dbt itself.
    settings, _ = built
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    yield con
    con.close()


def _recap_row(con: duckdb.DuckDBPyConnection, level: str, period: str, kode: str) -> dict:
    cursor = con.execute(
        f"select * from marts.rpt_rekap_{level} where period = ? and kode_wilayah = ?",
        [period, kode],
    )
    row = cursor.fetchone()
    assert row is not None, f"no {level} row for {kode} in {period}"
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def _nonzero(row: dict) -> dict:
    return {k: v for k, v in row.items() if k in COUNT_COLUMNS[2:] and v != 0}


def test_build_runs_models_data_tests_and_unit_tests(built):
    _, result = built

    assert result["models"] >= 20
    assert result["tests_passed"] >= 50
    assert result["unit_tests_passed"] >= 3
    assert result["warnings"] == 0 and result["skipped"] == 0


def test_build_reports_the_periods_national_recap(built):
    _, result = built

    assert result["nasional"]["awal_total"] == 7
    assert result["nasional"]["akhir_total"] == 7


def test_desa_recap_counts_each_change_at_the_end_of_period_location(marts):
    desa = {kode: _nonzero(_recap_row(marts, "desa", P1, kode)) for kode in (A, B, C, D)}

    assert desa[A] == {
        "awal_l": 1, "awal_p": 1, "awal_total": 2,
        "baru_l": 1, "baru_total": 1, "baru_pemilih_pemula": 1,
        "tms_p": 1, "tms_total": 1, "tms_meninggal": 1,
        "akhir_l": 2, "akhir_total": 2,
    }  # fmt: skip
    assert desa[B] == {
        "awal_l": 1, "awal_p": 2, "awal_total": 3,
        "tms_p": 2, "tms_total": 2, "tms_pindah_domisili": 1, "tms_tni": 1,
        "ubah": 2, "akhir_l": 1, "akhir_total": 1,
    }  # fmt: skip
    assert desa[C] == {
        "awal_l": 1, "awal_total": 1,
        "baru_l": 1, "baru_total": 1, "baru_pemilih_pemula": 1,
        "ubah": 1, "akhir_l": 2, "akhir_total": 2,
    }  # fmt: skip
    assert desa[D] == {
        "awal_p": 1, "awal_total": 1,
        "baru_p": 1, "baru_total": 1, "baru_pindah_masuk": 1,
        "akhir_p": 2, "akhir_total": 2,
    }  # fmt: skip


def test_move_within_kabkota_counts_in_destination_desa_awal_and_keeps_kabkota_continuous(marts):
    origin = _recap_row(marts, "desa", P1, A)
    destination = _recap_row(marts, "desa", P1, C)
    kabkota = _recap_row(marts, "kabkota", P1, "36.01")

    # V1, V2 and V3 were in desa A at the start; V3's awal follows it to C.
    assert origin["awal_total"] == 2
    assert destination["awal_total"] == 1 and destination["ubah"] == 1
    # The kab/kota's awal is the initial list's six voters there.
    assert kabkota["awal_total"] == 6 and kabkota["akhir_total"] == 5


def test_quiet_period_starts_where_the_previous_one_ended(marts):
    for kode in (A, B, C, D, "36.01", "36"):
        level = {13: "desa", 5: "kabkota", 2: "provinsi"}[len(kode)]
        before = _recap_row(marts, level, P1, kode)
        after = _recap_row(marts, level, P2, kode)

        assert (after["awal_l"], after["awal_p"]) == (before["akhir_l"], before["akhir_p"])
        assert (after["akhir_l"], after["akhir_p"]) == (before["akhir_l"], before["akhir_p"])


def test_every_recap_row_balances_for_l_p_and_total(marts):
    for level in RECAP_LEVELS:
        unbalanced = marts.execute(
            f"""select count(*) from marts.rpt_rekap_{level}
                where awal_l + baru_l - tms_l <> akhir_l or awal_p + baru_p - tms_p <> akhir_p
                   or awal_total + baru_total - tms_total <> akhir_total"""
        ).fetchone()[0]

        assert unbalanced == 0, level


def test_each_recap_level_sums_exactly_to_the_level_above(marts):
    sums = ", ".join(f"sum({c})" for c in COUNT_COLUMNS[1:])
    plain = ", ".join(COUNT_COLUMNS[1:])
    for child, parent in zip(RECAP_LEVELS, RECAP_LEVELS[1:], strict=False):
        summed = marts.execute(
            f"""select period, kode_induk, {sums} from marts.rpt_rekap_{child}
                group by all order by all"""
        ).fetchall()
        parents = marts.execute(
            f"select period, kode_wilayah, {plain} from marts.rpt_rekap_{parent} order by all"
        ).fetchall()

        assert summed == parents, f"{child} -> {parent}"


def test_recap_has_a_row_for_every_region_of_the_province_in_every_period(marts):
    desa_in_banten = marts.execute(
        "select count(*) from marts.dim_wilayah where tingkat = 'desa' and kode_provinsi = '36'"
    ).fetchone()[0]
    rows = marts.execute("select count(*), count(distinct period) from marts.rpt_rekap_desa")

    assert rows.fetchone() == (2 * desa_in_banten, 2)
    assert _recap_row(marts, "provinsi", P1, "36")["jumlah_desa"] == desa_in_banten
    assert _recap_row(marts, "nasional", P1, "ID")["nama_wilayah"] == "INDONESIA"


def test_recap_columns_follow_the_published_order(marts):
    for level in RECAP_LEVELS:
        columns = [
            d[0] for d in marts.execute(f"select * from marts.rpt_rekap_{level}").description
        ]

        assert columns == RECAP_COLUMNS, level


def test_mart_contracts_hold_in_the_warehouse(marts):
    types = dict(
        marts.execute(
            """select table_name || '.' || column_name, data_type
               from information_schema.columns where table_schema = 'marts'"""
        ).fetchall()
    )

    assert types["rpt_rekap_desa.akhir_total"] == "BIGINT"
    assert types["rpt_rekap_kabkota.jumlah_desa"] == "INTEGER"
    assert types["fct_voter_changes.match_probability"] == "DOUBLE"
    assert types["fct_voter_changes.tms_code"] == "INTEGER"
    assert types["fct_event_outcomes.period"] == "VARCHAR"
    assert types["pemilih_terkini.tanggal_lahir"] == "DATE"


def test_voter_changes_name_the_tms_category_and_the_recap_desa(marts):
    rows = dict(
        marts.execute(
            """select change_id, (tms_nama, kode_wilayah_rekap) from marts.fct_voter_changes
               where change_id in ('C1', 'C3', 'C9', 'C2')"""
        ).fetchall()
    )

    assert rows == {
        "C1": ("meninggal", A),
        "C3": ("pindah domisili", B),
        "C9": ("TNI", B),
        "C2": (None, C),
    }


def test_event_outcomes_keep_quarantined_rows(marts):
    outcomes = dict(
        marts.execute(
            "select outcome, count(*) from marts.fct_event_outcomes group by outcome"
        ).fetchall()
    )

    assert outcomes == {"APPLIED": len(CHANGES), "QUARANTINED": 1}


def test_analyst_view_masks_nik_and_nkk_with_the_warehouse_rule(marts):
    nik, nkk, raw = marts.execute(
        """select p.nik, p.nkk, v.nik from marts.pemilih_terkini p
           join core.voters v using (dpid) where dpid = 'V1'"""
    ).fetchone()

    assert nik == raw[:6] + "********" + raw[-2:]
    assert nkk == marts.execute("select core.mask_nik(?)", [raw]).fetchone()[0]


def test_build_fails_naming_the_test_when_history_and_ledger_disagree(built, tmp_path):
    # Corrupts the shared warehouse in place (so dbt's partial parse of this
    # home is reused) and restores it afterwards for the other tests.
    settings, _ = built
    backup = tmp_path / "pdpb.duckdb"
    shutil.copy(settings.warehouse_path, backup)
    try:
        with duckdb.connect(str(settings.warehouse_path)) as con:
            # V3 leaves the list in its current version without any TMS change.
            con.execute(
                "update core.voter_history set status = 'TMS' where dpid = 'V3' and version = 2"
            )

        with pytest.raises(PdpbError, match=r"recap_balances_rpt_rekap_desa"):
            build_marts(settings)
    finally:
        shutil.copy(backup, settings.warehouse_path)


def test_build_refuses_a_period_that_was_not_run(built):
    settings, _ = built

    with pytest.raises(PdpbError, match="2027-01 is not in core.periods"):
        build_marts(settings, "2027-01")
