"""Building blocks of every report: header, key findings, caveat box, tables and figures with CSVs beside.

Everything returns IPython display objects so a notebook cell is one call. Text that may come from raw
data (names of municipalities, suppliers, procurements) is always passed through html.escape here.
Files (CSV, PNG) go to the report's output directory: $KOMMUN_IT_REPORT_DIR (set by `kommun-it render`),
else config.reports_dir(). Their names carry the prefix set by the latest header() call, so reports that
share a directory (all region reports, say) never overwrite each other's tables.
"""

from __future__ import annotations

import hashlib
import html
import io
import os
import re
import unicodedata
from pathlib import Path

import matplotlib
import pandas as pd
from IPython.display import HTML, Image, display

from .. import config, manifest
from ..errors import UserError
from .params import validate_params

BASE_ATTRIBUTION = "Källa: SCB, Kolada (RKA), Upphandlingsmyndigheten, and the municipalities named"

_state: dict = {"prefix": "", "stems": set()}
LINK_BASE_ENV = "KOMMUN_IT_REPORT_LINK_BASE"
# Names from raw data ("$5 AB", "Firma $x$") are text, never matplotlib maths (which can crash on them).
matplotlib.rcParams["text.parse_math"] = False


def output_dir() -> Path:
    """Where figure and table files of the report being rendered go (created if missing)."""
    env = os.environ.get("KOMMUN_IT_REPORT_DIR")
    out = Path(env) if env else config.reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    return out


def slug(text: str) -> str:
    """ASCII file-name slug: 'Örebro län' -> 'orebro-lan'."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def file_prefix(title: str, params: dict) -> str:
    """'region-report-01-' for file names; long ones are cut and get a short hash so they stay distinct."""
    full = slug("-".join([title, *(str(v) for v in params.values())]))
    if len(full) > 60:
        full = f"{full[:50].strip('-')}-{hashlib.sha1(full.encode()).hexdigest()[:8]}"
    return full + "-"


def _unique_stem(name: str) -> str:
    """The report's file stem for a table or figure; a name used before in this report gets -2, -3, …
    so that a table and a figure called alike never overwrite each other's files."""
    base = f"{_state['prefix']}{slug(name)}"
    folder = str(output_dir())
    stem, n = base, 1
    while (folder, stem) in _state["stems"]:
        n += 1
        stem = f"{base}-{n}"
    _state["stems"].add((folder, stem))
    return stem


def _href(path: Path) -> str:
    """Link to a file of this report, relative to its HTML page (`kommun-it render` sets the folder)."""
    base = os.environ.get(LINK_BASE_ENV)
    return html.escape(f"{base}/{path.name}" if base else path.name)


def write_csv(df: pd.DataFrame, name: str, stem: str | None = None) -> Path:
    """Write df as UTF-8 CSV into the output directory, byte-identical for identical input; text cells
    that a spreadsheet would run as formulas are neutralised."""
    from ..io import csv_safe

    path = output_dir() / f"{stem or _unique_stem(name)}.csv"
    path.write_text(csv_safe(df).to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    return path


def header(title: str, params: dict) -> HTML:
    """Validate the parameters, then show title, parameters, code version and the data hashes.

    The title may name parameters ("{period}") and places: "{kommun_name}" (from kommunkod), "{lan_name}" (lan_kod).
    A bad parameter raises UserError before anything else runs. The hashes come from
    analysis.provenance.provenance(params) so a reader can check which data and code made the report.
    """
    from ..provenance import provenance

    params = validate_params(params)
    _state["prefix"] = file_prefix(title.split(":")[0], params)
    _state["stems"] = set()
    title = title.format(**params, **_place_names(params))
    prov = provenance(params)
    param_rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(repr(v))}</td></tr>" for k, v in prov["parameters"].items()
    )
    data_rows = "".join(
        f"<tr><td>raw</td><td>{html.escape(r['file'])}</td><td><code>{html.escape(r['sha256'])}</code>"
        + (f" <strong>differs from the manifest</strong> (<code>{html.escape(r['manifest_sha256'])}</code>)"
           if r.get("manifest_sha256") else "")
        + "</td></tr>"
        for r in prov["raw_data"]
    ) + "".join(
        f"<tr><td>processed</td><td>{html.escape(r['table'])}</td><td><code>{html.escape(r['sha256'])}</code></td></tr>"
        for r in prov["processed"]
    )
    return HTML(
        f"<h1>{html.escape(title)}</h1>"
        f"<table class='report-parameters'><caption>Parameters</caption>{param_rows or '<tr><td>none</td></tr>'}</table>"
        f"<p>Code version: <code>{html.escape(prov['code_version'])}</code></p>"
        f"<details><summary>Data used ({len(prov['raw_data'])} raw files, {len(prov['processed'])} processed tables,"
        f" sha256)</summary><table class='report-hashes'>{data_rows}</table></details>"
    )


def _place_names(params: dict) -> dict[str, str]:
    from .data import lan_name, municipality_name

    names = {}
    if "kommunkod" in params:
        names["kommun_name"] = municipality_name(params["kommunkod"])
    if "lan_kod" in params:
        names["lan_name"] = lan_name(params["lan_kod"])
    return names


def answer(sentence: str) -> HTML:
    """The report's answer in one sentence, set above everything else."""
    return HTML(f"<p class='answer'><strong>{html.escape(sentence)}</strong></p>")


def key_findings(sentences: list[str]) -> HTML:
    """The 'Key findings' box: computed plain-language sentences, escaped."""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in sentences)
    return HTML(f"<h2>Key findings</h2><ul class='key-findings'>{items}</ul>")


def cannot_show(items: list[str]) -> HTML:
    """The 'What this data cannot show' box."""
    lis = "".join(f"<li>{html.escape(s)}</li>" for s in items)
    return HTML(
        "<div class='cannot-show' style='border:1px solid #999;padding:0.5em 1em;background:#f6f6f6'>"
        f"<h2>What this data cannot show</h2><ul>{lis}</ul></div>"
    )


def notice(text: str) -> HTML:
    """A one-paragraph note, e.g. that a lens has no data for the chosen parameters."""
    return HTML(f"<p class='notice'><em>{html.escape(text)}</em></p>")


def _number(x: float) -> str:
    """Table number format: thousands separated, whole kronor for large values, one decimal for small."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.1f}"


def show_table(df: pd.DataFrame, name: str, max_rows: int = 25, caption: str | None = None) -> HTML:
    """At most max_rows rows as escaped HTML, the full table as a CSV beside the report, linked."""
    path = write_csv(df, name)
    link = f"<a href='{_href(path)}'>{html.escape(path.name)}</a>"
    cap = f"<p><strong>{html.escape(caption)}</strong></p>" if caption else ""
    if df.empty:
        return HTML(f"{cap}<p class='table-note'><em>No rows for these parameters in the processed data.</em>"
                    f" (CSV: {link})</p>")
    shown = df.head(max_rows).to_html(escape=True, index=False, na_rep="–", float_format=_number)
    more = f"Showing {min(len(df), max_rows)} of {len(df)} rows. " if len(df) > max_rows else ""
    return HTML(f"{cap}{shown}<p class='table-note'>{more}Full table (CSV): {link}</p>")


def download(df: pd.DataFrame, name: str, caption: str) -> HTML:
    """Only a linked CSV (for tables too wide or long to show at all)."""
    path = write_csv(df, name)
    return HTML(f"<p class='table-note'>{html.escape(caption)} ({len(df)} rows, CSV): "
                f"<a href='{_href(path)}'>{html.escape(path.name)}</a></p>")


def save_figure(fig, df: pd.DataFrame, name: str, caption: str | None = None, dpi: int = 100) -> HTML:
    """Show fig as an inline PNG, write the PNG and the plotted data as CSV beside the report, link both.

    fig None (a figure function had nothing to plot) gives a one-line notice instead.
    """
    import matplotlib.pyplot as plt

    if fig is None:
        return notice(f"No data to plot for: {(caption or name).rstrip('.')}.")
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        text.set_parse_math(False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    png = buf.getvalue()
    stem = _unique_stem(name)
    png_path = output_dir() / f"{stem}.png"
    png_path.write_bytes(png)
    csv_path = write_csv(df, name, stem)
    display(Image(data=png, format="png"))
    cap = f"{html.escape(caption)} " if caption else ""
    return HTML(
        f"<p class='figure-note'>{cap}Data behind this figure (CSV): "
        f"<a href='{_href(csv_path)}'>{html.escape(csv_path.name)}</a>"
        f" · image: <a href='{_href(png_path)}'>{html.escape(png_path.name)}</a></p>"
    )


def attribution(source_ids: list[str] | tuple[str, ...] = ()) -> HTML:
    """The attribution line every report ends with, plus each named source's own attribution
    (manifest sources, or reviewable tables in data/mappings/ compiled from public pages)."""
    sources = manifest.load()
    extra = []
    for sid in source_ids:
        if sid in sources:
            extra.append(sources[sid].attribution)
        elif (config.MAPPINGS_DIR / f"{sid}.csv").is_file():
            extra.append(f"Compiled for kommun-it from public pages: data/mappings/{sid}.csv (one source per row)")
        else:
            raise UserError(f"attribution: source id {sid!r} is neither in {config.MANIFEST.name} nor a mapping table")
    lines = [BASE_ATTRIBUTION, *extra]
    return HTML("<p class='attribution'>" + "<br>".join(html.escape(line) for line in lines) + "</p>")
