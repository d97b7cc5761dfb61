"""Run configuration: where the home is and the knobs a data division may turn.

Every path the pipeline reads or writes lives under one home directory
(`$PDPB_HOME`, default `./var`). The repository locations (dbt project, GX
project, trained model) are resolved from the installed source tree.
"""

from __future__ import annotations

import calendar
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
GX_PROJECT_DIR = REPO_ROOT / "expectations"
DAGS_DIR = REPO_ROOT / "dags"

# The periods are calendar months in Western Indonesia Time (WIB), where the
# DAGs run; DuckDB has one writer, so the tasks that write share a pool of one.
TIMEZONE = "Asia/Jakarta"
WAREHOUSE_POOL = "pdpb_warehouse"

PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PdpbError(Exception):
    """An error the user can act on; the CLI prints its message as one line."""


def parse_period(period: str) -> tuple[int, int]:
    """Return (year, month) of a `YYYY-MM` period or raise a PdpbError."""
    m = PERIOD_RE.match(period or "")
    if not m:
        raise PdpbError(f"period '{period}' is not of the form YYYY-MM (e.g. 2026-01)")
    return int(m.group(1)), int(m.group(2))


def parse_tanggal(text: str, what: str = "tanggal") -> date:
    """A calendar date written YYYY-MM-DD (e.g. 2029-02-14), or a PdpbError
    naming `what`; other forms date.fromisoformat would take (20290214,
    2029-W07-3) are refused too."""
    value = (text or "").strip()
    try:
        if not DATE_RE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise PdpbError(
            f"{what} '{text}' is not a valid date YYYY-MM-DD (e.g. 2029-02-14)"
        ) from None


def period_has_ended(period: str, today: date | None = None) -> bool:
    """Whether the month `period` is over in WIB: its last day is before today."""
    if today is None:
        today = datetime.now(ZoneInfo(TIMEZONE)).date()
    return default_cutoff(period) < today


def default_cutoff(period: str) -> date:
    """The default cut-off date of a period: its last day."""
    year, month = parse_period(period)
    return date(year, month, calendar.monthrange(year, month)[1])


def previous_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def next_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year + 1}-01" if month == 12 else f"{year}-{month + 1:02d}"


@dataclass(frozen=True)
class Thresholds:
    """Match-probability thresholds: at or above `upper` a link is applied,
    below `lower` the event is a new person, in between it goes to review."""

    upper: float = 0.99
    lower: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.lower <= self.upper <= 1.0:
            raise PdpbError(
                f"thresholds must satisfy 0 <= lower <= upper <= 1 (got {self.lower}, {self.upper})"
            )


@dataclass(frozen=True)
class Settings:
    home: Path
    thresholds: Thresholds = field(default_factory=Thresholds)
    # New voters fill a desa's TPS up to this many voters before a new TPS opens.
    tps_capacity: int = 300
    # GX gate on delivered events.
    min_valid_nik_share: float = 0.5
    max_quarantine_share: float = 0.05
    # ... checked only on files with at least this many rows.
    min_rows_for_quarantine_share: int = 50
    # GX gate on recaps: a kab/kota whose TMS meninggal or pindah grows beyond
    # this ratio over the previous period (and at least this many) is a warning.
    max_tms_spike_ratio: float = 3.0
    min_tms_for_spike: int = 20
    # A national deployment sends provinces with at least this many active
    # voters to the big workers' queue (docs/deployment.md).
    large_province_voters: int = 15_000_000
    # The voting day the operators' page projects the list to (pdpb proyeksi
    # uses it when no --tanggal is given): a planning assumption, not an
    # official date; $PDPB_TANGGAL_PROYEKSI overrides it (docs/projection.md).
    tanggal_proyeksi: date = date(2029, 2, 14)

    @classmethod
    def load(cls, home: str | os.PathLike[str] | None = None, **overrides: object) -> Settings:
        chosen = home or os.environ.get("PDPB_HOME") or "var"
        if "tanggal_proyeksi" not in overrides and os.environ.get("PDPB_TANGGAL_PROYEKSI"):
            overrides["tanggal_proyeksi"] = parse_tanggal(
                os.environ["PDPB_TANGGAL_PROYEKSI"], "PDPB_TANGGAL_PROYEKSI"
            )
        return cls(home=Path(chosen).expanduser().resolve(), **overrides)  # type: ignore[arg-type]

    # Paths under the home (the contract of docs/architecture.md).
    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse" / "pdpb.duckdb"

    def landing_dir(self, period: str) -> Path:
        return self.home / "landing" / period

    def reports_dir(self, period: str) -> Path:
        return self.home / "reports" / period

    def review_dir(self, period: str) -> Path:
        return self.home / "review" / period

    @property
    def published_dir(self) -> Path:
        return self.home / "published"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def datadocs_dir(self) -> Path:
        return self.home / "datadocs"

    @property
    def gx_results_dir(self) -> Path:
        return self.home / "gx"

    @property
    def dbt_target_dir(self) -> Path:
        return self.home / "dbt" / "target"

    @property
    def model_path(self) -> Path:
        """The Splink model for runs: a retrained one under the home if present
        (`pdpb linkage train`), else the model committed in `linkage/`."""
        local = self.home / "linkage" / "model.json"
        return local if local.is_file() else REPO_ROOT / "linkage" / "model.json"
