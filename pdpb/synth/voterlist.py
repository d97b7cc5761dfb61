"""The initial voter list: who is registered, with what registration noise.

Eligible people at the reference date are listed, minus those who turned 17 in
the last two months (not registered yet: they arrive as PENDUDUK_BARU). Then
the list gets the defects real lists have: typos and variant spellings,
wrong or missing NIKs, RT/RW 000, unknown birth dates written as 01|07 or
31|12, dead voters still listed, the same person registered twice, and a few
minors registered with a wrong birth year. Each record keeps a bitmask of the
fields that differ from the truth, which is what a later PERUBAHAN_DATA
corrects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pdpb.contracts import SIDALIH_COLUMNS
from pdpb.synth.names import NOISE_FUNCS, Vocab, noisy_name
from pdpb.synth.population import (
    ALIVE,
    JOB_SIPIL,
    KAWIN_B,
    Population,
    aged_17_by,
    seventeenth_birthday,
    to_days,
)
from pdpb.synth.regions import Regions
from pdpb.synth.render import (
    KAWIN_CODES,
    SEX_CODES,
    digits,
    fmt_dates,
    pad3,
    render_alamat,
    render_names,
)

# Bits of the registration-noise mask: which fields of a record differ from the truth.
NOISE_NAMA, NOISE_NIK, NOISE_TGL, NOISE_RT, NOISE_RW = 1, 2, 4, 8, 16
NOISE_FIELDS = (
    (NOISE_NIK, "nik"),
    (NOISE_NAMA, "nama"),
    (NOISE_TGL, "tanggal_lahir"),
    (NOISE_RT, "rt"),
    (NOISE_RW, "rw"),
)
# Bits of the noise-kind mask: what was done to a field, for the truth's `noise` column.
KIND_NAMA_TYPO = 1  # then abbreviate, old_spelling, title: NOISE_FUNCS order
KIND_NIK_KOSONG, KIND_NIK_PENDEK, KIND_NIK_SALAH = 16, 32, 64
KIND_TGL, KIND_RTRW = 128, 256
KIND_LABELS = (
    *((KIND_NAMA_TYPO << i, f"nama_{kind}") for i, kind in enumerate(NOISE_FUNCS)),
    (KIND_NIK_SALAH, "nik_salah"),
    (KIND_NIK_PENDEK, "nik_pendek"),
    (KIND_NIK_KOSONG, "nik_kosong"),
    (KIND_TGL, "tgl_tidak_diketahui"),
    (KIND_RTRW, "rtrw_000"),
)
SUMBER_CHOICES = np.array(["DP4", "DPTb", "COKLIT", "DPK"], dtype=object)
CHUNK_ROWS = 250_000
LISTABLE_SLICE = 1_000_000


@dataclass
class Records:
    """One row per voter record (dpid); duplicates are extra rows of one person."""

    person: np.ndarray
    desa: np.ndarray
    addr_style: np.ndarray
    addr_word: np.ndarray
    house: np.ndarray
    rt: np.ndarray
    rw: np.ndarray
    noise: np.ndarray  # bitmask of NOISE_*
    primary: np.ndarray  # record index of the person's primary record
    dead_at_start: np.ndarray
    minor: np.ndarray  # a minor listed with a wrong birth year
    dpid: np.ndarray
    tps: np.ndarray
    sumber: np.ndarray
    nik: np.ndarray  # the NIK as the record holds it; -1 when empty
    birth: np.ndarray  # the birth day as the record holds it
    noise_kind: np.ndarray  # bitmask of KIND_*
    # Sparse (about 5% of records): the misspelt name; the true one is rendered otherwise.
    name_override: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.person)


def listable(pop: Population, ref: date) -> np.ndarray:
    """Eligible at the reference date and already registered."""
    out = np.empty(len(pop), bool)
    # In slices: the date arithmetic makes a dozen temporaries the size of the input.
    for s in range(0, len(pop), LISTABLE_SLICE):
        part = slice(s, s + LISTABLE_SLICE)
        kawin, birth = pop.kawin[part], pop.birth[part]
        eligible = (
            (pop.death[part] == ALIVE)
            & ~pop.wna[part]
            & (pop.job[part] == JOB_SIPIL)
            & ~pop.revoked[part]
            & (aged_17_by(birth, ref) | (kawin != KAWIN_B))
        )
        recent = (kawin == KAWIN_B) & (
            seventeenth_birthday(birth) > to_days(ref - timedelta(days=60))
        )
        out[part] = eligible & ~recent
    return out


def build_records(
    pop: Population,
    listed: np.ndarray,
    n_duplicates: int,
    regions: Regions,
    vocab: Vocab,
    ref: date,
    rng: np.random.Generator,
) -> Records:
    """Records for the listed people plus minors, dead voters and duplicates."""
    ref_day = to_days(ref)
    base = np.flatnonzero(listed)
    # A few unmarried 15-16 year olds listed with a birth year three years early
    # (not twins: those register together when they turn 17, a case of its own).
    young = np.flatnonzero(
        ~listed
        & (pop.death == ALIVE)
        & (pop.kawin == KAWIN_B)
        & (pop.job == 0)
        & ~pop.twin
        & (ref_day - pop.birth > 15.2 * 365.25)
        & (ref_day - pop.birth < 16.9 * 365.25)
    )
    n_minor = min(len(young), max(2, round(len(base) * 0.0004)))
    minors = np.sort(rng.choice(young, n_minor, replace=False)) if n_minor else young[:0]
    people = np.concatenate([base, minors])
    n = len(people)
    # Dead before the start but never reported: older voters more often.
    age = (ref_day - pop.birth[base]) / 365.25
    w = np.exp((age - 50) / 12)
    n_dead = round(len(base) * 0.01)
    dead = rng.choice(len(base), n_dead, replace=False, p=w / w.sum())
    pop.death[base[dead]] = ref_day - rng.integers(20, 1000, n_dead)

    # Duplicates: an older registration elsewhere, or a variant in the same desa.
    alive_base = np.setdiff1d(np.arange(len(base)), dead)
    dup_src = np.sort(rng.choice(alive_base, min(n_duplicates, len(alive_base)), replace=False))
    rec_person = np.concatenate([people, base[dup_src]])
    n_all = len(rec_person)
    desa = pop.desa[rec_person].copy()
    style, word = pop.addr_style[rec_person].copy(), pop.addr_word[rec_person].copy()
    house, rt, rw = (
        pop.house[rec_person].copy(),
        pop.rt[rec_person].copy(),
        pop.rw[rec_person].copy(),
    )
    dup_rows = np.arange(n, n_all)
    elsewhere = dup_rows[rng.random(len(dup_rows)) < 0.6]
    same_kab = [np.flatnonzero(regions.desa_kab == regions.desa_kab[d]) for d in desa[elsewhere]]
    desa[elsewhere] = [c[int(rng.integers(len(c)))] for c in same_kab]
    style[elsewhere] = rng.integers(0, 3, len(elsewhere))
    word[elsewhere] = rng.integers(0, 1000, len(elsewhere))
    house[elsewhere] = rng.integers(1, 250, len(elsewhere))
    rt[elsewhere] = rng.integers(1, 16, len(elsewhere))
    rw[elsewhere] = rng.integers(1, 11, len(elsewhere))
    primary = np.arange(n_all)
    primary[dup_rows] = dup_src

    recs = Records(
        person=rec_person,
        desa=desa,
        addr_style=style,
        addr_word=word,
        house=house,
        rt=rt,
        rw=rw,
        noise=np.zeros(n_all, np.int16),
        primary=primary,
        dead_at_start=np.isin(np.arange(n_all), dead),
        minor=np.arange(n_all) >= len(base),
        dpid=np.zeros(n_all, np.int64),
        tps=np.zeros(n_all, np.int16),
        sumber=SUMBER_CHOICES[rng.choice(4, n_all, p=[0.7, 0.1, 0.15, 0.05])],
        nik=pop.nik[rec_person],
        birth=pop.birth[rec_person],
        noise_kind=np.zeros(n_all, np.int16),
    )
    recs.minor[dup_rows] = False
    _add_noise(recs, pop, vocab, rng, dup_rows)
    recs.birth[recs.minor] = pop.birth[rec_person[recs.minor]] - 3 * 365 - 1
    recs.noise[recs.minor] |= NOISE_TGL
    _assign_dpid_and_tps(recs, pop, regions)
    return recs


def _add_noise(
    recs: Records, pop: Population, vocab: Vocab, rng: np.random.Generator, dup_rows: np.ndarray
) -> None:
    """Registration noise, drawn per field for all records at once."""
    n = len(recs)
    r = rng.random((4, n))
    is_dup = np.zeros(n, bool)
    is_dup[dup_rows] = True
    name_noise = (r[0] < 0.05) | (is_dup & (r[0] < 0.5))
    nik_noise = (r[1] < 0.028) | (is_dup & (r[1] > 0.5))
    tgl_noise = r[2] < 0.01
    rt_noise = r[3] < 0.03
    rw_noise = rt_noise | ((r[3] > 0.97) & (r[3] < 0.99))
    idx = np.flatnonzero(name_noise)
    names = render_names(pop, recs.person[idx], vocab)
    kinds = rng.choice(len(NOISE_FUNCS), len(idx), p=[0.35, 0.25, 0.15, 0.25])
    female = pop.sex[recs.person[idx]].astype(bool).tolist()
    for i, name, k, fem in zip(idx.tolist(), names, kinds.tolist(), female, strict=True):
        recs.name_override[i] = noisy_name(name, fem, rng, NOISE_FUNCS[k])
    recs.noise_kind[idx] |= (KIND_NAMA_TYPO << kinds).astype(np.int16)
    _nik_noise(recs, pop, rng, np.flatnonzero(nik_noise), is_dup)
    _birth_noise(recs, pop, rng, np.flatnonzero(tgl_noise))
    recs.noise |= np.where(name_noise, NOISE_NAMA, 0).astype(np.int16)
    recs.noise |= np.where(nik_noise, NOISE_NIK, 0).astype(np.int16)
    recs.noise |= np.where(recs.noise_kind & KIND_TGL, NOISE_TGL, 0).astype(np.int16)
    recs.noise |= np.where(rt_noise, NOISE_RT, 0).astype(np.int16)
    recs.noise |= np.where(rw_noise, NOISE_RW, 0).astype(np.int16)
    recs.noise_kind[rt_noise | rw_noise] |= KIND_RTRW


def _nik_noise(
    recs: Records, pop: Population, rng: np.random.Generator, idx: np.ndarray, is_dup: np.ndarray
) -> None:
    """NIK empty (never on a duplicate: it would not be one), one digit short, or
    wrong as real lists have it wrong (DOMAIN.md): a birth-date digit that
    contradicts the record's own birth date or sex, or serial 0000. A wrong
    serial digit is not drawn: it gives a valid NIK of the same kecamatan and
    birth date, which is another person's (a twin's, a neighbour's born that
    day), a relative's NIK rather than a typo, and the link stage rightly
    leaves such a record to an operator."""
    true = pop.nik[recs.person[idx]]
    u = rng.random(len(idx))
    pos = rng.integers(6, 12, len(idx))  # a DDMMYY digit of the 16-digit string
    shift = rng.integers(1, 10, len(idx))
    place = 10 ** (15 - pos)
    digit = true // place % 10
    wrong = true + ((digit + shift) % 10 - digit) * place
    wrong = np.where(rng.random(len(idx)) < 0.2, true // 10_000 * 10_000, wrong)  # serial 0000
    empty = (u < 0.35) & ~is_dup[idx]
    short = ~empty & (u < 0.45)
    recs.nik[idx] = np.where(empty, -1, np.where(short, true // 10, wrong))
    recs.noise_kind[idx] |= np.where(
        empty, KIND_NIK_KOSONG, np.where(short, KIND_NIK_PENDEK, KIND_NIK_SALAH)
    ).astype(np.int16)


def _birth_noise(recs: Records, pop: Population, rng: np.random.Generator, idx: np.ndarray) -> None:
    """An unknown birth date written as 1 July (60%) or 31 December of the year."""
    birth = pop.birth[recs.person[idx]]
    year = birth.astype("datetime64[D]").astype("datetime64[Y]")
    july = (year.astype("datetime64[M]") + 6).astype("datetime64[D]").astype(np.int64)
    december = ((year + 1).astype("datetime64[D]") - 1).astype(np.int64)
    unknown = np.where(rng.random(len(idx)) < 0.6, july, december)
    differs = unknown != birth
    recs.birth[idx[differs]] = unknown[differs]
    recs.noise_kind[idx[differs]] |= KIND_TGL


def noise_labels(recs: Records) -> tuple[pa.Array, np.ndarray]:
    """The `noise` column of truth/voters.csv as (distinct labels, label of each record).

    A label lists the record's kinds, `;`-separated; there are only a few dozen
    distinct ones, so records carry an index rather than a string."""
    key = recs.noise_kind.astype(np.int32) | (recs.minor.astype(np.int32) << 15)
    uniq, inverse = np.unique(key, return_inverse=True)
    labels = []
    for k in uniq.tolist():
        names = [label for bit, label in KIND_LABELS if k & bit]
        labels.append(";".join(names + (["umur_salah"] if k >> 15 else [])))
    return pa.array(labels, pa.string()), inverse.astype(np.int32)


def _assign_dpid_and_tps(recs: Records, pop: Population, regions: Regions) -> None:
    """dpid in file order (desa, household, member; duplicates last in their desa)."""
    is_dup = recs.primary != np.arange(len(recs))
    order = np.lexsort((pop.member[recs.person], pop.hh[recs.person], is_dup, recs.desa))
    province = int(regions.province)
    recs.dpid[order] = province * 1_000_000_000 + np.arange(1, len(recs) + 1)
    desa_sorted = recs.desa[order]
    starts = np.r_[0, np.flatnonzero(np.diff(desa_sorted)) + 1]
    rank = np.arange(len(recs)) - np.repeat(starts, np.diff(np.r_[starts, len(recs)]))
    recs.tps[order] = rank // 280 + 1


def record_order(recs: Records) -> np.ndarray:
    return np.argsort(recs.dpid, kind="stable")


def write_voters(
    path: Path, recs: Records, pop: Population, regions: Regions, vocab: Vocab, places: np.ndarray
) -> None:
    """voters.csv in the Sidalih export format, written in chunks."""
    desa_codes = np.array(regions.desa_code, dtype=object)
    order = record_order(recs)
    schema = pa.schema([(c, pa.string()) for c in SIDALIH_COLUMNS])
    opts = pacsv.WriteOptions(quoting_style="needed")
    with pacsv.CSVWriter(path, schema, write_options=opts) as writer:
        for start in range(0, len(order), CHUNK_ROWS):
            rows = order[start : start + CHUNK_ROWS]
            writer.write_table(
                pa.table(_voter_chunk(rows, recs, pop, desa_codes, vocab, places), schema=schema)
            )


def record_values(
    rows: np.ndarray, recs: Records, pop: Population, vocab: Vocab
) -> dict[str, pa.Array | list[str]]:
    """nik, nama, tanggal_lahir (days), rt, rw as the records hold them."""
    nik = pa.array(recs.nik[rows], mask=recs.nik[rows] < 0).cast(pa.string())
    nama = render_names(pop, recs.person[rows], vocab)
    for pos in np.flatnonzero(recs.noise[rows] & NOISE_NAMA).tolist():
        nama[pos] = recs.name_override.get(int(rows[pos]), nama[pos])
    rt = np.where(recs.noise[rows] & NOISE_RT, 0, recs.rt[rows])
    rw = np.where(recs.noise[rows] & NOISE_RW, 0, recs.rw[rows])
    return {
        "nik": pc.fill_null(nik, ""),
        "nama": nama,
        "birth": recs.birth[rows],
        "rt": pad3(rt),
        "rw": pad3(rw),
    }


def _voter_chunk(
    rows: np.ndarray,
    recs: Records,
    pop: Population,
    desa_codes: np.ndarray,
    vocab: Vocab,
    places: np.ndarray,
) -> dict[str, pa.Array | list[str]]:
    p = recs.person[rows]
    vals = record_values(rows, recs, pop, vocab)
    return {
        "dpid": digits(recs.dpid[rows]),
        "nkk": digits(pop.nkk[p]),
        "nik": vals["nik"],
        "nama": vals["nama"],
        "tempat_lahir": places[pop.place[p]].tolist(),
        "tanggal_lahir": fmt_dates(vals["birth"], "sidalih"),
        "jenis_kelamin": SEX_CODES[pop.sex[p]].tolist(),
        "status_kawin": KAWIN_CODES[pop.kawin[p]].tolist(),
        "alamat": render_alamat(recs.addr_style[rows], recs.addr_word[rows], recs.house[rows]),
        "rt": vals["rt"],
        "rw": vals["rw"],
        "disabilitas": digits(pop.disab[p]),
        "ktp_el": np.where(pop.ktp[p], "S", "B").tolist(),
        "kode_wilayah": desa_codes[recs.desa[rows]].tolist(),
        "tps": pad3(recs.tps[rows]),
        "sumber": recs.sumber[rows].tolist(),
        "keterangan": pa.nulls(len(rows), pa.string()).fill_null(""),
    }
