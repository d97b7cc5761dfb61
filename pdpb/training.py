"""Retrain the Splink model: `pdpb linkage train` and its Airflow task.

Trains on a Sidalih export (read and normalised exactly as `pdpb init` does)
or on the warehouse's current voter list, and writes the model JSON to
`<home>/linkage/model.json` (which `Settings.model_path` then prefers over the
committed model) or to a path given. Promoting a model to everyone is a
reviewed change: a data scientist copies it to `linkage/model.json` and
commits it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa

from pdpb.config import PdpbError, Settings
from pdpb.warehouse import connect

log = logging.getLogger(__name__)

REFERENCE_COLUMNS = (
    "target_id", "nik", "nkk", "nama", "gelar", "tempat_lahir", "tanggal_lahir", "jenis_kelamin",
    "status_kawin", "alamat", "rt", "rw", "kode_wilayah", "status",
)  # fmt: skip
# Fewer records than this and every estimate is noise.
MIN_TRAINING_RECORDS = 1_000


def _voters_from_file(path: Path) -> pa.Table:
    """A Sidalih export as the linkage reference table; bad rows are skipped
    (they are reported by `pdpb init`, training needs only the good ones)."""
    from pdpb.voterlist import read_voter_list

    voters, _ = read_voter_list(path)
    return voters.rename_columns(
        ["target_id" if c == "dpid" else c for c in voters.column_names]
    ).select(["target_id", *REFERENCE_COLUMNS[1:]])


def _voters_from_warehouse(settings: Settings) -> pa.Table:
    if not settings.warehouse_path.exists():
        raise PdpbError(
            f"home {settings.home} has no warehouse: pass --voters FILE or run `pdpb init`"
        )
    con = connect(settings, read_only=True)
    try:
        return con.sql(
            f"select dpid as {', '.join(REFERENCE_COLUMNS)} from core.voters where status = 'AKTIF'"
        ).to_arrow_table()
    finally:
        con.close()


def retrain_model(
    settings: Settings, voters_path: Path | None = None, out: Path | None = None
) -> dict:
    """Train the model on a voter list and write it; returns the training summary."""
    from linkage import train_model

    voters = (
        _voters_from_file(Path(voters_path)) if voters_path else _voters_from_warehouse(settings)
    )
    if voters.num_rows < MIN_TRAINING_RECORDS:
        raise PdpbError(
            f"only {voters.num_rows} voters to train on; at least {MIN_TRAINING_RECORDS} are needed"
        )
    target = Path(out) if out else settings.home / "linkage" / "model.json"
    summary = train_model(voters, target)
    log.info("model written to %s", target)
    return summary
