"""Shared fixtures: small synthetic data made by the project's own generator."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_synth(tmp_path_factory) -> Path:
    """A small province (3,000 voters, 2 periods) with its ground truth."""
    from pdpb.synth import generate

    out = tmp_path_factory.mktemp("synth") / "data"
    generate(out, province="36", voters=3_000, periods=2, start="2026-01", seed=11)
    return out
