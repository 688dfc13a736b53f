"""Every `kommun-it render` / `kommun-it params` example in the README, docs/notebooks.md and the CLI's
--help is run here, plus the by-hand papermill example of docs/notebooks.md.

Each render example is planned exactly as the CLI parses it (typer's own parser), so its parameters are
checked against the data (no example may be refused), and the union of the reports the examples plan is
rendered in one render call with two workers. An example that plans more than BULK reports (the default
set, `--all`) is planned in full but rendered only for notebooks no other example renders: the others are the same
notebook with another code, which test_notebooks renders too; a report another example already renders
with the same effective parameters is rendered once. Every rendered page must have key findings
and a table or figure, and be listed in the index.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time

import typer

from analysis import cli, config, render
from analysis.report import validate

ROOT = config.PROJECT_ROOT
DOCS = [ROOT / "README.md", ROOT / "docs" / "notebooks.md"]
EXAMPLE = re.compile(r"kommun-it (render|params)((?: +--?[\w-]+(?:[ =](?!-)[^\s`#|]+)?| +\d\d\b)*)")
BULK = 10


def _help_texts() -> list[str]:
    command = typer.main.get_command(cli.app)
    texts = []
    for name in ("render", "params", "ingest"):
        sub = command.commands[name]
        texts.append(sub.help or "")
        texts += [p.help or "" for p in sub.params if getattr(p, "help", None)]
    return texts


def documented_examples() -> list[tuple[str, str]]:
    """(where, 'render --region 12 …') for every example in the docs and the --help texts."""
    found = []
    for path in DOCS:
        for m in EXAMPLE.finditer(path.read_text(encoding="utf-8")):
            found.append((path.name, f"{m.group(1)}{m.group(2)}".strip()))
    for text in _help_texts():
        for m in EXAMPLE.finditer(text):
            found.append(("--help", f"{m.group(1)}{m.group(2)}".strip()))
    return list(dict.fromkeys(found))


def option_examples() -> list[tuple[str, str]]:
    """('--ledger', '1880:2016-03') for every render option whose help says 'e.g. X'."""
    render_cmd = typer.main.get_command(cli.app).commands["render"]
    out = []
    for p in render_cmd.params:
        for m in re.finditer(r"e\.g\. ([^\s;,)]+)", getattr(p, "help", "") or ""):
            out.append((p.opts[0], m.group(1).rstrip(".")))
    return out


def _plan(args: str):
    """The jobs `kommun-it render ARGS` would run, parsed by the CLI's own parser."""
    render_cmd = typer.main.get_command(cli.app).commands["render"]
    p = render_cmd.make_context("render", shlex.split(args)).params
    return render.plan(p["region"], p["municipality"], p["all_reports"], p["notebook"],
                       render.parse_params(p["param"] or []), ledgers=p["ledger"])


def test_examples_are_found():
    examples = documented_examples()
    where = {w for w, _ in examples}
    assert {"README.md", "notebooks.md", "--help"} <= where, examples
    assert ("README.md", "render --ledger 1880:2016-03") in examples
    assert ("--help", "params 04") in examples
    assert {o for o, _ in option_examples()} >= {"--param", "--ledger", "--region", "--municipality", "--notebook"}


def test_every_documented_example_plans_and_renders_a_non_empty_report(home):
    jobs, seen, bulk = [], set(), []
    for where, example in documented_examples():
        command, _, args = example.partition(" ")
        if command == "params":
            stems = [render._resolve_notebook(args, config.NOTEBOOKS_DIR)] if args else sorted(
                p.stem for p in config.NOTEBOOKS_DIR.glob("*.ipynb"))
            text = validate.params_text(stems)
            assert "valid now:" in text or stems == ["01_sources_and_coverage"], f"{where}: {example}"
            continue
        planned = _plan(args)  # a refusal raises UserError naming the example's parameter
        assert planned, f"{where}: {example} plans nothing"
        if len(planned) > BULK:
            bulk += planned
            continue
        for job in planned:
            key = (job.notebook, repr(sorted({**validate.defaults(job.notebook), **job.parameters}.items())))
            if key not in seen:
                seen.add(key)
                jobs.append(job)
    covered = {j.notebook for j in jobs}
    jobs += [j for j in {j.notebook: j for j in reversed(bulk)}.values() if j.notebook not in covered]
    for option, value in option_examples():
        if option == "--param":
            name, _, raw = value.partition("=")
            stems = [s for s in sorted(p.stem for p in config.NOTEBOOKS_DIR.glob("*.ipynb"))
                     if name in render.notebook_parameters(config.NOTEBOOKS_DIR / f"{s}.ipynb")]
            assert stems, f"--param example {value}: no notebook declares {name}"
            assert render.plan(notebooks=stems[:1], params={name: raw}), value
        else:
            kwarg = {"--ledger": "ledgers", "--region": "regions", "--municipality": "municipalities",
                     "--notebook": "notebooks"}.get(option)
            if kwarg:
                assert render.plan(**{kwarg: [value]}), f"{option} {value}"

    t0 = time.perf_counter()
    results = render.render(jobs, out_dir=home / "reports", workers=2, timeout=300)
    seconds = time.perf_counter() - t0
    print(f"rendered {len(jobs)} reports of the documented examples in {seconds:.1f} s")
    assert not [f"{r.job.html_relpath}: {r.error}" for r in results if not r.ok]
    index = (home / "reports" / "index.html").read_text(encoding="utf-8")
    for r in results:
        page = (home / "reports" / r.job.page("en")).read_text(encoding="utf-8")
        findings = re.search(r"<ul class=.key-findings.>(.*?)</ul>", page, re.S)
        assert findings and "<li>" in findings.group(1), f"{r.job.html_relpath}: no key findings"
        assert "<table" in page.split("Key findings", 1)[1] or "<img" in page, f"{r.job.html_relpath}: empty"
        assert f"href='{r.job.html_relpath}'" in index


def test_running_a_notebook_by_hand_writes_into_the_scratch_folder(home, tmp_path):
    """docs/notebooks.md 'Running one report by hand', verbatim but for the output path."""
    doc = (ROOT / "docs" / "notebooks.md").read_text(encoding="utf-8")
    block = doc.split("## Running one report by hand", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert any("papermill" in c for c in commands) and any("nbconvert" in c for c in commands)
    env = {**__import__("os").environ, "KOMMUN_IT_HOME": str(home)}
    for command in commands:
        if command.split()[0].endswith("kommun-it") and command.split()[1] == "build":
            continue  # the session's build is already in the home
        argv = shlex.split(command.replace("/tmp/out", str(tmp_path / "out")))
        argv[0] = str(ROOT / argv[0]) if argv[0].startswith(".venv/") else argv[0]
        proc = subprocess.run(argv, cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{command}: {proc.stderr[-1500:]}"
    assert (tmp_path / "out.html").is_file()
    reports = home / "reports"
    assert sorted(p.name for p in reports.iterdir()) == ["_scratch"], "nothing stray in reports/"
    scratch = reports / "_scratch" / "municipality-profile"
    assert sorted(p.suffix for p in scratch.iterdir()) and any(p.suffix == ".png" for p in scratch.iterdir())
    html_text = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert "reports/_scratch/municipality-profile/" in html_text, "links point into the scratch folder"
