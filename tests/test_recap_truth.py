"""The recap of a whole period on generated data, checked against the generator's truth.

One period of the small province of conftest (3,000 voters) runs through every
stage once (`pdpb.pipeline.run_period`); the tests then read what it left
under the home. The truth is `truth/rekap_kabkota.csv` (docs/synth.md):
counts of expected changes per kab/kota and sex, promotions included, UBAH
counted per change, TMS_GANDA (dedupe) never in it.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pdpb.config import Settings

pytestmark = pytest.mark.integration
PERIOD = "2026-01"
LEVELS = ("desa", "kecamatan", "kabkota", "provinsi", "nasional")
SIDES = ("l", "p", "total")
COUNTS = ("awal", "baru", "tms", "akhir")
# Folders of the home the scan for identity numbers leaves out: the warehouse
# is the system of record and landing holds the delivered files themselves.
NOT_SCANNED = ("warehouse", "landing")
FULL_NUMBER = re.compile(rb"(?<!\d)\d{16}(?!\d)")


@pytest.fixture(scope="module")
def period_run(period_home: Settings) -> Settings:
    """The first period of the small province, run once for the session (conftest)."""
    return period_home


@pytest.fixture
def warehouse(period_run: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(period_run.warehouse_path), read_only=True)
    yield con
    con.close()


def _truth_rekap(small_synth: Path) -> dict[str, dict[str, int]]:
    with (small_synth / "truth" / "rekap_kabkota.csv").open(encoding="utf-8") as handle:
        return {
            row["kode_kabkota"]: {
                k: int(v) for k, v in row.items() if k not in ("period", "kode_kabkota")
            }
            for row in csv.DictReader(handle)
            if row["period"] == PERIOD
        }


def _recap_kabkota(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """The mart in the truth's terms: TMS without ganda, UBAH split by sex
    from the change facts (the recap carries only the UBAH total)."""
    recap = con.sql(
        """select kode_wilayah, baru_l, baru_p, baru_total as baru,
                  tms_l, tms_p, tms_total - tms_ganda as tms, ubah
           from marts.rpt_rekap_kabkota where period = ?""",
        params=[PERIOD],
    ).fetchall()
    ubah = dict(
        ((kode, jk), n)
        for kode, jk, n in con.sql(
            """select left(kode_wilayah, 5), lower(jenis_kelamin), count(*)
               from marts.fct_voter_changes where period = ? and change_type = 'UBAH'
               group by all""",
            params=[PERIOD],
        ).fetchall()
    )
    rows = {}
    for kode, baru_l, baru_p, baru, tms_l, tms_p, tms, ubah_total in recap:
        rows[kode] = {
            "baru_l": baru_l, "baru_p": baru_p, "baru": baru,
            "tms_l": tms_l, "tms_p": tms_p, "tms": tms,
            "ubah_l": ubah.get((kode, "l"), 0), "ubah_p": ubah.get((kode, "p"), 0),
            "ubah": ubah_total,
        }  # fmt: skip
    return rows


def test_kabkota_recap_matches_truth_counts_of_baru_tms_and_ubah_by_sex(
    warehouse: duckdb.DuckDBPyConnection, small_synth: Path
) -> None:
    truth = _truth_rekap(small_synth)

    recap = _recap_kabkota(warehouse)

    zero = dict.fromkeys(next(iter(truth.values())), 0)
    assert set(truth) <= set(recap), "a kab/kota of the truth has no recap row"
    mismatches = {
        kode: {
            k: (row[k], truth.get(kode, zero)[k]) for k in row if row[k] != truth.get(kode, zero)[k]
        }
        for kode, row in recap.items()
    }
    assert not {kode: diff for kode, diff in mismatches.items() if diff}, "(recap, truth)"
    assert sum(row["baru"] + row["tms"] + row["ubah"] for row in truth.values()) > 0


def test_every_recap_row_balances_and_totals_equal_l_plus_p(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    unbalanced = []
    for level in LEVELS:
        cursor = warehouse.execute(
            f"select * from marts.rpt_rekap_{level} where period = ?", [PERIOD]
        )
        names = [d[0] for d in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            for side in SIDES:
                if (
                    row[f"awal_{side}"] + row[f"baru_{side}"] - row[f"tms_{side}"]
                    != row[f"akhir_{side}"]
                ):
                    unbalanced.append((level, row["kode_wilayah"], side))
            for count in COUNTS:
                if row[f"{count}_l"] + row[f"{count}_p"] != row[f"{count}_total"]:
                    unbalanced.append((level, row["kode_wilayah"], count))

    assert not unbalanced


@pytest.mark.parametrize("child,parent", list(zip(LEVELS, LEVELS[1:], strict=False)))
def test_each_level_sums_exactly_to_the_level_above(
    warehouse: duckdb.DuckDBPyConnection, child: str, parent: str
) -> None:
    columns = [f"{c}_{s}" for c in COUNTS for s in SIDES] + ["ubah", "jumlah_desa"]
    differ = " or ".join(f"p.{c} <> coalesce(s.{c}, -1)" for c in columns)

    unequal = warehouse.execute(
        f"""with sums as (
                select kode_induk, {", ".join(f"sum({c}) as {c}" for c in columns)}
                from marts.rpt_rekap_{child} where period = $period group by kode_induk
            )
            select p.kode_wilayah from marts.rpt_rekap_{parent} as p
            left join sums as s on s.kode_induk = p.kode_wilayah
            where p.period = $period and ({differ})""",
        {"period": PERIOD},
    ).fetchall()
    parents = warehouse.execute(
        f"select count(*) from marts.rpt_rekap_{parent} where period = ?", [PERIOD]
    ).fetchall()[0][0]

    assert unequal == []
    assert parents > 0


def test_nasional_awal_is_the_initial_list_and_akhir_the_active_voters(
    warehouse: duckdb.DuckDBPyConnection, small_synth: Path
) -> None:
    with (small_synth / "voters.csv").open(encoding="utf-8") as handle:
        initial = sum(1 for _ in csv.DictReader(handle))

    awal, akhir = warehouse.execute(
        "select awal_total, akhir_total from marts.rpt_rekap_nasional where period = ?", [PERIOD]
    ).fetchall()[0]
    aktif = warehouse.execute("select count(*) from core.voters where status = 'AKTIF'").fetchall()[
        0
    ][0]

    assert (awal, akhir) == (initial, aktif)


def _identity_numbers(small_synth: Path) -> set[str]:
    with (small_synth / "voters.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {row[c] for row in rows for c in ("nik", "nkk") if len(row[c]) == 16}


def _file_parts(path: Path) -> list[bytes]:
    """The bytes a file carries, XLSX parts unzipped (they are compressed)."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            return [archive.read(name) for name in archive.namelist()]
    return [path.read_bytes()]


def test_no_file_the_period_wrote_holds_a_full_nik_or_nkk(
    period_run: Settings, small_synth: Path
) -> None:
    secrets = _identity_numbers(small_synth)
    scanned = [
        path
        for path in period_run.home.rglob("*")
        if path.is_file()
        and path.relative_to(period_run.home).parts[0] not in NOT_SCANNED
        and path.suffix != ".duckdb"  # the snapshot is read with SQL below
    ]

    leaks = {
        str(path.relative_to(period_run.home)): sorted(found)[:2]
        for path in scanned
        if (
            found := {m.decode() for part in _file_parts(path) for m in FULL_NUMBER.findall(part)}
            & secrets
        )
    }

    assert len(secrets) > 1000
    assert any(p.parts[-2:] == ("datadocs", "index.html") for p in scanned)
    assert any(p.name == "index.html" and p.parent.name == "dbt-docs" for p in scanned)
    assert leaks == {}


def test_analyst_snapshot_holds_no_full_nik_or_nkk_in_any_text_column(
    period_run: Settings, small_synth: Path
) -> None:
    secrets = _identity_numbers(small_synth)
    con = duckdb.connect(str(period_run.published_dir / "pdpb.duckdb"), read_only=True)
    try:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " where data_type = 'VARCHAR'"
        ).fetchall()
        values = set()
        for schema, table, column in columns:
            values |= {
                v
                for (v,) in con.execute(
                    f'select distinct "{column}" from "{schema}"."{table}"'
                    f""" where regexp_matches("{column}", '\\d{{16}}')"""
                ).fetchall()
            }
    finally:
        con.close()

    assert len(columns) > 20
    assert not {v for v in values if any(s in v for s in secrets)}


def test_report_folder_carries_the_dbt_docs_page_linked_from_index_html(
    period_run: Settings,
) -> None:
    reports = period_run.reports_dir(PERIOD)

    page = (reports / "index.html").read_text(encoding="utf-8")
    docs = reports / "dbt-docs" / "index.html"

    assert 'href="dbt-docs/index.html"' in page
    assert docs.stat().st_size > 100_000 and b"rpt_rekap_kabkota" in docs.read_bytes()
