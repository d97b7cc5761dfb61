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


@pytest.fixture(scope="session")
def period_home(small_synth, tmp_path_factory):
    """The small province's first period run through the CLI (`pdpb init`,
    the landing files delivered, `pdpb run`); shared because a period costs
    tens of seconds. Tests may re-run the period but must leave it as it was."""
    import shutil

    from pdpb.cli import main
    from pdpb.config import Settings

    home = tmp_path_factory.mktemp("home")
    assert main(["--home", str(home), "init", "--voters", str(small_synth / "voters.csv")]) == 0
    shutil.copytree(small_synth / "landing" / "2026-01", home / "landing" / "2026-01")
    assert main(["--home", str(home), "run", "--period", "2026-01"]) == 0
    return Settings.load(home)


@pytest.fixture(scope="session")
def run_periods():
    """A function that runs the given periods of a generated province through
    ingest, link and apply (no dbt, gates or publish) in a home whose list is
    loaded: the stage functions the CLI and the DAGs call."""
    import shutil

    from pdpb.config import Settings, default_cutoff
    from pdpb.pipeline import apply, finish_period, ingest, link, start_period

    def run(settings: Settings, data: Path, periods: tuple[str, ...]) -> None:
        for period in periods:
            shutil.copytree(data / "landing" / period, settings.landing_dir(period))
            cutoff = default_cutoff(period)
            start_period(settings, period, cutoff)
            ingest(settings, period)
            link(settings, period)
            apply(settings, period, cutoff)
            finish_period(settings, period)

    return run


@pytest.fixture(scope="session")
def linked_home(run_periods):
    """A function that loads a generated province's list into a new home and
    runs the given periods through ingest, link and apply (no dbt, gates or
    publish: what linkage and evaluation tests need), returning the home."""
    from pdpb.config import Settings
    from pdpb.voterlist import init_voters

    def run(data: Path, home: Path, periods: tuple[str, ...]) -> Settings:
        settings = Settings.load(home)
        init_voters(settings, data / "voters.csv")
        run_periods(settings, data, periods)
        return settings

    return run
