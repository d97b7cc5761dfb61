"""The Splink model specification: read it top to bottom like a rule book.

Blocking rules say which pairs are compared at all; each comparison says, level
by level, what counts as agreement on one attribute. The starting m
probabilities below are a reviewer's priors: training (`linkage.train`)
replaces u by random sampling and refines m by EM wherever the voter list
holds enough duplicate pairs to learn from. Column names are those of
`linkage.frames` (the same on events and voters).
"""

from __future__ import annotations

import re

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

# --- Blocking -----------------------------------------------------------------
# Every rule pairs on a high-cardinality key, so the number of comparisons grows
# with the events, not with the square of the list. Together they keep a true
# pair reachable when any one of NIK, name spelling, birth date or desa is wrong.
# Two province-wide rules (desa + last-name key; sorted-name key + birth year)
# were dropped: they found no further true pair for eight times the pairs
# (the measurements are in bench/README.md, "blocking").
BLOCKING_RULES = [
    # The same NIK (most events carry one).
    block_on("nik"),
    # The same family card: finds people whose NIK is missing or mistyped.
    block_on("nkk"),
    # Same birth date and a first name that sounds alike.
    block_on("tanggal_lahir", "bk_first"),
    # Same desa and birth date (names spelled beyond recognition).
    block_on("wilayah", "tanggal_lahir"),
    # The whole name sounds alike, the birth year agrees, in the same kab/kota
    # (an unknown birth date written as 1 July, day and month swapped, a move
    # inside the kab/kota).
    block_on("bk_sorted", "lahir_tahun", "substr(wilayah, 1, 5)"),
]

# EM passes for training: each fixes the attributes it blocks on and learns the rest.
TRAINING_BLOCKS: list[tuple[str, ...]] = [
    ("nik",),
    ("nama_norm", "tanggal_lahir"),
]

# Rules that (almost) only admit true duplicates, for the prior.
DETERMINISTIC_RULES = [
    block_on("nik", "tanggal_lahir"),
    block_on("nama_norm", "tanggal_lahir", "wilayah"),
]


def _m(level: cll.ComparisonLevelCreator, m: float) -> cll.ComparisonLevelCreator:
    return level.configure(m_probability=m)


# --- Comparisons --------------------------------------------------------------
# Both NIKs speak for their own rows (valid, and agreeing with the row's birth
# date and sex: `linkage.frames.nik_agrees`) yet differ: in the DDMMYY part
# (so the two rows' birth dates differ, and each NIK confirms its own), or by
# more than a typo anywhere (registration noise is one changed or dropped
# digit; a transposition counts as one edit). Almost always two people: two
# siblings of one kecamatan, both serial 0001, differ by only two digits.
# Checked before the one- and two-edit levels for that reason.
DIFFERENT_NIKS_SQL = (
    "nik_ok_l and nik_ok_r and (substr(nik_l, 7, 6) <> substr(nik_r, 7, 6)"
    " or damerau_levenshtein(nik_l, nik_r) > 2)"
)

# Two trusted NIKs that differ only in the serial (the last four digits, after
# the kecamatan of issue and the birth date) are two people unless an
# operator says otherwise: twins share the family card, the address, the
# birth date, usually the sex and the kecamatan of issue, and serials are
# given in order, so a twin's NIK is one serial away (0001 against 0002); so
# is a kecamatan-mate born the same day. A typo of one person's serial looks
# the same, and only a person can tell the two apart.
SERIAL_ONLY_SQL = "nik_ok_l and nik_ok_r and nik_l <> nik_r and left(nik_l, 12) = left(nik_r, 12)"

# Two trusted NIKs that differ in any way (the serial, the kecamatan, the birth
# date) are never linked, merged or deduplicated automatically: REVIEW at
# most. The NIK encodes the birth date and sex, so people it tells apart agree
# on both as well, and the model's NIK edit levels (whose u is learnt on random
# pairs) would count a near-NIK as strong evidence.
NIK_CONFLICT_SQL = "nik_ok_l and nik_ok_r and nik_l <> nik_r"


def aliased(sql: str) -> str:
    """SQL of this module written on Splink's `x_l`/`x_r` columns, rewritten
    for the event (alias e) and reference (alias f) frames of a plain query."""
    return re.sub(r"\b(\w+)_([lr])\b", lambda m: f"{'e' if m[2] == 'l' else 'f'}.{m[1]}", sql)


# The weight of a serial-only difference is fixed, not trained: u learnt on
# random pairs is about 1e-7 (two random people seldom share kecamatan and
# birth date), which would make the level some +13 bits of evidence for one
# person, while among the pairs blocking actually meets (one family card, one
# desa and birth date) it is mostly twins. m/u = 1/16: four bits against.
SERIAL_ONLY_M, SERIAL_ONLY_U = 0.001, 0.016

NIK = cl.CustomComparison(
    output_column_name="nik",
    comparison_description="NIK: exact, two trusted NIKs differing in the serial only, "
    "two different trusted NIKs, one edit or a transposition, two edits",
    comparison_levels=[
        cll.NullLevel("nik"),
        _m(cll.ExactMatchLevel("nik"), 0.93),
        cll.CustomLevel(SERIAL_ONLY_SQL, "two trusted NIKs, serial only: possibly twins").configure(
            m_probability=SERIAL_ONLY_M,
            u_probability=SERIAL_ONLY_U,
            fix_m_probability=True,
            fix_u_probability=True,
        ),
        # A parent and a child share everything else (card, address, desa); their
        # own NIKs are what tells them apart.
        _m(cll.CustomLevel(DIFFERENT_NIKS_SQL, "two different trusted NIKs"), 0.0002),
        _m(cll.DamerauLevenshteinLevel("nik", 1), 0.05),
        _m(cll.LevenshteinLevel("nik", 2), 0.015),
        # One NIK contradicts its own row (a relative's NIK, a bad date): weak evidence.
        _m(cll.ElseLevel(), 0.0048),
    ],
)

# Overlap of at least half the tokens of the longer name (BIN/BINTI tails,
# dropped middle names). Tokens are the canonical ones of linkage.names.
_TOKEN_SET_SQL = (
    "len(list_intersect(string_split(nama_sorted_l, ' '), string_split(nama_sorted_r, ' '))) * 2"
    " >= greatest(len(string_split(nama_sorted_l, ' ')), len(string_split(nama_sorted_r, ' ')))"
)

NAMA = cl.CustomComparison(
    output_column_name="nama",
    comparison_description="Normalised name: exact (term-frequency adjusted), token order, "
    "Jaro-Winkler, token overlap",
    comparison_levels=[
        cll.NullLevel("nama_norm"),
        _m(cll.ExactMatchLevel("nama_norm", term_frequency_adjustments=True), 0.80),
        _m(cll.ExactMatchLevel("nama_sorted"), 0.03),
        _m(cll.JaroWinklerLevel("nama_norm", 0.95), 0.07),
        _m(cll.JaroWinklerLevel("nama_norm", 0.88), 0.04),
        _m(cll.CustomLevel(_TOKEN_SET_SQL, "half the name tokens shared"), 0.055),
        _m(cll.ElseLevel(), 0.005),
    ],
)

_L, _R = "tanggal_lahir_l", "tanggal_lahir_r"
TANGGAL_LAHIR = cl.CustomComparison(
    output_column_name="tanggal_lahir",
    comparison_description="Birth date: exact, day/month swapped, same month, same year, "
    "within a year",
    comparison_levels=[
        cll.NullLevel("tanggal_lahir"),
        _m(cll.ExactMatchLevel("tanggal_lahir"), 0.895),
        _m(
            cll.CustomLevel(
                f"day({_L}) = month({_R}) and month({_L}) = day({_R}) and year({_L}) = year({_R})",
                "day and month swapped",
            ),
            0.03,
        ),
        _m(
            cll.CustomLevel(f"year({_L}) = year({_R}) and month({_L}) = month({_R})", "same month"),
            0.03,
        ),
        _m(cll.CustomLevel(f"year({_L}) = year({_R})", "same year"), 0.02),
        _m(cll.CustomLevel(f"abs(date_diff('day', {_L}, {_R})) <= 366", "within a year"), 0.02),
        _m(cll.ElseLevel(), 0.005),
    ],
)

JENIS_KELAMIN = cl.CustomComparison(
    output_column_name="jenis_kelamin",
    comparison_description="Sex: exact",
    comparison_levels=[
        cll.NullLevel("jenis_kelamin"),
        _m(cll.ExactMatchLevel("jenis_kelamin"), 0.98),
        _m(cll.ElseLevel(), 0.02),
    ],
)

TEMPAT_LAHIR = cl.CustomComparison(
    output_column_name="tempat_lahir",
    comparison_description="Place of birth: exact, Jaro-Winkler >= 0.9",
    comparison_levels=[
        cll.NullLevel("tempat_lahir"),
        _m(cll.ExactMatchLevel("tempat_lahir"), 0.85),
        _m(cll.JaroWinklerLevel("tempat_lahir", 0.9), 0.08),
        _m(cll.ElseLevel(), 0.07),
    ],
)

# --- Household and place: ONE comparison ----------------------------------------
# Family card, street address, RT/RW and desa are not independent evidence: the
# members of a household share all four, so summing them (as four comparisons)
# gave a parent or sibling some 34 bits for living together, more than a
# different name, birth date, sex and NIK could take back, and a new
# 17-year-old was linked to a parent. One comparison with ordered levels counts
# living together once: the strongest shared unit wins. For a PINDAH event the
# desa is the old one and the address, RT and RW are blank.
_SAME_DESA = "wilayah_l = wilayah_r"
_SAME_RT_RW = "rw_l = rw_r and rt_l = rt_r"
HOUSEHOLD = cl.CustomComparison(
    output_column_name="rumah_tangga",
    comparison_description="Household and place: family card, address in the desa, "
    "RT/RW in the desa, desa, kecamatan, kab/kota",
    comparison_levels=[
        cll.CustomLevel(
            "(nkk_l is null or nkk_r is null) and (wilayah_l is null or wilayah_r is null)",
            "household and place unknown",
        ).configure(is_null_level=True),
        _m(cll.CustomLevel("nkk_l = nkk_r", "same family card"), 0.60),
        _m(
            cll.CustomLevel(
                f"{_SAME_DESA} and jaro_winkler_similarity(alamat_l, alamat_r) >= 0.88",
                "same address in the desa",
            ),
            0.15,
        ),
        _m(cll.CustomLevel(f"{_SAME_DESA} and {_SAME_RT_RW}", "same RT/RW in the desa"), 0.04),
        _m(cll.CustomLevel(_SAME_DESA, "same desa"), 0.13),
        _m(cll.CustomLevel("left(wilayah_l, 8) = left(wilayah_r, 8)", "same kecamatan"), 0.03),
        _m(cll.CustomLevel("left(wilayah_l, 5) = left(wilayah_r, 5)", "same kab/kota"), 0.03),
        _m(cll.ElseLevel(), 0.02),
    ],
)

COMPARISONS = [NIK, NAMA, TANGGAL_LAHIR, JENIS_KELAMIN, TEMPAT_LAHIR, HOUSEHOLD]


def model_settings() -> SettingsCreator:
    """The untrained model: dedupe-style, so one model serves event linkage
    (predict_between), same-period duplicates and the whole-list dedupe job."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
        comparisons=COMPARISONS,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
        probability_two_random_records_match=1e-5,
    )
