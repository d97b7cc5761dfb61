"""The dbt project's SQL passes sqlfluff, run as `make lint` runs it.

CI (.ci/run) runs `make test`, not `make lint`, so this test is what keeps a
SQL lint regression out of CI. It makes both of `make lint`'s sqlfluff runs
(.sqlfluff explains the set-up): the province's models and tests, then the
national models in the national scope (.sqlfluff-national). The dbt
templater compiles the project against an in-memory warehouse: no warehouse
file and no network are needed, only the generated region seed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "dbt_project" / "models"
TIMEOUT = 300  # seconds; a run takes about 10-20 s


@pytest.fixture(scope="module", autouse=True)
def _region_seed():
    """The models ref the generated seed wilayah.csv, as in a build."""
    from pdpb.regions import ensure_region_seed

    ensure_region_seed()


def _lint(*args: str) -> str:
    """sqlfluff's output for `sqlfluff lint ARGS`; fails the test on any violation."""
    proc = subprocess.run(
        [sys.executable, "-m", "sqlfluff", "lint", "--nocolor", *args],
        cwd=REPO,
        env={**os.environ, "PDPB_WAREHOUSE": ":memory:"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"sqlfluff lint {' '.join(args)}:\n{output[-6000:]}"
    # A file dbt does not enable is skipped with a warning, not linted.
    assert "Skipped file" not in output, output[-3000:]
    return output


def test_province_models_and_tests_pass_sqlfluff():
    folders = sorted(p for p in MODELS.iterdir() if p.is_dir() and p.name != "national")
    _lint(*(str(p.relative_to(REPO)) for p in folders), "dbt_project/tests")


def test_national_models_pass_sqlfluff():
    _lint("--config", ".sqlfluff-national", "dbt_project/models/national")
