"""The quality gates stop a period on a critical failure and only warn otherwise.

One home is shared by most tests (GX loads in seconds, once per home); each
scenario lives in its own period so the tests do not see each other's rows.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import lxml.html
import pytest

from pdpb import datadocs, warehouse
from pdpb.config import GX_PROJECT_DIR, Settings
from pdpb.domain import GATE_LABELS, RECAP_COUNT_HEADERS
from pdpb.quality import GATES, GateFailed, run_gate

# GX's page templates, found without importing GX (seconds) at collection
GX_TEMPLATES = (
    Path(importlib.util.find_spec("great_expectations").origin).parent
    / "render" / "view" / "templates"
)  # fmt: skip
# Where a page points to a file of its own site (src, href, CSS url()).
LOCAL_REF = re.compile(r"""\b(?:src|href)=["']([^"'#?]+)[^"']*["']|url\(["']?([^"')?#]+)""")

REKAP_COUNT_COLUMNS = tuple(RECAP_COUNT_HEADERS)

NIKS = [f"36010{i}1505900{i:03d}" for i in range(1, 7)]
DESA = {
    # kode_wilayah: (nama, kecamatan)
    "36.01.01.2001": ("SUKAMAJU", "36.01.01"),
    "36.01.01.2002": ("SUKARAME", "36.01.01"),
}


def committed_gx_files() -> dict[str, str]:
    root = GX_PROJECT_DIR / "gx"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "uncommitted" not in p.parts
    }


# ---------------------------------------------------------------- fixtures


def add_events(
    settings: Settings, period: str, rows: list[tuple], rows_in: int = 100, quarantined: int = 2
) -> None:
    """Insert one delivered file of a period: its events, ledger and quarantine rows."""
    con = warehouse.connect(settings)
    file_name = f"dukcapil_{period}.csv"
    con.execute(
        "insert into core.files values (?, ?, 'sha', 1000, 'DUKCAPIL', ?, ?, ?, 'LOADED', null, now())",
        [period, file_name, rows_in, rows_in - quarantined, quarantined],
    )
    for n in range(quarantined):
        con.execute(
            "insert into core.quarantine values (?, ?, ?, 'DUKCAPIL', ?, 'TANGGAL_TIDAK_VALID', null, ?)",
            [period, file_name, 1000 + n, f"q{n}", f"raw row with {NIKS[0]}"],
        )
    for n, (jenis, tanggal, nik, jk, kawin) in enumerate(rows, start=1):
        con.execute(
            """insert into core.events (period, sumber, event_id, jenis_peristiwa,
               tanggal_peristiwa, nik, nik_valid, nama, jenis_kelamin, status_kawin,
               kode_wilayah, file_name, row_number)
               values (?, 'DUKCAPIL', ?, ?, ?, ?, ?, 'SITI AMINAH', ?, ?, '36.01.01.2001', ?, ?)""",
            [period, f"E{n}", jenis, tanggal, nik, nik is not None, jk, kawin, file_name, n],
        )
    con.close()


def clean_events(period: str) -> list[tuple]:
    return [
        ("MENINGGAL", f"{period}-03", NIKS[0], "L", "S"),
        ("PENDUDUK_BARU", f"{period}-10", NIKS[1], "P", "B"),
        ("KAWIN", f"{period}-12", NIKS[2], "P", "S"),
        ("PINDAH", f"{period}-20", None, "L", "P"),
    ]


def add_voters(settings: Settings, rows: list[tuple]) -> None:
    con = warehouse.connect(settings)
    for dpid, nik, jk, kode, status, tms_code in rows:
        con.execute(
            """insert into core.voters (dpid, nik, nama, jenis_kelamin, kode_wilayah, status,
               tms_code) values (?, ?, 'BUDI SANTOSO', ?, ?, ?, ?)""",
            [dpid, nik, jk, kode, status, tms_code],
        )
    con.close()


def desa_row(
    kode: str,
    *,
    awal: tuple[int, int] = (100, 110),
    meninggal: tuple[int, int] = (1, 0),
    pemula: tuple[int, int] = (2, 3),
) -> dict[str, int | str]:
    """A balanced desa recap row: awal + baru - tms = akhir for L, P and total."""
    row: dict[str, int | str] = dict.fromkeys(REKAP_COUNT_COLUMNS, 0)
    row.update(kode_wilayah=kode, nama_wilayah=DESA[kode][0], kode_induk=DESA[kode][1])
    row.update(jumlah_kecamatan=1, jumlah_desa=1)
    for i, sex in enumerate(("l", "p")):
        row[f"awal_{sex}"] = awal[i]
        row[f"baru_{sex}"] = pemula[i]
        row[f"tms_{sex}"] = meninggal[i]
        row[f"akhir_{sex}"] = awal[i] + pemula[i] - meninggal[i]
    for part in ("awal", "baru", "tms", "akhir"):
        row[f"{part}_total"] = int(row[f"{part}_l"]) + int(row[f"{part}_p"])
    row["baru_pemilih_pemula"] = row["baru_total"]
    row["tms_meninggal"] = row["tms_total"]
    return row


def create_rekap_tables(settings: Settings) -> None:
    con = warehouse.connect(settings)
    counts = ", ".join(f"{c} integer" for c in REKAP_COUNT_COLUMNS)
    for level in ("desa", "kecamatan", "kabkota", "provinsi", "nasional"):
        con.execute(
            f"""create table if not exists marts.rpt_rekap_{level} (period varchar,
                kode_wilayah varchar, nama_wilayah varchar, kode_induk varchar, {counts})"""
        )
    con.execute(
        """create table if not exists marts.dim_wilayah as
           select * from (values
             ('36', 'BANTEN', 'provinsi', 'ID'),
             ('36.01', 'KAB. PANDEGLANG', 'kabkota', '36'),
             ('36.01.01', 'SUMUR', 'kecamatan', '36.01'),
             ('36.01.01.2001', 'SUKAMAJU', 'desa', '36.01.01'),
             ('36.01.01.2002', 'SUKARAME', 'desa', '36.01.01'))
           as t(kode_wilayah, nama_wilayah, tingkat, kode_induk)"""
    )
    con.close()


def add_rekap(settings: Settings, period: str, desa_rows: list[dict[str, int | str]]) -> None:
    """Insert desa rows and roll them up exactly to kecamatan, kab/kota, provinsi, nasional."""
    con = warehouse.connect(settings)
    names = ["period", "kode_wilayah", "nama_wilayah", "kode_induk", *REKAP_COUNT_COLUMNS]
    for row in desa_rows:
        values = [period, *(row[c] for c in names[1:])]
        con.execute(
            f"insert into marts.rpt_rekap_desa ({', '.join(names)}) values "
            f"({', '.join('?' * len(names))})",
            values,
        )
    sums = ", ".join(f"sum({c})::integer as {c}" for c in REKAP_COUNT_COLUMNS[2:])
    levels = [("desa", "kecamatan"), ("kecamatan", "kabkota"), ("kabkota", "provinsi"),
              ("provinsi", "nasional")]  # fmt: skip
    for child, parent in levels:
        con.execute(
            f"""insert into marts.rpt_rekap_{parent} by name
                select $period as period, c.kode_induk as kode_wilayah,
                       coalesce(w.nama_wilayah, 'INDONESIA') as nama_wilayah,
                       coalesce(w.kode_induk, 'ID') as kode_induk,
                       {"1" if child == "desa" else "sum(jumlah_kecamatan)::integer"}
                           as jumlah_kecamatan,
                       sum(jumlah_desa)::integer as jumlah_desa, {sums}
                from marts.rpt_rekap_{child} as c
                left join marts.dim_wilayah as w on w.kode_wilayah = c.kode_induk
                where c.period = $period
                group by all""",
            {"period": period},
        )
    con.close()


@pytest.fixture(scope="module")
def gx_before() -> dict[str, str]:
    return committed_gx_files()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, gx_before: dict[str, str]) -> Iterator[Settings]:
    settings = Settings.load(tmp_path_factory.mktemp("quality-home"))
    add_voters(settings, [
        ("D1", NIKS[3], "L", "36.01.01.2001", "AKTIF", None),
        ("D2", NIKS[4], "P", "36.01.01.2002", "AKTIF", None),
        ("D3", NIKS[5], "P", "36.01.01.2002", "TMS", 1),
    ])  # fmt: skip
    create_rekap_tables(settings)
    yield settings


# ---------------------------------------------------------------- delta_events


def test_clean_delivery_passes_delta_events_gate(home: Settings) -> None:
    add_events(home, "2026-01", clean_events("2026-01"))

    summary = run_gate(home, "delta_events", "2026-01")

    assert summary["success"] is True
    assert summary["critical_failures"] == [] and summary["warnings"] == []
    written = json.loads((home.reports_dir("2026-01") / "quality_delta_events.json").read_text())
    assert written["statistics"]["delta_events"]["rows"] == 4


def test_unknown_jenis_peristiwa_fails_gate_naming_column_and_file(home: Settings) -> None:
    add_events(
        home, "2026-02", [*clean_events("2026-02"), ("LAHIR", "2026-02-11", NIKS[1], "P", "B")]
    )

    with pytest.raises(GateFailed) as failed:
        run_gate(home, "delta_events", "2026-02")

    message = str(failed.value)
    assert "expect_column_values_to_be_in_set" in message and "jenis_peristiwa" in message
    assert "LAHIR" in message and "dukcapil_2026-02.csv" in message
    assert "\n" not in message


def test_quarantine_share_over_ceiling_fails_gate_naming_the_file(home: Settings) -> None:
    add_events(home, "2026-03", clean_events("2026-03"), rows_in=100, quarantined=10)

    with pytest.raises(GateFailed) as failed:
        run_gate(home, "delta_events", "2026-03")

    assert "share_karantina" in str(failed.value)
    assert "dukcapil_2026-03.csv" in str(failed.value)
    # the failing checkpoint's result page, not the gate's first one or the index
    written = json.loads((home.reports_dir("2026-03") / "quality_delta_events.json").read_text())
    page = Path(written["data_docs_result"])
    assert page == Path(written["data_docs_results"]["delta_events_files"])
    assert page.is_file() and "delta_events_files-2026-03" in page.parts
    assert str(failed.value).endswith(f"details in {page}")


def test_event_dated_after_period_end_fails_gate(home: Settings) -> None:
    add_events(
        home, "2026-04", [*clean_events("2026-04"), ("MENINGGAL", "2026-05-02", NIKS[2], "L", "S")]
    )

    with pytest.raises(GateFailed, match="tanggal_peristiwa"):
        run_gate(home, "delta_events", "2026-04")


def test_valid_nik_share_below_minimum_fails_gate(home: Settings) -> None:
    rows = [("MENINGGAL", "2026-05-03", None, "L", "S")] * 3 + [clean_events("2026-05")[0]]
    add_events(home, "2026-05", rows)

    with pytest.raises(GateFailed, match="nik_valid") as failed:
        run_gate(home, "delta_events", "2026-05")

    assert "0.25" in str(failed.value)  # the period's share, 1 valid NIK in 4 events


def test_period_with_only_header_only_files_passes_delta_events_gate(home: Settings) -> None:
    add_events(home, "2026-07", [], rows_in=0, quarantined=0)

    summary = run_gate(home, "delta_events", "2026-07")

    assert summary["success"] is True and summary["critical_failures"] == []
    assert summary["statistics"]["delta_events"]["rows"] == 0
    assert summary["statistics"]["delta_events_files"]["rows"] == 1


def test_period_with_no_files_passes_delta_events_gate(home: Settings) -> None:
    summary = run_gate(home, "delta_events", "2026-08")

    assert summary["success"] is True and summary["critical_failures"] == []
    assert summary["statistics"]["delta_events_files"]["rows"] == 0


# ---------------------------------------------------------------- voters


def test_clean_voter_list_passes_voters_gate(home: Settings) -> None:
    summary = run_gate(home, "voters", "2026-01")

    assert summary["success"] is True
    assert summary["statistics"]["voters_dpid"]["rows"] == 1


def test_tms_voter_without_tms_code_fails_voters_gate(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path)
    add_voters(settings, [
        ("D1", NIKS[3], "L", "36.01.01.2001", "AKTIF", None),
        ("D2", NIKS[4], "P", "36.01.01.2002", "TMS", None),
    ])  # fmt: skip

    with pytest.raises(GateFailed, match="expect_column_values_to_not_be_null on column tms_code"):
        run_gate(settings, "voters", "2026-01")


# ---------------------------------------------------------------- rekap


def test_balanced_recap_passes_rekap_gate(home: Settings) -> None:
    add_rekap(home, "2026-01", [desa_row("36.01.01.2001"), desa_row("36.01.01.2002")])

    summary = run_gate(home, "rekap", "2026-01")

    assert summary["success"] is True and summary["warnings"] == []


def test_unbalanced_recap_row_fails_gate_naming_the_desa(home: Settings) -> None:
    broken = desa_row("36.01.01.2002")
    broken["akhir_l"] = int(broken["akhir_l"]) + 1
    broken["akhir_total"] = int(broken["akhir_total"]) + 1
    add_rekap(home, "2026-02", [desa_row("36.01.01.2001"), broken])

    with pytest.raises(GateFailed) as failed:
        run_gate(home, "rekap", "2026-02")

    assert "neraca_l" in str(failed.value) and "desa 36.01.01.2002" in str(failed.value)


def test_desa_missing_from_recap_fails_gate(home: Settings) -> None:
    add_rekap(home, "2026-03", [desa_row("36.01.01.2001")])

    with pytest.raises(GateFailed, match="tercatat_di_rekap"):
        run_gate(home, "rekap", "2026-03")


def test_level_that_does_not_sum_to_its_children_fails_gate(home: Settings) -> None:
    add_rekap(home, "2026-04", [desa_row("36.01.01.2001"), desa_row("36.01.01.2002")])
    con = warehouse.connect(home)
    con.execute("update marts.rpt_rekap_kabkota set ubah = ubah + 5 where period = '2026-04'")
    con.close()

    with pytest.raises(GateFailed) as failed:
        run_gate(home, "rekap", "2026-04")

    assert "selisih_bawahan" in str(failed.value) and "kabkota 36.01 ubah" in str(failed.value)


def test_tms_meninggal_spike_warns_naming_kabkota_without_failing(home: Settings) -> None:
    add_rekap(home, "2026-05", [desa_row("36.01.01.2001"), desa_row("36.01.01.2002")])
    add_rekap(home, "2026-06", [desa_row("36.01.01.2001", meninggal=(30, 20)),
                                desa_row("36.01.01.2002")])  # fmt: skip

    summary = run_gate(home, "rekap", "2026-06")

    assert summary["success"] is True
    spikes = [w for w in summary["warnings"] if w["column"] == "rasio_lonjakan_meninggal"]
    assert len(spikes) == 1 and spikes[0]["rows"][0]["kode_wilayah"] == "36.01"


# ---------------------------------------------------------------- outputs


def test_data_docs_are_under_home_and_hold_no_full_nik(home: Settings) -> None:
    run_gate(home, "voters", "2026-01")

    assert (home.datadocs_dir / "index.html").is_file()
    published = [*home.datadocs_dir.rglob("*.html"), *home.gx_results_dir.rglob("*.json"),
                 *home.reports_dir("2026-01").glob("quality_*.json")]  # fmt: skip
    leaked = [p for p in published for nik in NIKS if nik in p.read_text(errors="ignore")]
    assert leaked == []


def test_running_gates_leaves_committed_gx_project_unchanged(
    home: Settings, gx_before: dict[str, str]
) -> None:
    run_gate(home, "voters", "2026-01")

    assert committed_gx_files() == gx_before
    assert not (GX_PROJECT_DIR / "gx" / "uncommitted").exists()


# ---------------------------------------------------------------- Data Docs offline


def _site_files(site: Path) -> list[Path]:
    return [*site.rglob("*.html"), *(site / "static" / "styles").glob("*.css")]


def test_no_data_docs_page_loads_anything_remote(period_home: Settings) -> None:
    site = period_home.datadocs_dir
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 1 + 7 + 7  # index, the 7 suites, a result page per checkpoint

    remote = {
        str(path.relative_to(site)): datadocs.remote_asset_references(path.read_text())
        for path in _site_files(site)
    }
    assert {path: urls for path, urls in remote.items() if urls} == {}
    # not even a link: an office without internet has nowhere to go
    assert [p for p in pages if re.search(r"https?://", p.read_text())] == []


def test_every_file_a_data_docs_page_points_to_exists(period_home: Settings) -> None:
    site = period_home.datadocs_dir
    broken = []
    for path in _site_files(site):
        for groups in LOCAL_REF.findall(path.read_text()):
            ref = unquote(next(g for g in groups if g))
            if ref.startswith(("data:", "javascript:", "mailto:")) or ref.endswith("/"):
                continue
            if not (path.parent / ref).is_file():
                broken.append(f"{path.relative_to(site)} -> {ref}")
    assert broken == []
    # the stylesheets' own fonts: Font Awesome's webfonts beside its CSS
    fonts = site / "static" / "vendor" / "fontawesome-free-6.6.0" / "webfonts"
    assert (fonts / "fa-solid-900.woff2").is_file()


def test_gx_templates_name_no_remote_asset_that_is_not_shipped() -> None:
    named = {
        url
        for template in GX_TEMPLATES.glob("*.j2")
        for url in datadocs.remote_urls(template.read_text())
    }
    links = {u for u in named if re.match(r"https://greatexpectations\.io(/|$)", u)}
    [logo_host] = [u for u in named if u.endswith(".amazonaws.com/")]  # + "logo-long.png"
    assets = named - links - {logo_host}

    assert len(assets) >= 15
    assert assets == set(datadocs.REMOTE_ASSETS) - {logo_host + "logo-long.png"}


def test_vendored_scripts_are_byte_for_byte_the_ones_gx_pins(tmp_path: Path) -> None:
    datadocs.install_assets(tmp_path)
    pinned = re.findall(
        r'src="(https://[^"]+)" integrity="sha384-([^"]+)"',
        (GX_TEMPLATES / "js_script_imports.j2").read_text(),
    )
    assert len(pinned) == 2  # popper and bootstrap
    for url, digest in pinned:
        local = tmp_path / "static" / datadocs.REMOTE_ASSETS[url]
        assert base64.b64encode(hashlib.sha384(local.read_bytes()).digest()).decode() == digest
    vendored = [t for t in datadocs.REMOTE_ASSETS.values() if t.startswith("vendor/")]
    assert [t for t in vendored if not (tmp_path / "static" / t).is_file()] == []


def test_each_gate_link_opens_that_gates_latest_result(period_home: Settings) -> None:
    reports = period_home.reports_dir("2026-01")
    page = lxml.html.parse(str(reports / "index.html")).getroot()
    rows = {
        row.xpath("string(td[1])"): row.xpath("td[last()]//a/@href")
        for row in page.xpath("//table[tr/th[.='Data Docs']]/tr[td]")
    }

    assert set(rows) == {GATE_LABELS[gate] for gate in GATES}
    for gate in GATES:
        [href] = rows[GATE_LABELS[gate]]
        target = (reports / unquote(href)).resolve()
        summary = json.loads((reports / f"quality_{gate}.json").read_text())
        assert target == Path(summary["data_docs_result"]).resolve()
        assert target.is_file() and target.suffix == ".html"
        # the checkpoint of the first failure or warning, else the gate's own
        found = [f["checkpoint"] for f in summary["critical_failures"] + summary["warnings"]]
        checkpoint = (found or [gate])[0]
        assert target.relative_to(period_home.datadocs_dir.resolve()).parts[:3] == (
            "validations", checkpoint, f"{checkpoint}-2026-01",
        )  # fmt: skip
        # the newest run of that checkpoint for the period
        assert target.parent.name == max(p.name for p in target.parent.parent.iterdir())
