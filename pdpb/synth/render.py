"""Turning population columns into the text that files carry.

Every writer (voter list, landing files, truth) renders through these helpers
so that the same person is spelled the same way everywhere unless noise is
applied on purpose. Rendering works on index arrays and pyarrow compute, so a
chunk of half a million rows costs a fraction of a second.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pdpb.synth.names import Vocab
from pdpb.synth.population import KAMPUNG, OUTSIDE_PLACES, PERUM, STREETS, Population, ymd
from pdpb.synth.regions import Regions

KAWIN_CODES = np.array(["B", "S", "P"], dtype=object)
SEX_CODES = np.array(["L", "P"], dtype=object)
EXCEL_EPOCH_OFFSET = 25569  # Excel serial of 1970-01-01


def _tokens(words: pa.Array, idx: np.ndarray) -> pa.Array:
    return pc.take(words, pa.array(idx, type=pa.int32(), mask=idx < 0))


def render_names(pop: Population, idx: np.ndarray, vocab: Vocab) -> list[str]:
    """Full names in Sidalih style: titles, given names, BIN/BINTI, degree."""
    words = pa.array(vocab.words)
    parts = [
        _tokens(words, getattr(pop, col)[idx])
        for col in ("title", "pre", "g1", "g2", "binb", "patr")
    ]
    core = pc.binary_join_element_wise(*parts, " ", null_handling="skip")
    degree = pc.fill_null(_tokens(words, pop.degree[idx]), "")
    return pc.binary_join_element_wise(core, degree, "").to_pylist()


def fmt_dates(days: np.ndarray, style: str) -> list[str]:
    """Dates in a source's format: sidalih DD|MM|YYYY, dmy- , dmy/, iso, serial."""
    if style == "serial":
        return [str(int(d) + EXCEL_EPOCH_OFFSET) for d in days]
    y, m, d = ymd(days)
    ys = pc.utf8_lpad(pa.array(y).cast(pa.string()), 4, "0")
    ms = pc.utf8_lpad(pa.array(m).cast(pa.string()), 2, "0")
    ds = pc.utf8_lpad(pa.array(d).cast(pa.string()), 2, "0")
    if style == "iso":
        return pc.binary_join_element_wise(ys, ms, ds, "-").to_pylist()
    sep = {"sidalih": "|", "dmy-": "-", "dmy/": "/"}[style]
    return pc.binary_join_element_wise(ds, ms, ys, sep).to_pylist()


def digits(values: np.ndarray) -> pa.Array:
    """Integers as decimal text (NIK, NKK, dpid, codes)."""
    return pa.array(values).cast(pa.string())


def _pick(words: tuple[str, ...] | list[str], idx: np.ndarray) -> pa.Array:
    return pc.take(pa.array(words), pa.array(idx))


def render_alamat(style: np.ndarray, word: np.ndarray, house: np.ndarray) -> pa.Array:
    """Street (0), kampung (1) or housing-estate (2) addresses, built column-wise."""
    w, no = word.astype(np.int64), digits(house)
    street = pc.binary_join_element_wise("JL. ", _pick(STREETS, w % len(STREETS)), " NO. ", no, "")
    kampung = pc.binary_join_element_wise("KP. ", _pick(KAMPUNG, w % len(KAMPUNG)), "")
    blok = pc.binary_join_element_wise(
        _pick([chr(65 + i) for i in range(8)], w % 8), digits(w % 20 + 1), ""
    )
    perum = pc.binary_join_element_wise(
        "PERUM ", _pick(PERUM, w % len(PERUM)), " BLOK ", blok, " NO. ", no, ""
    )
    return pc.choose(pa.array(style.astype(np.int8)), street, kampung, perum)


def pad3(values: np.ndarray) -> pa.Array:
    return pc.utf8_lpad(digits(values), 3, "0")


def place_names(regions: Regions, extra_places: list[str]) -> np.ndarray:
    return np.array(regions.kab_place + list(OUTSIDE_PLACES) + extra_places, dtype=object)


def render_identity(
    pop: Population, idx: np.ndarray, regions: Regions, vocab: Vocab, places: np.ndarray
) -> dict[str, pa.Array | list[str]]:
    """The true identity columns of people `idx`, dates as ISO."""
    desa_codes = np.array(regions.desa_code + [""], dtype=object)
    return {
        "nik": digits(pop.nik[idx]),
        "nkk": digits(pop.nkk[idx]),
        "nama": render_names(pop, idx, vocab),
        "tempat_lahir": places[pop.place[idx]].tolist(),
        "tanggal_lahir": fmt_dates(pop.birth[idx], "iso"),
        "jenis_kelamin": SEX_CODES[pop.sex[idx]].tolist(),
        "status_kawin": KAWIN_CODES[pop.kawin[idx]].tolist(),
        "alamat": render_alamat(pop.addr_style[idx], pop.addr_word[idx], pop.house[idx]),
        "rt": pad3(pop.rt[idx]),
        "rw": pad3(pop.rw[idx]),
        "kode_wilayah": desa_codes[pop.desa[idx]].tolist(),
    }
