"""The site around the reports: landing pages, 290 municipality profiles, methods, downloads, "Reproduce this".

Everything is computed in one pass over the processed tables (no notebook runs), so all profiles in both
languages take seconds. Pages are self-contained (inline CSS, a few lines of vanilla JS for the search
table, no CDN) and every name from the data is escaped. Layout of the output directory:

    index.html                      the Swedish landing page (links into sv/)
    sv/ en/                         index.html, methods.html, downloads.html, reproduce.html,
                                    profile/<kommunkod>-<slug>.html, national/, region/ (rendered reports)
    site/                           the landing map (PNG, both languages) and its CSV
    downloads/                      CSVs of the country table and the IT procurements (comma and Swedish ;)
"""

from __future__ import annotations

import html
import io
import json
import sys
from pathlib import Path

import pandas as pd

from .. import __version__, config, provenance
from . import data, findings, i18n
from .display import BASE_ATTRIBUTION, BASE_ATTRIBUTION_SV, slug

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
EVENTS = "events.csv"
ANSWER_KIND = "joint_it_operations"
LENSES = ("procurement", "ledger", "published")


def esc(x) -> str:
    return html.escape("" if x is None else str(x))


def profile_path(kommunkod: str, name: str) -> str:
    """A profile's path inside a language folder."""
    return f"profile/{kommunkod}-{slug(name)}.html"


def events() -> pd.DataFrame:
    """Dated context from news and reports (data/mappings/events.csv, one source per row)."""
    path = config.MAPPINGS_DIR / EVENTS
    if not path.exists():
        return pd.DataFrame(columns=["date", "kommunkod", "place", "topic", "fact", "fact_sv", "amount_sek", "source",
                                     "source_date", "confidence"])
    return pd.read_csv(path, dtype=str, keep_default_na=False)


class Site:
    """The frames every page is made from, read once."""

    def __init__(self):
        self.map_width = 640
        self.year = data.latest_year("procurement")
        self.muni = data.municipalities()
        self.per_inh = data.procurement_per_inhabitant(self.year)
        self.ranking = data.ranking(self.per_inh) if len(self.per_inh) else self.per_inh
        self.spend = data.load_optional("it_spend")
        self.memberships = data.load_optional("cooperation_membership")
        self.coverage = data.lens_coverage()
        self.procurements = data.load_optional("procurement_it")
        self.coop_names = data.cooperation_names()
        self.coop_table = pd.read_csv(config.MAPPINGS_DIR / "cooperations.csv", dtype=str, keep_default_na=False)
        kinds = pd.read_csv(config.MAPPINGS_DIR / "cooperation_kinds.csv", dtype=str, keep_default_na=False)
        self.from_is_start = dict(zip(kinds["cooperation_id"], kinds["valid_from_is_start"] == "yes"))
        self.events = events()
        self.verdict = data.verdict("procurement", self.year, ANSWER_KIND) if self.year else None
        self.official = dict(zip(self.muni["kommunkod"], self.muni.get("official_name", self.muni["name"] + " kommun")))
        self.names = dict(zip(self.muni["kommunkod"], self.muni["name"]))
        self.cooperations = self._cooperations()
        self.prov = provenance.provenance({})
        self.by_code = {name: dict(tuple(frame.groupby("kommunkod", sort=False))) if "kommunkod" in frame else {}
                        for name, frame in (
            ("spend", self.spend), ("memberships", self.memberships), ("procurements", self.procurements),
            ("events", self.events), ("cooperations", self.cooperations))}
        self.coverage_by = self.coverage.set_index("kommunkod")
        pop = data.latest_population().set_index("kommunkod")
        self.info = {}
        for _, m in self.muni.iterrows():
            code, p = m["kommunkod"], pop.loc[m["kommunkod"]]
            self.info[code] = pd.Series({
                "kommunkod": code, "name": m["name"], "lan_kod": m["lan_kod"], "lan_name": m["lan_name"],
                "kommungrupp_2023": m["kommungrupp_2023"], "population": int(p["population"]),
                "population_year": int(p["population_year"]), "land_area_km2": float(m["land_area_km2"]),
                "inhabitants_per_km2": round(int(p["population"]) / float(m["land_area_km2"]), 1)})

    def of(self, name: str, code: str) -> pd.DataFrame:
        """The rows of one municipality in a frame read once (spend, memberships, procurements, events, cooperations)."""
        frame = getattr(self, name)
        return self.by_code[name].get(code, frame.iloc[0:0])

    def _cooperations(self) -> pd.DataFrame:
        """Per municipality and cooperation it is a member of (latest year): name, kind, since when."""
        cols = ["kommunkod", "cooperation_id", "name", "kinds", "since", "since_is_start"]
        mem = self.memberships
        if mem.empty:
            return pd.DataFrame(columns=cols)
        member = mem[mem["state"] == "member"].assign(cid=mem["cooperation_ids"].str.split(";")).explode("cid")
        member = member[member["cid"].fillna("") != ""]
        latest = member[member["year"] == mem["year"].max()]
        first = member.groupby(["kommunkod", "cid"])["year"].min()
        table = self.coop_table.groupby(["kommunkod", "cooperation_id"])["valid_from"].min()
        rows = []
        for (code, cid), part in latest.groupby(["kommunkod", "cid"]):
            since = table.get((code, cid), "")
            rows.append({"kommunkod": code, "cooperation_id": cid, "name": self.coop_names.get(cid, cid),
                         "kinds": sorted(set(part["cooperation_kind"]) - {"any_it"}) or ["any_it"],
                         "since": int(since) if str(since).isdigit() else int(first[(code, cid)]),
                         "since_is_start": bool(self.from_is_start.get(cid, False)) and str(since).isdigit()})
        return pd.DataFrame(rows, columns=cols)

    def coop_names_of(self, code: str) -> list[str]:
        return sorted(set(self.of("cooperations", code)["name"]))


def _page(lang: str, title: str, body: str, root: str, other: str | None, script: str = "") -> str:
    """A page in the site's frame: nav (all reports, the other language), body, attribution."""
    style = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    other_lang = i18n.LANGS[1 - i18n.LANGS.index(lang)]
    nav = [f"<a href='{root}{lang}/index.html'>{i18n.t('site.home', lang)}</a>",
           f"<a href='{root}{lang}/methods.html'>{i18n.t('site.methods', lang)}</a>",
           f"<a href='{root}{lang}/downloads.html'>{i18n.t('site.downloads', lang)}</a>"]
    if other:
        nav.append(f"<a href='{esc(other)}' lang='{other_lang}'>{i18n.t('page.other_lang', lang)}</a>")
    attribution = BASE_ATTRIBUTION if lang == "en" else BASE_ATTRIBUTION_SV
    return (f"<!DOCTYPE html>\n<html lang='{lang}'>\n<head>\n<meta charset='utf-8'>\n"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
            f"<meta name='generator' content='kommun-it {esc(__version__)}'>\n<title>{esc(title)}</title>\n"
            f"<style>\n{style}</style>\n</head>\n<body>\n<p class='report-nav'>{' · '.join(nav)}</p>\n{body}\n"
            f"<p class='attribution'>{esc(attribution)}</p>\n{script}</body>\n</html>\n")


def _value_cell(row, lang: str, state: str, per: str) -> tuple[str, str]:
    """(sort key, shown text) of a per-inhabitant value in its value state."""
    if row[state] == "reported":
        return f"{row[per]:.4f}", i18n.number(row[per], lang)
    return "", f"<span class='state'>{esc(i18n.value(state, row[state], lang))}</span>"


def answer_sentences(site: Site, lang: str) -> list[str]:
    """The question's answer in two or three sentences: the comparison's verdict, the national picture, the limit."""
    out = [findings.verdict_sentence(site.verdict, ANSWER_KIND, site.year, lang=lang)]
    if len(site.per_inh):
        out.append(findings.national(site.per_inh, data.scale_bands(site.per_inh), data.red_flags(site.per_inh),
                                     site.year, lang=lang)[0])
    out.append(i18n.t("site.answer_limit", lang))
    return out


def country_table(site: Site, lang: str, root: str) -> str:
    """The searchable, sortable table of all 290 municipalities (rows link to the profiles)."""
    heads = [("name", "text"), ("lan_name", "text"), ("kommungrupp_2023", "text"), ("population", "num"),
             ("per_inhabitant", "num"), ("framework_per_inhabitant", "num"), ("cooperations", "text")]
    labels = {"per_inhabitant": i18n.t("site.col_value", lang), "framework_per_inhabitant": i18n.t("site.col_framework", lang)}
    th = "".join(f"<th data-type='{kind}' scope='col'><button class='sort' type='button'>"
                 f"{esc(labels.get(c) or i18n.column(c, lang))}</button></th>" for c, kind in heads)
    rows = []
    for _, r in site.per_inh.iterrows():
        code = r["kommunkod"]
        official = site.official[code]
        coops = site.coop_names_of(code)
        v_key, v_text = _value_cell(r, lang, "value_state", "per_inhabitant")
        f_key, f_text = _value_cell(r, lang, "framework_state", "framework_per_inhabitant")
        search = " ".join([official, r["name"], r["lan_name"], r["kommungrupp_2023"], code, *coops]).lower()
        rows.append(
            f"<tr data-search='{esc(search)}'><td data-sort='{esc(r['name'])}'>"
            f"<a href='{root}{lang}/{profile_path(code, r['name'])}'>{esc(official)}</a></td>"
            f"<td>{esc(r['lan_name'])}</td><td>{esc(r['kommungrupp_2023'])}</td>"
            f"<td class='num' data-sort='{int(r['population'])}'>{i18n.integer(r['population'], lang)}</td>"
            f"<td class='num' data-sort='{v_key}'>{v_text}</td><td class='num' data-sort='{f_key}'>{f_text}</td>"
            f"<td>{esc('; '.join(coops)) or '–'}</td></tr>")
    return (f"<label for='search'>{i18n.t('site.search_label', lang)}</label><br>"
            f"<input id='search' class='search' type='search' autocomplete='off' placeholder='{i18n.t('site.search_hint', lang)}'>"
            f" <span class='muted'><span id='count'>{len(rows)}</span> {i18n.t('site.of_municipalities', lang, n=len(rows))}</span>"
            f"<div class='table-scroll'><table id='kommuner'><caption>{i18n.t('site.table_caption', lang, year=site.year)}"
            f"</caption><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            f"<p class='table-note'>{i18n.t('site.table_note', lang)}</p>")


SCRIPT = """<script>
(function () {
  var input = document.getElementById('search'), table = document.getElementById('kommuner');
  if (!input || !table) return;
  var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows), count = document.getElementById('count');
  var lang = document.documentElement.lang || 'sv', collator = new Intl.Collator(lang);
  input.addEventListener('input', function () {
    var q = input.value.trim().toLocaleLowerCase(lang), n = 0;
    rows.forEach(function (r) { var hit = !q || r.getAttribute('data-search').indexOf(q) >= 0; r.hidden = !hit; if (hit) n++; });
    count.textContent = n;
  });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.querySelector('button').addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending', num = th.getAttribute('data-type') === 'num';
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      function key(r) { var c = r.cells[col], v = c.hasAttribute('data-sort') ? c.getAttribute('data-sort') : c.textContent;
        return num ? (v === '' ? null : parseFloat(v)) : v; }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (num) { if (x === null || y === null) return (x === null) - (y === null); return asc ? x - y : y - x; }
        return asc ? collator.compare(x, y) : collator.compare(y, x);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
</script>
"""


def _reports_list(out_dir: Path, lang: str, root: str) -> str:
    """Links to the rendered national and regional reports in this language."""
    from ..render import NATIONAL

    parts = []
    national = sorted((out_dir / lang / "national").glob("*.html"))
    if national:
        items = "".join(f"<li><a href='{root}{lang}/national/{esc(p.name)}'>"
                        f"{esc(i18n.text(NATIONAL.get(p.stem, p.stem), lang))}</a></li>" for p in national)
        parts.append(f"<h3>{i18n.t('site.national_reports', lang)}</h3><ul>{items}</ul>")
    regions = sorted((out_dir / lang / "region").glob("*.html"))
    if regions:
        lan = dict(zip(data.municipalities()["lan_kod"], data.municipalities()["lan_name"]))
        items = "".join(f"<li><a href='{root}{lang}/region/{esc(p.name)}'>{esc(lan.get(p.stem[:2], p.stem))}</a></li>"
                        for p in regions)
        parts.append(f"<h3>{i18n.t('site.region_reports', lang)}</h3><ul class='cols'>{items}</ul>")
    names = dict(zip(data.municipalities()["kommunkod"], _official(data.municipalities())))
    for group, key in (("municipality", "site.municipality_reports"), ("ledger", "site.ledger_reports")):
        pages = sorted((out_dir / lang / group).glob("*.html"))
        if pages:
            items = "".join(
                f"<li><a href='{root}{lang}/{group}/{esc(p.name)}'>{esc(names.get(p.stem[:4], p.stem))}"
                + (f", {esc(p.stem[-7:])}" if group == "ledger" else "") + "</a></li>" for p in pages)
            parts.append(f"<h3>{i18n.t(key, lang)}</h3><ul class='cols'>{items}</ul>")
    return "".join(parts)


def _official(muni) -> list[str]:
    from ..render import official_names

    return official_names(muni)


def landing(site: Site, out_dir: Path, lang: str, root: str, other: str | None) -> str:
    """The landing page: question, answer, map, the country table, reports, methods and downloads."""
    verdict, *context = answer_sentences(site, lang)
    figure = ""
    if (out_dir / "site" / f"map-{lang}.png").is_file():
        alt = i18n.t("site.map_caption", lang, year=site.year)
        figure = (f"<figure><img src='{root}site/map-{lang}.png' alt='{esc(alt)}' width='{site.map_width}'>"
                  f"<figcaption>{esc(alt)} <a href='{root}site/map.csv' download>CSV</a> · "
                  f"<a href='{root}site/map-{lang}.png' download>{i18n.t('page.image', lang)}</a></figcaption></figure>")
    body = (f"<h1>{i18n.t('site.question', lang)}</h1><p class='answer'><strong>{esc(verdict)}</strong></p>"
            f"<p>{esc(' '.join(context))}</p><p>{i18n.t('site.intro', lang)}</p>"
            f"<h2>{i18n.t('site.map_heading', lang)}</h2>{figure}"
            f"<h2>{i18n.t('site.table_heading', lang)}</h2>{country_table(site, lang, root)}"
            f"<h2>{i18n.t('site.reports_heading', lang)}</h2>{_reports_list(out_dir, lang, root)}"
            f"<p><a href='{root}{lang}/methods.html'>{i18n.t('site.methods', lang)}</a> · "
            f"<a href='{root}{lang}/downloads.html'>{i18n.t('site.downloads', lang)}</a> · "
            f"<a href='{root}{lang}/reproduce.html'>{i18n.t('page.reproduce', lang)}</a></p>")
    return _page(lang, i18n.t("site.title", lang), body, root, other, SCRIPT)


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """An HTML table in a scroll box; cells are given already escaped."""
    th = "".join(f"<th class='num'>{h}</th>" if i in numeric else f"<th>{h}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td class='num'>{c}</td>" if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<div class='table-scroll'><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>"


def profile(site: Site, code: str, lang: str, detail: str | None) -> str:
    """One municipality's profile page."""
    name, official = site.names[code], site.official[code]
    info = site.info[code]
    spend = site.of("spend", code)
    memberships = site.of("memberships", code).sort_values(["cooperation_kind", "year"])
    sentences = findings.municipality(info, spend, site.per_inh, memberships, lang=lang)
    facts = i18n.t("profile.facts", lang, lan=esc(info["lan_name"]), group=esc(info["kommungrupp_2023"]),
                   population=i18n.integer(info["population"], lang), year=int(info["population_year"]),
                   area=i18n.number(info["land_area_km2"], lang), density=i18n.number(info["inhabitants_per_km2"], lang, 1))
    parts = [f"<h1>{esc(official)}</h1><p>{facts}</p>",
             f"<h2>{i18n.t('page.key_findings', lang)}</h2><ul class='key-findings'>"
             + "".join(f"<li>{esc(s)}</li>" for s in sentences) + "</ul>"]

    proc = site.of("procurements", code)
    parts.append(f"<h2>{i18n.t('profile.procurements', lang, year=site.year)}</h2>")
    if len(proc):
        proc = proc.sort_values(["published", "procurement_id"])
        rows = []
        for _, p in proc.iterrows():
            value = (i18n.number(p["contracted_value_sek"], lang) if p["has_value"]
                     else f"<span class='state'>{i18n.t('profile.not_reported', lang)}</span>")
            kind = i18n.value("contract_type", "framework" if p["is_framework"] else "contract", lang)
            buyer = "" if p["buyer_kind"] == "municipality" else i18n.t(
                "profile.via", lang, buyer=esc(p["buyer_name"]), share=i18n.number(100 * (p["attribution_share"] or 0), lang))
            rows.append([esc(p["title"] or "–"), esc(p["cpv_label"]), value, kind + (f" {buyer}" if buyer else ""),
                         esc(p["published"] or "–")])
        heads = [i18n.t(k, lang) for k in ("profile.col_title", "profile.col_cpv", "profile.col_value",
                                            "profile.col_type", "profile.col_published")]
        parts.append(_table(heads, rows, numeric={2, 4}) + f"<p class='table-note'>{i18n.t('profile.procurements_note', lang)}</p>")
    else:
        parts.append(f"<p>{i18n.t('profile.no_procurements', lang, year=site.year)}</p>")

    published = spend[spend["lens"] == "published"].sort_values(["year", "measure"])
    ledger = spend[(spend["lens"] == "ledger") & (spend["category"] == "all") & (spend["measure"] == "it_spend_sek")]
    parts.append(f"<h2>{i18n.t('profile.published', lang)}</h2>")
    if len(published) or len(ledger):
        rows = [[str(int(r["year"])), esc(i18n.value("measure", r["measure"], lang)
                                          + ("" if r["lens"] != "ledger" else f" ({i18n.value('method', r['method'], lang)})")),
                 esc(findings.published_value(r, lang)), esc(i18n.value("lens", r["lens"], lang))]
                for _, r in pd.concat([published, ledger]).iterrows()]
        heads = [i18n.column(c, lang) for c in ("year", "measure", "value", "lens")]
        parts.append(_table(heads, rows, numeric={2}))
    else:
        parts.append(f"<p>{i18n.t('profile.no_published', lang)}</p>")

    coops = site.of("cooperations", code).sort_values("name")
    parts.append(f"<h2>{i18n.t('profile.cooperations', lang)}</h2>")
    if len(coops):
        items = "".join(
            f"<li><strong>{esc(c['name'])}</strong> ({esc(', '.join(i18n.value('cooperation_kind', k, lang) for k in c['kinds']))}), "
            f"{i18n.t('profile.since' if c['since_is_start'] else 'profile.at_least_since', lang, year=c['since'])}</li>"
            for _, c in coops.iterrows())
        parts.append(f"<ul>{items}</ul>")
    else:
        parts.append(f"<p>{i18n.t('profile.no_cooperations', lang)}</p>")
    unknown = memberships[(memberships["year"] == memberships["year"].max()) & (memberships["state"] == "unknown")]
    if len(unknown):
        kinds = ", ".join(i18n.value("cooperation_kind", k, lang) for k in unknown["cooperation_kind"])
        parts.append(f"<p class='muted'>{i18n.t('profile.unknown', lang, kinds=esc(kinds))}</p>")

    cov = site.coverage_by.loc[code]
    missing = [i18n.value("lens", lens, lang) for lens in LENSES if not bool(cov[lens])]
    parts.append(f"<h2>{i18n.t('profile.lenses', lang)}</h2><p>"
                 + (i18n.t("profile.lenses_missing", lang, lenses=esc(", ".join(missing))) if missing
                    else i18n.t("profile.lenses_all", lang)) + "</p>")

    ev = site.of("events", code)
    if len(ev):
        items = []
        for _, e in ev.iterrows():
            fact = e["fact_sv"] if lang == "sv" and e.get("fact_sv") else e["fact"]
            amount = f" ({i18n.sek(float(e['amount_sek']), lang)})" if e["amount_sek"] else ""
            items.append(f"<li><strong>{esc(e['date'])}</strong>: {esc(fact)}{amount}. "
                         f"<span class='muted'>{i18n.t('page.source', lang)}: {esc(e['source'])}, {esc(e['source_date'])}</span></li>")
        parts.append(f"<h2>{i18n.t('profile.context', lang)}</h2><ul>{''.join(items)}</ul>")
    if detail:
        parts.append(f"<p><a href='{esc(detail)}'>{i18n.t('profile.detail', lang)}</a></p>")
    parts.append(_reproduce(site, lang))
    other = i18n.LANGS[1 - i18n.LANGS.index(lang)]
    return _page(lang, official, "".join(parts), "../../", f"../../{other}/{profile_path(code, name)}")


def _reproduce(site: Site, lang: str) -> str:
    """The site's "Reproduce this" section: code version and the data it was made from."""
    raw = "".join(f"<tr><td>{esc(r['file'])}</td><td><code>{esc(r['sha256'])}</code></td></tr>" for r in site.prov["raw_data"])
    processed = "".join(f"<tr><td>{esc(r['table'])}</td><td><code>{esc(r['sha256'])}</code></td></tr>"
                        for r in site.prov["processed"])
    used = i18n.t("page.data_used", lang, raw=len(site.prov["raw_data"]), processed=len(site.prov["processed"]))
    return (f"<section class='reproduce'><h2>{i18n.t('page.reproduce', lang)}</h2>"
            f"<p>{i18n.t('page.code_version', lang)}: <code>{esc(site.prov['code_version'])}</code>. "
            f"{i18n.t('site.reproduce_how', lang)}</p><details><summary>{esc(used)}</summary>"
            f"<div class='table-scroll'><table>{raw}{processed}</table></div></details></section>")


DOWNLOAD_COLUMNS = ["kommunkod", "name", "official_name", "lan_kod", "lan_name", "kommungrupp_2023", "population",
                    "procurements", "unvalued", "value_state", "value_sek", "per_inhabitant", "frameworks",
                    "framework_state", "framework_ceiling_sek", "framework_per_inhabitant", "cooperations"]
PROCUREMENT_COLUMNS = ["kommunkod", "procurement_id", "title", "cpv_code", "cpv_label", "category", "contract_type",
                       "is_framework", "value_state", "contracted_value_sek", "buyer_name", "buyer_kind",
                       "attribution_share", "published"]


def _write_csvs(frame: pd.DataFrame, path: Path) -> None:
    """The same table as UTF-8 CSV with BOM (comma, decimal point) and for Swedish Excel (semicolon, decimal comma)."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(2)
    path.write_text(out.to_csv(index=False, lineterminator="\n"), encoding="utf-8-sig")
    sv = out.rename(columns={c: i18n.column(c, "sv") for c in out.columns})
    path.with_name(path.stem + "-sv.csv").write_text(sv.to_csv(index=False, sep=";", decimal=",", lineterminator="\n"),
                                                     encoding="utf-8-sig")


def downloads(site: Site, out_dir: Path) -> dict[str, tuple[str, list[str]]]:
    """Write the download CSVs; {file stem: (description key, columns)}."""
    folder = out_dir / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    table = site.per_inh.merge(site.muni[["kommunkod", *(["official_name"] if "official_name" in site.muni else [])]],
                               on="kommunkod", how="left")
    if "official_name" not in table:
        table["official_name"] = table["kommunkod"].map(site.official)
    table["cooperations"] = ["; ".join(site.coop_names_of(c)) for c in table["kommunkod"]]
    files = {}
    stem = f"kommuner-it-upphandling-{site.year}"
    _write_csvs(table[DOWNLOAD_COLUMNS], folder / f"{stem}.csv")
    files[stem] = ("site.download_country", DOWNLOAD_COLUMNS)
    if len(site.procurements):
        stem = f"it-upphandlingar-{site.year}"
        proc = site.procurements[site.procurements["kommunkod"].notna()]
        _write_csvs(proc[PROCUREMENT_COLUMNS].sort_values(["kommunkod", "procurement_id"], ignore_index=True),
                    folder / f"{stem}.csv")
        files[stem] = ("site.download_procurements", PROCUREMENT_COLUMNS)
    return files


def downloads_page(site: Site, files: dict, lang: str) -> str:
    parts = [f"<h1>{i18n.t('site.downloads', lang)}</h1><p>{i18n.t('site.downloads_intro', lang)}</p>"]
    for stem, (key, columns) in files.items():
        links = (f"<a href='../downloads/{stem}-sv.csv' download>{i18n.t('page.csv_sv', lang)}</a> · " if lang == "sv" else "")
        links += f"<a href='../downloads/{stem}.csv' download>{i18n.t('page.csv', lang)}</a>"
        described = "".join(
            f"<dt>{esc(i18n.column(c, lang))} <span class='muted'>({esc(c)})</span></dt>"
            f"<dd>{esc(i18n.catalogue()['describe'].get(c, {}).get(lang, ''))}</dd>" for c in columns)
        parts.append(f"<h2>{i18n.t(key, lang, year=site.year)}</h2><p>{links}</p>"
                     f"<details><summary>{i18n.t('site.dictionary', lang)}</summary><dl class='dictionary'>{described}</dl></details>")
    return _page(lang, i18n.t("site.downloads", lang), "".join(parts), "../", f"../{_other(lang)}/downloads.html")


def methods_page(site: Site, lang: str) -> str:
    sections = i18n.catalogue()["methods"]
    body = f"<h1>{i18n.t('site.methods', lang)}</h1>" + "".join(
        f"<h2>{esc(s['heading'][lang])}</h2>" + "".join(f"<p>{esc(p)}</p>" for p in s[lang]) for s in sections)
    return _page(lang, i18n.t("site.methods", lang), body, "../", f"../{_other(lang)}/methods.html")


def reproduce_page(site: Site, out_dir: Path, lang: str) -> str:
    """Every rendered report with its parameters, data fingerprints and code version, and how to rebuild."""
    from ..render import EXECUTED_DIR, _fingerprint

    rows = []
    for sidecar in sorted((out_dir / EXECUTED_DIR).glob("*/*.json")):
        rec = json.loads(sidecar.read_text(encoding="utf-8"))
        page = rec.get("pages", {}).get(lang)
        if not page or not (out_dir / page).is_file():
            continue
        params = ", ".join(f"{i18n.column(k, lang)}: {v}" for k, v in rec["parameters"].items()) or i18n.t("page.no_parameters", lang)
        rows.append([f"<a href='../{esc(page)}'>{esc(i18n.text(rec['job']['title'], lang))}</a>", esc(params),
                     f"<code>{_fingerprint(rec['raw_data'])}</code> / <code>{_fingerprint(rec['processed'])}</code>",
                     f"<code>{esc(rec['code_version'])}</code>"])
    heads = [i18n.t(k, lang) for k in ("site.col_report", "page.parameters", "site.col_data", "page.code_version")]
    body = (f"<h1>{i18n.t('page.reproduce', lang)}</h1><p>{i18n.t('site.reproduce_intro', lang)}</p>"
            f"<pre>make reports\n.venv/bin/kommun-it render --lang sv --region 05 --municipality 0581</pre>"
            + _table(heads, rows) + _reproduce(site, lang))
    return _page(lang, i18n.t("page.reproduce", lang), body, "../", f"../{_other(lang)}/reproduce.html")


def _other(lang: str) -> str:
    return i18n.LANGS[1 - i18n.LANGS.index(lang)]


def _write(path: Path, text: str) -> None:
    from ..render import _atomic_write

    _atomic_write(path, text)


def draw_map(site: Site, out_dir: Path, langs) -> None:
    """The landing page's national map (reported value per inhabitant, states apart) in each language."""
    import matplotlib.pyplot as plt

    from . import figures, maps

    folder = out_dir / "site"
    folder.mkdir(parents=True, exist_ok=True)
    title = f"Advertised IT contracts per inhabitant, {site.year}"
    fig, plotted = maps.choropleth(site.per_inh, "per_inhabitant", title, "SEK per inhabitant", state="value_state")
    figures.add_title_and_source(fig, None, i18n.t("site.map_source", "en"))
    _write_csvs(plotted, folder / "map.csv")
    for lang in langs:
        figures.localize(fig, lang)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=200, bbox_inches="tight", metadata={"Software": None})
        (folder / f"map-{lang}.png").write_bytes(buf.getvalue())
        site.map_width = int.from_bytes(buf.getvalue()[16:20], "big") // 2
    figures.localize(fig, "en")
    plt.close(fig)


def write_site(out_dir: Path | None = None, langs=i18n.LANGS, progress: bool = False,
               profiles: list[str] | None = None) -> list[Path]:
    """Write the landing pages, profiles (all 290 unless `profiles` names some), methods, downloads, reproduce."""
    from tqdm import tqdm

    out_dir = Path(out_dir or config.reports_dir())
    site = Site()
    written = []
    if len(site.per_inh):
        draw_map(site, out_dir, langs)
    files = downloads(site, out_dir)
    codes = profiles if profiles is not None else site.muni["kommunkod"].tolist()
    with tqdm(total=len(codes) * len(langs), disable=not progress, file=sys.stderr, unit="page", desc="profiles") as bar:
        for code in codes:
            for lang in langs:
                detail_name = f"{code}-{slug(site.names[code])}.html"
                detail = f"../municipality/{detail_name}" if (out_dir / lang / "municipality" / detail_name).is_file() else None
                path = out_dir / lang / profile_path(code, site.names[code])
                _write(path, profile(site, code, lang, detail))
                written.append(path)
                bar.update(1)
    for lang in langs:
        other = f"../{_other(lang)}/index.html" if len(langs) > 1 else None
        pages = {"index.html": landing(site, out_dir, lang, "../", other), "methods.html": methods_page(site, lang),
                 "downloads.html": downloads_page(site, files, lang), "reproduce.html": reproduce_page(site, out_dir, lang)}
        for name, text in pages.items():
            _write(out_dir / lang / name, text)
            written.append(out_dir / lang / name)
    first = langs[0]
    root_other = f"{_other(first)}/index.html" if len(langs) > 1 else None
    _write(out_dir / "index.html", landing(site, out_dir, first, "", root_other))
    written.append(out_dir / "index.html")
    return written
