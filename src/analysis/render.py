"""`kommun-it render`: execute the parameterized notebooks with papermill and write HTML reports.

The run is planned and every parameter validated (against the processed data and the notebooks'
`parameters` cells) before any kernel starts. Each notebook then runs in its own worker process with its
own kernel, `--jobs` at a time. One execution carries both languages (see report.i18n): its outputs are
converted into a Swedish and an English page (nbconvert, code hidden), `<lang>/<group>/<name>.html`,
each written under a temporary name and moved into place only when complete; the figures and CSVs sit
once in `<group>/`. Then `report.landing` writes the landing pages, the 290 municipality profiles (from
one pass over the processed tables, not 290 notebook runs), methods, downloads and "Reproduce this".

Codes stay strings end to end: parameters go to papermill's Python API as Python values typed after
the notebook's declared parameter types, never through the command line or YAML (which turn "0114" into
the int 114 or the octal 76).
"""

from __future__ import annotations

import ast
import glob
import hashlib
import html
import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from string import Template

import nbformat

from . import __version__, config, provenance
from .errors import Interrupted, UserError
from .io import read_parquet

KERNEL = "kommun-it"
ATTRIBUTION = "Källa: SCB, Kolada (RKA), Upphandlingsmyndigheten, and the municipalities named"
NATIONAL = {
    "01_sources_and_coverage": "Sources and coverage",
    "02_ledger_deep_dive": "Supplier ledger deep dive",
    "03_national_it_picture": "The national IT picture",
    "04_cooperation_comparison": "Do cooperating municipalities spend less on IT?",
    "07_before_after_joining": "Before and after joining a cooperation",
}
REGION_NOTEBOOK = "05_region_report"
MUNICIPALITY_NOTEBOOK = "06_municipality_profile"
LEDGER_NOTEBOOK = "02_ledger_deep_dive"
GROUPS = {"national": "National reports", "region": "Regional reports (län)", "municipality": "Municipality profiles",
          "ledger": "Ledger deep dives (municipality, month)"}
CODE_PARAMS = {"lan_kod": "--region", "kommunkod": "--municipality"}
EXECUTED_DIR = "_executed"
TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Job:
    """One report to render: notebook, where its HTML goes (relative to the output dir), its parameters."""

    notebook: str
    group: str
    name: str
    title: str
    parameters: dict = field(default_factory=dict)
    langs: tuple[str, ...] = ("sv", "en")

    @property
    def html_relpath(self) -> str:
        """The page of the first language rendered (Swedish unless only English is asked for)."""
        return self.page(self.langs[0])

    def page(self, lang: str) -> str:
        return f"{lang}/{self.group}/{self.name}.html"


@dataclass(frozen=True)
class Result:
    job: Job
    ok: bool
    seconds: float
    error: str = ""
    html_seconds: float = 0.0


def slug(text: str) -> str:
    """ASCII file-name slug: 'Örebro län' -> 'orebro-lan'."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def notebook_parameters(path: Path) -> dict[str, dict]:
    """The notebook's declared parameters {name: {inferred_type_name, default, help}}.

    papermill.inspect_notebook is the authority; annotated literals it cannot parse (its regex skips a
    line holding two '=', e.g. one in the comment) are completed from the cell's Python syntax tree.
    """
    import papermill

    if not path.is_file():
        raise UserError(f"{path}: notebook not found")
    logging.getLogger("papermill.translators").setLevel(logging.ERROR)
    try:
        params = papermill.inspect_notebook(str(path))
    except ValueError as exc:
        raise UserError(f"{path.name}: cannot read its parameters ({exc})") from None
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    try:
        tree = ast.parse(cells[0].source) if cells else ast.Module(body=[], type_ignores=[])
    except SyntaxError as exc:
        raise UserError(f"{path.name}: parameters cell line {exc.lineno}: {exc.msg}") from None
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id not in params:
            params[node.target.id] = {
                "name": node.target.id,
                "inferred_type_name": ast.unparse(node.annotation),
                "default": ast.get_source_segment(cells[0].source, node.value) if node.value is not None else None,
                "help": "",
            }
    return params


def coerce(name: str, value: str, declared: dict, notebook: str) -> object:
    """Turn a command-line string into the type the notebook declares for the parameter."""
    kind = (declared.get("inferred_type_name") or "str").lower()
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            lowered = value.lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError
            return lowered in {"true", "1", "yes"}
    except ValueError:
        raise UserError(f"--param {name}={value!r}: {notebook} expects {kind}") from None
    return value


def parse_params(pairs: list[str]) -> dict[str, str]:
    """'name=value' strings into a dict; malformed pairs are errors."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", name.strip()):
            raise UserError(f"--param {pair!r}: use NAME=VALUE, e.g. --param year=2021")
        out[name.strip()] = value
    return out


def _municipalities():
    return read_parquet(config.processed_dir() / "municipalities.parquet")


def _check_region(code: str, lan: dict[str, str]) -> str:
    if code not in lan:
        what = "not a län code; use 2 digits such as 01" if not re.fullmatch(r"\d{2}", code) else "no such län"
        raise UserError(f"--region {code!r}: {what} (valid: {', '.join(sorted(lan))})")
    return code


def _check_municipality(code: str, kommun: dict[str, str]) -> str:
    if code not in kommun:
        what = "not a kommunkod; use 4 digits such as 0180" if not re.fullmatch(r"\d{4}", code) else "no such municipality"
        codes = sorted(kommun)
        raise UserError(f"--municipality {code!r}: {what} (valid: {codes[0]} … {codes[-1]}, {len(codes)} codes)")
    return code


def _resolve_notebook(name: str, notebooks_dir: Path) -> str:
    """A notebook stem from a full stem, a file name or a numeric prefix such as '03'."""
    stems = sorted(p.stem for p in notebooks_dir.glob("*.ipynb"))
    stem = name.removesuffix(".ipynb")
    matches = [s for s in stems if s == stem] or [s for s in stems if s.split("_", 1)[0] == stem]
    if len(matches) != 1:
        raise UserError(f"--notebook {name!r}: no such notebook (valid: {', '.join(stems) or 'none found'})")
    return matches[0]


def plan(
    regions: list[str] | None = None,
    municipalities: list[str] | None = None,
    all_reports: bool = False,
    notebooks: list[str] | None = None,
    params: dict[str, str] | None = None,
    notebooks_dir: Path | None = None,
    ledgers: list[str] | None = None,
    check_data: bool = True,
    langs: tuple[str, ...] = ("sv", "en"),
) -> list[Job]:
    """Validate the selection and parameters and list the reports to render; nothing is executed.

    Default: the national reports and all 21 regional reports. `all_reports` adds the 290 municipality
    profiles. Explicit regions, municipalities or notebooks render just those. `ledgers` ("1880:2016-03")
    adds ledger deep dives (so does `--notebook 02 --param kommunkod=…`), and every municipality profile
    brings the deep dives of the months the ledger holds for it, which the profile links to.
    With `check_data`, parameters the built data holds nothing for are refused (report.validate).
    `langs`: the pages each execution becomes ("sv", "en" or both).
    """
    notebooks_dir = notebooks_dir or config.NOTEBOOKS_DIR
    langs = check_langs(langs)
    params = dict(params or {})
    ledgers = [(spec, f"--ledger {spec}") for spec in ledgers or []]
    notebooks = list(notebooks or [])
    if "kommunkod" in params and [_resolve_notebook(n, notebooks_dir) for n in notebooks] == [LEDGER_NOTEBOOK]:
        code, period = params.pop("kommunkod"), params.pop("period", "")
        ledgers.append((f"{code}:{period}", f"--param kommunkod={code!r}" + (f" --param period={period!r}" if period else "")))
        notebooks = []
    regions, municipalities = list(regions or []), list(municipalities or [])
    muni = _municipalities()
    lan = dict(zip(muni["lan_kod"], muni["lan_name"], strict=True))
    kommun = dict(zip(muni["kommunkod"], muni["name"], strict=True))
    official = dict(zip(muni["kommunkod"], official_names(muni), strict=True))
    regions = [_check_region(c, lan) for c in regions]
    municipalities = [_check_municipality(c, kommun) for c in municipalities]
    ledger_specs = [_check_ledger(spec, flag) for spec, flag in ledgers]
    for name, flag in CODE_PARAMS.items():
        if name in params:
            raise UserError(f"--param {name}: choose codes with {flag} instead")

    chosen = [_resolve_notebook(n, notebooks_dir) for n in notebooks or []]
    explicit = bool(regions or municipalities or chosen or ledger_specs)
    national = list(NATIONAL) if all_reports or not explicit else [n for n in chosen if n in NATIONAL]
    if all_reports or not explicit or (REGION_NOTEBOOK in chosen and not regions):
        regions = regions or sorted(lan)
    if all_reports or (MUNICIPALITY_NOTEBOOK in chosen and not municipalities):
        municipalities = municipalities or sorted(kommun)
    for stem in chosen:
        if stem not in NATIONAL and stem not in (REGION_NOTEBOOK, MUNICIPALITY_NOTEBOOK):
            national.append(stem)

    selected = [*national, *([REGION_NOTEBOOK] if regions else []), *([MUNICIPALITY_NOTEBOOK] if municipalities else [])]
    declared = {stem: notebook_parameters(notebooks_dir / f"{stem}.ipynb") for stem in selected}
    for name in params:
        if not any(name in d for d in declared.values()):
            valid = sorted({p for d in declared.values() for p in d} - set(CODE_PARAMS))
            raise UserError(f"--param {name!r}: not a parameter of {', '.join(selected)} (valid: {', '.join(valid)})")
    for stem, code_param in ((REGION_NOTEBOOK, "lan_kod"), (MUNICIPALITY_NOTEBOOK, "kommunkod")):
        if stem in declared and declared[stem].get(code_param, {}).get("inferred_type_name") != "str":
            raise UserError(
                f"{stem}.ipynb: papermill finds no str parameter {code_param} in the parameters cell; declare it as"
                f" `{code_param}: str = ...` on a line with a single '=' (found: {', '.join(declared[stem]) or 'none'})"
            )

    def overrides(stem: str) -> dict:
        return {k: coerce(k, v, declared[stem][k], stem) for k, v in params.items() if k in declared[stem]}

    def suffix(extra: dict) -> str:
        return "".join(f"--{slug(k)}-{slug(str(v))}" for k, v in extra.items())

    jobs = []
    for stem in national:
        extra = overrides(stem)
        jobs.append(Job(stem, "national", stem + suffix(extra), NATIONAL.get(stem, stem), extra, langs))
    for code in regions:
        extra = overrides(REGION_NOTEBOOK)
        jobs.append(Job(REGION_NOTEBOOK, "region", f"{code}-{slug(lan[code])}{suffix(extra)}", lan[code],
                        {"lan_kod": code, **extra}, langs))
    for code in municipalities:
        extra = overrides(MUNICIPALITY_NOTEBOOK)
        jobs.append(Job(MUNICIPALITY_NOTEBOOK, "municipality", f"{code}-{slug(kommun[code])}{suffix(extra)}",
                        official[code], {"kommunkod": code, **extra}, langs))
    if municipalities:
        from .report.validate import ledger_months

        months = ledger_months()
        ledger_specs += [(c, p) for c in municipalities for p in months.get(c, []) if (c, p) not in ledger_specs]
    for code, period in dict.fromkeys(ledger_specs):
        jobs.append(Job(LEDGER_NOTEBOOK, "ledger", ledger_report_name(code, kommun[code], period),
                        f"{official[code]}, {period}", {"kommunkod": code, "period": period}, langs))
    if check_data:
        from .report.validate import check_job

        for job in jobs:
            check_job(job.notebook, job.parameters, notebooks_dir)
    return jobs


def ledger_report_name(kommunkod: str, name: str, period: str) -> str:
    """File stem of a ledger deep dive in the 'ledger' group: '1880-orebro-2016-03'."""
    return f"{kommunkod}-{slug(name)}-{period}"


def _check_ledger(spec: str, flag: str) -> tuple[str, str]:
    """'1880:2016-03' (or '1880' for the latest month held) -> ('1880', '2016-03'), checked against the data."""
    from .report.validate import check_ledger, ledger_months

    code, _, period = spec.partition(":")
    if not period:
        months = ledger_months().get(code, [])
        period = months[-1] if months else ""
    if period and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise UserError(f"{flag}: the period must be a month YYYY-MM, e.g. --ledger 1880:2016-03")
    check_ledger(code, period, flag)
    return code, period


def check_langs(langs) -> tuple[str, ...]:
    """('sv', 'en') from 'both', 'sv', 'en' or a sequence of them; Swedish first."""
    from .report import i18n

    wanted = i18n.LANGS if langs in ("both", None) else ((langs,) if isinstance(langs, str) else tuple(langs))
    bad = [lang for lang in wanted if lang not in i18n.LANGS]
    if bad or not wanted:
        raise UserError(f"--lang {bad[0] if bad else ''!r}: use sv, en or both")
    return tuple(lang for lang in i18n.LANGS if lang in wanted)


def official_names(muni) -> list[str]:
    """Official names ('Norrköpings kommun', 'Göteborgs Stad') from the municipalities table, else '<name> kommun'."""
    if "official_name" in muni.columns:
        return muni["official_name"].tolist()
    return [f"{n} kommun" for n in muni["name"]]


def _first_line(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None) or type(exc).__name__
    evalue = str(getattr(exc, "evalue", None) or exc)
    return f"{ename}: {evalue}".strip().splitlines()[0][:300]


def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


_REPRODUCE = re.compile(r"<section class=[\"']reproduce[\"']>.*?</section>", re.S)


def _to_html(nb, title: str, lang: str = "en", other_page: str | None = None) -> str:
    """A self-contained HTML page of an executed notebook in one language: outputs only (no code, prompts
    or stderr), the notebook's prose from the catalogue, "Reproduce this" moved to the end.

    nbconvert's `basic` template gives the cell outputs; our small page template replaces the lab
    template's 280 KB of CSS and its CDN scripts, so the reports stay small and work offline.
    """
    from nbconvert import HTMLExporter

    from .report import i18n

    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # papermill's injected cell gets a random id: same report, same bytes
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        elif cell.get("cell_type") == "markdown":
            cell["source"] = i18n.text(cell["source"], lang)
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    body = i18n.split(body, lang)
    reproduce = "".join(_REPRODUCE.findall(body))
    body = _REPRODUCE.sub("", body) + reproduce
    style = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    other = i18n.LANGS[1 - i18n.LANGS.index(lang)]
    switch = (f" · <a href='{html.escape(other_page)}' lang='{other}'>{i18n.t('page.other_lang', lang)}</a>"
              if other_page else "")
    return _template("report.html").substitute(
        title=html.escape(i18n.text(title, lang)), body=body, style=style, version=html.escape(__version__), lang=lang,
        nav=f"<a href='../index.html'>{i18n.t('page.all_reports', lang)}</a>{switch}",
    )


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


ASSETS = "_files-"  # a report's CSVs and PNGs live in <name>_files-<content hash>/ beside its HTML
STAGING_SUFFIX = ".staging"


def _publish(staging: Path, stem: Path, pages: dict[Path, str]) -> None:
    """Swap a finished report in, so a killed run leaves the old report or the new one, whole.

    The files the notebook wrote move (one directory rename) to <stem>_files-<hash of their content>/, a
    name the old pages never point to; then each language page replaces its old version atomically; only
    then are the previous asset folders removed. Identical content gives the identical folder and bytes.
    """
    digest = hashlib.sha256()
    for f in sorted(p for p in staging.rglob("*") if p.is_file()):
        digest.update(f.relative_to(staging).as_posix().encode() + b"\0" + f.read_bytes())
    assets = stem.parent / f"{stem.name}{ASSETS}{digest.hexdigest()[:12]}"
    if assets.exists():
        shutil.rmtree(staging)
    else:
        os.chmod(staging, 0o755)
        os.rename(staging, assets)
    for path, page in pages.items():
        _atomic_write(path, page.replace(staging.name, assets.name))
    _remove_assets(stem, keep=assets.name)


def _remove_assets(stem: Path, keep: str | None = None) -> None:
    for old in stem.parent.glob(f"{glob.escape(stem.name)}{ASSETS}*"):
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def render_job(job: Job, out_dir: Path, notebooks_dir: Path, timeout: int, env: dict[str, str]) -> Result:
    """Execute one notebook (run in a fresh worker process) and write its HTML and sidecar record.

    Ctrl-C is the parent's business: it cancels queued reports and kills this worker and its kernel.
    """
    import papermill

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    t0 = time.perf_counter()
    os.environ.clear()
    os.environ.update(env)
    os.environ.pop("MPLBACKEND", None)
    shared = out_dir / job.group  # a report's files, once for all its language pages
    shared.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{job.name}.", suffix=STAGING_SUFFIX, dir=shared))
    os.environ["KOMMUN_IT_REPORT_DIR"] = str(staging)
    os.environ["KOMMUN_IT_ASSET_URL"] = f"../../{job.group}/{staging.name}/"
    pages = {lang: out_dir / job.page(lang) for lang in job.langs}
    executed = out_dir / EXECUTED_DIR / job.group / f"{job.name}.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    log = os.open(executed.with_suffix(".log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 2)
    os.close(log)
    try:
        nb = papermill.execute_notebook(
            str(notebooks_dir / f"{job.notebook}.ipynb"),
            str(executed),
            parameters=dict(job.parameters),
            kernel_name=KERNEL,
            execution_timeout=timeout,
            request_save_on_cell_execute=False,
            progress_bar=False,
            cwd=str(staging),
        )
        t_html = time.perf_counter()
        written = {}
        for lang, path in pages.items():
            other = [la for la in job.langs if la != lang]
            written[path] = _to_html(nb, job.title, lang, f"../../{job.page(other[0])}" if other else None)
        _publish(staging, shared / job.name, written)
        t_html = time.perf_counter() - t_html
    except Exception as exc:  # noqa: BLE001 - any failure is reported per report, the run goes on
        for path in pages.values():
            path.unlink(missing_ok=True)
        _remove_assets(shared / job.name)
        executed.with_suffix(".json").unlink(missing_ok=True)
        return Result(job, False, time.perf_counter() - t0, _first_line(exc))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    record = {"job": asdict(job), "html": job.html_relpath, "pages": {la: job.page(la) for la in job.langs},
              **provenance.provenance(job.parameters)}
    _atomic_write(executed.with_suffix(".json"), json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False))
    return Result(job, True, time.perf_counter() - t0, html_seconds=t_html)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C: cancel the queued reports and kill the running workers together with their kernels.

    Kernels run in their own sessions (jupyter_client starts them so), so the terminal's SIGINT never
    reaches them; they are found as the workers' child processes.
    """
    import psutil

    workers = list((pool._processes or {}).values())  # no public accessor for the worker processes
    pool.shutdown(wait=False, cancel_futures=True)
    victims = []
    for worker in workers:
        try:
            proc = psutil.Process(worker.pid)
            victims += [*proc.children(recursive=True), proc]
        except psutil.Error:
            continue
    for proc in victims:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(victims, timeout=30)


def _pool(workers: int) -> ProcessPoolExecutor:
    """One fresh process per report, forked from a server that has papermill and nbconvert imported and warmed up."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["analysis.render", "analysis.report", "papermill", "nbconvert", "analysis.render_warmup"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, max_tasks_per_child=1)


def render(
    jobs: list[Job],
    out_dir: Path | None = None,
    workers: int = 1,
    timeout: int = 600,
    notebooks_dir: Path | None = None,
    progress: bool = False,
    langs: tuple[str, ...] = ("sv", "en"),
    site: bool = True,
) -> list[Result]:
    """Render the planned jobs, `workers` at a time, then write the site (landing pages, profiles, index);
    returns one Result per job."""
    from tqdm import tqdm

    if workers < 1:
        raise UserError(f"--jobs {workers}: must be at least 1")
    if timeout < 1:
        raise UserError(f"--timeout {timeout}: must be at least 1 second")
    out_dir = (out_dir or config.reports_dir()).resolve()
    notebooks_dir = (notebooks_dir or config.NOTEBOOKS_DIR).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir}: is a file, not a folder for the reports")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(f"*/.*{STAGING_SUFFIX}"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    env = dict(os.environ)
    env[provenance.ENV_VAR] = str(provenance.write_snapshot(out_dir / EXECUTED_DIR / "provenance.json"))
    results = []
    pool = _pool(min(workers, max(len(jobs), 1)))
    try:
        with tqdm(total=len(jobs), disable=not progress, file=sys.stderr, unit="report", desc="reports") as bar:
            futures = {pool.submit(render_job, job, out_dir, notebooks_dir, timeout, env): i for i, job in enumerate(jobs)}
            for future in as_completed(futures):
                results.append((futures[future], future.result()))
                bar.update(1)
    except KeyboardInterrupt:
        _stop(pool)
        for stale in out_dir.glob(f"*/.*{STAGING_SUFFIX}"):
            shutil.rmtree(stale, ignore_errors=True)
        write_index(out_dir)
        raise Interrupted(
            f"interrupted: {len(results)} of {len(jobs)} reports finished; the others were cancelled and their"
            " kernels stopped"
        ) from None
    pool.shutdown(wait=True)
    results = [r for _, r in sorted(results, key=lambda pair: pair[0])]
    if site:
        from .report import landing

        landing.write_site(out_dir, langs=check_langs(langs), progress=progress)
    else:
        write_index(out_dir)
    return results


def _fingerprint(rows: list[dict]) -> str:
    """A short hash over a list of {name, sha256} records, to compare data versions at a glance."""
    text = "\n".join(f"{next(iter(r.values()))} {r['sha256']}" for r in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def write_index(out_dir: Path | None = None) -> Path:
    """Write index.html linking every report whose HTML and sidecar record exist, grouped and escaped."""
    out_dir = out_dir or config.reports_dir()
    records = []
    for sidecar in sorted((out_dir / EXECUTED_DIR).glob("*/*.json")):
        rec = json.loads(sidecar.read_text(encoding="utf-8"))
        if (out_dir / rec["html"]).is_file():
            records.append(rec)
    sections = []
    for group, heading in GROUPS.items():
        rows = []
        for rec in sorted((r for r in records if r["job"]["group"] == group), key=lambda r: r["html"]):
            params = ", ".join(f"{k}={v!r}" for k, v in rec["parameters"].items()) or "defaults"
            raw, processed = _fingerprint(rec["raw_data"]), _fingerprint(rec["processed"])
            rows.append(
                f"<tr><td><a href='{html.escape(rec['html'])}'>{html.escape(rec['job']['title'])}</a></td>"
                f"<td><code>{html.escape(params)}</code></td>"
                f"<td><code title='raw files'>{raw}</code> / <code title='processed tables'>{processed}</code></td>"
                f"<td><code>{html.escape(rec['code_version'])}</code></td></tr>"
            )
        if rows:
            sections.append(
                f"<h2>{html.escape(heading)} ({len(rows)})</h2><table><thead><tr><th>report</th><th>parameters</th>"
                f"<th>data (raw / processed)</th><th>code version</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            )
    body = "".join(sections) or "<p>No reports rendered yet: run <code>kommun-it render</code>.</p>"
    page = _template("index.html").substitute(
        body=body, style=(TEMPLATES / "report.css").read_text(encoding="utf-8"), attribution=html.escape(ATTRIBUTION)
    )
    path = out_dir / "index.html"
    _atomic_write(path, page)
    return path
