"""The list on a given day (`pdpb proyeksi`, pdpb/projection.py).

Two homes: the small generated province of conftest after two periods (the
shared first period, then the second run here on a copy), checked against
the generator's truth; and a hand-made warehouse with the birthday edge cases
(29 February, the birthday itself, an unknown birth date written 01-07,
married minors) and a TPS capacity small enough to open a new TPS.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pdpb import warehouse
from pdpb.cli import main
from pdpb.config import DAGS_DIR, REPO_ROOT, PdpbError, Settings, parse_tanggal
from pdpb.files import HEADER_ROW
from pdpb.projection import (
    COUNT_COLUMNS,
    LEVELS,
    PROJECTION_HEADERS,
    TPS_NEW,
    UNKNOWN_REGION,
    Projection,
    csv_columns,
    page_section,
    project,
    project_home,
)

pytestmark = pytest.mark.integration
PERIODS = ("2026-01", "2026-02")
SIDES = {"L": "l", "P": "p"}


# --- the generated province -------------------------------------------------------


@pytest.fixture(scope="module")
def two_periods(period_home: Settings, small_synth: Path, tmp_path_factory) -> Settings:
    """conftest's province after its first period (shared, left untouched),
    copied, and the copy's second period run through the CLI."""
    home = tmp_path_factory.mktemp("proyeksi") / "home"
    shutil.copytree(period_home.home, home)
    shutil.copytree(small_synth / "landing" / PERIODS[1], home / "landing" / PERIODS[1])
    assert main(["--home", str(home), "-q", "run", "--period", PERIODS[1]]) == 0
    return Settings.load(home)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _under_17(lahir: dt.date, day: dt.date) -> bool:
    """DOMAIN.md's rule, written out here: 17 on the day when (year + 17, month,
    day) is on or before it (29 February births turn 17 on 1 March)."""
    return (lahir.year + 17, lahir.month, lahir.day) > (day.year, day.month, day.day)


class Truth:
    """What the generator's truth says the projection must count, per kab/kota
    and sex, after the periods run. Independent of the warehouse: the list file
    the generator wrote, its truth of expected changes and outcomes, and the
    true persons behind them."""

    def __init__(self, data: Path, periods: tuple[str, ...]) -> None:
        truth = data / "truth"
        self.persons = {p["person_id"]: p for p in _rows(truth / "persons.csv")}
        self.listed = _rows(data / "voters.csv")
        self.changes = [c for c in _rows(truth / "expected_changes.csv") if c["period"] in periods]
        self.outcomes = [
            o for o in _rows(truth / "expected_outcomes.csv") if o["period"] in periods
        ]
        self.married = {
            e["person_id"]
            for e in _rows(truth / "events.csv")
            if e["period"] in periods and e["jenis_peristiwa"] == "KAWIN"
        }

    def lahir(self, person_id: str) -> dt.date:
        return dt.date.fromisoformat(self.persons[person_id]["tanggal_lahir"])

    def new_voters(self) -> list[dict[str, str]]:
        """BARU records the periods opened that no later change removed."""
        left = {c["person_id"] for c in self.changes if c["change_type"] == "TMS"}
        return [
            c
            for c in self.changes
            if c["change_type"] == "BARU" and c["dpid"] == "NEW" and c["person_id"] not in left
        ]

    def future_voters(self) -> list[dict[str, str]]:
        """Persons made future voters and not yet promoted (no change of theirs)."""
        acted = {c["person_id"] for c in self.changes}
        return [
            self.persons[o["person_id"]]
            for o in self.outcomes
            if o["outcome"] == "FUTURE_VOTER" and o["person_id"] not in acted
        ]

    def counts(self, day: dt.date) -> Counter:
        """(part, kab/kota, sex) -> count, for aktif, tambahan and dikurangi."""
        out: Counter = Counter()
        left = {c["dpid"] for c in self.changes if c["change_type"] == "TMS"}
        # The active list: the initial records, plus BARU, minus TMS.
        for record in self.listed:
            out[("aktif", record["kode_wilayah"][:5], record["jenis_kelamin"])] += 1
            # A listed record is judged by its written birth date; 01-07 and
            # 31-12 stand for an unknown day and remove only when surely under 17.
            d, m, y = (int(x) for x in record["tanggal_lahir"].split("|"))
            unsure = (m, d) in ((7, 1), (12, 31)) and y + 17 <= day.year
            if (
                record["dpid"] not in left
                and record["status_kawin"] == "B"
                and _under_17(dt.date(y, m, d), day)
                and not unsure
            ):
                out[("dikurangi", record["kode_wilayah"][:5], record["jenis_kelamin"])] += 1
        for change in self.changes:
            sign = {"BARU": 1, "TMS": -1}.get(change["change_type"], 0)
            out[("aktif", change["kode_wilayah"][:5], change["jenis_kelamin"])] += sign
        # New records carry the person's true birth date (the events do).
        for change in self.new_voters():
            person = change["person_id"]
            if (
                self.persons[person]["status_kawin"] == "B"
                and person not in self.married
                and _under_17(self.lahir(person), day)
            ):
                out[("dikurangi", change["kode_wilayah"][:5], change["jenis_kelamin"])] += 1
        for person in self.future_voters():
            if person["status_kawin"] in ("S", "P") or not _under_17(
                self.lahir(person["person_id"]), day
            ):
                out[("tambahan", person["kode_wilayah"][:5], person["jenis_kelamin"])] += 1
        return Counter({k: v for k, v in out.items() if v})

    def dates(self, first: dt.date) -> list[dt.date]:
        """The days around every tracked or new voter's 17th birthday from
        `first` on (the day before and the day itself), and the default voting day."""
        persons = [c["person_id"] for c in self.new_voters()]
        persons += [p["person_id"] for p in self.future_voters()]
        days = {first, dt.date(2029, 2, 14)}
        for person in persons:
            lahir = self.lahir(person)
            try:
                birthday = dt.date(lahir.year + 17, lahir.month, lahir.day)
            except ValueError:  # 29 February in a common year: 1 March
                birthday = dt.date(lahir.year + 17, 3, 1)
            days |= {d for d in (birthday - dt.timedelta(days=1), birthday) if d >= first}
        return sorted(days)


def _by_kabkota(projection: Projection) -> Counter:
    got: Counter = Counter()
    for row in projection.rows["kabkota"]:
        for part in ("aktif", "tambahan", "dikurangi"):
            for jk, side in SIDES.items():
                if row[f"{part}_{side}"]:
                    got[(part, row["kode_wilayah"], jk)] = row[f"{part}_{side}"]
    return got


def test_projection_equals_the_generator_truth_on_every_birthday_boundary(
    two_periods: Settings, small_synth: Path
) -> None:
    """Per kab/kota and sex, on each day around the 17th birthday of every
    voter the periods added and every future voter still tracked (and on the
    default voting day), the projection's three counts equal those computed
    from the generator's truth alone: the active list as the initial list file
    plus the expected BARU minus the expected TMS; the additions as the persons
    whose events the truth expects to become future voters, eligible on the
    day by their true birth date or marriage; the subtractions as the active
    records still under 17 and unmarried on the day by their written birth
    date. The list is not the population (duplicates, dead voters, written
    dates), so the truth's expected changes, not the persons, give the list."""
    truth = Truth(small_synth, PERIODS)
    days = truth.dates(dt.date(2026, 2, 1))

    compared = {}
    for day in days:
        got = _by_kabkota(project_home(two_periods, day))
        expected = truth.counts(day)
        assert got == expected, (day, {k: (got[k], expected[k]) for k in got | expected})
        compared[day] = (sum(v for k, v in got.items() if k[0] == "tambahan"),
                         sum(v for k, v in got.items() if k[0] == "dikurangi"))  # fmt: skip
    # The data exercise both sides: additions and subtractions both occur and change.
    assert len({t for t, _ in compared.values()}) > 1, compared
    assert len({d for _, d in compared.values()}) > 1, compared


def _check_levels_sum(projection: Projection) -> None:
    for (child, *_), (parent, *_) in zip(LEVELS, LEVELS[1:], strict=False):
        key = "kode_wilayah" if child == "tps" else "kode_induk"
        sums: dict[str, Counter] = {}
        for row in projection.rows[child]:
            parent_code = "ID" if parent == "nasional" else row[key]
            sums.setdefault(parent_code, Counter()).update({c: row[c] for c in COUNT_COLUMNS})
        for row in projection.rows[parent]:
            expected = sums.pop(row["kode_wilayah"], Counter())
            assert {c: row[c] for c in COUNT_COLUMNS} == {c: expected[c] for c in COUNT_COLUMNS}, (
                child,
                parent,
                row["kode_wilayah"],
            )
        assert not {k: v for k, v in sums.items() if any(v.values())}, (
            child,
            "rows without parent",
        )


def _check_rows_balance(projection: Projection) -> None:
    for level, *_ in LEVELS:
        for row in projection.rows[level]:
            for side in ("l", "p", "total"):
                assert row[f"proyeksi_{side}"] == (
                    row[f"aktif_{side}"] + row[f"tambahan_{side}"] - row[f"dikurangi_{side}"]
                )


def test_every_level_sums_exactly_to_the_level_above(two_periods: Settings) -> None:
    projection = project_home(two_periods, dt.date(2026, 12, 31))
    _check_levels_sum(projection)
    _check_rows_balance(projection)
    # Every desa of the province is there, with or without voters (as in the recap).
    con = warehouse.connect(two_periods, read_only=True)
    try:
        desa = con.execute(
            "select count(*) from marts.rpt_rekap_desa where period = ?", [PERIODS[1]]
        ).fetchall()[0][0]
        akhir = con.execute(
            "select akhir_total from marts.rpt_rekap_nasional where period = ?", [PERIODS[1]]
        ).fetchall()[0][0]
    finally:
        con.close()
    assert len(projection.rows["desa"]) == desa
    assert projection.total["aktif_total"] == akhir


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_writes_xlsx_and_csv_whose_totals_agree_and_leaves_the_warehouse_as_it_was(
    two_periods: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _sha256(two_periods.warehouse_path)
    folder = two_periods.home / "reports" / "proyeksi" / "2029-02-14"

    assert main(["--home", str(two_periods.home), "proyeksi", "--tanggal", "2029-02-14"]) == 0

    out = capsys.readouterr().out
    assert str(folder) in out and "voters" in out
    assert _sha256(two_periods.warehouse_path) == before
    assert not two_periods.warehouse_path.with_suffix(".duckdb.wal").exists()
    book = load_workbook(folder / "proyeksi_2029-02-14.xlsx", read_only=True)
    try:
        assert book.sheetnames == [sheet for _, sheet, _, _ in LEVELS]
        for level, sheet, _, _ in LEVELS:
            values = [tuple(r) for r in book[sheet].iter_rows(values_only=True)]
            header = list(values[HEADER_ROW - 1])
            assert header[-len(PROJECTION_HEADERS) :] == list(PROJECTION_HEADERS.values())
            assert "2029" in str(values[1][0])  # the subtitle names the date
            data = _rows(folder / f"proyeksi_{level}_2029-02-14.csv")
            assert list(data[0]) == list(csv_columns(level))
            body = values[HEADER_ROW:] if level == "nasional" else values[HEADER_ROW:-1]
            assert len(body) == len(data)
            last = values[-1]
            for offset, column in enumerate(COUNT_COLUMNS):
                index = len(header) - len(COUNT_COLUMNS) + offset
                assert last[index] == sum(int(r[column]) for r in data), (level, column)
            if level != "nasional":
                assert "JUMLAH" in last
    finally:
        book.close()


def test_xlsx_header_is_frozen_under_the_title_rows(two_periods: Settings) -> None:
    main(["--home", str(two_periods.home), "-q", "proyeksi", "--tanggal", "2027-01-01"])
    path = two_periods.home / "reports" / "proyeksi" / "2027-01-01" / "proyeksi_2027-01-01.xlsx"
    book = load_workbook(path)
    try:
        assert book["Desa"].freeze_panes == f"C{HEADER_ROW + 1}"
    finally:
        book.close()


@pytest.mark.parametrize(
    "tanggal, reason",
    [
        ("2029-02-30", "not a valid date"),
        ("14-02-2029", "not a valid date"),
        ("20290214", "not a valid date"),
        ("2026-01-31", "falls before period 2026-02"),
    ],
)
def test_cli_refuses_a_bad_or_too_early_date_in_one_line(
    two_periods: Settings, capsys: pytest.CaptureFixture[str], tanggal: str, reason: str
) -> None:
    code = main(["--home", str(two_periods.home), "proyeksi", "--tanggal", tanggal])

    err = capsys.readouterr().err
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and reason in err, err


def test_the_published_page_shows_the_projection_per_kabkota(two_periods: Settings) -> None:
    page = (two_periods.reports_dir(PERIODS[1]) / "index.html").read_text(encoding="utf-8")
    section = page.split('<h2 id="proyeksi">', 1)[1].split("<h2", 1)[0]
    projection = project_home(two_periods, two_periods.tanggal_proyeksi)
    shown = re.findall(r"<tr>(.*?)</tr>", section, re.S)[1:]  # header row first

    assert "14 Februari 2029" in section
    assert len(shown) == len(projection.rows["kabkota"])
    for cells, row in zip(shown, projection.rows["kabkota"], strict=True):
        values = re.findall(r"<td[^>]*>(.*?)</td>", cells)
        assert values[0] == row["kode_wilayah"]
        assert values[-1] == f"{row['proyeksi_total']:,}".replace(",", ".")


def test_page_section_says_why_when_the_planned_day_is_before_the_period(
    two_periods: Settings,
) -> None:
    settings = Settings.load(two_periods.home, tanggal_proyeksi=dt.date(2025, 6, 1))
    con = warehouse.connect(settings, read_only=True)
    try:
        section = page_section(con, settings, PERIODS[1], dt.date(2026, 2, 28))
    finally:
        con.close()
    assert "table" not in section and "sebelum periode 2026-02" in section["note"]


def test_the_planned_day_is_a_setting_read_from_the_environment(monkeypatch, tmp_path) -> None:
    assert Settings.load(tmp_path).tanggal_proyeksi == dt.date(2029, 2, 14)
    monkeypatch.setenv("PDPB_TANGGAL_PROYEKSI", "2029-04-17")
    assert Settings.load(tmp_path).tanggal_proyeksi == dt.date(2029, 4, 17)
    monkeypatch.setenv("PDPB_TANGGAL_PROYEKSI", "17-04-2029")
    with pytest.raises(PdpbError, match="PDPB_TANGGAL_PROYEKSI"):
        Settings.load(tmp_path)


def test_parse_tanggal_takes_only_calendar_dates() -> None:
    assert parse_tanggal("2028-02-29") == dt.date(2028, 2, 29)
    for bad in ("2029-02-29", "2029-2-14", "2029-W07-3", "", "besok"):
        with pytest.raises(PdpbError):
            parse_tanggal(bad)


# --- birthdays, marriage and TPS on a hand-made warehouse ---------------------------

DESA_A, DESA_B = "36.01.01.2001", "36.71.01.1001"
EVIL = '=HYPERLINK("http://contoh.invalid/x","klik")'
WILAYAH = [
    ("36", "BANTEN", "provinsi", "ID"),
    ("36.01", "KAB. PANDEGLANG", "kabkota", "36"),
    ("36.01.01", "SUMUR", "kecamatan", "36.01"),
    (DESA_A, "TAMANJAYA", "desa", "36.01.01"),
    ("36.01.01.2002", "UJUNGJAYA", "desa", "36.01.01"),
    ("36.71", "KOTA TANGERANG", "kabkota", "36"),
    ("36.71.01", "TANGERANG", "kecamatan", "36.71"),
    (DESA_B, EVIL, "desa", "36.71.01"),
]
# dpid, tanggal_lahir, jenis_kelamin, status_kawin, kode_wilayah, tps, status
VOTERS = [
    ("D1", "1980-05-05", "L", "S", DESA_A, "001", "AKTIF"),
    ("D2", "1981-05-05", "P", "S", DESA_A, "001", "AKTIF"),
    ("D3", "1990-01-01", "L", "B", DESA_A, "001", "AKTIF"),
    ("D4", "1991-01-01", "P", "B", DESA_A, "001", "AKTIF"),
    ("D5", "2012-02-29", "P", "B", DESA_A, "002", "AKTIF"),  # 17 on 1 March 2029
    ("D6", "2012-07-01", "L", "B", DESA_A, "002", "AKTIF"),  # unknown day of 2012
    ("D7", "2013-01-01", "P", "S", DESA_A, "002", "AKTIF"),  # married: a voter
    ("D8", "2012-03-01", "L", "B", DESA_B, "001", "TMS"),  # TMS: not counted
    ("D9", "1970-01-01", "P", "P", DESA_B, "001", "AKTIF"),
]
# future_id, tanggal_lahir, jenis_kelamin, status_kawin, kode_wilayah, closed_period
FUTURES = [
    ("F1", "2012-03-01", "L", "B", DESA_A, None),  # 17 on 1 March 2029
    ("F2", "2012-02-29", "P", "B", DESA_A, None),  # 17 on 1 March 2029 (common year)
    ("F3", "2015-05-05", "P", "S", DESA_A, None),  # married: eligible at once
    ("F4", "2020-01-01", "L", "B", DESA_B, None),  # still a child
    ("F5", "2011-01-01", "L", "B", DESA_B, "2026-02"),  # promoted already
    ("F6", "2011-06-06", "P", "B", None, None),  # no desa known
]


@pytest.fixture(scope="module")
def hand_home(tmp_path_factory) -> Settings:
    settings = Settings.load(tmp_path_factory.mktemp("tangan") / "home", tps_capacity=4)
    con = warehouse.connect(settings)
    try:
        con.execute("insert into core.periods (period, cutoff, status) values"
                    " ('2026-02', date '2026-02-28', 'COMPLETED')")  # fmt: skip
        con.executemany(
            "insert into core.voters (dpid, tanggal_lahir, jenis_kelamin, status_kawin,"
            " kode_wilayah, tps, status) values (?, ?, ?, ?, ?, ?, ?)",
            VOTERS,
        )
        con.executemany(
            "insert into core.future_voters (future_id, tanggal_lahir, jenis_kelamin,"
            " status_kawin, kode_wilayah, closed_period, first_period)"
            " values (?, ?, ?, ?, ?, ?, '2026-01')",
            FUTURES,
        )
        con.execute(
            "create table marts.dim_wilayah (kode_wilayah varchar, nama_wilayah varchar,"
            " tingkat varchar, kode_induk varchar)"
        )
        con.executemany("insert into marts.dim_wilayah values (?, ?, ?, ?)", WILAYAH)
    finally:
        con.close()
    return settings


def _tps(projection: Projection) -> dict[tuple[str, str], dict]:
    return {(r["kode_wilayah"], r["tps"]): r for r in projection.rows["tps"]}


def test_the_seventeenth_birthday_counts_on_the_day_and_29_february_on_1_march(
    hand_home: Settings,
) -> None:
    on_1_march = project_home(hand_home, dt.date(2029, 3, 1))
    on_28_february = project_home(hand_home, dt.date(2029, 2, 28))

    # 1 March: D5 (29 Feb 2012) is 17 and stays; F1, F2 turn 17, F3 is married,
    # F6 is 17 but has no desa; D6's written 01-07 may be any day of 2012: kept.
    assert on_1_march.total["dikurangi_total"] == 0 and on_1_march.tidak_pasti == 1
    assert on_1_march.total["tambahan_total"] == 4
    # 28 February: D5 and F1, F2 are not 17 yet; F3 and F6 are added.
    assert (on_28_february.total["dikurangi_p"], on_28_february.total["dikurangi_l"]) == (1, 0)
    assert on_28_february.total["tambahan_total"] == 2
    assert on_28_february.tidak_pasti == 1
    # A year earlier than D6's written year + 17: surely under 17, subtracted.
    earlier = project_home(hand_home, dt.date(2028, 12, 31))
    assert (earlier.total["dikurangi_l"], earlier.total["dikurangi_p"]) == (1, 1)
    assert earlier.tidak_pasti == 0
    assert on_1_march.total["aktif_total"] == 8  # D8 is TMS
    assert on_1_march.total["proyeksi_total"] == 12


def test_additions_take_tps_as_apply_would_and_open_a_new_one_when_full(
    hand_home: Settings,
) -> None:
    """Capacity 4: TPS 001 is full, 002 holds 3; F1 fills 002, F2 and F3 open 003."""
    tps = _tps(project_home(hand_home, dt.date(2029, 3, 1)))

    assert tps[(DESA_A, "001")]["proyeksi_total"] == 4 and tps[(DESA_A, "001")]["keterangan"] == ""
    assert tps[(DESA_A, "002")]["tambahan_total"] == 1
    assert tps[(DESA_A, "002")]["proyeksi_total"] == 4
    assert tps[(DESA_A, "003")]["tambahan_total"] == 2
    assert tps[(DESA_A, "003")]["keterangan"] == TPS_NEW
    # On 28 February D5 leaves TPS 002, whose place F3 (married) takes.
    tps = _tps(project_home(hand_home, dt.date(2029, 2, 28)))
    assert (tps[(DESA_A, "002")]["dikurangi_total"], tps[(DESA_A, "002")]["tambahan_total"]) == (
        1,
        1,
    )
    assert (DESA_A, "003") not in tps


def test_a_future_voter_without_desa_is_counted_in_its_own_row_at_every_level(
    hand_home: Settings,
) -> None:
    projection = project_home(hand_home, dt.date(2029, 3, 1))

    for level, *_ in LEVELS[:-1]:
        unknown = [r for r in projection.rows[level] if r["nama_wilayah"] == UNKNOWN_REGION]
        assert len(unknown) == 1 and unknown[0]["tambahan_p"] == 1, level
    _check_levels_sum(projection)
    _check_rows_balance(projection)
    # Every desa of the province, the one without voters included.
    assert [r["kode_wilayah"] for r in projection.rows["desa"]] == [
        DESA_A, "36.01.01.2002", DESA_B, "",
    ]  # fmt: skip


def test_region_names_that_look_like_formulas_are_escaped_in_xlsx_and_csv(
    hand_home: Settings,
) -> None:
    assert main(["--home", str(hand_home.home), "-q", "proyeksi", "--tanggal", "2029-03-01"]) == 0
    folder = hand_home.home / "reports" / "proyeksi" / "2029-03-01"
    book = load_workbook(folder / "proyeksi_2029-03-01.xlsx", read_only=True)
    try:
        cells = [c for row in book["Desa"].iter_rows(values_only=True) for c in row]
    finally:
        book.close()
    assert "'" + EVIL in cells and EVIL not in cells
    names = [r["nama_wilayah"] for r in _rows(folder / "proyeksi_desa_2029-03-01.csv")]
    assert "'" + EVIL in names


def test_project_reads_a_read_only_connection_and_writes_nothing(hand_home: Settings) -> None:
    before = _sha256(hand_home.warehouse_path)
    con = warehouse.connect(hand_home, read_only=True)
    try:
        tables = con.execute(
            "select count(*) from information_schema.tables where table_schema <> 'temp'"
        ).fetchall()
        project(con, dt.date(2029, 3, 1), hand_home.tps_capacity)
        assert (
            con.execute(
                "select count(*) from information_schema.tables where table_schema <> 'temp'"
            ).fetchall()
            == tables
        )
    finally:
        con.close()
    assert _sha256(hand_home.warehouse_path) == before


def test_a_home_without_a_period_is_refused_in_one_line(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path / "home")
    warehouse.connect(settings).close()
    with pytest.raises(PdpbError, match="no period"):
        project_home(settings, dt.date(2029, 2, 14))


def test_a_home_without_a_voter_list_is_refused_in_one_line(tmp_path: Path) -> None:
    """A national home's warehouse holds no core tables: refused, not a crash."""
    import duckdb

    settings = Settings.load(tmp_path / "home")
    settings.warehouse_path.parent.mkdir(parents=True)
    duckdb.connect(str(settings.warehouse_path)).execute("create schema nasional").close()
    with pytest.raises(PdpbError, match="no voter list"):
        project_home(settings, dt.date(2029, 2, 14))


# --- the DAG ------------------------------------------------------------------------


def test_the_dag_parses_with_its_tanggal_param_and_refuses_another_form(tmp_path: Path) -> None:
    from pdpb.orchestration import airflow_environment

    code = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS_DIR / 'pdpb_proyeksi.py')!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "dag = bag.dags['pdpb_proyeksi']\n"
        "import copy\n"
        "from airflow.sdk.exceptions import ParamValidationError\n"
        "params = copy.deepcopy(dag.params)\n"
        "params['tanggal'] = '2029-02-14'\n"
        "params['tanggal'] = ''\n"
        "try:\n"
        "    params['tanggal'] = '14-02-2029'\n"
        "    refused = False\n"
        "except ParamValidationError:\n"
        "    refused = True\n"
        "print(json.dumps({'params': sorted(dag.params.keys()), 'refused': refused,\n"
        "  'schedule': type(dag.timetable).__name__, 'pools': sorted({t.pool for t in dag.tasks}),\n"
        "  'tasks': sorted(dag.task_ids)}))\n"
    )
    env = {**os.environ, **airflow_environment(Settings.load(tmp_path))}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    shape = json.loads(result.stdout.strip().splitlines()[-1])
    assert shape == {
        "params": ["tanggal"],
        "refused": True,
        "schedule": "NullTimetable",
        "pools": ["pdpb_warehouse"],
        "tasks": ["proyeksi"],
    }
