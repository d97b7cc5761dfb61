"""Build the committed GX project (`expectations/gx/`) from the definitions below.

The quality gates of the pipeline (`pdpb.quality.run_gate`) load suites,
validation definitions and checkpoints from the JSON files this script
writes; nothing in `gx/` is edited by hand. To change a gate, edit the
expectations here, run `python expectations/build_project.py`, review the
JSON diff and commit it. Every frame a suite sees is a pandas dataframe that
`pdpb.quality` builds from the warehouse with SQL and passes at run time as a
batch parameter, so one pandas data source with one dataframe asset per frame
is registered here once, and a gate run never rewrites anything in git.
Thresholds that depend on the run (period dates, Settings) are suite
parameters (`{"$PARAMETER": name}`) filled by `expectation_parameters`.
Checkpoints carry no actions: `run_gate` builds Data Docs once per gate.
"""

from __future__ import annotations

import csv
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity
from great_expectations.expectations.row_conditions import Column

PROJECT_ROOT = Path(__file__).resolve().parent
GX_DIR = PROJECT_ROOT / "gx"
# TMS codes are reference data kept once, as a dbt seed.
TMS_SEED = PROJECT_ROOT.parent / "dbt_project" / "seeds" / "tms_codes.csv"
DATASOURCE = "pdpb"
BATCH_DEFINITION = "frame"
# Fixed namespace so that rebuilding unchanged definitions gives unchanged ids
# (and so an empty git diff).
ID_NAMESPACE = uuid.UUID("6f1d3c1e-5b0a-4c59-9a57-2c1f0e6b1d2a")

JENIS_PERISTIWA = [
    "PENDUDUK_BARU", "MENINGGAL", "PINDAH", "KAWIN", "PERUBAHAN_DATA", "MASUK_TNI",
    "MASUK_POLRI", "PURNA_TNI", "PURNA_POLRI", "WNA", "HAK_PILIH_DICABUT", "HAK_PILIH_PULIH",
]  # fmt: skip
KODE_DESA_REGEX = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"

# Columns shown next to each unexpected row in results and Data Docs, so that an
# operator can find the row. None of them holds personal data.
INDEX_COLUMNS = {
    "events": ["file_name", "row_number", "sumber", "event_id"],
    "files": ["file_name"],
    "events_nik": ["jumlah_peristiwa"],
    "voters": ["kode_wilayah", "status", "jumlah_pemilih"],
    "voters_dpid": [],
    "rekap": ["tingkat", "kode_wilayah", "nama_wilayah"],
    "rekap_nilai": ["tingkat", "kode_wilayah", "kolom"],
}


def tms_codes() -> dict[int, str]:
    """TMS code -> name, from the dbt seed."""
    with TMS_SEED.open(newline="", encoding="utf-8") as seed:
        return {int(row["code"]): row["nama"] for row in csv.DictReader(seed)}


def param(name: str) -> dict[str, str]:
    """A suite parameter, filled from Settings or the period at run time."""
    return {"$PARAMETER": name}


def notes(text: str) -> dict[str, str]:
    return {"notes": text}


WARNING = FailureSeverity.WARNING


def delta_events_expectations() -> list[gxe.Expectation]:
    required = [
        gxe.ExpectColumnValuesToNotBeNull(
            column=column,
            meta=notes(
                f"Kolom {column} wajib diisi pada setiap peristiwa. Baris tanpa {column} "
                "tidak dapat diproses; minta sumber mengirim ulang berkasnya."
            ),
        )
        for column in ("sumber", "event_id", "jenis_peristiwa", "tanggal_peristiwa")
    ]
    return [
        *required,
        gxe.ExpectColumnValuesToBeInSet(
            column="jenis_peristiwa",
            value_set=JENIS_PERISTIWA,
            meta=notes(
                "Jenis peristiwa harus salah satu dari 12 jenis yang disepakati "
                "(PENDUDUK_BARU, MENINGGAL, PINDAH, ...). Jenis lain tidak punya aturan "
                "perubahan; periksa kode yang dipakai sumber."
            ),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="jenis_kelamin",
            value_set=["L", "P"],
            meta=notes("Jenis kelamin hanya L (laki-laki) atau P (perempuan), boleh kosong."),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="status_kawin",
            value_set=["B", "S", "P"],
            meta=notes(
                "Status kawin hanya B (belum kawin), S (sudah kawin) atau P (pernah kawin), "
                "boleh kosong. Status ini menentukan hak pilih di bawah 17 tahun."
            ),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="tanggal_peristiwa",
            min_value=param("tanggal_peristiwa_min"),
            max_value=param("akhir_periode"),
            meta=notes(
                "Tanggal peristiwa tidak boleh sesudah akhir periode dan tidak boleh lebih "
                "dari 100 tahun lalu. Tanggal di luar rentang ini biasanya salah format "
                "(hari dan bulan tertukar, serial Excel) di berkas sumber."
            ),
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="kode_wilayah",
            regex=KODE_DESA_REGEX,
            severity=WARNING,
            meta=notes(
                "Peringatan: kode wilayah seharusnya kode desa xx.xx.xx.xxxx. Peristiwa "
                "tanpa kode desa yang benar tetap diproses, tetapi lokasinya tidak pasti."
            ),
        ),
    ]


def delta_events_nik_expectations() -> list[gxe.Expectation]:
    # A share, not a mean over the events frame: a quiet month (header-only
    # files, or no files at all) has no events, and a mean over zero rows is
    # no value, which GX counts as a failure. The share is null then, and a
    # values expectation skips nulls; any real share below the floor fails.
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="porsi_nik_valid",
            min_value=param("min_valid_nik_share"),
            max_value=1,
            meta=notes(
                "Porsi peristiwa dengan NIK valid (16 digit, struktur benar) harus di atas "
                "batas minimum. Porsi rendah berarti berkas rusak atau kolom NIK tergeser; "
                "tanpa NIK pencocokan jauh lebih lemah. Periode tanpa peristiwa tidak "
                "punya porsi dan lolos."
            ),
        ),
    ]


def delta_events_files_expectations() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="share_karantina",
            min_value=0,
            max_value=param("max_quarantine_share"),
            meta=notes(
                "Porsi baris yang dikarantina per berkas tidak boleh melebihi batas. "
                "Berkas dengan banyak baris rusak harus diperbaiki dan dikirim ulang oleh "
                "sumbernya sebelum periode diproses."
            ),
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="rows_quarantined",
            column_B="baris_karantina",
            severity=WARNING,
            meta=notes(
                "Peringatan: jumlah baris karantina di buku berkas (core.files) berbeda "
                "dengan isi tabel karantina (core.quarantine). Laporan karantina mungkin "
                "tidak lengkap."
            ),
        ),
    ]


def voters_expectations() -> list[gxe.Expectation]:
    codes = tms_codes()
    status_tms = Column("status") == "TMS"
    status_aktif = Column("status") == "AKTIF"
    return [
        gxe.ExpectColumnValuesToNotBeNull(
            column="status", meta=notes("Setiap pemilih harus berstatus AKTIF atau TMS.")
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="status",
            value_set=["AKTIF", "TMS"],
            meta=notes("Status pemilih hanya AKTIF atau TMS (tidak memenuhi syarat)."),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="tms_code",
            row_condition=status_tms,
            meta=notes("Pemilih TMS wajib punya kode TMS (1-9) agar masuk rekap per kategori."),
        ),
        gxe.ExpectColumnValuesToBeNull(
            column="tms_code",
            row_condition=status_aktif,
            meta=notes("Pemilih AKTIF tidak boleh punya kode TMS."),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="tms_code",
            value_set=sorted(codes),
            meta=notes(
                "Kode TMS hanya kode yang berlaku: "
                + ", ".join(f"{code} {name}" for code, name in sorted(codes.items()))
                + "."
            ),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="jenis_kelamin",
            meta=notes("Jenis kelamin wajib diisi: rekap dihitung per L dan P."),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="jenis_kelamin",
            value_set=["L", "P"],
            meta=notes("Jenis kelamin hanya L (laki-laki) atau P (perempuan)."),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="kode_wilayah",
            meta=notes("Setiap pemilih harus terdaftar di satu desa/kelurahan."),
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="kode_wilayah",
            regex=KODE_DESA_REGEX,
            meta=notes(
                "Kode wilayah harus kode desa/kelurahan lengkap xx.xx.xx.xxxx, "
                "jika tidak pemilih hilang dari rekap desa."
            ),
        ),
    ]


def voters_dpid_expectations() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="jumlah_dpid_kosong",
            min_value=0,
            max_value=0,
            meta=notes("Setiap pemilih wajib punya DPID."),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="jumlah_dpid_ganda",
            min_value=0,
            max_value=0,
            meta=notes("DPID harus unik: satu DPID untuk satu catatan pemilih."),
        ),
    ]


def rekap_expectations() -> list[gxe.Expectation]:
    balance = [
        gxe.ExpectColumnValuesToBeInSet(
            column=f"neraca_{part}",
            value_set=[0],
            meta=notes(
                f"Pemilih awal + baru - TMS harus sama dengan pemilih akhir ({label}). "
                "Jika tidak, rekap tidak bisa ditetapkan dalam pleno."
            ),
        )
        for part, label in (("l", "laki-laki"), ("p", "perempuan"), ("total", "total"))
    ]
    spikes = [
        gxe.ExpectColumnValuesToBeBetween(
            column=f"rasio_lonjakan_{kind}",
            max_value=param("max_rasio_lonjakan_tms"),
            severity=WARNING,
            meta=notes(
                f"Peringatan: TMS {label} di kabupaten/kota ini naik tajam dibanding "
                "bulan lalu. Periksa apakah ada kiriman data ganda atau salah cocok "
                "sebelum rekap ditetapkan."
            ),
        )
        for kind, label in (("meninggal", "meninggal"), ("pindah", "pindah domisili"))
    ]
    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value=1,
            meta=notes("Rekap periode ini belum dibuat (jalankan dbt build terlebih dahulu)."),
        ),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["tingkat", "kode_wilayah"],
            meta=notes("Satu wilayah hanya boleh satu baris rekap per tingkat."),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="tercatat_di_rekap",
            value_set=[True],
            meta=notes(
                "Setiap desa/kelurahan di provinsi harus ada di rekap desa, "
                "juga desa tanpa perubahan (baris nol)."
            ),
        ),
        *balance,
        gxe.ExpectColumnValuesToBeInSet(
            column="selisih_jenis_kelamin",
            value_set=[0],
            meta=notes("Kolom total harus sama dengan L + P untuk awal, baru, TMS dan akhir."),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="selisih_kategori_tms",
            value_set=[0],
            meta=notes("TMS total harus sama dengan jumlah semua kategori TMS (kode 1-9)."),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="selisih_kategori_baru",
            value_set=[0],
            severity=WARNING,
            meta=notes(
                "Peringatan: pemilih baru total berbeda dengan jumlah kategori pemilih baru "
                "(pemula, pindah masuk, purna TNI/Polri, hak pilih pulih)."
            ),
        ),
        *spikes,
    ]


def rekap_nilai_expectations() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToNotBeNull(
            column="nilai",
            meta=notes("Setiap angka rekap harus terisi; wilayah tanpa perubahan berisi 0."),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="nilai",
            min_value=0,
            meta=notes("Angka rekap (jumlah pemilih, baru, TMS, ubah) tidak boleh negatif."),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="selisih_bawahan",
            value_set=[0],
            meta=notes(
                "Angka setiap wilayah harus sama persis dengan jumlah wilayah di bawahnya "
                "(desa -> kecamatan -> kab/kota -> provinsi -> nasional). Selisih berarti "
                "ada desa atau kecamatan yang hilang, ganda, atau salah induk."
            ),
        ),
    ]


# name -> (dataframe asset, expectations). The suite, its validation definition
# and its checkpoint share the name; `pdpb.quality.GATES` groups them into gates.
SUITES = {
    "delta_events": ("events", delta_events_expectations),
    "delta_events_nik": ("events_nik", delta_events_nik_expectations),
    "delta_events_files": ("files", delta_events_files_expectations),
    "voters": ("voters", voters_expectations),
    "voters_dpid": ("voters_dpid", voters_dpid_expectations),
    "rekap": ("rekap", rekap_expectations),
    "rekap_nilai": ("rekap_nilai", rekap_nilai_expectations),
}


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, "/".join(parts)))


def build_suite(name: str, expectations: Iterable[gxe.Expectation]) -> gx.ExpectationSuite:
    expectations = list(expectations)
    for expectation in expectations:
        # GX 1.x Data Docs render the top-level `notes`, not `meta.notes`:
        # copy it so the operator reads the reason next to each result.
        expectation.notes = (expectation.meta or {})["notes"]
    return gx.ExpectationSuite(name=name, expectations=expectations)


def build(scratch: Path) -> None:
    """Recreate suites, data source, validation definitions and checkpoints."""
    for folder in ("expectations", "validation_definitions", "checkpoints"):
        for stale in (GX_DIR / folder).glob("*.json"):
            stale.unlink()
    context = gx.get_context(
        mode="file",
        project_root_dir=PROJECT_ROOT,
        runtime_environment={
            "PDPB_GX_RESULTS_DIR": str(scratch / "gx"),
            "PDPB_DATADOCS_DIR": str(scratch / "datadocs"),
        },
    )
    if DATASOURCE in context.data_sources.all():
        context.data_sources.delete(DATASOURCE)
    datasource = context.data_sources.add_pandas(DATASOURCE)
    for name, (asset_name, expectations) in SUITES.items():
        asset = datasource.add_dataframe_asset(asset_name)
        batch_definition = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
        suite = context.suites.add(build_suite(name, expectations()))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        context.checkpoints.add(
            gx.Checkpoint(
                name=name,
                validation_definitions=[definition],
                result_format={
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": 20,
                    "unexpected_index_column_names": INDEX_COLUMNS[asset_name],
                },
            )
        )
    stabilise_ids(context)


def stabilise_ids(context: gx.data_context.FileDataContext) -> None:
    """Replace the random ids GX assigned with ids derived from names.

    GX stores ignore ids passed in, so without this every rebuild would change
    every file; with it, rebuilding unchanged definitions leaves git clean.
    """
    renames: dict[str, str] = {}
    datasource = context.data_sources.get(DATASOURCE)
    renames[str(datasource.id)] = stable_id("datasource", DATASOURCE)
    for asset in datasource.assets:
        renames[str(asset.id)] = stable_id("asset", asset.name)
        for batch_definition in asset.batch_definitions:
            renames[str(batch_definition.id)] = stable_id("batch", asset.name)
    for name in SUITES:
        suite = context.suites.get(name)
        renames[str(suite.id)] = stable_id("suite", name)
        for position, expectation in enumerate(suite.expectations):
            renames[str(expectation.id)] = stable_id("expectation", name, str(position))
        renames[str(context.validation_definitions.get(name).id)] = stable_id("vd", name)
        renames[str(context.checkpoints.get(name).id)] = stable_id("checkpoint", name)
    files = [GX_DIR / "great_expectations.yml"]
    for folder in ("expectations", "validation_definitions", "checkpoints"):
        files.extend(sorted((GX_DIR / folder).glob("*.json")))
    for path in files:
        text = path.read_text()
        for old, new in renames.items():
            text = text.replace(old, new)
        path.write_text(text)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="pdpb-gx-build-") as tmp:
        build(Path(tmp))
