"""The domain's lists, each in one place that the rest imports.

- the event kinds of the landing files (docs/architecture.md);
- the change rules and the TMS codes: the dbt seeds `change_rules.csv` and
  `tms_codes.csv` are the one source (dbt joins them into the recaps), read
  here for apply, the quality gates, publish and the generator;
- the recap's count columns in their published order with their Indonesian
  headers, the same list as the dbt macro `recap_count_columns`
  (macros/recap_columns.sql; a test holds the two equal) and the five
  `rpt_rekap_*` contracts.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from pdpb.config import DBT_PROJECT_DIR

EVENT_KINDS = (
    "PENDUDUK_BARU", "MENINGGAL", "PINDAH", "KAWIN", "PERUBAHAN_DATA",
    "MASUK_TNI", "MASUK_POLRI", "PURNA_TNI", "PURNA_POLRI", "WNA",
    "HAK_PILIH_DICABUT", "HAK_PILIH_PULIH",
)  # fmt: skip


def _seed(name: str) -> list[dict[str, str]]:
    with (DBT_PROJECT_DIR / "seeds" / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class TmsCode:
    code: int
    nama: str  # e.g. "meninggal", as the recap and the change lists name it
    kolom_rekap: str  # its column in the recaps, e.g. "tms_meninggal"


@dataclass(frozen=True)
class ChangeRule:
    rule: str  # e.g. "TMS_MENINGGAL"
    change_type: str  # BARU, TMS or UBAH
    tms_code: int | None
    kolom_rekap: str


TMS_CODES: dict[int, TmsCode] = {
    int(row["code"]): TmsCode(int(row["code"]), row["nama"], row["kolom_rekap"])
    for row in _seed("tms_codes.csv")
}
CHANGE_RULES: dict[str, ChangeRule] = {
    row["rule"]: ChangeRule(
        row["rule"],
        row["change_type"],
        int(row["tms_code"]) if row["tms_code"] else None,
        row["kolom_rekap"],
    )
    for row in _seed("change_rules.csv")
}


def tms_code(rule: str) -> int:
    """The TMS code a TMS rule gives (TMS_MENINGGAL -> 1); a rule the seed
    lacks is a programming error."""
    code = CHANGE_RULES[rule].tms_code
    if code is None:
        raise KeyError(f"{rule} is not a TMS rule")
    return code


# --- the recap ------------------------------------------------------------------

RECAP_KEY_COLUMNS = ("period", "kode_wilayah", "nama_wilayah", "kode_induk")
RECAP_BARU_CATEGORIES: dict[str, str] = {
    "baru_pemilih_pemula": "Baru: Pemilih Pemula",
    "baru_pindah_masuk": "Baru: Pindah Masuk",
    "baru_purna_tni_polri": "Baru: Purna TNI/Polri",
    "baru_hak_pilih_pulih": "Baru: Hak Pilih Pulih",
}
# One column per TMS code, in code order, headed by the seed's name.
RECAP_TMS_CATEGORIES: dict[str, str] = {
    t.kolom_rekap: "TMS " + " ".join(w if w.isupper() else w.capitalize() for w in t.nama.split())
    for t in sorted(TMS_CODES.values(), key=lambda t: t.code)
}
RECAP_REGION_COUNTS: dict[str, str] = {
    "jumlah_kecamatan": "Jumlah Kecamatan",
    "jumlah_desa": "Jumlah Desa/Kelurahan",
}
# The people counted, in the published order (the dbt macro recap_count_columns).
RECAP_PEOPLE_COUNTS: dict[str, str] = {
    "awal_l": "Pemilih Awal L",
    "awal_p": "Pemilih Awal P",
    "awal_total": "Pemilih Awal",
    "baru_l": "Pemilih Baru L",
    "baru_p": "Pemilih Baru P",
    "baru_total": "Pemilih Baru",
    **RECAP_BARU_CATEGORIES,
    "tms_l": "TMS L",
    "tms_p": "TMS P",
    "tms_total": "TMS",
    **RECAP_TMS_CATEGORIES,
    "ubah": "Perbaikan Data (Ubah)",
    "akhir_l": "Pemilih Akhir L",
    "akhir_p": "Pemilih Akhir P",
    "akhir_total": "Pemilih Akhir",
}
# Every count column of an rpt_rekap_* row with its Indonesian header.
RECAP_COUNT_HEADERS: dict[str, str] = {**RECAP_REGION_COUNTS, **RECAP_PEOPLE_COUNTS}
RECAP_COLUMNS = RECAP_KEY_COLUMNS + tuple(RECAP_COUNT_HEADERS)
RECAP_LEVELS = ("desa", "kecamatan", "kabkota", "provinsi", "nasional")


# --- words operators read ---------------------------------------------------------
# The marts keep their contract codes; every operator-facing output shows these.
OUTCOME_LABELS: dict[str, str] = {
    "APPLIED": "Diterapkan ke daftar",
    "NO_CHANGE": "Tidak mengubah daftar",
    "NOT_FOUND": "Orangnya tidak ada di daftar",
    "REVIEW": "Menunggu pemeriksaan operator",
    "FUTURE_VOTER": "Dicatat sebagai calon pemilih",
    "DUPLICATE_EVENT": "Peristiwa ganda (sudah tercatat)",
    "QUARANTINED": "Dikarantina (baris tidak sah)",
}
GATE_LABELS: dict[str, str] = {
    "delta_events": "Data peristiwa bulan ini",
    "voters": "Daftar pemilih setelah perubahan",
    "rekap": "Rekapitulasi",
}

# The page's "Kualitas Pencocokan" (pdpb.link_quality.page_section): the link
# stage and dedupe measured by the model's own probabilities, no truth needed.
LINK_QUALITY_LABELS: dict[str, str] = {
    "measure": "Ukuran",
    "link": "Pencocokan peristiwa",
    "dedupe": "Ganda (dedupe)",
    "auto_links": "Tautan otomatis (tanpa keputusan petugas)",
    "expected_wrong_links": "Perkiraan tautan otomatis yang salah",
    "auto_links_tms": "Tautan otomatis yang menjadikan pemilih TMS",
    "expected_wrongful_tms": "Perkiraan TMS yang salah",
    "links_near_upper": "Tautan otomatis dekat ambang atas (p < {upper_top})",
    "review_near_upper": (
        "Verifikasi tepat di bawah ambang atas ({upper_bottom} \u2264 p < {upper})"
    ),
    "review_near_lower": "Verifikasi tepat di atas ambang bawah ({lower} \u2264 p < {lower_top})",
    "new_near_lower": (
        "Dianggap orang baru, tepat di bawah ambang bawah ({lower_bottom} \u2264 p < {lower})"
    ),
    "review_added": "Verifikasi baru periode ini",
    "review_open": "Antrean verifikasi belum diputuskan",
    "review_oldest": "Umur antrean tertua",
}

# The quarantine reason codes of ingest in words: the dbt seed
# `alasan_karantina.csv` is the one source (the quality marts join it too).
QUARANTINE_REASON_LABELS: dict[str, str] = {
    row["reason"]: row["keterangan"] for row in _seed("alasan_karantina.csv")
}
# The quality report's flags (dbt macro quality_flag, marts.rpt_kualitas_*).
QUALITY_FLAG_LABELS: dict[str, str] = {
    "NAIK": "jauh di atas median",
    "TURUN": "jauh di bawah median",
    "TIDAK_ADA_KIRIMAN": "tidak ada kiriman, padahal biasanya mengirim setiap bulan",
}
