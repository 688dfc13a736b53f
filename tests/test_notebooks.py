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
    "07_before_after_joining": {"outcome": ("str", '"activity_all"')},
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


def test_every_notebook_renders(rendered):
    out, results = rendered
    assert len(results) == len(EXPECTED_PARAMETERS)
    assert not [f"{r.job.html_relpath}: {r.error}" for r in results if not r.ok]
    assert {r.job.notebook for r in results} == set(EXPECTED_PARAMETERS)


@pytest.mark.parametrize("stem", sorted(EXPECTED_PARAMETERS))
def test_report_html_has_what_a_reader_needs(rendered, stem):
    out, results = rendered
    [result] = [r for r in results if r.job.notebook == stem]
    page = (out / result.job.page("en")).read_text(encoding="utf-8")
    for heading in ("Key findings", "What this data cannot show", render.ATTRIBUTION, "Reproduce this"):
        assert heading in page, f"{heading!r} missing"
    assert page.index("Key findings") < page.index("Reproduce this"), "parameters and hashes at the end"
    sv = (out / result.job.page("sv")).read_text(encoding="utf-8")
    for heading in ("Viktigaste resultaten", "Vad uppgifterna inte kan visa", "Gör om det här"):
        assert heading in sv and heading not in page, f"{heading!r} missing"
    assert "Key findings" not in sv and "<!--lang:" not in sv + page
    images = re.findall(r"<img[^>]*>", page)
    pngs = [re.search(r'src="\.\./\.\./' + result.job.group + r'/[^/"]+/([^"/]+-en\.png)"', img).group(1) for img in images
            if re.search(r'alt="[^"]+"', img)]
    assert pngs, "no PNG figure with alt text"
    assert "Traceback" not in page
    if stem == "07_before_after_joining":
        assert "Event study" in page and "Who joined when" in page and "2009–2015, 2021" in page
    if stem in ("03_national_it_picture", "06_municipality_profile"):
        assert "over the years present" in page.lower()
    [assets] = (out / result.job.group).glob(f"{result.job.name}{render.ASSETS}*")  # this report's files, swapped in with it
    for png in pngs:
        assert (assets / png).is_file() and (assets / png.replace("-en.png", "-sv.png")).is_file()
        assert (assets / png.replace("-en.png", ".csv")).is_file(), "a CSV beside every figure"
    links = re.findall(rf"(?:href|src)=[\"']\.\./\.\./{result.job.group}/{re.escape(assets.name)}/([^\"']+)[\"']", page)
    assert links and all((assets / name).is_file() for name in links), "links into the report's files resolve"


def test_region_and_municipality_paths_and_index(rendered):
    out, _ = rendered
    for lang in ("sv", "en"):
        assert (out / lang / "region" / "01-stockholms-lan.html").is_file()
        assert (out / lang / "municipality" / "0114-upplands-vasby.html").is_file()
        assert len(list((out / lang / "profile").glob("*.html"))) == 290, "every municipality has a profile"
    index = (out / "index.html").read_text(encoding="utf-8")
    for link in ("sv/national/01_sources_and_coverage.html", "sv/region/01-stockholms-lan.html",
                 "sv/profile/0114-upplands-vasby.html", "sv/methods.html", "sv/downloads.html", "en/index.html"):
        assert f"href='{link}'" in index, link
    assert index.count("<tr data-search=") == 290
    profile = (out / "sv" / "profile" / "0114-upplands-vasby.html").read_text(encoding="utf-8")
    assert "href='../municipality/0114-upplands-vasby.html'" in profile, "profile links the full report"
    reproduce = (out / "sv" / "reproduce.html").read_text(encoding="utf-8")
    assert "kommunkod: 0114" in reproduce and "href='../sv/municipality/0114-upplands-vasby.html'" in reproduce


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
