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


def render_alamat(style: np.ndarray, word: np.ndarray, house: np.ndarray) -> list[str]:
    out = []
    for s, w, h in zip(style.tolist(), word.tolist(), house.tolist(), strict=True):
        if s == 0:
            out.append(f"JL. {STREETS[w % len(STREETS)]} NO. {h}")
        elif s == 1:
            out.append(f"KP. {KAMPUNG[w % len(KAMPUNG)]}")
        else:
            out.append(f"PERUM {PERUM[w % len(PERUM)]} BLOK {chr(65 + w % 8)}{w % 20 + 1} NO. {h}")
    return out


def pad3(values: np.ndarray) -> list[str]:
    return [f"{v:03d}" for v in values.tolist()]


def place_names(regions: Regions, extra_places: list[str]) -> np.ndarray:
    return np.array(regions.kab_place + list(OUTSIDE_PLACES) + extra_places, dtype=object)


def render_identity(
    pop: Population, idx: np.ndarray, regions: Regions, vocab: Vocab, places: np.ndarray
) -> dict[str, list[str]]:
    """The true identity columns of people `idx`, dates as ISO."""
    desa_codes = np.array(regions.desa_code + [""], dtype=object)
    return {
        "nik": [str(v) for v in pop.nik[idx].tolist()],
        "nkk": [str(v) for v in pop.nkk[idx].tolist()],
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
