"""The true population behind the synthetic voter list, as numpy columns.

People live in households that share a family card (NKK), an address and an
RT/RW; ages follow an Indonesian pyramid, marriage follows age and household
role, a small share serve in the TNI or Polri. Each person gets a NIK built
from the kecamatan of issue, the birth date (+40 to the day for women) and a
serial unique within that prefix. Everything is a column of small integers
(names are vocabulary indices) so that millions of people fit in memory and
text is rendered only when a chunk of a file is written.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np

from pdpb.synth.names import Vocab, province_mix
from pdpb.synth.regions import Regions

ALIVE = np.iinfo(np.int32).max  # death day of a living person
EPOCH = date(1970, 1, 1)

# Indonesian population by 5-year age group (0-4 ... 80+), census 2020 shape.
PYRAMID = np.array(
    [8.3, 8.6, 8.5, 8.3, 8.2, 8.0, 7.8, 7.6, 7.2, 6.5, 5.7, 4.8, 3.9, 2.8, 1.8, 1.0, 0.9]
)
HOUSEHOLD_SIZE_P = np.array([0.08, 0.17, 0.23, 0.24, 0.15, 0.08, 0.05])  # sizes 1..7
OUTSIDE_PLACES = [
    "JAKARTA",
    "BANDUNG",
    "BOGOR",
    "LAMPUNG",
    "SEMARANG",
    "SURABAYA",
    "MEDAN",
    "PADANG",
    "CIREBON",
    "GARUT",
    "TASIKMALAYA",
    "BREBES",
]
STREETS = [
    "MERDEKA",
    "SUDIRMAN",
    "RAYA SERANG",
    "AHMAD YANI",
    "DIPONEGORO",
    "KH. HASYIM ASHARI",
    "VETERAN",
    "PAHLAWAN",
    "MAULANA HASANUDIN",
    "SULTAN AGENG TIRTAYASA",
    "KENANGA",
    "MELATI",
    "MAWAR",
    "FLAMBOYAN",
    "CEMPAKA",
    "PERINTIS KEMERDEKAAN",
    "SYEKH NAWAWI",
    "RAYA PASAR",
]
KAMPUNG = [
    "SUKAMAJU",
    "CIBEBER",
    "PASIR",
    "CIKANDE",
    "BABAKAN",
    "SINDANGSARI",
    "KRAMAT",
    "TEGAL",
    "KADU",
    "CITEREUP",
    "KOPO",
    "PEUSAR",
    "GUNUNGSARI",
    "CIKONENG",
    "PANCUR",
    "LEBAKSARI",
]
PERUM = ("GRIYA ASRI", "BUMI INDAH", "TAMAN MUTIARA", "PURI HIJAU", "VILLA PERMATA")

REL_HEAD, REL_SPOUSE, REL_PARENT, REL_CHILD = 0, 1, 2, 3
# Households with 2+ children that have twins: about 1% of children are twins
# (about 0.5% of births are twin pairs); 1 in 50 multiple births are triplets.
P_MULTIPLE = 0.017
P_TRIPLETS = 0.03  # of multiple births in households with 3+ children
P_TWINS_SAME_SEX = 2 / 3
# Same-sex twins or siblings whose alike names come from the table rather than the rules.
ALIKE_TABLE_SHARE = 0.4
# Households with two other children given alike names, born in different years.
P_ALIKE_SIBLINGS = 0.03
# Parents' or grandparents' birth recorded as 1 July or 31 December of the year.
P_ELDER_DEFAULT_DATE = 0.5
P_JULY = 0.6
KAWIN_B, KAWIN_S, KAWIN_P = 0, 1, 2
JOB_SIPIL, JOB_TNI, JOB_POLRI = 0, 1, 2


def to_days(d: date) -> int:
    return (d - EPOCH).days


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dt = np.asarray(days).astype("datetime64[D]")
    months = dt.astype("datetime64[M]")
    y = months.astype("datetime64[Y]").astype(np.int64) + 1970
    m = months.astype(np.int64) % 12 + 1
    d = (dt - months).astype(np.int64) + 1
    return y, m, d


def aged_17_by(birth: np.ndarray, cutoff: date) -> np.ndarray:
    """True where the 17th birthday is on or before the cut-off.

    Compared on (year, month, day) so that a 29 February birthday turns 17 on
    1 March of a non-leap year; the same convention is documented in synth.md."""
    y, m, d = ymd(birth)
    key = (y + 17) * 10000 + m * 100 + d
    return key <= cutoff.year * 10000 + cutoff.month * 100 + cutoff.day


def seventeenth_birthday(birth: np.ndarray) -> np.ndarray:
    """Day number of the 17th birthday (29 Feb -> 1 Mar in non-leap years)."""
    y, m, d = ymd(birth)
    first = ((y + 17 - 1970) * 12 + m - 1).astype("datetime64[M]")
    return (first.astype("datetime64[D]").astype(np.int64) + d - 1).astype(np.int64)


@dataclass
class Population:
    """One row per person; household columns are repeated per member."""

    hh: np.ndarray
    desa: np.ndarray
    rel: np.ndarray
    member: np.ndarray  # order within the household
    sex: np.ndarray  # 0 L, 1 P
    birth: np.ndarray  # days since 1970
    kawin: np.ndarray
    job: np.ndarray
    death: np.ndarray
    revoked: np.ndarray
    wna: np.ndarray
    kec_issue: np.ndarray
    nik: np.ndarray  # int64, 16 digits
    nkk: np.ndarray
    g1: np.ndarray
    g2: np.ndarray
    pre: np.ndarray
    patr: np.ndarray
    binb: np.ndarray
    title: np.ndarray
    degree: np.ndarray
    place: np.ndarray
    addr_style: np.ndarray
    addr_word: np.ndarray
    house: np.ndarray
    rt: np.ndarray
    rw: np.ndarray
    disab: np.ndarray
    ktp: np.ndarray
    twin: np.ndarray
    junior: np.ndarray
    origin_desa: np.ndarray  # object: desa code outside the province for movers in, else ""

    def __len__(self) -> int:
        return len(self.hh)

    def take(self, idx: np.ndarray) -> Population:
        return Population(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def extend(self, other: Population) -> None:
        for f in fields(self):
            setattr(self, f.name, np.concatenate([getattr(self, f.name), getattr(other, f.name)]))

    def keep(self, idx: np.ndarray) -> None:
        """Keep rows `idx`, one column at a time so that only one column is ever doubled."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name)[idx])

    @classmethod
    def concat(cls, parts: list[Population]) -> Population:
        """One population from blocks, freeing each block's column once it is copied."""
        columns = {}
        for f in fields(cls):
            columns[f.name] = np.concatenate([getattr(part, f.name) for part in parts])
            for part in parts:
                setattr(part, f.name, None)
        return cls(**columns)


def rank_within(keys: np.ndarray) -> np.ndarray:
    """0-based rank of each element among equal keys, in input order."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_keys)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    ranks = np.empty(len(keys), dtype=np.int64)
    ranks[order] = np.arange(len(keys)) - run_start
    return ranks


def nik_prefix(kec6: np.ndarray, birth: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """PP KK CC DDMMYY as a 12-digit integer (day + 40 for women)."""
    y, m, d = ymd(birth)
    return kec6 * 1_000_000 + (d + 40 * sex) * 10_000 + m * 100 + y % 100


def _sample_adult_age(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    groups = np.arange(len(PYRAMID)) * 5
    ok = (groups >= lo) & (groups < hi)
    p = np.where(ok, PYRAMID, 0.0)
    g = rng.choice(len(PYRAMID), size=n, p=p / p.sum())
    return np.clip(groups[g] + rng.random(n) * 5, lo, hi)


def build_households(
    n: int,
    regions: Regions,
    vocab: Vocab,
    ref: date,
    rng: np.random.Generator,
    hh_offset: int,
    spread_young_spouses: bool = False,
) -> Population:
    """`n` households and their members, as of the reference date `ref`.

    `spread_young_spouses`: spouses whose age the floor of 17.5 years sets
    get an age drawn between 17.5 and 20.5 instead. Otherwise they all share
    one birth date (17.5 years before `ref`), which across provinces makes
    many alike-named young wives look like one person registered twice. Off
    where a province's output must stay byte for byte what it was."""
    ref_day = to_days(ref)
    size = rng.choice(np.arange(1, 8), size=n, p=HOUSEHOLD_SIZE_P)
    desa = rng.choice(len(regions.desa_code), size=n, p=regions.desa_weight).astype(np.int32)
    head_age = _sample_adult_age(rng, n, 20, 85)
    single = size == 1
    head_female = np.where(single, rng.random(n) < 0.5, rng.random(n) < 0.12)
    has_spouse = (size >= 2) & ~head_female & (rng.random(n) < 0.92)
    has_parent = (size >= 4) & (head_age < 55) & (rng.random(n) < 0.12)
    # Both grandparents rather than a widowed one, where the household is big enough.
    both_parents = has_parent & (size >= 5) & (rng.random(n) < 0.45)
    n_parents = has_parent.astype(np.int64) + both_parents
    n_children = size - 1 - has_spouse - n_parents
    spouse_gap = rng.normal(3.5, 3.0, n)
    mother_age = np.where(head_female, head_age, np.maximum(head_age - spouse_gap, 18))
    # Twins (or triplets) are the household's last children, so that they are
    # adjacent rows and get consecutive NIK serials.
    multiple = np.where((n_children >= 2) & (rng.random(n) < P_MULTIPLE), 2, 0)
    multiple[(multiple == 2) & (n_children >= 3) & (rng.random(n) < P_TRIPLETS)] = 3
    junior = (n_children >= 1) & ~head_female & (multiple == 0) & (rng.random(n) < 0.012)
    alike_siblings = (n_children - multiple >= 2) & ~junior & (rng.random(n) < P_ALIKE_SIBLINGS)
    grandpa_age = head_age + rng.uniform(22, 34, n)
    grandma_gap = np.clip(rng.normal(4, 3, n), 0, grandpa_age - head_age - 17)
    elder_default = rng.random(n) < P_ELDER_DEFAULT_DATE
    elder_july = rng.random(n) < P_JULY

    # Household-level address and card.
    is_kota = regions.kab_is_kota[regions.desa_kab[desa]]
    style = np.where(rng.random(n) < np.where(is_kota, 0.75, 0.25), 0, 1)
    style = np.where((style == 0) & (rng.random(n) < 0.3), 2, style)
    word = rng.integers(0, 1000, n)
    house = rng.integers(1, 250, n)
    rt = rng.integers(1, 16, n)
    rw = rng.integers(1, 11, n)
    kec6 = regions.kec_digits()[regions.desa_kec[desa]]
    issue = rng.integers(to_days(date(2008, 1, 1)), to_days(date(2025, 6, 30)), n)
    mix_names, mix_p = province_mix(regions.province)
    ethnic = rng.choice(len(mix_names), size=n, p=mix_p)

    # Expand to members: head, [spouse], [parents], children.
    hh = np.repeat(np.arange(n), size)
    k = np.arange(len(hh)) - np.repeat(np.cumsum(size) - size, size)
    sp, pa = has_spouse[hh].astype(int), n_parents[hh]
    rel = np.where(
        k == 0,
        REL_HEAD,
        np.where(k < 1 + sp, REL_SPOUSE, np.where(k < 1 + sp + pa, REL_PARENT, REL_CHILD)),
    ).astype(np.int8)
    m = len(hh)
    child_rank = np.maximum(k - sp - pa - 1, 0)
    age = np.empty(m)
    age[rel == REL_HEAD] = head_age[hh[rel == REL_HEAD]]
    age[rel == REL_SPOUSE] = np.maximum(
        head_age[hh[rel == REL_SPOUSE]] - spouse_gap[hh[rel == REL_SPOUSE]], 17.5
    )
    if spread_young_spouses:
        floor = np.flatnonzero((rel == REL_SPOUSE) & (age == 17.5))
        age[floor] = 17.5 + rng.random(len(floor)) * 3
    parent = rel == REL_PARENT
    grandma = parent & (k == 2 + sp)  # the second of two parents
    age[parent] = grandpa_age[hh[parent]] - np.where(grandma[parent], grandma_gap[hh[parent]], 0)
    ch = rel == REL_CHILD
    span = np.clip(mother_age[hh[ch]] - 18, 0.2, 32)
    age[ch] = rng.random(ch.sum()) * span
    sex = np.where(rel == REL_HEAD, head_female[hh], rng.random(m) < 0.5).astype(np.int8)
    sex[rel == REL_SPOUSE] = 1 - head_female[hh[rel == REL_SPOUSE]]
    sex[parent & both_parents[hh]] = grandma[parent & both_parents[hh]]
    multiple_first = np.flatnonzero(
        ch & (child_rank == n_children[hh] - multiple[hh]) & (multiple[hh] > 0)
    )
    group_size = multiple[hh[multiple_first]]
    for j in (1, 2):
        later = multiple_first[group_size > j] + j
        age[later] = age[later - j]
    birth = (ref_day - age * 365.25).astype(np.int64)
    # Elders whose birth day nobody knew were registered on 1 July or 31 December.
    elder = (parent | ((rel <= REL_SPOUSE) & (age >= 70))) & elder_default[hh]
    birth[elder] = default_birth_date(birth[elder], elder_july[hh[elder]])
    age[elder] = (ref_day - birth[elder]) / 365.25
    adult = age >= 17

    kawin = np.full(m, KAWIN_B, dtype=np.int8)
    kawin[(rel == REL_HEAD) & has_spouse[hh]] = KAWIN_S
    kawin[rel == REL_SPOUSE] = KAWIN_S
    kawin[parent] = np.where(both_parents[hh[parent]], KAWIN_S, KAWIN_P)
    lone_head = (rel == REL_HEAD) & ~has_spouse[hh]
    kawin[lone_head & (age >= 30) & (rng.random(m) < 0.75)] = KAWIN_P
    kawin[ch & (age >= 22) & (rng.random(m) < 0.15)] = KAWIN_S
    # Under-17 marriages exist and make the person a voter (UU 7/2017).
    kawin[ch & (sex == 1) & (age >= 15) & (age < 17) & (rng.random(m) < 0.01)] = KAWIN_S

    job = np.zeros(m, dtype=np.int8)
    service_age = (age >= 19) & (age < 58) & (rel != REL_PARENT)
    p_service = np.where(sex == 0, 0.009, 0.0012)
    serving = service_age & (rng.random(m) < p_service)
    job[serving] = np.where(rng.random(serving.sum()) < 0.55, JOB_TNI, JOB_POLRI)
    revoked = adult & (rng.random(m) < 0.0008)

    kec_issue = regions.desa_kec[desa[hh]].astype(np.int32)
    moved = rng.random(m) < 0.12
    kec_issue[moved] = rng.integers(0, len(regions.kec_code), moved.sum())

    nkk_prefix = kec6 * 1_000_000 + nik_prefix(np.zeros(n, np.int64), issue, np.zeros(n, np.int64))

    place_home = regions.desa_kab[desa[hh]]
    r = rng.random(m)
    n_kab = len(regions.kab_code)
    place = np.where(
        r < 0.75,
        place_home,
        np.where(
            r < 0.92, rng.integers(0, n_kab, m), n_kab + rng.integers(0, len(OUTSIDE_PLACES), m)
        ),
    ).astype(np.int16)

    pop = Population(
        hh=(hh + hh_offset).astype(np.int64),
        desa=desa[hh],
        rel=rel,
        member=k.astype(np.int16),
        sex=sex,
        birth=birth,
        kawin=kawin,
        job=job,
        death=np.full(m, ALIVE, dtype=np.int64),
        revoked=revoked,
        wna=np.zeros(m, dtype=bool),
        kec_issue=kec_issue,
        nik=np.zeros(m, np.int64),  # the prefix once births are final; serials come later
        nkk=nkk_prefix[hh],
        g1=np.full(m, -1, np.int32),
        g2=np.full(m, -1, np.int32),
        pre=np.full(m, -1, np.int32),
        patr=np.full(m, -1, np.int32),
        binb=np.full(m, -1, np.int32),
        title=np.full(m, -1, np.int32),
        degree=np.full(m, -1, np.int32),
        place=place,
        addr_style=style[hh].astype(np.int8),
        addr_word=word[hh].astype(np.int16),
        house=house[hh].astype(np.int16),
        rt=rt[hh].astype(np.int8),
        rw=rw[hh].astype(np.int8),
        disab=np.where(rng.random(m) < 0.015, rng.integers(1, 7, m), 0).astype(np.int8),
        ktp=adult & (rng.random(m) < 0.97),
        twin=np.zeros(m, dtype=bool),
        junior=np.zeros(m, dtype=bool),
        origin_desa=np.full(m, "", dtype=object),
    )
    join_multiple_births(pop, multiple_first, group_size, rng)
    pop.nik = nik_prefix(regions.kec_digits()[pop.kec_issue], pop.birth, pop.sex)
    assign_names(pop, ethnic[hh], mix_names, child_rank, age, vocab, rng)
    name_alike(pop, multiple_first, group_size, vocab, rng)
    # Two other children with alike names, born in different years (ranks 0 and 1).
    first_sib = np.flatnonzero(ch & (child_rank == 0) & alike_siblings[hh])
    year_of = pop.birth.astype("datetime64[D]").astype("datetime64[Y]")
    first_sib = first_sib[year_of[first_sib] != year_of[first_sib + 1]]
    name_alike(pop, first_sib, np.full(len(first_sib), 2), vocab, rng)
    name_after_father(pop, np.flatnonzero(ch & junior[hh] & (sex == 0) & (child_rank == 0)))
    return pop


def name_after_father(pop: Population, son: np.ndarray) -> None:
    """A son named after his father (the head): same given names, a different birth date."""
    heads = np.flatnonzero(pop.rel == REL_HEAD)
    head_of = heads[np.searchsorted(heads, son, side="right") - 1]
    for col in ("g1", "g2", "pre"):
        getattr(pop, col)[son] = getattr(pop, col)[head_of]
    pop.patr[son] = -1
    pop.binb[son] = -1
    pop.junior[son] = True
    pop.junior[head_of] = True


def default_birth_date(birth: np.ndarray, july: np.ndarray) -> np.ndarray:
    """1 July or 31 December of each birth's year."""
    year = birth.astype("datetime64[D]").astype("datetime64[Y]")
    first_july = (year.astype("datetime64[M]") + 6).astype("datetime64[D]").astype(np.int64)
    new_year_eve = ((year + 1).astype("datetime64[D]") - 1).astype(np.int64)
    return np.where(july, first_july, new_year_eve)


def join_multiple_births(
    pop: Population, first: np.ndarray, size: np.ndarray, rng: np.random.Generator
) -> None:
    """Make rows first, first+1 (, first+2) twins or triplets of the first-born.

    They share the birth date, the place of birth and the kecamatan that issued
    their NIK (registered together, so never the other kecamatan of only one),
    and the sex in about 2/3 of pairs; the NIK prefix is derived afterwards."""
    for j in (1, 2):
        head, later = first[size > j], first[size > j] + j
        pop.birth[later] = pop.birth[head]
        pop.place[later] = pop.place[head]
        pop.kec_issue[later] = pop.kec_issue[head]
        same = rng.random(len(later)) < P_TWINS_SAME_SEX
        pop.sex[later] = np.where(same, pop.sex[head], 1 - pop.sex[head])
        pop.twin[later] = True
    pop.twin[first] = True


def name_alike(
    pop: Population,
    first: np.ndarray,
    size: np.ndarray,
    vocab: Vocab,
    rng: np.random.Generator,
    table_share: float = ALIKE_TABLE_SHARE,
) -> None:
    """Given names for the children after `first` alike to the first one's.

    A share of groups take a pair from the table in names.py (both names
    replaced); the others keep the first child's name and derive the next by
    the rules there. The other name parts follow the first child so that the
    children look alike; BIN/BINTI follows each child's sex."""
    g1, sex = pop.g1, pop.sex
    second = first + 1
    s1, s2 = sex[first], sex[second]
    kind = np.where(s1 != s2, 2, s1)
    # The rules make poorer names across sexes (HALIMAH/HALIMOH), so mixed pairs use the table more.
    use_table = rng.random(len(first)) < np.where(kind == 2, max(0.8, table_share), table_share)
    pick, swap = rng.random(len(first)), rng.random(len(first)) < 0.5
    for k, table in enumerate((vocab.pairs_l, vocab.pairs_p, vocab.pairs_lp)):
        sel = np.flatnonzero(use_table & (kind == k))
        rows = table[(pick[sel] * len(table)).astype(np.int64)]
        # Mixed pairs are (male, female); same-sex pairs go either way round.
        flip = (s1[sel] == 1) if k == 2 else swap[sel]
        g1[first[sel]] = np.where(flip, rows[:, 1], rows[:, 0])
        g1[second[sel]] = np.where(flip, rows[:, 0], rows[:, 1])
    # Across sexes the daughter's name comes from her brother's (SANTO/SANTI): the
    # rules turn few girls' names into boys' names that exist (NURHASANAH/NURHASANOH).
    same = np.flatnonzero(~use_table & (s1 == s2))
    g1[second[same]] = vocab.alike[g1[first[same]], 0]
    mixed = np.flatnonzero(~use_table & (s1 != s2))
    brother = np.where(s1[mixed] == 0, first[mixed], second[mixed])
    sister = np.where(s1[mixed] == 0, second[mixed], first[mixed])
    g1[sister] = vocab.alike[g1[brother], 2]
    tri = np.flatnonzero(size >= 3)
    if len(tri):
        # The third name is derived from a drawn or table name (a derived one has no rules).
        one, two, third = first[tri], second[tri], first[tri] + 2
        base = np.where(vocab.alike[g1[one], 0] >= 0, one, two)
        wanted = np.where(sex[third] == sex[base], 1, np.where(sex[base] == 0, 2, 3))
        name = np.full(len(tri), -1, np.int32)
        for c in (wanted, np.full(len(tri), 1), np.full(len(tri), 0)):
            cand = vocab.alike[g1[base], c]
            free = (name < 0) & (cand >= 0) & (cand != g1[one]) & (cand != g1[two])
            name[free] = cand[free]
        g1[third] = np.where(name >= 0, name, g1[third])
    for j in (1, 2):
        head, later = first[size > j], first[size > j] + j
        pop.g2[later] = pop.g2[head]
        pop.patr[later] = pop.patr[head]
        pop.binb[later] = np.where(pop.patr[head] >= 0, vocab.bin_binti[sex[later]], -1)


def plant_twins(
    pop: Population,
    first: np.ndarray,
    birth: np.ndarray,
    ref: date,
    kec_digits: np.ndarray,
    vocab: Vocab,
    rng: np.random.Generator,
) -> None:
    """Turn the children at rows first, first+1 into twins born on `birth`.

    For small provinces, where too few twins are drawn to meet every hard case;
    the rows must be two children of a household without twins."""
    size = np.full(len(first), 2)
    pop.birth[first] = birth
    join_multiple_births(pop, first, size, rng)
    # The table only: a child's given name was drawn for the sex it had before.
    name_alike(pop, first, size, vocab, rng, table_share=1.0)
    both = np.r_[first, first + 1]
    # A teenager made younger has no KTP-el yet and no degree.
    young = both[~aged_17_by(pop.birth[both], ref)]
    pop.ktp[young], pop.degree[young], pop.title[young] = False, -1, -1
    pop.nik[both] = nik_prefix(kec_digits[pop.kec_issue[both]], pop.birth[both], pop.sex[both])


def assign_names(
    pop: Population,
    ethnic: np.ndarray,
    mix_names: list[str],
    child_rank: np.ndarray,
    age: np.ndarray,
    vocab: Vocab,
    rng: np.random.Generator,
) -> None:
    m = len(pop)
    female = pop.sex == 1
    for e_idx, e in enumerate(mix_names):
        sel = np.flatnonzero(ethnic == e_idx)
        if not len(sel):
            continue
        male_l, female_l, male2, female2 = vocab.lists[e]
        arab_share = ARAB.get(e, 0.35)
        fem = female[sel]
        use_arab = rng.random(len(sel)) < arab_share
        g1 = np.where(fem, rng.choice(female_l, len(sel)), rng.choice(male_l, len(sel)))
        arab_g1 = np.where(
            fem, rng.choice(vocab.arab[1], len(sel)), rng.choice(vocab.arab[0], len(sel))
        )
        pop.g1[sel] = np.where(use_arab, arab_g1, g1)
        two = rng.random(len(sel)) < TWO_WORDS.get(e, 0.65)
        m2 = male2 if len(male2) else vocab.arab[2]
        f2 = female2 if len(female2) else vocab.arab[3]
        g2 = np.where(fem, rng.choice(f2, len(sel)), rng.choice(m2, len(sel)))
        if e == "BATAK":
            # The clan is the household head's; wives keep their own.
            clan_of_hh = rng.choice(male2, pop.hh.max() + 1)
            g2 = np.where(
                pop.rel[sel] == REL_SPOUSE, rng.choice(male2, len(sel)), clan_of_hh[pop.hh[sel]]
            )
            two[:] = True
        pop.g2[sel] = np.where(two, g2, -1)
        if e == "BALI":
            order = np.where(
                pop.rel[sel] == REL_CHILD, child_rank[sel] % 4, rng.integers(0, 7, len(sel))
            )
            pop.pre[sel] = np.where(fem, vocab.bali_f[order], vocab.bali_m[order])
        p_bin = 0.10 if e in ("BANTEN", "BETAWI", "MADURA") else 0.04
        with_bin = rng.random(len(sel)) < p_bin
        pop.patr[sel] = np.where(with_bin, rng.choice(male_l, len(sel)), -1)
        pop.binb[sel] = np.where(with_bin, vocab.bin_binti[fem.astype(int)], -1)
        muslim = e not in ("BALI", "BATAK")
        hajj = muslim & (age[sel] >= 45) & (rng.random(len(sel)) < 0.07)
        pop.title[sel] = np.where(hajj, vocab.pre_titles[fem.astype(int)], -1)
    old = (age >= 45) & (pop.title < 0) & (rng.random(m) < 0.012)
    pop.title[old] = rng.choice(vocab.pre_titles[2:], old.sum())
    grad = (age >= 23) & (age < 66) & (rng.random(m) < 0.045)
    pop.degree[grad] = rng.choice(vocab.degrees, grad.sum())


ARAB = {
    "BALI": 0.0,
    "BATAK": 0.12,
    "UMUM": 0.25,
    "SUNDA": 0.3,
    "BANTEN": 0.45,
    "BETAWI": 0.45,
    "JAWA": 0.25,
    "MADURA": 0.5,
    "MINANG": 0.4,
}
TWO_WORDS = {"JAWA": 0.45, "UMUM": 0.85, "BALI": 0.0, "MADURA": 0.5}


def assign_nik_serials(prefix: np.ndarray, taken: dict[int, int] | None = None) -> np.ndarray:
    """Full NIKs from 12-digit prefixes: serials 0001.. unique within a prefix."""
    serial = rank_within(prefix) + 1
    if taken:
        base = np.array([taken.get(int(p), 0) for p in prefix], dtype=np.int64)
        serial = serial + base
    return prefix * 10_000 + serial
