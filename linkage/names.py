"""Indonesian name normalisation for record comparison.

Sources spell the same person differently: titles and degrees come and go,
Arabic-origin names have many romanisations (MUHAMMAD, MOCH., M.), old
Dutch-era spelling survives (SOEKARNO, DJOKO, TJAHJO), and patronymics may be
written with or without BIN/BINTI. These pure functions map such variants to
one canonical form, so that Splink compares what the names mean rather than how
a clerk typed them. The original `nama` is never changed; the forms here are
comparison keys only.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

# Titles and degrees, written without dots or spaces (S.PD. -> SPD). Matched
# against a token with its punctuation removed, so "S.Pd.", "S.PD" and "SPD"
# are one entry. Kept conservative: each is rarely a real given name.
TITLES = frozenset(
    {
        "H",
        "HJ",
        "HAJI",
        "HAJJAH",
        "KH",
        "DRS",
        "DRA",
        "IR",
        "DR",
        "PROF",
        "DRG",
        "DRH",
        "SPD",
        "SPDI",
        "SPDSD",
        "SH",
        "SHI",
        "SE",
        "SSOS",
        "SAG",
        "SKOM",
        "SKM",
        "SKEP",
        "SPSI",
        "SSI",
        "ST",
        "SIP",
        "SP",
        "SS",
        "SHUT",
        "SFARM",
        "AMD",
        "AMA",
        "AMAPD",
        "AMK",
        "AMKEB",
        "AMDKEB",
        "MM",
        "MSI",
        "MPD",
        "MH",
        "MAG",
        "MT",
        "MKES",
        "MBA",
        "MSC",
        "MA",
        "PHD",
        "BA",
        "BSC",
        "LC",
        "SKED",
        "SPOG",
        "SPA",
        "APT",
        "NS",
        "TGK",
        "TENGKU",
        "RADEN",
        "RA",
        "RR",
        "RM",
        "USTADZ",
        "UST",
        "KYAI",
        "ALM",
        "ALMH",
        "ALMARHUM",
        "ALMARHUMAH",
    }
)

# Multi-letter titles that are also plausible name tokens are only stripped when
# written with a dot or inside a comma-separated degree tail (see _strip_titles).
AMBIGUOUS_TITLES = frozenset({"SE", "ST", "SS", "MA", "RA", "BA", "SP", "MT", "LC", "NS"})

# Spelling families mapped to one canonical token (applied after old-spelling
# rewriting, so DJ/TJ/OE variants arrive here already modernised).
CANONICAL_TOKENS: dict[str, str] = {
    **dict.fromkeys(
        [
            "MUHAMMAD",
            "MUHAMAD",
            "MUHAMMED",
            "MUHAMED",
            "MOHAMMAD",
            "MOHAMAD",
            "MOHAMMED",
            "MOHAMED",
            "MOHAMAD",
            "MOCHAMMAD",
            "MOCHAMAD",
            "MOKHAMAD",
            "MOKHAMMAD",
            "MUCHAMMAD",
            "MUCHAMAD",
            "MUKHAMAD",
            "MUKHAMMAD",
            "MOCH",
            "MOH",
            "MUH",
            "MUHD",
            "MHD",
            "MOHD",
            "MD",
            "M",
            "MOKH",
            "MUKH",
        ],
        "MUHAMAD",
    ),
    **dict.fromkeys(["ACHMAD", "AHMAD", "AKHMAD", "AHMED", "ACHMED", "AHMAT", "ACHMAT"], "AHMAD"),
    **dict.fromkeys(
        ["SYAIFUL", "SAIFUL", "SAIFUL", "SYAEFUL", "SAEFUL", "SYAIPUL", "SAIPUL"], "SAIFUL"
    ),
    **dict.fromkeys(["SYAIFUDIN", "SAIFUDIN", "SAIFUDDIN", "SYAIFUDDIN"], "SAIFUDIN"),
    **dict.fromkeys(["ABDUL", "ABD", "ABDOEL", "ABDUL"], "ABDUL"),
    **dict.fromkeys(["NUR", "NOOR", "NOER", "NUUR"], "NUR"),
    **dict.fromkeys(["SITI", "SITTI", "SITTIE"], "SITI"),
    **dict.fromkeys(["YUSUF", "YUSUP", "JUSUF", "YOESOEF"], "YUSUF"),
    **dict.fromkeys(["RAHMAN", "RACHMAN", "RAKHMAN"], "RAHMAN"),
    **dict.fromkeys(["RAHMAT", "RACHMAT", "RAKHMAT", "RAHMAD", "RACHMAD"], "RAHMAT"),
    **dict.fromkeys(["FATIMAH", "FATIMA", "FATIMAH"], "FATIMAH"),
}

PATRONYMIC_MARKERS = frozenset({"BIN", "BINTI", "BT", "BINT"})

# Old (pre-1972 and Dutch-era) spellings. Order matters: DJ before J->Y so that
# DJOKO -> JOKO and stays so; CH becomes KH (ACHMAD -> AKHMAD) before families.
_OLD_SPELLINGS: tuple[tuple[str, str], ...] = (
    ("OE", "U"),
    ("DJ", "J"),
    ("TJ", "C"),
    ("SJ", "SY"),
    ("CH", "KH"),
)
_NON_LETTER = re.compile(r"[^A-Z ]+")
_DOUBLED = re.compile(r"([A-Z])\1+")


def _split_raw_tokens(nama: str) -> list[str]:
    """Tokens of an upper-cased name, keeping dots so titles can be recognised."""
    text = nama.upper().replace(",", " , ")
    return [t for t in re.split(r"\s+", text) if t]


@lru_cache(maxsize=200_000)
def _bare(token: str) -> str:
    return re.sub(r"[^A-Z]", "", token)


def _strip_titles(raw_tokens: list[str]) -> list[str]:
    """Remove title and degree tokens; a comma starts the degree tail, where
    every following token is a degree (e.g. 'SITI AMINAH, S.PD., M.M')."""
    kept: list[str] = []
    in_degree_tail = False
    for token in raw_tokens:
        if token == ",":
            in_degree_tail = True
            continue
        if in_degree_tail:
            continue
        bare = _bare(token)
        if not bare:
            continue
        if bare in TITLES and (bare not in AMBIGUOUS_TITLES or "." in token):
            continue
        kept.append(token)
    # Degrees written after the name without a comma ('SITI AMINAH SE').
    while len(kept) > 2 and _bare(kept[-1]) in TITLES:
        kept.pop()
    return kept


def modernise_spelling(token: str) -> str:
    """Rewrite old spellings (OE->U, DJ->J, TJ->C, CH->KH) and collapse doubled
    letters, so SOEKARNO and SUKARNO, MUHAMMAD and MUHAMAD meet."""
    for old, new in _OLD_SPELLINGS:
        token = token.replace(old, new)
    return _DOUBLED.sub(r"\1", token)


# Tokens repeat far more than names: a province's few hundred thousand names
# are made of some tens of thousands of tokens, so the per-token work is cached.
@lru_cache(maxsize=200_000)
def canonical_token(token: str) -> str:
    """One canonical spelling for a token of a known family (MOCH. -> MUHAMAD)."""
    bare = re.sub(r"[^A-Z]", "", token.upper())
    if bare in CANONICAL_TOKENS:
        return CANONICAL_TOKENS[bare]
    modern = modernise_spelling(bare)
    return CANONICAL_TOKENS.get(modern, modern)


def name_tokens(nama: str | None) -> list[str]:
    """Canonical tokens of a name in their written order: titles removed,
    spelling modernised, BIN/BINTI dropped (the father's name is kept)."""
    if not nama:
        return []
    tokens = [canonical_token(t) for t in _strip_titles(_split_raw_tokens(nama))]
    return [t for t in tokens if t and t not in PATRONYMIC_MARKERS]


NameForms = tuple[str | None, str | None, str | None, str | None]


@lru_cache(maxsize=500_000)
def name_forms(nama: str | None) -> NameForms:
    """(normalised, sorted, first-token key, sorted key) of a name: the forms
    the link and dedupe stages compare and block on, and the warehouse stores
    per distinct name. Cached because a list repeats the same names."""
    tokens = name_tokens(nama)
    if not tokens:
        return None, None, None, None
    ordered = sorted(tokens)
    sorted_key = " ".join(k for k in (phonetic_key(t) for t in ordered) if k)
    return " ".join(tokens), " ".join(ordered), phonetic_key(tokens[0]), sorted_key or None


def normalise_name(nama: str | None) -> str | None:
    """The canonical comparison form of a name, or None when nothing is left."""
    return name_forms(nama)[0]


def sorted_name(nama: str | None) -> str | None:
    """Canonical tokens in alphabetical order, for names written in another order."""
    return name_forms(nama)[1]


def first_token(nama: str | None) -> str | None:
    tokens = name_tokens(nama)
    return tokens[0] if tokens else None


def last_token(nama: str | None) -> str | None:
    tokens = name_tokens(nama)
    return tokens[-1] if tokens else None


# A coarse phonetic key for blocking: letters that Indonesian spelling and
# clerks confuse are merged, vowels after the first letter dropped. Coarser
# than the comparison, so a typo rarely moves a record out of its block.
_PHONETIC_MERGES: tuple[tuple[str, str], ...] = (
    ("KH", "K"),
    ("SY", "S"),
    ("NY", "N"),
    ("NG", "N"),
    ("Q", "K"),
    ("C", "K"),
    ("Z", "S"),
    ("X", "S"),
    ("V", "F"),
    ("P", "F"),
    ("D", "T"),
    ("B", "F"),
    ("G", "K"),
    ("J", "Y"),
    ("H", ""),
    ("W", ""),
)


@lru_cache(maxsize=200_000)
def phonetic_key(token: str | None) -> str | None:
    """A sound-alike key of one token (SYAIFUL, SAIPUL -> SFL)."""
    if not token:
        return None
    text = _NON_LETTER.sub("", token.upper())
    if not text:
        return None
    for old, new in _PHONETIC_MERGES:
        text = text.replace(old, new)
    if not text:
        return None
    head, tail = text[0], re.sub(r"[AEIOUY]", "", text[1:])
    key = _DOUBLED.sub(r"\1", head + tail)
    return key[:6]


def _forms_version() -> str:
    """What the stored name forms depend on, as a digest: every rule table of
    this module and the forms of probe names that run every rule (each title,
    canonical token, patronymic marker, old spelling and phonetic merge).
    Editing a comment leaves it alone; changing what a name becomes changes
    it, and the warehouse then recomputes the forms it stores."""
    probes = [
        *sorted(TITLES), *sorted(AMBIGUOUS_TITLES), *sorted(CANONICAL_TOKENS),
        *(f"ANDI {m} ROHMAN" for m in sorted(PATRONYMIC_MARKERS)),
        *(f"{old}ONO S{old}A" for old, _ in _OLD_SPELLINGS),
        *(f"A{a}I{a}" for a, _ in _PHONETIC_MERGES),
        "H. MUHAMMAD ROFI'I, S.PD", "Dra. SITI  NURHALIZAH", "IR. SOEKARNO", "bin", "", None,
    ]  # fmt: skip
    tables = (sorted(TITLES), sorted(AMBIGUOUS_TITLES), sorted(CANONICAL_TOKENS.items()),
              sorted(PATRONYMIC_MARKERS), _OLD_SPELLINGS, _PHONETIC_MERGES,
              _NON_LETTER.pattern, _DOUBLED.pattern)  # fmt: skip
    text = repr((tables, [name_forms(p) for p in probes]))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Which rules made stored name forms (pdpb's core.name_forms keeps it per row).
NAME_FORMS_VERSION = _forms_version()
