"""`kommun-it refresh publishers`: find supplier-ledger datasets on dataportal.se that the catalogue lacks.

dataportal.se is an EntryScape store (not CKAN); its datasets are found with

    GET https://admin.dataportal.se/store/search?type=solr
        &query=title.sv:leverant* AND rdfType:http\\://www.w3.org/ns/dcat#Dataset AND public:true
        &limit=100&offset=N

paged with limit/offset. Each dataset names its publisher as `http://dataportal.se/organisation/SE<orgnr>`.
A publisher is a municipality when its orgnr is `212000xxxx`; it is mapped to a kommunkod

1. by orgnr, through the municipalities' buyer orgnr in the processed procurement table
   (`procurement_it.parquet`, buyer_kind "municipality") when it has been built — the processed
   `municipalities` table has no orgnr (the last four digits are not the kommunkod);
2. else by name: "<name>[s] kommun|stad" in the publisher's foaf:name (when the answer carries it), then
   the dataset's title and description, against the municipalities' short names; only a single match counts.

Datasets of municipalities not in the catalogue (and municipal orgnr that match no name) are written to
`data/raw/ledgers/publishers_candidates.csv` for review; the catalogue itself is never changed.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from .. import config
from ..errors import UserError
from ..io import read_parquet, write_bytes_atomic
from . import ledger_entryscape as es
from . import publishers
from .http import Client

DEFAULT_BASE = "https://admin.dataportal.se"
QUERY = r"title.sv:leverant* AND rdfType:http\://www.w3.org/ns/dcat#Dataset AND public:true"
DCAT_DATASET = "http://www.w3.org/ns/dcat#Dataset"
FOAF_NAME = "http://xmlns.com/foaf/0.1/name"
ORG = re.compile(r"/organisation/SE(\d{10})\b")
CANDIDATE_COLUMNS = (
    "kommunkod", "name", "orgnr", "matched_by", "dataset_title", "dataset_uri", "publisher_uri", "modified",
)


def candidates_path(raw_dir: Path) -> Path:
    return Path(raw_dir) / "ledgers" / "publishers_candidates.csv"


def municipality_names() -> pd.DataFrame:
    """kommunkod and short name of the 290 municipalities (processed table, else the raw SCB list)."""
    table = config.processed_dir() / "municipalities.parquet"
    if table.exists():
        return read_parquet(table)[["kommunkod", "name"]]
    raw = config.raw_dir() / "kommuner-lan" / "municipality_county.csv"
    if raw.exists():
        df = pd.read_csv(raw, dtype=str, keep_default_na=False)
        return df.rename(columns={"municipality_code": "kommunkod", "municipality_name_short": "name"})[["kommunkod", "name"]]
    raise UserError("no list of municipalities: run `kommun-it fetch` (and `kommun-it build reference`) first")


def orgnr_kommunkod() -> dict[str, str]:
    """Municipal orgnr -> kommunkod from the processed procurement table ({} when it is not built)."""
    table = config.processed_dir() / "procurement_it.parquet"
    if not table.exists():
        return {}
    df = read_parquet(table)[["buyer_orgnr", "kommunkod", "buyer_kind"]]
    df = df[(df["buyer_kind"] == "municipality") & df["kommunkod"].notna()]
    df = df[df["buyer_orgnr"].astype(str).str.replace("-", "").str.fullmatch(r"212000\d{4}")]
    counts = df.assign(orgnr=df["buyer_orgnr"].str.replace("-", "")).groupby(["orgnr", "kommunkod"]).size()
    best = counts.reset_index(name="n").sort_values(["orgnr", "n", "kommunkod"], ascending=[True, False, True])
    return dict(best.drop_duplicates("orgnr")[["orgnr", "kommunkod"]].itertuples(index=False, name=None))


def match_name(texts: list[str], names: pd.DataFrame) -> str | None:
    """The one kommunkod whose "<name>[s] kommun|stad" appears in the first text that names any; else None."""
    patterns = [
        (code, re.compile(rf"(?<!\w){re.escape(name)}s?\s+(kommun|stad)\b", re.IGNORECASE))
        for code, name in zip(names["kommunkod"], names["name"])
    ]
    for text in texts:
        hits = {code for code, pat in patterns if text and pat.search(text)}
        if len(hits) == 1:
            return hits.pop()
        if hits:
            return None
    return None


def datasets(client: Client, base: str) -> list[dict]:
    """Every dataset of the search: uri, title, description, publisher uri/name, modified."""
    out = []
    for child in es.search(client, base, QUERY):
        graph = child.get("metadata") if isinstance(child, dict) else None
        if not isinstance(graph, dict):
            continue
        for subject, node in graph.items():
            if not isinstance(node, dict):
                continue
            types = {v.get("value") for v in es.values(node, es.RDF_TYPE) if isinstance(v, dict)}
            if DCAT_DATASET not in types:
                continue
            publisher = next((v.get("value") for v in es.values(node, es.DCT + "publisher") if isinstance(v, dict)), "")
            agent = graph.get(publisher) if isinstance(graph.get(publisher), dict) else {}
            out.append({
                "uri": subject,
                "title": es.literal(node, es.DCT + "title"),
                "description": es.literal(node, es.DCT + "description"),
                "publisher_uri": publisher or "",
                "publisher_name": es.literal(agent, FOAF_NAME) if agent else "",
                "modified": es.literal(node, es.DCT + "modified"),
            })
    return out


def refresh_publishers(
    base_url: str | None = None, catalogue: Path | None = None, *, client: Client | None = None, raw_dir: Path | None = None
) -> str:
    """Search dataportal.se, write the review file of candidates; returns a short summary."""
    path = Path(catalogue) if catalogue is not None else publishers.CATALOGUE
    known = {p.kommunkod for p in publishers.load(path)}
    names = municipality_names()
    name_of = dict(zip(names["kommunkod"], names["name"]))
    by_orgnr = orgnr_kommunkod()
    client = client or Client(what="refresh publishers", rate_per_host=1.0)
    found = datasets(client, base_url or DEFAULT_BASE)
    rows, municipal = [], set()
    for d in found:
        m = ORG.search(d["publisher_uri"])
        orgnr = m.group(1) if m else ""
        if orgnr and not orgnr.startswith("212000"):
            continue  # a region, an agency or a company: not a municipality
        code, how = by_orgnr.get(orgnr), "orgnr (procurement table)"
        if code is None:
            code, how = match_name([d["publisher_name"], d["title"], d["description"]], names), "name"
        if code is None and not orgnr:
            continue  # no sign that a municipality published it
        if code is not None:
            municipal.add(code)
            if code in known:
                continue
        rows.append({
            "kommunkod": code or "", "name": name_of.get(code, "") if code else "", "orgnr": orgnr,
            "matched_by": how if code else "unmatched", "dataset_title": d["title"], "dataset_uri": d["uri"],
            "publisher_uri": d["publisher_uri"], "modified": d["modified"],
        })
    rows.sort(key=lambda r: (r["kommunkod"] or "9999", r["orgnr"], r["dataset_uri"]))
    raw_dir = Path(raw_dir) if raw_dir is not None else config.raw_dir()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CANDIDATE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    target = write_bytes_atomic(candidates_path(raw_dir), out.getvalue().encode("utf-8"))
    new_codes = sorted({r["kommunkod"] for r in rows if r["kommunkod"]})
    unmatched = sum(1 for r in rows if not r["kommunkod"])
    lines = [
        f"refresh publishers: {len(found)} ledger dataset(s) on dataportal.se, {len(municipal)} municipality(ies);"
        f" {len(new_codes)} not in the catalogue" + (f", {unmatched} municipal dataset(s) unmatched" if unmatched else "")
        + f" -> {target} (review them; the catalogue {path.name} is not changed)"
    ]
    lines += [f"  {c} {name_of.get(c, '')}" for c in new_codes]
    return "\n".join(lines)
