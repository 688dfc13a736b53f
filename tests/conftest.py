"""Shared fixtures: the real raw data (fetched from the mirror) and one processed build per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from analysis import build, config, fetch, render

ROOT = config.PROJECT_ROOT

# `make test` (and CI) explores the same examples on every run, so a pass or a failure can be reproduced;
# `make fuzz` and HYPOTHESIS_PROFILE=explore search new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", max_examples=500, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    """data/raw filled and verified from the mirror (fails, never skips, when the data cannot be had)."""
    fetch.fetch(progress=False)
    return config.raw_dir()


@pytest.fixture(scope="session")
def processed_dir(raw_dir, tmp_path_factory) -> Path:
    """A full `kommun-it build` of the real data into a scratch directory, shared by the session."""
    out = tmp_path_factory.mktemp("processed")
    with pytest.MonkeyPatch.context() as mp:  # the installation's key, whichever test asks first
        mp.delenv("KOMMUN_IT_PSEUDONYM_KEY", raising=False)
        build.build(raw_dir=raw_dir, out_dir=out)
    return out


@pytest.fixture
def cli_env(tmp_path) -> dict[str, str]:
    """Environment for running the CLI in a subprocess against a scratch home directory."""
    env = dict(os.environ)
    env["KOMMUN_IT_HOME"] = str(tmp_path)
    return env


def linked_home(home: Path, processed_dir: Path, raw_dir: Path) -> Path:
    """A KOMMUN_IT_HOME at `home` whose data/processed and data/raw are the session's build and raw data."""
    (home / "data").mkdir(exist_ok=True)
    (home / "data" / "processed").symlink_to(processed_dir)
    (home / "data" / "raw").symlink_to(raw_dir)
    return home


@pytest.fixture(scope="module")
def real_home(processed_dir, raw_dir, tmp_path_factory):
    """A home on the real data for a module's tests (set KOMMUN_IT_HOME to it)."""
    return linked_home(tmp_path_factory.mktemp("real_home"), processed_dir, raw_dir)


@pytest.fixture(scope="session")
def rendered(processed_dir, raw_dir, tmp_path_factory):
    """Every notebook rendered once (national reports, one region, one municipality), serially, in both
    languages, with the site around them (landing pages, 290 profiles); shared by the notebook and browser tests."""
    home = linked_home(tmp_path_factory.mktemp("notebooks-home"), processed_dir, raw_dir)
    mp = pytest.MonkeyPatch()
    mp.setenv("KOMMUN_IT_HOME", str(home))
    mp.delenv("KOMMUN_IT_PROVENANCE", raising=False)
    try:
        jobs = [*render.plan(notebooks=list(render.NATIONAL)), *render.plan(regions=["01"], municipalities=["0114"])]
        results = render.render(jobs, out_dir=home / "reports", workers=1, timeout=300)
    finally:
        mp.undo()
    return home / "reports", results


@pytest.fixture
def home(raw_dir, processed_dir, tmp_path, monkeypatch):
    """A scratch KOMMUN_IT_HOME whose data/processed is the session's full build."""
    from analysis import provenance

    linked_home(tmp_path, processed_dir, raw_dir)
    monkeypatch.setenv("KOMMUN_IT_HOME", str(tmp_path))
    monkeypatch.delenv(provenance.ENV_VAR, raising=False)
    return tmp_path
