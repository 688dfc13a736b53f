"""Hash-checked fetch: mirror copies, HTTP downloads, corruption, offline and idempotence."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from analysis import config, fetch, manifest
from analysis.errors import UserError
from loopback import serve

SMALL = "kommuner-lan"  # two small files


@pytest.fixture
def scratch_mirror(tmp_path) -> Path:
    """A writable copy of the mirror's smallest source."""
    src = config.default_mirror()
    assert src is not None, "the offline mirror ../shared/data/mirror is required for the tests"
    dest = tmp_path / "mirror"
    shutil.copytree(src / SMALL, dest / SMALL)
    for f in (dest / SMALL).iterdir():
        f.chmod(0o644)
    return dest


def test_manifest_matches_mirror_sums():
    """Every manifest record agrees with the mirror's SHA256SUMS and file sizes."""
    mirror = config.default_mirror()
    sums = dict(
        reversed(line.split(maxsplit=1)) for line in (mirror / "SHA256SUMS").read_text().splitlines() if line.strip()
    )
    files = [f for s in manifest.load().values() for f in s.files]
    assert {f.relpath for f in files} == set(sums)
    for f in files:
        assert sums[f.relpath] == f.sha256
        assert (mirror / f.relpath).stat().st_size == f.size
        assert f.url is None or f.url.startswith("https://raw.githubusercontent.com/")


def test_every_source_has_provenance():
    for s in manifest.load().values():
        assert s.licence and s.attribution and s.publisher and s.url.startswith("https://")


def test_copy_then_verify(scratch_mirror, tmp_path):
    raw = tmp_path / "raw"
    first = fetch.fetch([SMALL], mirror=scratch_mirror, raw_dir=raw, progress=False)
    assert {r.action for r in first} == {"copied"}
    second = fetch.fetch([SMALL], mirror=scratch_mirror, raw_dir=raw, progress=False)
    assert {r.action for r in second} == {"verified"}


def test_corrupt_mirror_file_fails_cleanly_then_recovers(scratch_mirror, tmp_path):
    raw = tmp_path / "raw"
    bad = scratch_mirror / SMALL / "counties.csv"
    good = bad.read_bytes()
    bad.write_bytes(good.replace(b"Stockholm", b"Stockholn", 1))
    with pytest.raises(UserError) as err:
        fetch.fetch([SMALL], mirror=scratch_mirror, raw_dir=raw, progress=False)
    msg = str(err.value)
    assert "kommuner-lan/counties.csv" in msg and "sha256 mismatch" in msg and "\n" not in msg
    assert not (raw / SMALL / "counties.csv").exists()
    assert not list((raw / SMALL).glob(".*.part"))
    bad.write_bytes(good)
    fetch.fetch([SMALL], mirror=scratch_mirror, raw_dir=raw, progress=False)
    assert fetch.sha256_file(raw / SMALL / "counties.csv") == manifest.load()[SMALL].files[1].sha256


def test_corrupted_raw_file_is_replaced(scratch_mirror, tmp_path):
    raw = tmp_path / "raw"
    fetch.fetch([SMALL], mirror=scratch_mirror, raw_dir=raw, progress=False)
    (raw / SMALL / "counties.csv").write_text("tampered")
    results = fetch.fetch([SMALL], mirror=scratch_mirror, raw_dir=raw, progress=False)
    assert {r.action for r in results} == {"verified", "copied"}


@pytest.fixture
def http_mirror(tmp_path):
    """Serve the real mirror files over HTTP on loopback, standing in for raw.githubusercontent.com."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(config.default_mirror()))
    handler.log_message = lambda *a, **k: None
    with serve(handler) as url:
        yield url


def test_download_from_pinned_url(http_mirror, tmp_path, monkeypatch):
    src = manifest.load()[SMALL]
    raw = src.files[0]
    local = manifest.RawFile(raw.source_id, raw.name, f"{http_mirror}/{raw.relpath}", raw.size, raw.sha256)
    result = fetch.fetch_file(local, mirror=None, raw_dir=tmp_path)
    assert result.action == "downloaded"
    assert fetch.sha256_file(result.path) == raw.sha256
    wrong = manifest.RawFile(raw.source_id, raw.name, f"{http_mirror}/{SMALL}/counties.csv", raw.size, raw.sha256)
    (tmp_path / raw.relpath).unlink()
    with pytest.raises(UserError, match="sha256 mismatch"):
        fetch.fetch_file(wrong, mirror=None, raw_dir=tmp_path)
    missing = manifest.RawFile(raw.source_id, raw.name, f"{http_mirror}/nope.csv", raw.size, raw.sha256)
    with pytest.raises(UserError, match="404"):
        fetch.fetch_file(missing, mirror=None, raw_dir=tmp_path)


def test_offline_without_mirror_says_so(tmp_path, monkeypatch):
    def no_network(*a, **k):
        raise requests.ConnectionError("no route to host")

    monkeypatch.setattr(fetch.requests, "get", no_network)
    raw = manifest.load()[SMALL].files[0]
    with pytest.raises(UserError, match="cannot download .*no network and no mirror"):
        fetch.fetch_file(raw, mirror=None, raw_dir=tmp_path)


def test_derived_file_without_mirror_says_so(tmp_path):
    raw = manifest.load()["kolada-catalogue-2026-03"].files[0]
    with pytest.raises(UserError, match="no download URL"):
        fetch.fetch_file(raw, mirror=None, raw_dir=tmp_path)


def test_cli_corrupt_mirror_one_line_exit_2(scratch_mirror, cli_env):
    (scratch_mirror / SMALL / "counties.csv").write_text("broken")
    proc = subprocess.run(
        [sys.executable, "-m", "analysis.cli", "fetch", SMALL, "--mirror", str(scratch_mirror)],
        capture_output=True, text=True, env=cli_env,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "kommuner-lan/counties.csv" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_second_run_says_nothing_to_do(scratch_mirror, cli_env):
    cmd = [sys.executable, "-m", "analysis.cli", "fetch", SMALL, "--mirror", str(scratch_mirror)]
    subprocess.run(cmd, check=True, capture_output=True, env=cli_env)
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True, env=cli_env)
    assert "already present and verified; nothing to do" in proc.stdout


def test_cli_unknown_source(cli_env):
    proc = subprocess.run(
        [sys.executable, "-m", "analysis.cli", "fetch", "nope"], capture_output=True, text=True, env=cli_env
    )
    assert proc.returncode == 2 and "unknown source id 'nope'" in proc.stderr and "Traceback" not in proc.stderr
