"""The report notebooks: static shape (no outputs, one typed parameters cell) and a real render of each.

The render tests execute every notebook once through `analysis.render` on a scratch build of the real
data (the session's `processed_dir`), serially, and check what a reader must find in the HTML.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from analysis import config, render

NOTEBOOKS = config.NOTEBOOKS_DIR
EXPECTED_PARAMETERS = {
    "01_sources_and_coverage": {},
    "02_ledger_deep_dive": {"kommunkod": ("str", '"1880"'), "period": ("str", '"2016-03"')},
    "03_national_it_picture": {"year": ("int", "2021")},
    "04_cooperation_comparison": {
        "lens": ("str", '"procurement"'), "year": ("int", "2021"), "cooperation_kind": ("str", '"joint_it_operations"'),
    },
    "05_region_report": {"lan_kod": ("str", '"01"')},
    "06_municipality_profile": {"kommunkod": ("str", '"0180"')},
}


def _read(stem: str):
    return nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)


@pytest.mark.parametrize("stem", sorted(EXPECTED_PARAMETERS))
def test_notebook_is_committed_clean_with_one_parameters_cell(stem):
    nb = _read(stem)
    assert nb.metadata.get("kernelspec", {}).get("name") == render.KERNEL
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("outputs") == [] and c.get("execution_count") is None for c in code), "commit without outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    assert 5 <= len(code) - 1 <= 15, f"{len(code) - 1} code cells after the parameters cell"
    for cell in code:
        tree = ast.parse("\n".join(line for line in cell.source.splitlines() if not line.startswith("%")))
        assert not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.walk(tree))


@pytest.mark.parametrize("stem", sorted(EXPECTED_PARAMETERS))
def test_parameters_are_typed_literals_papermill_can_read(stem):
    """Every name assigned in the parameters cell is seen by papermill with its type (one '=' per line)."""
    cell = next(c for c in _read(stem).cells if "parameters" in c.metadata.get("tags", []))
    assigned = [n.target.id for n in ast.parse(cell.source).body if isinstance(n, ast.AnnAssign)]
    plain = [n for n in ast.parse(cell.source).body if isinstance(n, ast.Assign)]
    assert not plain, "parameters need a type annotation: name: type = literal"
    seen_by_papermill = papermill.inspect_notebook(str(NOTEBOOKS / f"{stem}.ipynb"))
    assert sorted(seen_by_papermill) == sorted(assigned), (
        f"papermill reads {sorted(seen_by_papermill)} of {sorted(assigned)}: one '=' per line, none in comments"
    )
    declared = render.notebook_parameters(NOTEBOOKS / f"{stem}.ipynb")
    for line in cell.source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert "#" in line, f"parameter without a comment: {line!r}"
    for name, (kind, default) in EXPECTED_PARAMETERS[stem].items():
        assert declared[name]["inferred_type_name"] == kind and declared[name]["default"] == default


@pytest.fixture(scope="module")
def rendered(processed_dir, raw_dir, tmp_path_factory):
    """Every notebook rendered once (national reports, one region, one municipality), serially."""
    home = tmp_path_factory.mktemp("notebooks-home")
    (home / "data").mkdir()
    (home / "data" / "processed").symlink_to(processed_dir)
    (home / "data" / "raw").symlink_to(raw_dir)
    mp = pytest.MonkeyPatch()
    mp.setenv("KOMMUN_IT_HOME", str(home))
    mp.delenv("KOMMUN_IT_PROVENANCE", raising=False)
    try:
        jobs = [*render.plan(notebooks=list(render.NATIONAL)), *render.plan(regions=["01"], municipalities=["0114"])]
        results = render.render(jobs, out_dir=home / "reports", workers=1, timeout=300)
    finally:
        mp.undo()
    return home / "reports", results


def test_every_notebook_renders(rendered):
    out, results = rendered
    assert len(results) == 6
    assert not [f"{r.job.html_relpath}: {r.error}" for r in results if not r.ok]
    assert {r.job.notebook for r in results} == set(EXPECTED_PARAMETERS)


@pytest.mark.parametrize("stem", sorted(EXPECTED_PARAMETERS))
def test_report_html_has_what_a_reader_needs(rendered, stem):
    out, results = rendered
    [result] = [r for r in results if r.job.notebook == stem]
    page = (out / result.job.html_relpath).read_text(encoding="utf-8")
    for heading in ("Key findings", "What this data cannot show", render.ATTRIBUTION):
        assert heading in page, f"{heading!r} missing"
    assert re.search(r"<img[^>]+src=\"data:image/png;base64,", page), "no PNG figure"
    assert "Traceback" not in page
    html = out / result.job.html_relpath
    [assets] = html.parent.glob(f"{html.stem}{render.ASSETS}*")  # this report's files, swapped in with it
    figures = list(assets.glob("*.png"))
    assert figures and all(f.with_suffix(".csv").is_file() for f in figures), "a CSV beside every figure"
    links = re.findall(rf"href=[\"']{re.escape(assets.name)}/([^\"']+)[\"']", page)
    assert links and all((assets / name).is_file() for name in links), "links into the report's files resolve"


def test_region_and_municipality_paths_and_index(rendered):
    out, _ = rendered
    assert (out / "region" / "01-stockholms-lan.html").is_file()
    assert (out / "municipality" / "0114-upplands-vasby.html").is_file()
    index = (out / "index.html").read_text(encoding="utf-8")
    for link in ("national/01_sources_and_coverage.html", "region/01-stockholms-lan.html",
                 "municipality/0114-upplands-vasby.html"):
        assert f"href='{link}'" in index
    assert "kommunkod=&#x27;0114&#x27;" in index and render.ATTRIBUTION in index


@pytest.fixture
def cli_home(cli_env, processed_dir, tmp_path):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "processed").symlink_to(processed_dir)
    return cli_env


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--region", "99"], "--region '99': no such län (valid: 01, 03,"),
        (["--municipality", "180"], "--municipality '180': not a kommunkod; use 4 digits such as 0180 (valid: 0114 … 2584"),
        (["--notebook", "04", "--param", "lense=ledger"], "--param 'lense': not a parameter of 04_cooperation_comparison"),
    ],
)
def test_cli_rejects_bad_parameters_before_any_kernel(cli_home, args, expected):
    proc = subprocess.run(
        [sys.executable, "-m", "analysis.cli", "render", "--out", str(cli_home["KOMMUN_IT_HOME"]) + "/reports", *args],
        capture_output=True, text=True, env=cli_home, timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kommun-it: error: {expected}"), proc.stderr
    assert not Path(cli_home["KOMMUN_IT_HOME"], "reports").exists(), "nothing may run before validation"
