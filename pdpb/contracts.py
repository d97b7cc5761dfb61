"""The fixed file contracts of docs/architecture.md, in one place.

The generator writes these columns, ingest and init read them; both sides
import them from here so that the contract cannot drift between them.
"""

from __future__ import annotations

# The initial voter list: a Sidalih export.
SIDALIH_COLUMNS = (
    "dpid", "nkk", "nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "status_kawin",
    "alamat", "rt", "rw", "disabilitas", "ktp_el", "kode_wilayah", "tps", "sumber", "keterangan",
)  # fmt: skip

# Landing files: one event per row.
LANDING_COLUMNS = (
    "event_id", "sumber", "jenis_peristiwa", "tanggal_peristiwa", "nik", "nkk", "nama",
    "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "status_kawin", "alamat", "rt", "rw",
    "kode_wilayah", "kode_wilayah_asal",
)  # fmt: skip
