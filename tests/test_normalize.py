"""Normalisation of delivered values: every date format, names, NIK, codes."""

from datetime import date

import pytest

from pdpb import normalize as nz


@pytest.mark.parametrize(
    "raw",
    ["05|01|1990", "05-01-1990", "05/01/1990", "1990-01-05", "32878", "32878.0"],
)
def test_every_source_date_format_parses_to_the_same_day(raw):
    assert nz.parse_date(raw) == date(1990, 1, 5)


def test_impossible_date_is_invalid_not_guessed():
    with pytest.raises(nz.InvalidValue) as err:
        nz.parse_date("31-02-1990")
    assert err.value.reason == "INVALID_DATE"


def test_titles_and_degrees_are_split_from_the_name():
    assert nz.split_name("  h. ahmad  suparman, s.pd ") == ("AHMAD SUPARMAN", "H S.PD")
    assert nz.split_name("DRS. SITI NURHALIZA") == ("SITI NURHALIZA", "DRS")


def test_nik_validity_follows_its_structure():
    assert nz.nik_is_valid("3601014501900001")  # woman: day 05 + 40
    assert not nz.nik_is_valid("3601014501900000")  # serial 0000
    assert not nz.nik_is_valid("360101450190001")  # 15 digits
    assert not nz.nik_is_valid("3601019913900001")  # month 13


def test_nik_contradicting_birth_date_or_sex_is_flagged_never_fixed():
    assert nz.nik_flag("3601014501900001", date(1990, 1, 5), "P") is None
    assert nz.nik_flag("3601014501900001", date(1990, 1, 5), "L") == "NIK_SEX_MISMATCH"
    assert nz.nik_flag("3601014501900001", date(1991, 1, 5), "P") == "NIK_DOB_MISMATCH"


def test_letters_in_a_nik_are_rejected():
    with pytest.raises(nz.InvalidValue) as err:
        nz.digits("36010145O1900001")
    assert err.value.reason == "NIK_NOT_NUMERIC"


def test_region_codes_dotted_or_not_are_checked_against_the_official_list():
    assert nz.region_code("3601012001") == "36.01.01.2001"
    assert nz.region_code("36.01.01.2001") == "36.01.01.2001"
    with pytest.raises(nz.InvalidValue):
        nz.region_code("99.99.99.9999")


def test_rt_rw_000_means_unknown():
    assert nz.rt_rw("000") is None
    assert nz.rt_rw("7") == "007"


def test_codes_accept_long_forms():
    assert nz.jenis_kelamin("Perempuan") == "P"
    assert nz.status_kawin("cerai mati") == "P"
    assert nz.jenis_peristiwa("masuk tni") == "MASUK_TNI"
    with pytest.raises(nz.InvalidValue):
        nz.jenis_peristiwa("LAHIR")
