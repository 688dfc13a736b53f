"""`make lab`: JupyterLab installs from the `lab` extra, knows the kommun-it kernel, starts headless and stops.

Runs in `make test` (about 25 s when JupyterLab must be installed, a few seconds after that).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from analysis import config

ROOT = config.PROJECT_ROOT
BIN = ROOT / ".venv" / "bin"


@pytest.mark.lab
def test_make_lab_installs_starts_headless_and_stops(tmp_path):
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    setup = subprocess.run(["make", "lab-setup"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert setup.returncode == 0, setup.stderr[-2000:]
    version = subprocess.run([BIN / "jupyter", "lab", "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and re.fullmatch(r"4\.\d+\.\d+", version.stdout.strip()), version.stdout
    kernels = json.loads(subprocess.run([BIN / "jupyter", "kernelspec", "list", "--json"], capture_output=True,
                                        text=True, timeout=60).stdout)
    assert "kommun-it" in kernels["kernelspecs"], "make lab registers the kommun-it kernel"

    token = "synthetic-test-token"
    log = tmp_path / "lab.log"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            ["make", "lab", f"LAB_ARGS=--no-browser --port=0 --IdentityProvider.token={token}"],
            cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        url = None
        while time.perf_counter() - t0 < 60 and proc.poll() is None and url is None:
            time.sleep(0.5)
            found = re.search(r"(http://(?:127\.0\.0\.1|localhost):\d+)/lab", log.read_text())
            url = found.group(1) if found else None
        assert url, f"JupyterLab did not start: {log.read_text()[-2000:]}"
        with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=10) as resp:
            assert resp.status == 200
        with urllib.request.urlopen(f"{url}/api/contents/notebooks?token={token}", timeout=10) as resp:
            names = {item["name"] for item in json.load(resp)["content"]}
        assert "06_municipality_profile.ipynb" in names, "the lab serves the project, notebooks/ inside it"
        started = time.perf_counter() - t0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    print(f"jupyter lab started in {started:.1f} s, stopped in {time.perf_counter() - t0 - started:.1f} s")


def test_a_notebook_run_in_the_lab_writes_into_its_scratch_folder(tmp_path, monkeypatch):
    """JupyterLab names the notebook in $JPY_SESSION_NAME and starts its kernel in the notebook's folder:
    files go to reports/_scratch/<notebook>/ and links are relative to the notebook."""
    import pandas as pd

    from analysis.report import display

    (tmp_path / "notebooks").mkdir()
    monkeypatch.setenv("KOMMUN_IT_HOME", str(tmp_path))
    monkeypatch.delenv("KOMMUN_IT_REPORT_DIR", raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "notebooks" / "06_municipality_profile.ipynb"))
    monkeypatch.chdir(tmp_path / "notebooks")
    html = display.show_table(pd.DataFrame({"kommunkod": ["0581"]}), "synthetic-table").data
    scratch = tmp_path / "reports" / "_scratch" / "06_municipality_profile"
    written = sorted(p.name for p in scratch.iterdir())
    assert written == ["synthetic-table-sv.csv", "synthetic-table.csv"], written  # the table and its Swedish twin
    assert "href='../reports/_scratch/06_municipality_profile/synthetic-table.csv'" in html
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["_scratch"]
