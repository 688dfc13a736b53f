"""Rendering machinery: provenance records, parameter validation, index page (no kernels here)."""

from __future__ import annotations

import json

from analysis import config, provenance


def test_provenance_has_version_parameters_and_hashes(raw_dir, monkeypatch):
    monkeypatch.delenv(provenance.ENV_VAR, raising=False)
    rec = provenance.provenance({"kommunkod": "0114"})
    assert rec["code_version"].startswith(__import__("analysis").__version__)
    assert rec["parameters"] == {"kommunkod": "0114"}
    assert isinstance(rec["raw_data"], list) and isinstance(rec["processed"], list)


def test_provenance_hashes_processed_tables_and_reads_cache(processed_dir, monkeypatch, tmp_path):
    monkeypatch.delenv(provenance.ENV_VAR, raising=False)
    hashes = provenance.processed_hashes(processed_dir)
    names = [h["table"] for h in hashes]
    assert "municipalities" in names and names == sorted(names)
    muni = next(h for h in hashes if h["table"] == "municipalities")
    assert muni["sha256"] == provenance.sha256_file(processed_dir / "municipalities.parquet")

    snap = tmp_path / "prov.json"
    snap.write_text(json.dumps({"code_version": "x+y", "raw_data": [], "processed": [{"table": "t", "sha256": "0" * 64}]}))
    monkeypatch.setenv(provenance.ENV_VAR, str(snap))
    rec = provenance.provenance({"year": 2021})
    assert rec == {"code_version": "x+y", "parameters": {"year": 2021}, "raw_data": [], "processed": [{"table": "t", "sha256": "0" * 64}]}


def test_raw_hashes_come_from_manifest(raw_dir, monkeypatch):
    monkeypatch.delenv("KOMMUN_IT_HOME", raising=False)
    from analysis import manifest

    expected = {f.relpath: f.sha256 for s in manifest.load().values() for f in s.files}
    rows = provenance.raw_data_hashes()
    assert rows, "fetched raw files should be listed"
    assert all(expected[r["file"]] == r["sha256"] for r in rows)
    assert config.raw_dir().joinpath(rows[0]["file"]).is_file()


# --- planning and parameter validation (no kernel starts) -------------------------------------------

import nbformat
import pytest

from analysis import render
from analysis.report import validate as render_validate
from analysis.errors import UserError

FIXTURES = config.PROJECT_ROOT / "tests" / "fixtures" / "notebooks"


def _synthetic_notebooks(directory):
    """Parameter-cell-only stand-ins for the seven report notebooks (plan() reads nothing else)."""
    cells = {
        "01_sources_and_coverage": "",
        "02_ledger_deep_dive": 'kommunkod: str = "1880"  # municipality\nperiod: str = "2016-03"  # month',
        "03_national_it_picture": "year: int = 2021  # year",
        "04_cooperation_comparison": 'lens: str = "procurement"  # lens\nyear: int = 2021  # year\nconfirmed_only: bool = False  # switch',
        "05_region_report": 'lan_kod: str = "01"  # län',
        "06_municipality_profile": 'kommunkod: str = "0180"  # municipality',
        "07_before_after_joining": 'outcome: str = "activity_all"  # outcome',
    }
    directory.mkdir()
    for stem, source in cells.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "kommun-it", "display_name": "Python (kommun-it)", "language": "python"}
        cell = nbformat.v4.new_code_cell(source or "pass  # no parameters")
        cell.metadata["tags"] = ["parameters"]
        nb.cells = [cell]
        nbformat.write(nb, directory / f"{stem}.ipynb")
    return directory


def test_plan_default_all_and_selection(home, tmp_path):
    nbs = _synthetic_notebooks(tmp_path / "synthetic_notebooks")
    default = render.plan(notebooks_dir=nbs)
    assert [j.group for j in default].count("national") == 5
    regions = [j for j in default if j.group == "region"]
    assert len(regions) == 21 and regions[0].parameters == {"lan_kod": "01"}
    assert regions[0].html_relpath == "sv/region/01-stockholms-lan.html"
    assert regions[0].page("en") == "en/region/01-stockholms-lan.html"
    everything = render.plan(all_reports=True, notebooks_dir=nbs)
    ledger_months = render_validate.ledger_months()
    assert len(everything) == 5 + 21 + 290 + sum(len(m) for m in ledger_months.values())
    profile = next(j for j in everything if j.parameters.get("kommunkod") == "0114")
    assert profile.html_relpath == "sv/municipality/0114-upplands-vasby.html"
    assert render.plan(all_reports=True, notebooks_dir=nbs, langs="en")[0].html_relpath.startswith("en/")
    assert isinstance(profile.parameters["kommunkod"], str)
    only = render.plan(municipalities=["1880"], notebooks_dir=nbs)
    assert [(j.group, j.parameters) for j in only] == [
        ("municipality", {"kommunkod": "1880"}), ("ledger", {"kommunkod": "1880", "period": "2016-03"})
    ], "a profile brings the ledger deep dives it links to"
    assert only[0].html_relpath == "sv/municipality/1880-orebro.html"


def test_plan_params_are_typed_by_the_notebook(home, tmp_path):
    nbs = _synthetic_notebooks(tmp_path / "synthetic_notebooks")
    jobs = render.plan(notebooks=["03", "04"], params={"year": "2020", "confirmed_only": "true"}, notebooks_dir=nbs,
                       check_data=False)
    assert [j.parameters for j in jobs] == [{"year": 2020}, {"year": 2020, "confirmed_only": True}]
    assert jobs[0].html_relpath == "sv/national/03_national_it_picture--year-2020.html"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"regions": ["99"]}, "--region '99': no such län (valid: 01, 03,"),
        ({"regions": ["1"]}, "--region '1': not a län code; use 2 digits"),
        ({"municipalities": ["180"]}, "--municipality '180': not a kommunkod; use 4 digits such as 0180 (valid: 0114 … 2584"),
        ({"notebooks": ["04"], "params": {"lense": "ledger"}}, "--param 'lense': not a parameter of 04_cooperation_comparison"),
        ({"notebooks": ["03"], "params": {"year": "twenty"}}, "--param year='twenty': 03_national_it_picture expects int"),
        ({"notebooks": ["02"], "params": {"kommunkod": "0180"}},
         "--param kommunkod='0180': the ledger lens holds no monthly postings for this municipality (valid: 1880:2016-03"),
        ({"notebooks": ["02"], "params": {"kommunkod": "1880", "period": "2016-04"}},
         "--param kommunkod='1880' --param period='2016-04': municipality 1880 published no ledger for this month (valid: 2016-03)"),
        ({"ledgers": ["1880:2016-4"]}, "--ledger 1880:2016-4: the period must be a month YYYY-MM"),
        ({"notebooks": ["02"], "params": {"period": "2016-04"}}, "--param period='2016-04': municipality 1880 published"),
        ({"notebooks": ["03"], "params": {"year": "2020"}}, "--param year=2020: the procurement lens holds no such year (valid: 2021)"),
        ({"notebooks": ["06"], "params": {"kommunkod": "0180"}}, "--param kommunkod: choose codes with --municipality"),
        ({"notebooks": ["99"]}, "--notebook '99': no such notebook"),
    ],
)
def test_plan_rejects_bad_parameters_in_one_line(home, tmp_path, kwargs, message):
    nbs = _synthetic_notebooks(tmp_path / "synthetic_notebooks")
    with pytest.raises(UserError) as err:
        render.plan(notebooks_dir=nbs, **kwargs)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_parse_params():
    assert render.parse_params(["year=2020", "lens=ledger"]) == {"year": "2020", "lens": "ledger"}
    with pytest.raises(UserError, match="use NAME=VALUE"):
        render.parse_params(["year"])


# --- execution with the fixture notebook (kernels start here) ----------------------------------------


def test_codes_arrive_as_strings_and_failures_are_named(home, tmp_path):
    out = tmp_path / "reports"
    jobs = [
        render.Job("fixture_echo", "municipality", "0114-upplands-vasby", "Upplands <Väsby>", {"kommunkod": "0114"}),
        render.Job("fixture_echo", "national", "fixture-fail", "Failing fixture", {"fail": True}),
    ]
    results = render.render(jobs, out_dir=out, workers=2, timeout=60, notebooks_dir=FIXTURES, site=False)
    assert [r.ok for r in results] == [True, False]
    assert results[1].error == "ValueError: fixture failure on purpose"
    assert (out / "en" / "municipality" / "0114-upplands-vasby.html").is_file(), "one execution, a page per language"
    page = (out / "sv" / "municipality" / "0114-upplands-vasby.html").read_text(encoding="utf-8")
    assert "kommunkod=&#39;0114&#39; type=str" in page or "kommunkod='0114' type=str" in page
    assert f"report_dir={out / 'municipality'}" in page
    assert "data:image/png;base64" in page and "Traceback" not in page
    assert "print(f" not in page, "code cells must be hidden"
    assert not (out / "sv" / "national" / "fixture-fail.html").exists()
    assert not list(out.rglob("*.part"))
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "municipality/0114-upplands-vasby.html" in index and "fixture-fail" not in index
    assert "Upplands &lt;Väsby&gt;" in index and "<Väsby>" not in index
    assert render.ATTRIBUTION in index
    record = json.loads((out / "_executed" / "municipality" / "0114-upplands-vasby.json").read_text())
    assert record["parameters"] == {"kommunkod": "0114"}
    assert {r["table"] for r in record["processed"]} >= {"municipalities", "population"}


def test_parameters_papermill_cannot_parse_are_still_typed(tmp_path):
    """papermill skips `x: str = "01"  # (01 = ...)`; the syntax tree still gives name, type and default."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "kommun-it", "display_name": "Python (kommun-it)", "language": "python"}
    cell = nbformat.v4.new_code_cell('lan_kod: str = "01"  # län code (01 = Stockholms län)\nyear: int = 2021  # year')
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    path = tmp_path / "synthetic_params.ipynb"
    nbformat.write(nb, path)
    declared = render.notebook_parameters(path)
    assert {k: (v["inferred_type_name"], v["default"]) for k, v in declared.items()} == {
        "lan_kod": ("str", '"01"'), "year": ("int", "2021")}


def test_a_cell_over_the_timeout_fails_that_report_only(home, tmp_path):
    out = tmp_path / "reports"
    jobs = [render.Job("fixture_echo", "national", "slow", "Slow fixture", {"sleep_seconds": 60}),
            render.Job("fixture_echo", "national", "quick", "Quick fixture", {})]
    slow, quick = render.render(jobs, out_dir=out, workers=2, timeout=3, notebooks_dir=FIXTURES, site=False)
    assert not slow.ok and "Timeout" in slow.error and "\n" not in slow.error
    assert quick.ok and (out / "sv" / "national" / "quick.html").is_file()
    assert not (out / "sv" / "national" / "slow.html").exists()
