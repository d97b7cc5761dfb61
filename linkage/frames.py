"""Comparison frames: events and voters in the one shape Splink compares.

Training, event linkage and dedupe all register the same columns on both
sides: a unique id `uid`, cleaned identity columns, whether the NIK agrees with
its own row (`nik_ok`), the canonical name forms of `linkage.names`, and
blocking keys. Role-specific rules live here and nowhere
else: for a PINDAH event the voter is sought at the old desa
(`kode_wilayah_asal`), and its address columns (the new address) are blanked
so that a move is not evidence against the match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from functools import lru_cache

import pyarrow as pa

from linkage import names

FRAME_SCHEMA = pa.schema(
    [
        ("uid", pa.string()),
        ("nik", pa.string()),
        ("nik_ok", pa.bool_()),
        ("nkk", pa.string()),
        ("nama_norm", pa.string()),
        ("nama_sorted", pa.string()),
        ("tanggal_lahir", pa.date32()),
        ("lahir_tahun", pa.int32()),
        ("jenis_kelamin", pa.string()),
        ("tempat_lahir", pa.string()),
        ("alamat", pa.string()),
        ("rt", pa.string()),
        ("rw", pa.string()),
        ("wilayah", pa.string()),
        ("bk_first", pa.string()),
        ("bk_last", pa.string()),
        ("bk_sorted", pa.string()),
    ]
)

_DIGITS = re.compile(r"\D+")
_SPACES = re.compile(r"\s+")
_PLACE_PREFIX = re.compile(r"^(KABUPATEN|KAB\.?|KOTA|KOTAMADYA)\s+")
_ADDRESS_WORDS = {"JALAN": "JL", "JLN": "JL", "GANG": "GG", "KAMPUNG": "KP", "KAMP": "KP"}


def clean_digits(value: str | None) -> str | None:
    """Digits only; empty and all-zero numbers are unknown, not evidence."""
    if value is None:
        return None
    digits = _DIGITS.sub("", str(value))
    return digits if digits.strip("0") else None


def clean_place(value: str | None) -> str | None:
    if not value:
        return None
    text = _SPACES.sub(" ", str(value).upper().replace(".", ". ")).strip()
    text = _PLACE_PREFIX.sub("", text).replace(".", "").strip()
    return text or None


def clean_address(value: str | None) -> str | None:
    if not value:
        return None
    words = re.sub(r"[^A-Z0-9 ]+", " ", str(value).upper()).split()
    text = " ".join(_ADDRESS_WORDS.get(w, w) for w in words)
    return text or None


def clean_rt_rw(value: str | None) -> str | None:
    """RT/RW as an integer string; 000 and empty mean unknown."""
    digits = clean_digits(value)
    return str(int(digits)) if digits else None


def nik_agrees(nik: str | None, tanggal_lahir: date | None, jenis_kelamin: str | None) -> bool:
    """A NIK that can speak for its row: 16 digits, a plausible province, a real
    DDMMYY (day + 40 for women), a non-zero serial, and, where the row knows
    them, the same birth date and sex as the row. A NIK that contradicts its
    own row is often someone else's (a relative's card, a clerk's copy), so it
    is never taken as proof that two records are different people."""
    if nik is None or len(nik) != 16 or not 11 <= int(nik[:2]) <= 99 or nik[12:] == "0000":
        return False
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex = "P" if day > 40 else "L"
    day = day - 40 if day > 40 else day
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return False
    if jenis_kelamin in ("L", "P") and jenis_kelamin != sex:
        return False
    return tanggal_lahir is None or (
        tanggal_lahir.day,
        tanggal_lahir.month,
        tanggal_lahir.year % 100,
    ) == (
        day,
        month,
        yy,
    )


@lru_cache(maxsize=500_000)
def name_forms(
    nama: str | None,
) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(normalised, sorted, first-token key, last-token key, sorted key) of a name.
    Cached because a voter list repeats the same names many times over."""
    tokens = names.name_tokens(nama)
    if not tokens:
        return None, None, None, None, None
    ordered = sorted(tokens)
    sorted_key = " ".join(k for k in (names.phonetic_key(t) for t in ordered) if k)
    return (
        " ".join(tokens),
        " ".join(ordered),
        names.phonetic_key(tokens[0]),
        names.phonetic_key(tokens[-1]),
        sorted_key or None,
    )


def _column(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows


def _map(values: Iterable, fn: Callable) -> list:
    return [fn(v) for v in values]


def build_frame(
    uids: list[str],
    table: pa.Table,
    wilayah: list[str | None],
    blank_address: list[bool],
) -> pa.Table:
    """The comparison frame for `table` (events or voters) with given ids."""
    forms = [name_forms(n) for n in _column(table, "nama")]
    tanggal = table.column("tanggal_lahir").cast(pa.date32())
    lahir = tanggal.to_pylist()
    tahun = [d.year if d is not None else None for d in lahir]
    nik = _map(_column(table, "nik"), clean_digits)
    jenis_kelamin = _map(_column(table, "jenis_kelamin"), lambda v: (v or "").upper()[:1] or None)

    def blanked(values: list) -> list:
        return [None if blank else v for v, blank in zip(values, blank_address, strict=True)]

    columns = {
        "uid": uids,
        "nik": nik,
        "nik_ok": [nik_agrees(*a) for a in zip(nik, lahir, jenis_kelamin, strict=True)],
        "nkk": _map(_column(table, "nkk"), clean_digits),
        "nama_norm": [f[0] for f in forms],
        "nama_sorted": [f[1] for f in forms],
        "tanggal_lahir": tanggal,
        "lahir_tahun": tahun,
        "jenis_kelamin": jenis_kelamin,
        "tempat_lahir": _map(_column(table, "tempat_lahir"), clean_place),
        "alamat": blanked(_map(_column(table, "alamat"), clean_address)),
        "rt": blanked(_map(_column(table, "rt"), clean_rt_rw)),
        "rw": blanked(_map(_column(table, "rw"), clean_rt_rw)),
        "wilayah": wilayah,
        "bk_first": [f[2] for f in forms],
        "bk_last": [f[3] for f in forms],
        "bk_sorted": [f[4] for f in forms],
    }
    return pa.table(columns, schema=FRAME_SCHEMA)


def event_uid(sumber: str, event_id: str) -> str:
    return f"{sumber}|{event_id}"


def reference_frame(reference: pa.Table) -> pa.Table:
    """Voters (and future voters) keyed by target_id, compared where they live."""
    uids = [str(v) for v in reference.column("target_id").to_pylist()]
    wilayah = reference.column("kode_wilayah").to_pylist()
    return build_frame(uids, reference, wilayah, [False] * reference.num_rows)


def event_frame(events: pa.Table) -> pa.Table:
    """Events keyed by 'sumber|event_id'. A PINDAH is compared at its old desa
    with its (new) address left out."""
    uids = [
        event_uid(s, e)
        for s, e in zip(
            events.column("sumber").to_pylist(), events.column("event_id").to_pylist(), strict=True
        )
    ]
    jenis = events.column("jenis_peristiwa").to_pylist()
    tujuan = events.column("kode_wilayah").to_pylist()
    asal = _column(events, "kode_wilayah_asal")
    is_pindah = [j == "PINDAH" for j in jenis]
    wilayah = [a if (p and a) else t for p, a, t in zip(is_pindah, asal, tujuan, strict=True)]
    return build_frame(uids, events, wilayah, is_pindah)
