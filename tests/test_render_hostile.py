"""Rendering under hostile conditions (issue 10): Ctrl-C, killed runs, identical re-renders, maths text
in names, colliding file names, formula cells. Fixture notebooks and synthetic data only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import matplotlib
import pandas as pd
import psutil
import pytest

from analysis import config, provenance, render
from analysis.report import display

matplotlib.use("Agg")
FIXTURES = config.PROJECT_ROOT / "tests" / "fixtures" / "notebooks"


def test_rendering_twice_gives_identical_html(home, tmp_path):
    out = tmp_path / "reports"
    job = render.Job("fixture_echo", "municipality", "0114-upplands-vasby", "Upplands Väsby", {"kommunkod": "0114"})
    [first] = render.render([job], out_dir=out, workers=1, timeout=120, notebooks_dir=FIXTURES)
    page1 = (out / job.html_relpath).read_bytes()
    [second] = render.render([job], out_dir=out, workers=1, timeout=120, notebooks_dir=FIXTURES)
    assert first.ok and second.ok
    assert (out / job.html_relpath).read_bytes() == page1
    assert len(list((out / "municipality").glob(f"0114-upplands-vasby{render.ASSETS}*"))) == 1
    assert not list(out.rglob(f"*{render.STAGING_SUFFIX}"))


def _staged(folder, name: str, content: str):
    staging = folder / f".{name}.abc{render.STAGING_SUFFIX}"
    staging.mkdir()
    (staging / "table.csv").write_text(content)
    return staging, f"<a href='{staging.name}/table.csv'>table</a>"


def test_a_report_and_its_files_are_swapped_in_together(tmp_path, monkeypatch):
    html = tmp_path / "region" / "01-x.html"
    html.parent.mkdir()
    staging, page = _staged(html.parent, "01-x", "old")
    render._publish(staging, html.with_suffix(""), {html: page})
    old_page = html.read_text()
    [old_assets] = html.parent.glob(f"01-x{render.ASSETS}*")
    assert f"href='{old_assets.name}/table.csv'" in old_page and (old_assets / "table.csv").read_text() == "old"

    staging, page = _staged(html.parent, "01-x", "new")

    def killed(path, text):
        raise KeyboardInterrupt("killed before the HTML was swapped")

    monkeypatch.setattr(render, "_atomic_write", killed)
    with pytest.raises(KeyboardInterrupt):
        render._publish(staging, html.with_suffix(""), {html: page})
    assert html.read_text() == old_page and (old_assets / "table.csv").read_text() == "old"  # the old report, whole

    monkeypatch.undo()
    staging, page = _staged(html.parent, "01-x2", "new")
    staging = staging.rename(html.parent / f".01-x.def{render.STAGING_SUFFIX}")
    render._publish(staging, html.with_suffix(""), {html: page.replace(".01-x2.abc", ".01-x.def")})
    [new_assets] = html.parent.glob(f"01-x{render.ASSETS}*")
    assert new_assets != old_assets and not old_assets.exists()
    assert f"href='{new_assets.name}/table.csv'" in html.read_text() and (new_assets / "table.csv").read_text() == "new"


def test_ctrl_c_stops_queued_reports_kills_kernels_one_line_exit_130(home, tmp_path, cli_env):
    out = tmp_path / "reports"
    script = tmp_path / "synthetic_slow_render.py"
    script.write_text(
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if run in background\n"
        "from pathlib import Path\n"
        "from analysis import render, cli\n"
        "jobs = [render.Job('fixture_echo', 'national', f'slow-{i}', 'Slow', {'sleep_seconds': 120}) for i in range(4)]\n"
        "def run():\n"
        f"    render.render(jobs, out_dir=Path({str(out)!r}), workers=2, timeout=600, notebooks_dir=Path({str(FIXTURES)!r}))\n"
        "if __name__ == '__main__':\n"
        "    cli.app.command('slow')(run)\n"
        "    sys.argv = ['kommun-it', 'slow']\n"
        "    cli.main()\n"
    )
    env = dict(cli_env, KOMMUN_IT_HOME=str(home))
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    me = psutil.Process(proc.pid)
    deadline = time.monotonic() + 240
    kernels: list[psutil.Process] = []
    while time.monotonic() < deadline and len(kernels) < 2 and proc.poll() is None:  # two kernels sleeping
        time.sleep(1)
        kernels = [p for p in me.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
    assert len(kernels) == 2, "two kernels should be running"
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole foreground group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "interrupted" in err, err
    assert "0 of 4 reports finished" in err
    gone, alive = psutil.wait_procs(kernels, timeout=30)
    assert not alive, "kernels must not outlive an interrupted render"
    assert not list(out.rglob("slow-*.html")) and not list(out.rglob(f"*{render.STAGING_SUFFIX}"))


def test_file_names_are_unique_per_table_and_figure(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("KOMMUN_IT_REPORT_DIR", str(tmp_path))
    monkeypatch.setattr(display, "_state", {"prefix": "r-", "scratch": "report", "stems": set()})
    display.show_table(pd.DataFrame({"a": [1]}), "top suppliers")
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    display.save_figure(fig, pd.DataFrame({"b": [2]}), "top suppliers")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["r-top-suppliers-2-en.png", "r-top-suppliers-2-sv.csv", "r-top-suppliers-2-sv.png",
                     "r-top-suppliers-2.csv", "r-top-suppliers-sv.csv", "r-top-suppliers.csv"]
    assert pd.read_csv(tmp_path / "r-top-suppliers.csv", encoding="utf-8-sig").columns.tolist() == ["a"]


def test_dollar_signs_in_names_are_text_not_maths(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("KOMMUN_IT_REPORT_DIR", str(tmp_path))
    monkeypatch.setattr(display, "_state", {"prefix": "", "scratch": "report", "stems": set()})
    names = ["Firma $\\frac{1}{$ AB", "$$$ Cash AB", "A_b^c $x"]
    fig, ax = plt.subplots()
    ax.barh(names, [1, 2, 3])
    ax.set_title(names[0])
    html = display.save_figure(fig, pd.DataFrame({"name": names}), "names").data
    assert "names-en.png" in html and "names-sv.png" in html
    assert (tmp_path / "names-en.png").stat().st_size > 0


def test_formula_cells_are_neutralised_in_report_csvs(tmp_path, monkeypatch):
    monkeypatch.setenv("KOMMUN_IT_REPORT_DIR", str(tmp_path))
    df = pd.DataFrame({"supplier": ['=HYPERLINK("http://x","y")', "+46 AB", "-cmd", "@SUM(A1)", "Atea", "-12"],
                       "sek": [-1.5, 2, 3, 4, 5, 6]})
    path = display.write_csv(df, "formulas")
    back = pd.read_csv(path, dtype=str)
    assert back["supplier"].tolist() == ["'=HYPERLINK(\"http://x\",\"y\")", "'+46 AB", "'-cmd", "'@SUM(A1)", "Atea", "-12"]
    assert back["sek"].tolist()[0] == "-1.5"


def test_build_refuses_raw_bytes_that_differ_from_the_manifest(raw_dir, tmp_path):
    import shutil

    from analysis import build
    from analysis.errors import UserError

    raw = tmp_path / "raw"
    shutil.copytree(raw_dir, raw)
    target = raw / "kommuner-lan" / "municipality_county.csv"
    target.write_bytes(target.read_bytes() + b"\n")
    with pytest.raises(UserError, match=r"municipality_county.csv: sha256 \w+… differs from the manifest"):
        build.build(["reference"], raw_dir=raw, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_report_header_shows_the_actual_hash_and_marks_a_difference(home, monkeypatch):
    from analysis import fetch

    target = home / "raw-copy"
    import shutil

    shutil.copytree(home / "data" / "raw", target)
    (home / "data" / "raw").unlink()
    (home / "data" / "raw").symlink_to(target)
    changed = target / "kommuner-lan" / "municipality_county.csv"
    changed.write_bytes(changed.read_bytes() + b"\n")
    rows = {r["file"]: r for r in provenance.raw_data_hashes()}
    row = rows["kommuner-lan/municipality_county.csv"]
    assert row["sha256"] == fetch.sha256_file(changed) and row["manifest_sha256"] != row["sha256"]
    page = display.header("Synthetic provenance", {}).data
    assert row["sha256"] in page and "differs from the manifest" in page
