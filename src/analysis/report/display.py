"""Building blocks of every report: header, key findings, caveat box, tables and figures with CSVs beside.

Everything returns IPython display objects so a notebook cell is one call. Text that may come from raw
data (names of municipalities, suppliers, procurements) is always passed through html.escape here.
Files (CSV, PNG) go to the report's output directory: $KOMMUN_IT_REPORT_DIR (set by `kommun-it render`),
else, run by hand or in JupyterLab, the scratch folder reports/_scratch/<notebook>/ (links then point
there, relative to the kernel's working directory, so they open from the notebook). Their names carry the prefix set by the latest header() call, so reports that
share a directory (all region reports, say) never overwrite each other's tables.

Each output carries Swedish and English (i18n.wrap); `kommun-it render` turns one execution into a page
per language. Tables show plain-language labels and Babel-formatted numbers; CSVs keep the data's columns.
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
from IPython.display import HTML

from .. import config, local_sources, manifest
from . import i18n
from ..errors import UserError
from .params import validate_params

BASE_ATTRIBUTION = "Källa: SCB, Kolada (RKA), Upphandlingsmyndigheten, and the municipalities named"
BASE_ATTRIBUTION_SV = "Källa: SCB, Kolada (RKA), Upphandlingsmyndigheten och de namngivna kommunerna"

_state: dict = {"prefix": "", "scratch": "report", "stems": set()}
SCRATCH_DIR = "_scratch"
# Names from raw data ("$5 AB", "Firma $x$") are text, never matplotlib maths (which can crash on them).
matplotlib.rcParams["text.parse_math"] = False


def output_dir() -> Path:
    """Where figure and table files of the report being rendered go (created if missing).

    Outside `kommun-it render`: reports/_scratch/<notebook>/, the notebook named by JupyterLab
    ($JPY_SESSION_NAME), else by the report's title (papermill run by hand), never reports/ itself.
    """
    env = os.environ.get("KOMMUN_IT_REPORT_DIR")
    out = Path(env) if env else config.reports_dir() / SCRATCH_DIR / _scratch_name()
    out.mkdir(parents=True, exist_ok=True)
    return out


def _scratch_name() -> str:
    session = os.environ.get("JPY_SESSION_NAME", "")
    stem = Path(session).stem if session.endswith(".ipynb") else ""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem) or _state["scratch"]


def _href(path: Path) -> str:
    """A link to a file the report wrote: its name beside a rendered report, else relative to the kernel's
    working directory (the notebook's folder in JupyterLab) so the link opens from the notebook."""
    if os.environ.get("KOMMUN_IT_REPORT_DIR"):
        return path.name
    try:
        return os.path.relpath(path, Path.cwd())
    except ValueError:  # another drive
        return path.as_uri()


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


def _asset_url(path: Path) -> str:
    """How a page links a file of the output directory: $KOMMUN_IT_ASSET_URL + name under `kommun-it render`,
    else as `_href` says (beside the report, or relative to the notebook in the scratch folder)."""
    prefix = os.environ.get("KOMMUN_IT_ASSET_URL")
    return html.escape(prefix + path.name if prefix is not None else _href(path))


def _csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Floats rounded to 2 decimals (readable in a spreadsheet, byte-identical between runs)."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(2)
    return out


def write_csv(df: pd.DataFrame, name: str, stem: str | None = None) -> Path:
    """Write df as UTF-8 CSV with a byte-order mark (Excel reads å, ä, ö), byte-identical for identical input;
    text cells that a spreadsheet would run as formulas are neutralised.

    Beside it, `<name>-sv.csv` for Swedish spreadsheets: semicolon-separated, decimal comma, Swedish headers.
    """
    from ..io import csv_safe

    path = output_dir() / f"{stem or _unique_stem(name)}.csv"
    frame = csv_safe(_csv_frame(df))
    path.write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8-sig")
    sv = frame.rename(columns={c: i18n.column(c, "sv") for c in frame.columns})
    path.with_name(path.stem + "-sv.csv").write_text(
        sv.to_csv(index=False, sep=";", decimal=",", lineterminator="\n"), encoding="utf-8-sig")
    return path


def _csv_links(path: Path, lang: str) -> str:
    sv_path = path.with_name(path.stem + "-sv.csv")
    links = f"<a href='{_asset_url(path)}' download>{i18n.t('page.csv', lang)}</a>"
    if lang == "sv":
        links = f"<a href='{_asset_url(sv_path)}' download>{i18n.t('page.csv_sv', lang)}</a> · " + links
    return links


def header(title: str, params: dict) -> HTML:
    """Validate the parameters, then show the title; parameters, code version and data hashes follow in a
    "Reproduce this" section (moved to the end of the page by `kommun-it render`).

    The title may name parameters ("{period}") and places: "{kommun_name}" (from kommunkod), "{lan_name}" (lan_kod).
    A bad parameter raises UserError before anything else runs. The hashes come from
    analysis.provenance.provenance(params) so a reader can check which data and code made the report.
    """
    from ..provenance import provenance

    params = validate_params(params)
    _state["prefix"] = file_prefix(title.split(":")[0], params)
    _state["scratch"] = slug(title.split(":")[0]) or "report"
    _state["stems"] = set()
    names = {**params, **_place_names(params)}
    prov = provenance(params)
    supplied = local_sources.banner_text(params)
    banner = f"<p class='analyst-supplied'><strong>{html.escape(supplied)}</strong></p>" if supplied else ""

    def page(lang: str) -> str:
        shown = i18n.text(title, lang).format(**names)
        param_rows = "".join(
            f"<tr><th>{html.escape(i18n.column(str(k), lang))}</th><td>{html.escape(_param_value(k, v, lang))}</td></tr>"
            for k, v in prov["parameters"].items()
        )
        data_rows = "".join(
            f"<tr><td>{i18n.t('page.raw', lang)}</td><td>{html.escape(r['file'])}</td><td><code>{html.escape(r['sha256'])}</code>"
            + (f" <strong>{i18n.t('page.differs_from_manifest', lang)}</strong> (<code>{html.escape(r['manifest_sha256'])}</code>)"
               if r.get("manifest_sha256") else "")
            + "</td></tr>"
            for r in prov["raw_data"]
        ) + "".join(
            f"<tr><td>{i18n.t('page.processed', lang)}</td><td>{html.escape(r['table'])}</td><td><code>{html.escape(r['sha256'])}</code></td></tr>"
            for r in prov["processed"]
        )
        none = f"<tr><td>{i18n.t('page.no_parameters', lang)}</td></tr>"
        used = i18n.t("page.data_used", lang, raw=len(prov["raw_data"]), processed=len(prov["processed"]))
        return (
            f"<h1>{html.escape(shown)}</h1>{banner}"
            f"<section class='reproduce'><h2>{i18n.t('page.reproduce', lang)}</h2>"
            f"<div class='table-scroll'><table class='report-parameters'><caption>{i18n.t('page.parameters', lang)}</caption>"
            f"{param_rows or none}</table></div>"
            f"<p>{i18n.t('page.code_version', lang)}: <code>{html.escape(prov['code_version'])}</code></p>"
            f"<details><summary>{html.escape(used)}</summary><div class='table-scroll'><table class='report-hashes'>"
            f"{data_rows}</table></div></details></section>"
        )

    return HTML(i18n.wrap({lang: page(lang) for lang in i18n.LANGS}))


def _param_value(name: str, value, lang: str) -> str:
    """A parameter value in words: switches as yes/no, coded choices by their label, codes as they are."""
    if isinstance(value, bool):
        return i18n.value("bool", str(value), lang)
    if name in ("lens", "cooperation_kind"):
        return i18n.value(name, value, lang)
    if name == "outcome":
        return i18n.value("before_after_outcome", value, lang)
    return str(value)


def _place_names(params: dict) -> dict[str, str]:
    from .data import lan_name, official_name

    names = {}
    if "kommunkod" in params:
        names["kommun_name"] = official_name(params["kommunkod"])
    if "lan_kod" in params:
        names["lan_name"] = lan_name(params["lan_kod"])
    return names


def _both(make) -> HTML:
    """One output holding both languages: make(lang) -> HTML text, wrapped in language markers."""
    return HTML(i18n.wrap({lang: make(lang) for lang in i18n.LANGS}))


def answer(sentence: str) -> HTML:
    """The report's answer in one sentence, set above everything else."""
    return _both(lambda lang: f"<p class='answer'><strong>{html.escape(i18n.in_lang(sentence, lang))}</strong></p>")


def key_findings(sentences: list[str]) -> HTML:
    """The 'Key findings' box: computed plain-language sentences, escaped."""
    def make(lang: str) -> str:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in i18n.in_lang(sentences, lang))
        return f"<h2>{i18n.t('page.key_findings', lang)}</h2><ul class='key-findings'>{items}</ul>"

    return _both(make)


def cannot_show(items: list[str]) -> HTML:
    """The 'What this data cannot show' box."""
    def make(lang: str) -> str:
        lis = "".join(f"<li>{html.escape(s)}</li>" for s in i18n.in_lang(items, lang))
        return f"<div class='cannot-show'><h2>{i18n.t('page.cannot_show', lang)}</h2><ul>{lis}</ul></div>"

    return _both(make)


def notice(text: str) -> HTML:
    """A one-paragraph note, e.g. that a lens has no data for the chosen parameters."""
    return _both(lambda lang: f"<p class='notice'><em>{html.escape(i18n.in_lang(text, lang))}</em></p>")


KEY_FIRST = ("name", "supplier_name", "lan_name", "variant", "method", "category", "lens", "table", "fact")
HIDDEN_WITH_NAME = ("kommunkod", "lan_kod")


def readable(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A table for people: the key column first, codes and flags in words, numbers formatted, labels translated.

    Ranks read '3 of 150'; municipality, län and cooperation codes are left out beside their names (the CSV
    keeps them).
    """
    out = df.copy()
    if "name" in out.columns:
        out = out.drop(columns=[c for c in HIDDEN_WITH_NAME if c in out.columns])
    if "cooperation_names" in out.columns:
        out = out.drop(columns=["cooperation_ids"], errors="ignore")
    if "rank" in out.columns and "of" in out.columns:
        word = i18n.column("of", lang)
        out["rank"] = [f"{i18n.integer(r, lang)} {word} {i18n.integer(o, lang)}" for r, o in zip(out["rank"], out["of"])]
        out = out.drop(columns=["of"])
    key = next((c for c in KEY_FIRST if c in out.columns), None)
    if key is not None and "rank" not in out.columns:
        out = out[[key, *(c for c in out.columns if c != key)]]
    coded = i18n.coded_columns()
    for col in out.columns:
        series = out[col]
        if col in coded:
            out[col] = [("–" if pd.isna(v) else i18n.value(col, v, lang)) for v in series]
        elif col == "fact":
            out[col] = [i18n.column(str(v), lang) for v in series]
        elif pd.api.types.is_bool_dtype(series):
            out[col] = [i18n.value("bool", str(bool(v)), lang) for v in series]
        elif col == "p_value":
            out[col] = [i18n.p_value(v, lang).removeprefix("p = ").removeprefix("p ").replace(" ", "\xa0") for v in series]
        elif col in ("year", "population_year", "kommunkod", "lan_kod") or col.endswith("_year"):
            out[col] = ["–" if pd.isna(v) else str(int(v)) if isinstance(v, (int, float)) else str(v) for v in series]
        elif pd.api.types.is_numeric_dtype(series):
            out[col] = [i18n.smart(v, lang) for v in series]
        else:
            out[col] = [("–" if v is None or (isinstance(v, float) and pd.isna(v)) else
                         i18n.in_lang(v, lang) if hasattr(v, "by_lang") else
                         i18n.data_text(str(v), lang) if col in ("note", "reason") else
                         i18n.text(str(v), lang) if col == "unit" else str(v)) for v in series]
    out.columns = [i18n.column(c, lang) for c in out.columns]
    return out


def show_table(df: pd.DataFrame, name: str, max_rows: int = 25, caption: str | None = None) -> HTML:
    """At most max_rows rows as escaped HTML in a scroll box, the full table as CSVs beside the report, linked."""
    path = write_csv(df, name)

    def make(lang: str) -> str:
        cap = f"<p class='table-caption'><strong>{html.escape(i18n.text(caption, lang))}</strong></p>" if caption else ""
        if df.empty:
            return f"{cap}<p class='table-note'><em>{i18n.t('page.no_rows', lang)}</em> ({_csv_links(path, lang)})</p>"
        shown = readable(df.head(max_rows), lang).to_html(escape=True, index=False, na_rep="–", border=0)
        more = i18n.t("page.showing", lang, n=min(len(df), max_rows), total=len(df)) + " " if len(df) > max_rows else ""
        return (f"{cap}<div class='table-scroll'>{shown}</div>"
                f"<p class='table-note'>{more}{i18n.t('page.full_table', lang)}: {_csv_links(path, lang)}</p>")

    return _both(make)


def download(df: pd.DataFrame, name: str, caption: str) -> HTML:
    """Only linked CSVs (for tables too wide or long to show at all)."""
    path = write_csv(df, name)
    return _both(lambda lang: f"<p class='table-note'>{html.escape(i18n.text(caption, lang))}"
                              f" ({i18n.t('page.rows', lang, n=i18n.integer(len(df), lang))}): {_csv_links(path, lang)}</p>")


def save_figure(fig, df: pd.DataFrame, name: str, caption: str | None = None, dpi: int = 200,
                source: str | None = None) -> HTML:
    """Write the figure as PNG at 2× (dpi 200 for a 100-dpi layout) in each language and the plotted data as
    CSV beside the report; show the PNG with the caption as alt text, and link both.

    The caption becomes the chart's title when it has none, `source` its source line. fig None (a figure
    function had nothing to plot) gives a one-line notice instead.
    """
    import matplotlib.pyplot as plt

    from . import figures

    if fig is None:
        return _both(lambda lang: f"<p class='notice'><em>"
                                  f"{html.escape(i18n.t('page.no_plot', lang, what=i18n.text((caption or name), lang).rstrip('.')))}"
                                  f"</em></p>")
    from matplotlib.text import Text

    figures.add_title_and_source(fig, caption, source)
    for text in fig.findobj(Text):
        text.set_parse_math(False)
    stem = _unique_stem(name)
    pngs = {}
    for lang in i18n.LANGS:
        figures.localize(fig, lang)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
        png_path = output_dir() / f"{stem}-{lang}.png"
        png_path.write_bytes(buf.getvalue())
        pngs[lang] = (png_path, _png_width(buf.getvalue()) * 100 // dpi)
    figures.localize(fig, "en")
    plt.close(fig)
    csv_path = write_csv(df, name, stem)

    def make(lang: str) -> str:
        png_path, width = pngs[lang]
        alt = html.escape(i18n.text(caption or name, lang))
        return (f"<figure><img src='{_asset_url(png_path)}' alt='{alt}' width='{width}'>"
                f"<figcaption>{alt} {i18n.t('page.figure_data', lang)}: {_csv_links(csv_path, lang)}"
                f" · <a href='{_asset_url(png_path)}' download>{i18n.t('page.image', lang)}</a></figcaption></figure>")

    return _both(make)


def _png_width(png: bytes) -> int:
    """Pixel width from a PNG's IHDR chunk."""
    return int.from_bytes(png[16:20], "big")


def attribution(source_ids: list[str] | tuple[str, ...] = ()) -> HTML:
    """The attribution line every report ends with, plus each named source's own attribution
    (manifest sources, or reviewable tables in data/mappings/ compiled from public pages)."""
    sources = manifest.load()
    extra = []
    for sid in source_ids:
        if sid in sources:
            extra.append(sources[sid].attribution)
        elif local_sources.attribution_line(sid):
            extra.append(local_sources.attribution_line(sid))
        elif sid.startswith("ledger-online-") and _online_attribution(sid):
            extra.append(_online_attribution(sid))
        elif (config.MAPPINGS_DIR / f"{sid}.csv").is_file():
            extra.append(f"Compiled for kommun-it from public pages: data/mappings/{sid}.csv (one source per row)")
        else:
            raise UserError(f"attribution: source id {sid!r} is neither in {config.MANIFEST.name} nor a mapping table")
    return _both(lambda lang: "<p class='attribution'>" + "<br>".join(
        html.escape(line) for line in [attribution_line(lang), *extra]) + "</p>")


def _online_attribution(source_id: str) -> str | None:
    from ..sources import ledger_portals  # imported only when a report names an online ledger

    return ledger_portals.attribution_line(source_id)


def attribution_line(lang: str) -> str:
    """The base attribution every page ends with, in `lang`."""
    return BASE_ATTRIBUTION if lang == "en" else BASE_ATTRIBUTION_SV
