"""The `kommun-it` command line: fetch, build, and the later stages' commands.

Every user-facing failure is one line on stderr and exit code 2 (see errors.UserError).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="kommun-it: IT spend per inhabitant in Sweden's municipalities, from public data.",
)


@app.command()
def fetch(
    source_ids: Annotated[list[str] | None, typer.Argument(help="Source ids from data/sources.yml (default: all).")] = None,
    mirror: Annotated[
        Path | None,
        typer.Option(help="Offline mirror directory (default: $KOMMUN_IT_MIRROR or ../shared/data/mirror)."),
    ] = None,
) -> None:
    """Copy raw files from the mirror (or download them) into data/raw/, verifying every sha256."""
    from .fetch import fetch as run_fetch

    t0 = time.perf_counter()
    results = run_fetch(source_ids, mirror=mirror, progress=sys.stderr.isatty())
    counts = {a: sum(r.action == a for r in results) for a in ("verified", "copied", "downloaded")}
    if counts["copied"] == counts["downloaded"] == 0:
        typer.echo(f"fetch: all {len(results)} files already present and verified; nothing to do")
    else:
        typer.echo(
            f"fetch: {counts['copied']} copied from mirror, {counts['downloaded']} downloaded,"
            f" {counts['verified']} already verified ({time.perf_counter() - t0:.1f} s)"
        )


@app.command()
def build(
    stages: Annotated[list[str] | None, typer.Argument(help="Stages to run (default: all, in order).")] = None,
) -> None:
    """Build data/processed/ from data/raw/ (schema-validated, deterministic parquet)."""
    from .build import build as run_build

    t0 = time.perf_counter()
    written = run_build(stages, echo=typer.echo)
    typer.echo(f"build: wrote {len(written)} tables in {time.perf_counter() - t0:.1f} s")


@app.command()
def render(
    region: Annotated[list[str] | None, typer.Option(help="Län code(s) to render, e.g. 01 (repeatable).")] = None,
    municipality: Annotated[list[str] | None, typer.Option(help="Kommunkod(s) to render, e.g. 0180 (repeatable).")] = None,
    all_reports: Annotated[bool, typer.Option("--all", help="Also run the profile notebook for all 290 municipalities (slow; the site's 290 profile pages are always written).")] = False,
    notebook: Annotated[list[str] | None, typer.Option(help="Render only these notebooks (stem or number, e.g. 03).")] = None,
    param: Annotated[list[str] | None, typer.Option(help="Notebook parameter NAME=VALUE (repeatable), e.g. cooperation_kind=broad_kommunalforbund; see `kommun-it params`.")] = None,
    ledger: Annotated[list[str] | None, typer.Option(help="Ledger deep dive KOMMUNKOD:YYYY-MM (repeatable), e.g. 1880:2016-03.")] = None,
    jobs: Annotated[int, typer.Option(help="Reports rendered in parallel.")] = 1,
    out: Annotated[Path | None, typer.Option(help="Output directory (default: reports/).")] = None,
    timeout: Annotated[int, typer.Option(help="Seconds a notebook cell may run before the report fails.")] = 600,
    lang: Annotated[str, typer.Option(help="Page language: sv, en or both (Swedish first).")] = "both",
) -> None:
    """Execute the notebooks with papermill and write HTML reports in Swedish and English, the landing page
    reports/index.html and a profile page for each of the 290 municipalities.

    Default: the 5 national and 21 regional reports; --all adds the profile notebook for every municipality.
    Parameters with no data behind them are refused before any notebook runs (`kommun-it params` lists
    the valid values). Examples: `kommun-it render --region 12 --municipality 1880`,
    `kommun-it render --ledger 1880:2016-03`, `kommun-it render --notebook 03 --param year=2021`.
    """
    from .render import parse_params, plan
    from .render import render as run_render

    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file, not a folder for the reports")
    t0 = time.perf_counter()
    planned = plan(region, municipality, all_reports, notebook, parse_params(param or []), ledgers=ledger, langs=lang)
    results = run_render(planned, out_dir=out, workers=jobs, timeout=timeout, progress=sys.stderr.isatty(), langs=lang)
    failed = [r for r in results if not r.ok]
    for r in failed:
        typer.echo(f"render: FAILED {r.job.html_relpath}: {r.error}", err=True)
    from .config import reports_dir

    typer.echo(
        f"render: {len(results) - len(failed)} of {len(results)} reports written to {out or reports_dir()}"
        f" ({time.perf_counter() - t0:.1f} s); index: {(out or reports_dir()) / 'index.html'}"
    )
    if failed:
        raise typer.Exit(1)


@app.command()
def params(
    notebook: Annotated[str | None, typer.Argument(help="A notebook (stem or number, e.g. 04); default: all.")] = None,
) -> None:
    """Each notebook's parameters: type, default, meaning and the values valid on the data built now.

    Example: `kommun-it params 04`.
    """
    from . import config
    from .render import _resolve_notebook
    from .report.validate import params_text

    stems = [_resolve_notebook(notebook, config.NOTEBOOKS_DIR)] if notebook else sorted(
        p.stem for p in config.NOTEBOOKS_DIR.glob("*.ipynb"))
    typer.echo(params_text(stems))


refresh_app = typer.Typer(
    no_args_is_help=True,
    help="Fetch newer data online (SCB, Kolada, TED, Upphandlingsmyndigheten, municipal ledgers) into data/raw/ with a manifest record; see docs/refresh.md.",
)
app.add_typer(refresh_app, name="refresh")


@refresh_app.command("population")
def refresh_population(
    from_year: Annotated[int, typer.Option(help="First year to fetch (31 December population); default 2021.")] = 2021,
    source: Annotated[
        str, typer.Option(help="'scb' (PxWeb v1 BE0101N1, preferred by the build), 'scb-v2' (PxWebApi 2.0 TAB638) or 'kolada' (KPI N01951).")
    ] = "scb",
    base_url: Annotated[
        str | None, typer.Option(help="Prefix replacing the publisher's API base for --source (a mirror or a local server).")
    ] = None,
) -> None:
    """Fetch municipal population for --from-year onward; the next build adds those years."""
    from .refresh import refresh_population as run

    if base_url:
        env = {"scb": "KOMMUN_IT_SCB_API", "scb-v2": "KOMMUN_IT_SCB_V2_API", "kolada": "KOMMUN_IT_KOLADA_API"}.get(source)
        if env:
            os.environ[env] = base_url
    typer.echo(run(source=source, from_year=from_year).summary)


@refresh_app.command("kolada-groups")
def refresh_kolada_groups(
    base_url: Annotated[
        str | None, typer.Option(help="Prefix replacing https://api.kolada.se/v3 (a mirror or a local server).")
    ] = None,
) -> None:
    """Fetch Kolada's municipality groups, incl. SKR kommungrupp 2023, into data/raw/kolada-groups-refresh/."""
    from .refresh import refresh_kolada_groups as run

    if base_url:
        os.environ["KOMMUN_IT_KOLADA_API"] = base_url
    typer.echo(run().summary)


@refresh_app.command("procurement")
def refresh_procurement(
    source: Annotated[str, typer.Option(help="'ted' (bulk CSV 2006-2023), 'ted-api' (Search API v3, 2024-) or 'uhm'.")],
    years: Annotated[str, typer.Option(help="Years, e.g. 2006-2023, 2024- (to this year) or 2022.")],
    base_url: Annotated[
        str | None, typer.Option(help="Prefix replacing the publisher's (a mirror or a local test server).")
    ] = None,
) -> None:
    """Fetch procurement data online into data/raw/ (hashed, with a manifest record); see docs/refresh.md."""
    from .sources.cli import refresh_procurement as run

    typer.echo(run(source, years, base_url, progress=sys.stderr.isatty()))


@refresh_app.command("ledgers")
def refresh_ledgers(
    kommun: Annotated[
        list[str] | None, typer.Option(help="Kommunkod of a catalogue entry (repeat for several); default: all.")
    ] = None,
    years: Annotated[str | None, typer.Option(help="Only files of these years, e.g. 2018-2020, 2022- or 2019.")] = None,
    catalogue: Annotated[
        Path | None, typer.Option(help="A publisher catalogue in the format of data/publishers.yml (default: that file).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Scheme and host replacing every publisher's (a mirror or a local test server).")
    ] = None,
) -> None:
    """Fetch municipal supplier ledgers from their portals into data/raw/ledgers/ (incremental, versioned); see docs/ledgers-online.md."""
    from .sources.ledger_portals import refresh_ledgers as run

    typer.echo(run(kommun, years, catalogue, base_url, progress=sys.stderr.isatty()))


@refresh_app.command("publishers")
def refresh_publishers(
    base_url: Annotated[
        str | None, typer.Option(help="Prefix replacing https://admin.dataportal.se (a mirror or a local test server).")
    ] = None,
    catalogue: Annotated[
        Path | None, typer.Option(help="The catalogue to compare with (default: data/publishers.yml).")
    ] = None,
) -> None:
    """Search dataportal.se for supplier-ledger datasets; list municipalities not in the catalogue for review."""
    from .sources.publisher_search import refresh_publishers as run

    typer.echo(run(base_url, catalogue))


@app.command()
def ingest(
    file: Annotated[Path | None, typer.Argument(help="A supplier-ledger file (CSV, xlsx or rowstore JSON).")] = None,
    format: Annotated[str | None, typer.Option("--format", help="Shape (default: detected); see docs/ledgers.md.")] = None,
    kommun: Annotated[str | None, typer.Option(help="Kommunkod when the file has none, e.g. 1880.")] = None,
    period: Annotated[str | None, typer.Option(help="YYYY-MM when the file has no date column.")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding (default: detected).")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (default: detected).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write cleaned rows here (.parquet or .csv).")] = None,
    add: Annotated[bool, typer.Option("--add", help="Keep the cleaned rows in data/local/ for `kommun-it build` (analyst-supplied).")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="With --add: replace the ledger already added for that municipality and period.")] = False,
    remove: Annotated[bool, typer.Option("--remove", help="Take out the local ledger added from FILE, or of --kommun [--period].")] = False,
) -> None:
    """Read one supplier ledger into the cleaned schema; print its shape and reconciliation.

    Examples: `kommun-it ingest ledger.csv --kommun 0581 --add` (then `kommun-it build`),
    `kommun-it ingest --remove --kommun 0581`. See docs/analysts-guide.md.
    """
    from . import local_sources
    from .io import check_output
    from .ledgers import ingest_file, ingest_report, known_municipalities, write_table

    if remove:
        if add or replace or out:
            raise UserError("ingest --remove: cannot be combined with --add, --replace or --out")
        removed = local_sources.remove(file, kommun=kommun, period=period)
        typer.echo(f"ingest: removed {', '.join(removed)}; run `kommun-it build` to drop it from the reports")
        return
    if file is None:
        raise UserError("ingest: name a ledger FILE (or use --remove --kommun KOD)")
    if replace and not add:
        raise UserError("ingest --replace: only with --add")
    if not file.is_file():
        raise UserError(f"{file}: no such file")
    if out is not None:
        check_output(out, [file], suffixes=(".parquet", ".csv"))
    result = ingest_file(
        file,
        municipalities=known_municipalities(),
        shape=format,
        kommun=kommun,
        period=period,
        encoding=encoding,
        delimiter=delimiter,
    )
    typer.echo(safe_text(ingest_report(result)))
    if out is not None:
        write_table(result.ledger, out)
        typer.echo(f"ingest: wrote {len(result.ledger):,} rows to {out}")
    if add:
        typer.echo(safe_text(local_sources.add(file, result, replace=replace).summary))


@app.command()
def sources() -> None:
    """List every data source with its state: mirrored (data/sources.yml), refreshed and local (analyst-supplied)."""
    from .source_status import status_table

    typer.echo(status_table())


@app.command()
def version() -> None:
    """Print the code version."""
    typer.echo(__version__)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
REPORT_BUGS = "please report it at https://github.com/kommun-it/kommun-it/issues with the command you ran"


def safe_text(text: str) -> str:
    """Text from files or names made safe to print: terminal control codes shown as escapes (never
    interpreted by the terminal) and personnummer masked."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", text)
    if re.search(r"\d", text):
        from .ledgers.parse import mask_personnummer

        text = mask_personnummer(text)
    return text


def _error(message: str) -> None:
    lines = safe_text(" ".join(str(message).split()))
    try:
        sys.stderr.write(f"kommun-it: error: {lines}\n")
        sys.stderr.flush()
    except OSError:
        pass


def _run() -> int:
    """Run the app; every outcome becomes an exit code and at most one line on stderr."""
    from typer import _click

    exceptions = _click.exceptions  # typer vendors click; its exception classes live here
    try:
        code = app(standalone_mode=False)
        sys.stdout.flush()
        if code == 130:  # typer turns a KeyboardInterrupt into a silent Exit(130)
            _error("interrupted")
        return code if isinstance(code, int) else 0
    except UserError as exc:
        _error(str(exc))
        return exc.exit_code
    except exceptions.NoArgsIsHelpError:
        return 2
    except exceptions.UsageError as exc:
        ctx = exc.ctx
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        _error(exc.format_message() + where)
        return 2
    except exceptions.ClickException as exc:
        _error(exc.format_message())
        return 2
    except (KeyboardInterrupt, typer.Abort):
        _error("interrupted")
        return 130
    except SystemExit as exc:  # typer exits itself on a broken pipe
        return exc.code if isinstance(exc.code, int) else 1
    except OSError as exc:  # the file system refused: a full disk, no permission, a folder loop, a missing file
        what = exc.strerror or type(exc).__name__
        _error(f"{exc.filename}: {what}" if exc.filename is not None else f"cannot write output: {what}")
        return 2
    except Exception as exc:  # a bug, not bad input: still one line unless debugging
        if os.environ.get("KOMMUN_IT_DEBUG"):
            raise
        _error(f"internal error {type(exc).__name__}: {exc} (a bug: rerun with KOMMUN_IT_DEBUG=1 and {REPORT_BUGS})")
        return 1


def main() -> None:
    """Entry point: one line and exit code 2 for user faults, 130 for Ctrl-C, 1 for bugs.

    The process ends with os._exit after flushing: native reader thread pools (pyarrow's CPU and I/O
    pools) may still hold joinable threads, and tearing them down in the interpreter's finalisation can
    abort the process ("terminate called without an active exception", SIGABRT) after the right output.
    """
    code = _run()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            if stream is sys.stdout:
                _error("cannot write to standard output (disk full or closed pipe)")
                code = code or 2
    os._exit(code)


if __name__ == "__main__":
    main()
