"""Publish stage: recap XLSX/CSV, by-name change lists, HTML page, analyst snapshot.

The marts are built by hand here (dbt is another stage): two kab/kota of
province 36, one kecamatan each, two desa each, two periods.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from pdpb import warehouse
from pdpb.config import DBT_PROJECT_DIR, PdpbError, Settings
from pdpb.domain import RECAP_COUNT_HEADERS
from pdpb.files import HEADER_ROW, escape_formula
from pdpb.publish import publish
from pdpb.publish.recap import recap_sheet_columns

PERIOD = "2026-02"
CUTOFF = dt.date(2026, 2, 28)
EVIL_NAME = '=HYPERLINK("http://contoh.invalid/x","klik")'

WILAYAH = [
    ("36", "BANTEN", "provinsi", None),
    ("36.01", "KAB. PANDEGLANG", "kabkota", "36"),
    ("36.01.01", "SUMUR", "kecamatan", "36.01"),
    ("36.01.01.2001", "TAMANJAYA", "desa", "36.01.01"),
    ("36.01.01.2002", "UJUNGJAYA", "desa", "36.01.01"),
    ("36.71", "KOTA TANGERANG", "kabkota", "36"),
    ("36.71.01", "TANGERANG", "kecamatan", "36.71"),
    ("36.71.01.1001", "SUKASARI", "desa", "36.71.01"),
    ("36.71.01.1002", "BABAKAN", "desa", "36.71.01"),
]

# dpid, nkk, nik, nama, jenis_kelamin, kode_wilayah, status, tms_code
VOTERS = [
    ("D1", "3601010101200001", "3601014101900001", "SITI AMINAH", "P", "36.01.01.2001", "AKTIF", None),
    ("D2", "3601010101200002", "3601011203850002", "SUPARMAN", "L", "36.01.01.2002", "TMS", 1),
    ("D3", "3671010101200003", "3671015507080003", EVIL_NAME, "P", "36.71.01.1001", "AKTIF", None),
    ("D4", "3671010101200004", "3671010909700004", "I WAYAN SUDARTA", "L", "36.71.01.1002", "AKTIF", None),
]  # fmt: skip

# period, event_id, dpid, change_type, tms_code, tms_nama, rule, reason, changed_fields, kode_wilayah, jk
CHANGES = [
    (PERIOD, "E1", "D2", "TMS", 1, "Meninggal", "TMS_MENINGGAL", "akta kematian", None, "36.01.01.2002", "L"),
    (PERIOD, "E2", "D3", "BARU", None, None, "BARU_PEMILIH_PEMULA", "genap 17 tahun", None, "36.71.01.1001", "P"),
    (PERIOD, "E3", "D4", "UBAH", None, None, "UBAH_PERUBAHAN_DATA", "perbaikan alamat", "alamat", "36.71.01.1002", "L"),
    (PERIOD, "E4", "D1", "UBAH", None, None, "UBAH_KAWIN", "-kawin", "status_kawin", "36.01.01.2001", "P"),
]  # fmt: skip

# kode desa -> (awal_l, awal_p, baru_l, baru_p, tms_l, tms_p, ubah); TMS all meninggal,
# BARU all pemilih pemula, so the category columns follow from the L/P ones.
DESA_COUNTS = {
    PERIOD: {
        "36.01.01.2001": (120, 130, 0, 0, 0, 0, 1),
        "36.01.01.2002": (90, 95, 0, 0, 1, 0, 0),
        "36.71.01.1001": (300, 310, 0, 1, 0, 0, 0),
        "36.71.01.1002": (250, 260, 0, 0, 0, 0, 1),
    },
    "2026-01": {
        "36.01.01.2001": (119, 130, 1, 0, 0, 0, 0),
        "36.01.01.2002": (90, 95, 0, 0, 0, 0, 2),
        "36.71.01.1001": (300, 309, 0, 1, 0, 0, 0),
        "36.71.01.1002": (251, 260, 0, 0, 1, 0, 0),
    },
}

COUNT_COLUMNS = [c for c in RECAP_COUNT_HEADERS if not c.startswith("jumlah_")]


def _desa_rows() -> list[tuple]:
    rows = []
    for period, counts in DESA_COUNTS.items():
        for kode, (al, ap, bl, bp, tl, tp, ubah) in counts.items():
            rows.append((period, kode, al, ap, bl, bp, tl, tp, ubah))
    return rows


def _create_marts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create table marts.dim_wilayah (kode_wilayah varchar, nama_wilayah varchar,"
        " tingkat varchar, kode_induk varchar)"
    )
    con.executemany("insert into marts.dim_wilayah values (?, ?, ?, ?)", WILAYAH)
    con.execute(
        "create temp table counts (period varchar, kode varchar, al int, ap int, bl int, bp int,"
        " tl int, tp int, ubah int)"
    )
    con.executemany("insert into counts values (?, ?, ?, ?, ?, ?, ?, ?, ?)", _desa_rows())
    con.execute("""
        create table marts.rpt_rekap_desa as
        select c.period, c.kode as kode_wilayah, w.nama_wilayah, w.kode_induk,
            0 as jumlah_kecamatan, 1 as jumlah_desa,
            al as awal_l, ap as awal_p, al + ap as awal_total,
            bl as baru_l, bp as baru_p, bl + bp as baru_total,
            bl + bp as baru_pemilih_pemula, 0 as baru_pindah_masuk,
            0 as baru_purna_tni_polri, 0 as baru_hak_pilih_pulih,
            tl as tms_l, tp as tms_p, tl + tp as tms_total, tl + tp as tms_meninggal,
            0 as tms_ganda, 0 as tms_bawah_umur, 0 as tms_pindah_domisili, 0 as tms_wna,
            0 as tms_tni, 0 as tms_polri, 0 as tms_salah_tps, 0 as tms_hak_pilih_dicabut,
            ubah, al + bl - tl as akhir_l, ap + bp - tp as akhir_p,
            al + ap + bl + bp - tl - tp as akhir_total
        from counts as c join marts.dim_wilayah as w on w.kode_wilayah = c.kode
    """)
    sums = ", ".join(f"sum({c})::bigint as {c}" for c in COUNT_COLUMNS)
    for level, child, prefix in (
        ("kecamatan", "desa", 8),
        ("kabkota", "kecamatan", 5),
        ("provinsi", "kabkota", 2),
    ):
        con.execute(f"""
            create table marts.rpt_rekap_{level} as
            select r.period, left(r.kode_wilayah, {prefix}) as kode_wilayah,
                any_value(w.nama_wilayah) as nama_wilayah, any_value(w.kode_induk) as kode_induk,
                {"count(*)" if level == "kabkota" else "sum(r.jumlah_kecamatan)"}::bigint
                    as jumlah_kecamatan,
                sum(r.jumlah_desa)::bigint as jumlah_desa, {sums}
            from marts.rpt_rekap_{child} as r
            join marts.dim_wilayah as w on w.kode_wilayah = left(r.kode_wilayah, {prefix})
            group by all
        """)
    con.execute(f"""
        create table marts.rpt_rekap_nasional as
        select period, 'ID' as kode_wilayah, 'INDONESIA' as nama_wilayah,
            null::varchar as kode_induk, sum(jumlah_kecamatan)::bigint as jumlah_kecamatan,
            sum(jumlah_desa)::bigint as jumlah_desa, {sums}
        from marts.rpt_rekap_provinsi group by period
    """)
    con.execute(
        "create table marts.fct_voter_changes (period varchar, sumber varchar, event_id varchar,"
        " dpid varchar, change_type varchar, tms_code integer, tms_nama varchar, rule varchar,"
        " reason varchar, changed_fields varchar, match_method varchar,"
        " match_probability double, kode_wilayah varchar, jenis_kelamin varchar)"
    )
    con.executemany(
        "insert into marts.fct_voter_changes values"
        " (?, 'DUKCAPIL', ?, ?, ?, ?, ?, ?, ?, ?, 'NIK_EXACT', 1.0, ?, ?)",
        CHANGES,
    )
    # The by-name list is the dbt model itself, its refs pointed at these tables.
    con.execute(
        "create view marts.pemilih_terkini as select * replace"
        " (core.mask_nik(nik) as nik, core.mask_nik(nkk) as nkk) from core.voters"
    )
    model = (DBT_PROJECT_DIR / "models/marts/analyst/rpt_daftar_perubahan.sql").read_text()
    model = re.sub(r"{{ ref\('(\w+)'\) }}", r"marts.\1", model)
    con.execute(f"create view marts.rpt_daftar_perubahan as {model}")
    con.execute(
        "create table marts.fct_event_outcomes as select period, 'DUKCAPIL' as sumber, event_id,"
        " 'APPLIED' as outcome, dpid, 'NIK_EXACT' as match_method, 1.0 as match_probability"
        " from marts.fct_voter_changes"
    )


def _build_home(home: Path) -> Settings:
    settings = Settings.load(home)
    con = warehouse.connect(settings)
    try:
        con.executemany(
            "insert into core.voters (dpid, nkk, nik, nama, jenis_kelamin, kode_wilayah, status,"
            " tms_code, tanggal_lahir, alamat, rt, rw, tps)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, date '1990-01-01', 'JL. MAWAR', '001', '002', '001')",
            VOTERS,
        )
        _create_marts(con)
    finally:
        con.close()
    return settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A fresh home for tests that change the warehouse or publish again."""
    return _build_home(tmp_path / "home")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One publish shared by the tests that only read its files."""
    settings = _build_home(tmp_path_factory.mktemp("published") / "home")
    return publish(settings, PERIOD, CUTOFF)


def _sheet_rows(path: Path, sheet: str) -> list[tuple]:
    wb = load_workbook(path, read_only=True)
    try:
        return [tuple(r) for r in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()


def _all_text(path: Path) -> str:
    """Every string a written file carries (XLSX parts unzipped)."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            return "".join(archive.read(n).decode("utf-8") for n in archive.namelist())
    return path.read_text(encoding="utf-8-sig")


# --- formula escaping ---------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+62812", "-2", "@SUM(A1)", "\t=1", "\r=1"])
def test_escape_formula_prefixes_a_quote_to_text_a_spreadsheet_would_evaluate(text: str) -> None:
    assert escape_formula(text) == "'" + text


@pytest.mark.parametrize("value", ["SITI AMINAH", "", None, -5, 3.5, dt.date(2026, 1, 31)])
def test_escape_formula_leaves_plain_text_numbers_and_dates_alone(value: object) -> None:
    assert escape_formula(value) == value


def test_formula_in_nama_is_escaped_in_xlsx_and_csv(written: dict[str, Path]) -> None:
    xlsx, csv_path = written["perubahan_xlsx:36.71"], written["perubahan_csv:36.71"]

    names = [row[8] for row in _sheet_rows(xlsx, "Daftar Perubahan")[HEADER_ROW:]]

    assert "'" + EVIL_NAME in names
    assert EVIL_NAME not in names
    assert "<f>" not in _all_text(xlsx)  # no cell was stored as a formula
    assert "'=HYPERLINK" in csv_path.read_text(encoding="utf-8-sig")
    assert ",=HYPERLINK" not in csv_path.read_text(encoding="utf-8-sig")


def test_reason_starting_with_minus_is_escaped_in_change_list(written: dict[str, Path]) -> None:
    rows = _sheet_rows(written["perubahan_xlsx:36.01"], "Daftar Perubahan")[HEADER_ROW:]

    assert "'-kawin" in [row[17] for row in rows]


# --- recap ----------------------------------------------------------------------


def test_rekap_xlsx_has_one_sheet_per_level_with_indonesian_headers(
    written: dict[str, Path],
) -> None:
    wb = load_workbook(written["rekap_xlsx"], read_only=True)
    sheets = wb.sheetnames
    wb.close()
    rows = _sheet_rows(written["rekap_xlsx"], "Kabupaten-Kota")

    assert sheets == ["Desa", "Kecamatan", "Kabupaten-Kota", "Provinsi", "Nasional"]
    assert PERIOD in rows[1][0] and "28 Februari 2026" in rows[1][0]
    header = rows[HEADER_ROW - 1]
    for label in ("Pemilih Awal L", "Pemilih Baru", "TMS Meninggal", "Pemilih Akhir"):
        assert label in header


def test_rekap_header_row_is_frozen(written: dict[str, Path]) -> None:
    wb = load_workbook(written["rekap_xlsx"])

    assert wb["Desa"].freeze_panes == f"C{HEADER_ROW + 1}"


@pytest.mark.parametrize("sheet,level", [("Desa", "desa"), ("Kabupaten-Kota", "kabkota")])
def test_rekap_totals_row_equals_column_sums(
    written: dict[str, Path], sheet: str, level: str
) -> None:
    rows = _sheet_rows(written["rekap_xlsx"], sheet)
    keys = [c for c, _ in recap_sheet_columns(level)]
    body, totals = rows[HEADER_ROW:-1], rows[-1]

    assert totals[keys.index("nama_wilayah")] == "JUMLAH"
    for index, key in enumerate(keys):
        if key in RECAP_COUNT_HEADERS:
            assert totals[index] == sum(r[index] for r in body), key
    assert totals[keys.index("akhir_total")] == 1555


def test_rekap_csv_holds_the_mart_rows_for_the_period(written: dict[str, Path]) -> None:
    lines = written["rekap_csv:desa"].read_text(encoding="utf-8-sig").splitlines()

    assert lines[0].startswith("period,kode_wilayah,nama_wilayah,kode_induk,")
    assert len(lines) == 1 + len(DESA_COUNTS[PERIOD])
    assert all(line.startswith(PERIOD + ",") for line in lines[1:])


# --- by-name change lists --------------------------------------------------------


def test_change_lists_are_one_file_per_kabkota_sorted_by_desa(written: dict[str, Path]) -> None:
    rows = _sheet_rows(written["perubahan_xlsx:36.01"], "Daftar Perubahan")[HEADER_ROW:]

    assert sorted(k for k in written if k.startswith("perubahan_xlsx:")) == [
        "perubahan_xlsx:36.01",
        "perubahan_xlsx:36.71",
    ]
    assert [(r[2], r[8], r[15]) for r in rows] == [
        ("36.01.01.2001", "SITI AMINAH", "Perbaikan Data"),
        ("36.01.01.2002", "SUPARMAN", "TMS"),
    ]


def test_change_lists_written_by_worker_processes_equal_those_written_in_process(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pdpb.publish import changes

    monkeypatch.setattr(changes, "PARALLEL_MIN_ROWS", 0)  # two kab/kota, two processes
    con = warehouse.connect(settings, read_only=True)
    try:
        with changes.change_lists(con, tmp_path / "alone", PERIOD, CUTOFF, jobs=1) as written:
            alone = written()
        with changes.change_lists(con, tmp_path / "parallel", PERIOD, CUTOFF, jobs=2) as written:
            parallel = written()
    finally:
        con.close()

    assert sorted(alone) == sorted(parallel) == [
        "perubahan_csv:36.01", "perubahan_csv:36.71", "perubahan_xlsx:36.01", "perubahan_xlsx:36.71",
    ]  # fmt: skip
    for key, path in alone.items():
        if key.startswith("perubahan_csv:"):
            assert path.read_bytes() == parallel[key].read_bytes()
        else:
            for sheet in ("Ringkasan", "Daftar Perubahan"):
                assert _sheet_rows(path, sheet) == _sheet_rows(parallel[key], sheet)
    # The worker escapes formulas as publish does in-process.
    rows = _sheet_rows(parallel["perubahan_xlsx:36.71"], "Daftar Perubahan")[HEADER_ROW:]
    names = [r[8] for r in rows]
    assert escape_formula(EVIL_NAME) in names and EVIL_NAME not in names


# --- plenary workbooks ----------------------------------------------------------


def _plenary(path: Path, sheet: str):
    wb = load_workbook(path)
    return wb, wb[sheet]


def _printed_table(ws) -> tuple[list[str], list[list], list]:
    """(headers as printed, data rows, JUMLAH row) read back from a sheet; a
    grouped column's header is `GROUP|SUB` (e.g. `PEMILIH AWAL|L`)."""
    top, sub = 7, 8  # the two grouped header rows under the title block
    headers, group = [], None
    for col in range(1, ws.max_column + 1):
        above, below = ws.cell(top, col).value, ws.cell(sub, col).value
        group = above if above else group
        headers.append(f"{group}|{below}" if below else above)
    name = headers.index("KODE") + 1  # the region name follows its code
    rows = []
    for r in range(sub + 1, ws.max_row + 1):
        values = [ws.cell(r, c).value for c in range(1, len(headers) + 1)]
        if values[name] == "JUMLAH":
            return headers, rows, values
        rows.append(values)
    raise AssertionError("no JUMLAH row")


def test_each_kabkota_and_the_province_get_a_print_ready_plenary_workbook(
    written: dict[str, Path],
) -> None:
    pleno = {k.split(":")[1]: p for k, p in written.items() if k.startswith("pleno_xlsx:")}
    assert sorted(pleno) == ["36", "36.01", "36.71"]
    con = duckdb.connect(str(written["snapshot"]), read_only=True)
    try:
        marts = {
            kode: dict(zip([d[0] for d in cur.description], row, strict=True))
            for cur in [con.execute(
                "select * from marts.rpt_rekap_kabkota where period = ?"
                " union all by name select * from marts.rpt_rekap_provinsi where period = ?",
                [PERIOD, PERIOD],
            )]
            for row in cur.fetchall()
            for kode in [row[1]]
        }  # fmt: skip
    finally:
        con.close()
    for kode, path in pleno.items():
        sheet = "Rekap Kab-Kota" if kode == "36" else "Rekap Kecamatan"
        wb, ws = _plenary(path, sheet)
        # Printed as a KPU form: A4 landscape, one page wide, headers on every page.
        assert ws.page_setup.orientation == "landscape"
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
        assert ws.print_title_rows == "$7:$8"
        assert "A7:A8" in {str(m) for m in ws.merged_cells.ranges}  # NO spans both rows
        headers, rows, jumlah = _printed_table(ws)
        assert {"PEMILIH AWAL|L", "PEMILIH AWAL|JML", "PEMILIH AKHIR|P", "JUMLAH TPS"} <= set(
            headers
        )
        col = {h: i for i, h in enumerate(headers)}
        amounts = [h for h in headers if "|" in h or h in ("JUMLAH TPS", "PERBAIKAN DATA")]
        # The JUMLAH row is the sum of the printed rows and equals the mart.
        for h in amounts:
            assert jumlah[col[h]] == sum(r[col[h]] for r in rows), (kode, h)
        expected = marts[kode]
        for h, mart in (("PEMILIH AWAL|JML", "awal_total"), ("PEMILIH BARU|L", "baru_l"),
                        ("TIDAK MEMENUHI SYARAT (TMS)|JML", "tms_total"),
                        ("PERBAIKAN DATA", "ubah"), ("PEMILIH AKHIR|JML", "akhir_total")):  # fmt: skip
            assert jumlah[col[h]] == expected[mart], (kode, h)
        # And it balances: awal + baru - tms = akhir, for L, P and JML.
        for sub in ("L", "P", "JML"):
            assert (jumlah[col[f"PEMILIH AWAL|{sub}"]] + jumlah[col[f"PEMILIH BARU|{sub}"]]
                    - jumlah[col[f"TIDAK MEMENUHI SYARAT (TMS)|{sub}"]]
                    == jumlah[col[f"PEMILIH AKHIR|{sub}"]])  # fmt: skip
        assert ws.cell(9, col["PEMILIH AWAL|JML"] + 1).number_format == "#,##0"
        # One TPS (001) holds the active voters of each desa in this fixture.
        # TPS 001 in each desa with an active voter: all but 36.01.01.2002 (D2 is TMS).
        assert jumlah[col["JUMLAH TPS"]] == {"36": 3, "36.01": 1, "36.71": 2}[kode]
        text = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
        assert "rapat pleno terbuka" in text and "Ditetapkan di" in text and "TANDA TANGAN" in text
        assert text.count("Anggota") == 4 and "Ketua" in text
        wb.close()
    # The kab/kota workbook lists its desa too, each with its TPS.
    wb, ws = _plenary(pleno["36.01"], "Rekap Desa")
    headers, rows, _ = _printed_table(ws)
    assert [r[headers.index("KODE")] for r in rows] == ["36.01.01.2001", "36.01.01.2002"]
    assert [r[headers.index("JUMLAH TPS")] for r in rows] == [1, 0]  # D2 is TMS: no TPS in use
    wb.close()


def test_no_full_nik_or_nkk_appears_in_any_written_file(written: dict[str, Path]) -> None:
    secrets = {v[1] for v in VOTERS} | {v[2] for v in VOTERS}
    text_files = [p for p in written.values() if p.suffix in (".xlsx", ".csv", ".html", ".txt")]

    for path in text_files:
        text = _all_text(path)
        assert not [s for s in secrets if s in text], path
    con = duckdb.connect(str(written["snapshot"]), read_only=True)
    try:
        values = {
            v
            for (v,) in con.execute(
                "select nik from marts.pemilih_terkini union select nkk from marts.pemilih_terkini"
            ).fetchall()
        }
    finally:
        con.close()
    assert not values & secrets
    assert "3601014101900001" not in text_files[0].parent.joinpath("index.html").read_text()


def test_change_list_shows_nik_masked_by_the_warehouse_rule(written: dict[str, Path]) -> None:
    rows = _sheet_rows(written["perubahan_xlsx:36.01"], "Daftar Perubahan")[HEADER_ROW:]

    assert rows[0][7] == "360101********01"


# --- HTML --------------------------------------------------------------------------


def test_index_html_shows_headline_numbers_and_is_self_contained(written: dict[str, Path]) -> None:
    page = written["index_html"].read_text(encoding="utf-8-sig")

    assert "1.555" in page  # pemilih akhir nasional
    assert "Pemilih Akhir" in page and "KAB. PANDEGLANG" in page
    assert page.count("<svg") == 3
    assert "<title>2026-01: 1.555</title>" in page  # trend over both periods
    assert "<script" not in page and "<link" not in page and 'src="http' not in page


def test_the_page_speaks_the_operators_words_not_the_codes(written: dict[str, Path]) -> None:
    from pdpb.domain import GATE_LABELS, OUTCOME_LABELS

    page = written["index_html"].read_text(encoding="utf-8")
    assert OUTCOME_LABELS["APPLIED"] in page and ">APPLIED<" not in page
    for suite, label in GATE_LABELS.items():
        assert f"<td>{label}</td>" in page and f"<td>{suite}</td>" not in page


def test_index_html_shows_quality_status_or_belum_dijalankan(settings: Settings) -> None:
    reports = settings.reports_dir(PERIOD)
    reports.mkdir(parents=True)
    docs = settings.datadocs_dir / "index.html"
    (reports / "quality_voters.json").write_text(
        json.dumps(
            {
                "suite": "voters",
                "success": False,
                "critical_failures": ["nik unik: 3 baris ganda"],
                "warnings": [
                    {
                        "checkpoint": "voters",
                        "expectation": "expect_column_values_to_match_regex",
                        "column": "rt",
                        "notes": "RT harus tiga digit",
                        "unexpected_count": 7,
                        "unexpected_examples": ["3601014101900001"],
                    }
                ],
                "data_docs_index": str(docs),
            }
        )
    )

    page = publish(settings, PERIOD, CUTOFF)["index_html"].read_text(encoding="utf-8-sig")

    assert "nik unik: 3 baris ganda" in page and "Gagal" in page
    assert "RT harus tiga digit (voters, kolom rt: 7 baris)" in page
    assert "3601014101900001" not in page
    assert page.count("belum dijalankan") == 2
    assert 'href="../../datadocs/index.html"' in page
    assert 'href="../../review/2026-02/"' in page


def _axis_labels(svg: str) -> list[str]:
    return re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', svg)


def test_trend_chart_marks_a_y_axis_that_does_not_start_at_zero() -> None:
    """A list of a million that gains 0.02% a month: the axis spans the data,
    says so in words and with a break, and its ticks carry the real values."""
    from pdpb.publish.page import svg_line

    svg = svg_line(["2026-01", "2026-02", "2026-03"], [1_000_000, 1_000_100, 1_000_210])

    assert "Sumbu tegak tidak mulai dari 0" in svg and 'class="axis-break"' in svg
    assert "Pemilih akhir" in svg and ">Periode<" in svg
    assert "tidak mulai dari nol" in svg  # in the chart's accessible name too
    ticks = _axis_labels(svg)
    assert len(ticks) >= 3 and all(t.startswith("1.000.") for t in ticks)


def test_trend_chart_starts_at_zero_when_the_change_is_large() -> None:
    from pdpb.publish.page import svg_line

    svg = svg_line(["2026-01", "2026-02"], [40_000, 100_000])

    assert "axis-break" not in svg and "tidak mulai" not in svg
    assert _axis_labels(svg)[0] == "0"
    # The 2026-02 point sits 2.5 times as high above the zero line as 2026-01.
    ys = [float(y) for y in re.findall(r'<circle cx="[^"]*" cy="([^"]*)"', svg)]
    base = float(
        re.search(r'<line x1="\d+" y1="([\d.]+)" x2="\d+" y2="\1" stroke="#999"/>', svg)[1]
    )
    assert round((base - ys[1]) / (base - ys[0]), 2) == 2.5


def test_the_page_trend_chart_has_labelled_axes(written: dict[str, Path]) -> None:
    page = written["index_html"].read_text(encoding="utf-8")
    assert "Pemilih akhir" in page and ">Periode<" in page and 'class="tick"' in page


def test_html_escapes_names_from_the_data(settings: Settings) -> None:
    con = warehouse.connect(settings)
    con.execute(
        "update marts.rpt_rekap_kabkota set nama_wilayah = '<b>X</b>' where kode_wilayah = '36.01'"
    )
    con.close()

    page = publish(settings, PERIOD, CUTOFF)["index_html"].read_text(encoding="utf-8-sig")

    assert "<b>X</b>" not in page and "&lt;b&gt;X&lt;/b&gt;" in page


def test_dbt_docs_page_is_copied_beside_the_reports_and_linked(settings: Settings) -> None:
    settings.dbt_target_dir.mkdir(parents=True)
    (settings.dbt_target_dir / "static_index.html").write_text("<title>dbt Docs</title>")

    written = publish(settings, PERIOD, CUTOFF)

    assert written["dbt_docs"] == settings.reports_dir(PERIOD) / "dbt-docs" / "index.html"
    assert written["dbt_docs"].read_text() == "<title>dbt Docs</title>"
    assert 'href="dbt-docs/index.html"' in written["index_html"].read_text(encoding="utf-8-sig")


def test_without_a_dbt_build_the_page_has_no_dbt_docs_link(written: dict[str, Path]) -> None:
    assert "dbt_docs" not in written
    assert "dbt-docs" not in written["index_html"].read_text(encoding="utf-8-sig")


# --- snapshot ------------------------------------------------------------------------


def test_snapshot_opens_read_only_with_marts_masked_voters_and_period(
    written: dict[str, Path],
) -> None:
    con = duckdb.connect(str(written["snapshot"]), read_only=True)
    try:
        tables = {
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        info = con.execute("select period, cutoff, periode_terakhir from snapshot_info").fetchall()[
            0
        ]
        nik = con.execute("select nik from marts.pemilih_terkini where dpid = 'D1'").fetchall()[0]
    finally:
        con.close()

    assert {"marts.rpt_rekap_desa", "marts.fct_voter_changes", "marts.pemilih_terkini"} <= tables
    # One table of current voters, named for what it holds.
    assert not {t for t in tables if t.endswith(".voters")}
    assert info == (PERIOD, CUTOFF, PERIOD)
    assert nik == ("360101********01",)
    assert "2026-02" in written["snapshot_readme"].read_text(encoding="utf-8-sig")


def test_republishing_swaps_the_snapshot_and_leaves_no_temporary_files(settings: Settings) -> None:
    first = publish(settings, PERIOD, CUTOFF)["snapshot"]

    second = publish(settings, "2026-01", dt.date(2026, 1, 31))["snapshot"]

    assert first == second
    assert sorted(p.name for p in settings.published_dir.iterdir()) == ["README.txt", "pdpb.duckdb"]
    con = duckdb.connect(str(second), read_only=True)
    assert con.execute("select period from snapshot_info").fetchall()[0] == ("2026-01",)
    con.close()


def test_analyst_reading_the_snapshot_keeps_the_old_one_while_it_is_replaced(
    settings: Settings,
) -> None:
    snapshot = publish(settings, PERIOD, CUTOFF)["snapshot"]
    reader = duckdb.connect(str(snapshot), read_only=True)
    try:
        publish(settings, "2026-01", dt.date(2026, 1, 31))
        seen_by_reader = reader.execute("select period from snapshot_info").fetchall()
    finally:
        reader.close()
    fresh = duckdb.connect(str(snapshot), read_only=True)
    try:
        seen_afresh = fresh.execute("select period from snapshot_info").fetchall()
    finally:
        fresh.close()

    assert seen_by_reader == [(PERIOD,)]
    assert seen_afresh == [("2026-01",)]


# --- refusals ---------------------------------------------------------------------------


def test_publish_without_marts_raises_pdpb_error(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path / "empty")
    warehouse.connect(settings).close()

    with pytest.raises(PdpbError, match="marts missing"):
        publish(settings, PERIOD, CUTOFF)


def test_publish_without_warehouse_raises_pdpb_error(tmp_path: Path) -> None:
    with pytest.raises(PdpbError, match="no warehouse"):
        publish(Settings.load(tmp_path / "nothing"), PERIOD, CUTOFF)


def test_publish_of_a_period_without_recap_raises_pdpb_error(settings: Settings) -> None:
    with pytest.raises(PdpbError, match="no row for the period"):
        publish(settings, "2026-03", dt.date(2026, 3, 31))
