"""Indonesian names for the generator: regional vocabularies and spelling noise.

Names are stored per person as indices into one vocabulary, so that millions of
people cost a few integer columns and a name is only turned into text when a
file is written. The province picks an ethnic mix (Sundanese, Betawi and
Bantenese for Banten; Javanese and Madurese for Jawa Timur; Balinese birth-order
names; Batak clans; Minang), with Faker's id_ID lists as the generic fallback.
The noise functions reproduce how the same person is spelled differently by a
registration clerk or another agency (abbreviations, old Dutch-era spelling,
typos, titles added or dropped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from faker.providers.person.id_ID import Provider as FakerId

ARAB_M = [
    "MUHAMMAD",
    "AHMAD",
    "ABDUL",
    "ABDULLAH",
    "HASAN",
    "HUSEIN",
    "IBRAHIM",
    "ISMAIL",
    "YUSUF",
    "SYAIFUL",
    "RIDWAN",
    "FAUZI",
    "ZAENAL",
    "NUR",
    "RAHMAT",
    "HIDAYATULLAH",
    "SYAMSUL",
    "ABDUL",
    "ROHMAN",
    "MUHAMAD",
    "ALI",
    "UMAR",
]
ARAB_F = [
    "SITI",
    "NUR",
    "FATIMAH",
    "AISYAH",
    "KHADIJAH",
    "AMINAH",
    "ZAHRA",
    "NURHASANAH",
    "MAEMUNAH",
    "SALMA",
    "HALIMAH",
    "ROHMAH",
]
ARAB_M2 = [
    "RAHMAN",
    "HAKIM",
    "HIDAYAT",
    "FAUZAN",
    "MAULANA",
    "ROHMAN",
    "SYARIF",
    "HAMZAH",
    "RIDWAN",
]
ARAB_F2 = ["AMINAH", "KHOIRIYAH", "NURJANAH", "ZAKIYAH", "FAUZIAH", "MARYAM", "HASANAH"]

# Per ethnicity: (male given, female given, male second, female second).
ETHNIC: dict[str, tuple[list[str], list[str], list[str], list[str]]] = {
    "SUNDA": (
        [
            "ASEP",
            "UJANG",
            "DEDE",
            "CECEP",
            "DADANG",
            "DEDI",
            "YAYAN",
            "ENDANG",
            "ADE",
            "AGUS",
            "IWAN",
            "UDIN",
            "DIDIN",
            "JAJANG",
            "AAN",
            "OMAN",
            "ENCEP",
            "WAWAN",
            "DODI",
            "ENJANG",
        ],
        [
            "EUIS",
            "NENG",
            "IIS",
            "TITIN",
            "YAYAH",
            "ENOK",
            "IMAS",
            "NENENG",
            "YENI",
            "ROSITA",
            "NUNUNG",
            "ENTIN",
            "ELIS",
            "CUCU",
            "NINING",
            "LILIS",
            "TATI",
            "ENOH",
            "DEDEH",
            "YUYUN",
        ],
        [
            "SUPRIATNA",
            "HIDAYAT",
            "SOMANTRI",
            "KURNIAWAN",
            "SETIAWAN",
            "RUKMANA",
            "SAEPUDIN",
            "SUHENDAR",
            "MULYANA",
            "SUNARYA",
            "PERMANA",
            "NUGRAHA",
        ],
        [
            "SURYANI",
            "RAHAYU",
            "KOMALASARI",
            "NURHAYATI",
            "SUMIATI",
            "YULIANTI",
            "MULYANI",
            "HERLINA",
        ],
    ),
    "BANTEN": (
        [
            "JAENUDIN",
            "SARMAN",
            "MASTUR",
            "SAMSUDIN",
            "KHAERUL",
            "SUKRI",
            "NAWAWI",
            "JAHRI",
            "MADSAHI",
            "SANUSI",
            "MAHDI",
            "RAPIUDIN",
            "SARTA",
            "JUHDI",
        ],
        [
            "SANIAH",
            "MASITOH",
            "JUBAEDAH",
            "RUKAYAH",
            "MAEMUNAH",
            "HAERIYAH",
            "SUHAENAH",
            "SAPIAH",
            "NAPISAH",
            "ROHANAH",
            "MASRIPAH",
            "ARNASIH",
        ],
        ["SUHENDRA", "MULYADI", "HERMAWAN", "SUPRIADI", "SOPIAN"],
        ["MULYATI", "SUHAENI", "ROSIDAH"],
    ),
    "BETAWI": (
        [
            "MAMAT",
            "ROJALI",
            "MUHIDIN",
            "SAMAN",
            "ROJAK",
            "ENTONG",
            "SABENI",
            "MIAN",
            "NAMIN",
            "ROHIM",
            "JUPRI",
            "SAIDI",
        ],
        [
            "MINAH",
            "ENCUM",
            "ROSIAH",
            "MUNAROH",
            "MASNAH",
            "ZAENAB",
            "MAESAROH",
            "MUNAH",
            "SALMAH",
            "NURLELA",
        ],
        ["SAPUTRA", "SAMSUDIN"],
        ["SARI"],
    ),
    "JAWA": (
        [
            "SUPARMAN",
            "SUKARNO",
            "SUTRISNO",
            "BAMBANG",
            "SLAMET",
            "SUGENG",
            "WAHYU",
            "JOKO",
            "HERU",
            "PRIYONO",
            "SUYANTO",
            "HARYANTO",
            "BUDI",
            "TRI",
            "EKO",
        ],
        [
            "SRI",
            "SUMARNI",
            "SUPARTI",
            "WINARSIH",
            "SUKINAH",
            "PARTINI",
            "TUMINAH",
            "SULASTRI",
            "SUWARNI",
            "ENDANG",
            "DWI",
        ],
        ["SANTOSO", "WIBOWO", "PRASETYO", "NUGROHO", "SETIAWAN", "SAPUTRO", "HARTONO"],
        ["LESTARI", "RAHAYU", "WULANDARI", "ASTUTI", "HANDAYANI", "PURWANTI"],
    ),
    "MADURA": (
        ["SUHRI", "MATRAWI", "SUNAJI", "HOSNAN", "MARSUKI", "MOH", "SAMHADI", "ROFIK"],
        ["SUNIYAH", "MUSLIHAH", "HOTIMAH", "SUMIYATI", "MAISAROH", "JUMATI"],
        ["HOLIS", "ROHIM"],
        ["HASANAH"],
    ),
    "BALI": (
        [
            "SUDARSANA",
            "ARTAWAN",
            "SUARDANA",
            "MERTAYASA",
            "WIRAWAN",
            "SUASTIKA",
            "ADNYANA",
            "SUPARTA",
        ],
        ["SRIANI", "ARIANI", "SUARNI", "WIDIASIH", "SUSANTI", "MURNIATI"],
        [],
        [],
    ),
    "BATAK": (
        ["TIGOR", "BONAR", "POLTAK", "HOTMAN", "PARLINDUNGAN", "SAHAT", "JONNER", "MARULI"],
        ["ROSDIANA", "TIURMA", "LAMRIA", "MERIATI", "ROMAULI", "NURHAIDA"],
        [
            "SIREGAR",
            "SIMANJUNTAK",
            "NASUTION",
            "LUBIS",
            "HUTAGALUNG",
            "SIMATUPANG",
            "SITUMORANG",
            "PANJAITAN",
            "SINAGA",
            "TAMPUBOLON",
            "HARAHAP",
            "MANURUNG",
        ],
        [],
    ),
    "MINANG": (
        [
            "YOSE",
            "AFRIZAL",
            "ZULKIFLI",
            "EFENDI",
            "YUSRIZAL",
            "SYAFRIL",
            "NASRUL",
            "DASRIL",
            "ZULHENDRI",
        ],
        ["YUSNIDAR", "ELFIRA", "ROSMANIAR", "DESRITA", "YASNIDAR", "ERNAWATI"],
        ["PUTRA", "CHANIAGO", "TANJUNG", "PILIANG"],
        ["PUTRI"],
    ),
    "UMUM": (
        [n.upper() for n in FakerId.first_names_male],
        [n.upper() for n in FakerId.first_names_female],
        [n.upper() for n in FakerId.last_names_male],
        [n.upper() for n in FakerId.last_names_female],
    ),
}

# Ethnic mix per province; shares sum to 1. Unknown provinces use UMUM with some Javanese.
PROVINCE_MIX: dict[str, dict[str, float]] = {
    "36": {"SUNDA": 0.38, "BANTEN": 0.27, "BETAWI": 0.14, "JAWA": 0.11, "UMUM": 0.10},
    "35": {"JAWA": 0.72, "MADURA": 0.20, "UMUM": 0.08},
    "51": {"BALI": 0.86, "JAWA": 0.08, "UMUM": 0.06},
    "12": {"BATAK": 0.45, "JAWA": 0.30, "MINANG": 0.05, "UMUM": 0.20},
    "13": {"MINANG": 0.85, "BATAK": 0.05, "JAWA": 0.04, "UMUM": 0.06},
    "32": {"SUNDA": 0.75, "JAWA": 0.12, "BETAWI": 0.05, "UMUM": 0.08},
    "31": {"BETAWI": 0.30, "JAWA": 0.30, "SUNDA": 0.15, "UMUM": 0.25},
}
DEFAULT_MIX = {"UMUM": 0.7, "JAWA": 0.3}
# Arabic-origin given names are common everywhere but in Bali and among Batak Christians.
ARAB_SHARE = {"BALI": 0.0, "BATAK": 0.12, "UMUM": 0.25}
BALI_ORDER_M = ("I WAYAN", "I MADE", "I NYOMAN", "I KETUT", "I PUTU", "I KADEK", "I KOMANG")
BALI_ORDER_F = ("NI WAYAN", "NI MADE", "NI NYOMAN", "NI KETUT", "NI PUTU", "NI KADEK", "NI LUH")
PRE_TITLES = ("H.", "HJ.", "DRS.", "IR.", "DR.")

# Given names parents choose for twins (and some siblings): one letter apart or
# rhyming. Both sexes' pairs are (first, second); mixed pairs are (male, female).
ALIKE_PAIRS_L = (
    ("HASAN", "HUSEIN"),
    ("DIMAS", "DAMAR"),
    ("FAJAR", "FAJRI"),
    ("NANDA", "NANDI"),
    ("ARDI", "ANDI"),
    ("DEDI", "DODI"),
    ("YUDA", "YUDI"),
    ("RAFI", "RAFA"),
    ("ARIF", "ARIS"),
    ("AGUS", "BAGUS"),
    ("WAWAN", "IWAN"),
    ("RIFKI", "RIZKI"),
    ("REZA", "REZI"),
)
ALIKE_PAIRS_P = (
    ("RINA", "RINI"),
    ("DINA", "DINI"),
    ("RENI", "RANI"),
    ("FITRI", "FITRA"),
    ("LINA", "LINDA"),
    ("YANI", "YANTI"),
    ("INDAH", "INTAN"),
    ("NISA", "NISWA"),
    ("ELIS", "ELIN"),
    ("SITI", "SARI"),
    ("NUNUNG", "NENENG"),
)
ALIKE_PAIRS_LP = (
    ("RIZKI", "RIZKA"),
    ("DEWA", "DEWI"),
    ("PUTRA", "PUTRI"),
    ("EKO", "EKA"),
    ("SANTO", "SANTI"),
    ("YUDI", "YUNI"),
    ("NANDO", "NANDA"),
    ("HASAN", "HASANAH"),
    ("SUPARNO", "SUPARNI"),
    ("HARTO", "HARTI"),
)
_VOWELS = "AIUEO"
# Where no pair fits, a rule makes the alike name from the first child's. The
# maps never return the vowel they are given, and the two same-sex maps never
# agree, so a child's two alike names always differ from it and from each other.
LAST_VOWEL = {"A": "I", "I": "A", "E": "I", "O": "I", "U": "I"}  # RINA/RINI, ENDANG/ENDING
FIRST_VOWEL = {"A": "U", "I": "A", "E": "O", "O": "E", "U": "A"}  # DEDI/DODI, ASEP/USEP
OTHER_LAST_VOWEL = {"A": "U", "I": "U", "E": "A", "O": "A", "U": "A"}
# A daughter's name from her twin brother's, and back: Javanese -O / -I (SANTO/SANTI).
TO_FEMALE_VOWEL = {"A": "I", "I": "A", "E": "I", "O": "I", "U": "I"}
TO_MALE_VOWEL = {"A": "O", "I": "O", "E": "O", "U": "O", "O": "A"}


def change_vowel(name: str, mapping: dict[str, str], last: bool = True) -> str:
    """The last (or first) vowel of `name` replaced; a vowel appended if it has none."""
    positions = [i for i, c in enumerate(name) if c in _VOWELS]
    if not positions:
        return name + "I"
    i = positions[-1] if last else positions[0]
    return name[:i] + mapping[name[i]] + name[i + 1 :]


def alike_rules(name: str) -> tuple[str, str, str, str]:
    """(same-sex alike, a second same-sex alike, as a daughter's name, as a son's name)."""
    # SALMAH/SALMA rather than SALMAH/SALMIH.
    ends_vowel_h = len(name) >= 4 and name[-1] == "H" and name[-2] in _VOWELS
    same1 = name[:-1] if ends_vowel_h else change_vowel(name, LAST_VOWEL)
    same2 = change_vowel(name, FIRST_VOWEL, last=False)
    if same2 in (name, same1):  # one vowel only: the first is the last
        same2 = change_vowel(name, OTHER_LAST_VOWEL)
    return same1, same2, change_vowel(name, TO_FEMALE_VOWEL), change_vowel(name, TO_MALE_VOWEL)


DEGREES = (", S.PD.", ", S.H.", ", SE", ", S.KOM", ", S.AG", ", A.MD")


@dataclass(frozen=True)
class Vocab:
    """One vocabulary for every name token, with per-ethnicity index arrays."""

    words: list[str]
    index: dict[str, int]
    ethnic: list[str]
    lists: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    arab: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    bali_m: np.ndarray
    bali_f: np.ndarray
    pre_titles: np.ndarray
    degrees: np.ndarray
    bin_binti: np.ndarray  # [BIN, BINTI]
    # Per word: [same sex, second same sex, as a daughter's, as a son's] alike given name.
    alike: np.ndarray
    # Table pairs as word ids, shape (k, 2): male, female, and (male, female) mixed.
    pairs_l: np.ndarray
    pairs_p: np.ndarray
    pairs_lp: np.ndarray


def build_vocab() -> Vocab:
    words: list[str] = []
    index: dict[str, int] = {}

    def ids(tokens: list[str] | tuple[str, ...]) -> np.ndarray:
        out = []
        for t in tokens:
            if t not in index:
                index[t] = len(words)
                words.append(t)
            out.append(index[t])
        return np.array(out, dtype=np.int32)

    lists = {name: (ids(m), ids(f), ids(m2), ids(f2)) for name, (m, f, m2, f2) in ETHNIC.items()}
    arab = (ids(ARAB_M), ids(ARAB_F), ids(ARAB_M2), ids(ARAB_F2))
    bali_m, bali_f = ids(BALI_ORDER_M), ids(BALI_ORDER_F)
    pre_titles, degrees, bin_binti = ids(PRE_TITLES), ids(DEGREES), ids(("BIN", "BINTI"))
    tables = (ALIKE_PAIRS_L, ALIKE_PAIRS_P, ALIKE_PAIRS_LP)
    pairs = [ids([w for pair in table for w in pair]).reshape(-1, 2) for table in tables]
    # Every word a first child's given name can be: the given-name lists and the table.
    given = [words[i] for lst in (*lists.values(), arab) for i in np.concatenate(lst[:2]).tolist()]
    given += [w for table in tables for pair in table for w in pair]
    given = list(dict.fromkeys(given))
    # Derived names join the vocabulary after every listed word, so no listed word's id moves.
    derived = {w: ids(list(alike_rules(w))) for w in given}
    alike = np.full((len(words), 4), -1, np.int32)
    for w, row in derived.items():
        alike[index[w]] = row
    for male, female in pairs[2].tolist():
        alike[male, 2], alike[female, 3] = female, male
    return Vocab(
        words=words,
        index=index,
        ethnic=list(ETHNIC),
        lists=lists,
        arab=arab,
        bali_m=bali_m,
        bali_f=bali_f,
        pre_titles=pre_titles,
        degrees=degrees,
        bin_binti=bin_binti,
        alike=alike,
        pairs_l=pairs[0],
        pairs_p=pairs[1],
        pairs_lp=pairs[2],
    )


def province_mix(province: str) -> tuple[list[str], np.ndarray]:
    mix = PROVINCE_MIX.get(province, DEFAULT_MIX)
    names = sorted(mix)
    p = np.array([mix[n] for n in names])
    return names, p / p.sum()


# --- spelling noise on rendered names (applied to small subsets, row by row) ---

ABBREVIATIONS = {
    "MUHAMMAD": ("MUH.", "MOCH.", "M.", "MUHAMAD", "MOCHAMMAD", "MOH.", "MOHAMAD"),
    "MUHAMAD": ("MUHAMMAD", "M.", "MOCH."),
    "AHMAD": ("ACHMAD", "AHMAD", "A."),
    "ABDUL": ("ABD.", "ABDOEL"),
    "SYAIFUL": ("SAIFUL", "SYAIPUL"),
    "SITI": ("ST.", "SITTI"),
    "NUR": ("NOER", "NURUL"),
}
_OLD_SPELLING = (("U", "OE"), ("J", "DJ"), ("C", "TJ"), ("Y", "J"))
_TITLE_RE = re.compile(r"^(H\.|HJ\.|DRS\.|IR\.|DR\.)\s+|,\s*[A-Z.]+$")


def abbreviate(name: str, rng: np.random.Generator) -> str:
    words = name.split(" ")
    for i, w in enumerate(words):
        if w in ABBREVIATIONS:
            alts = ABBREVIATIONS[w]
            words[i] = alts[int(rng.integers(len(alts)))]
            return " ".join(words)
    # No common given name to shorten: shorten the last word to an initial.
    if len(words) >= 2 and not words[-1].startswith(","):
        words[-1] = words[-1][0] + "."
    return " ".join(words)


def old_spelling(name: str, rng: np.random.Generator) -> str:
    for new, old in rng.permutation(np.array(_OLD_SPELLING, dtype=object)):
        pos = name.find(new)
        if pos >= 0:
            return name[:pos] + old + name[pos + 1 :]
    return name + "H" if not name.endswith("H") else name[:-1]


def typo(name: str, rng: np.random.Generator) -> str:
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    if len(letters) < 3:
        return name + "A"
    i = letters[int(rng.integers(1, len(letters)))]
    kind = int(rng.integers(4))
    if kind == 0:  # dropped letter
        return name[:i] + name[i + 1 :]
    if kind == 1:  # doubled letter
        return name[:i] + name[i] + name[i:]
    if kind == 2 and i + 1 < len(name) and name[i + 1].isalpha():  # swapped neighbours
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    vowels = "AIUEO"
    repl = vowels[int(rng.integers(5))] if name[i] in vowels else name[i]
    return name[:i] + repl + name[i + 1 :] if repl != name[i] else name[:i] + name[i + 1 :]


def drop_titles(name: str) -> str:
    stripped = _TITLE_RE.sub("", name).strip()
    return _TITLE_RE.sub("", stripped).strip() or name


def add_title(name: str, female: bool) -> str:
    if name.startswith(("H. ", "HJ. ")):
        return name
    return ("HJ. " if female else "H. ") + name


NOISE_FUNCS = ("typo", "abbreviate", "old_spelling", "title")


def noisy_name(name: str, female: bool, rng: np.random.Generator, kind: str) -> str:
    """One kind of spelling noise; always returns a different string."""
    if kind == "typo":
        out = typo(name, rng)
    elif kind == "abbreviate":
        out = abbreviate(name, rng)
    elif kind == "old_spelling":
        out = old_spelling(name, rng)
    else:
        dropped = drop_titles(name)
        out = dropped if dropped != name else add_title(name, female)
    return out if out != name else typo(name, rng)
