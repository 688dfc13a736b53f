"""EntryScape portals (catalog.goteborg.se, catalog.ale.se, opendata.vasteras.se, dataportal.se, …).

Store search (solr), paged with limit/offset (not rows/start):

    GET {base}/store/search?type=solr&query=title:Leverant*&limit=100&offset=N
    -> {results, offset, resource: {children: [{entryId, contextId, metadata: {URI: {predicate: [{type, value, lang}]}}}]}}

each child's metadata names `dcterms:title`, `dcat:downloadURL` (one or many), `dcterms:format`; file bytes
at `{base}/store/{ctx}/resource/{id}`. Rowstore datasets:

    GET {base}/rowstore/dataset/{uuid}/json?_limit=500&_offset=N -> {next, resultCount, offset, limit, results}

values all strings, `next` absent on the last page. The rows are written page by page as one
`{"results": [...], "resultCount": N}` JSON document, the rowstore shape the ledger reader knows (`spec-json`).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserError
from .http import Client, join
from .ledger_common import LEDGER_WORDS, Found, format_of, rehost, slug, suffix_for, years_in
from .publishers import Publisher

PAGE = 100
ROWSTORE_LIMIT = 500
MAX_PAGES = 100_000
DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def search(client: Client, base: str, query: str, *, page: int | None = None) -> Iterator[dict]:
    """Every child of a store solr search, following limit/offset until the results run out."""
    page = page or PAGE
    url = join(base, "store/search")
    offset = 0
    for _ in range(MAX_PAGES):
        doc = client.get_json(url, params={"type": "solr", "query": query, "limit": page, "offset": offset})
        try:
            children = doc["resource"]["children"]
        except (KeyError, TypeError):
            raise UserError(f"{client.what}: {url} answered without resource.children (not an EntryScape search)") from None
        if not isinstance(children, list):
            raise UserError(f"{client.what}: {url}: resource.children is not a list")
        yield from children
        offset += len(children)
        total = doc.get("results")
        if not children or len(children) < page or (isinstance(total, int) and offset >= total):
            return
    raise UserError(f"{client.what}: {url}: more than {MAX_PAGES} pages; stopped")


def values(node: dict, predicate: str) -> list[dict]:
    out = node.get(predicate, [])
    return out if isinstance(out, list) else []


def literal(node: dict, predicate: str, lang: str = "sv") -> str:
    """The predicate's value in `lang` if there is one, else its first value; '' when absent."""
    vals = [v for v in values(node, predicate) if isinstance(v, dict) and "value" in v]
    for v in vals:
        if v.get("lang") == lang:
            return str(v["value"])
    return str(vals[0]["value"]) if vals else ""


def store_files(client: Client, pub: Publisher, base: str, rehost_to: str | None) -> list[Found]:
    """The ledger files a store search finds: one per dcat:downloadURL of each matching title."""
    found = []
    for child in search(client, base, pub.search or "title:Leverant*"):
        graph = child.get("metadata") if isinstance(child, dict) else None
        for subject, node in (graph or {}).items():
            if not isinstance(node, dict):
                continue
            title = literal(node, DCT + "title")
            urls = [v.get("value") for v in values(node, DCAT + "downloadURL") if isinstance(v, dict)]
            if not urls or not LEDGER_WORDS.search(title):
                continue
            fmt = literal(node, DCT + "format")
            years, period = years_in(title)
            for url in urls:
                parts = urllib.parse.urlsplit(url).path.strip("/").split("/")
                if len(parts) < 4 or parts[-4] != "store" or parts[-2] != "resource":
                    continue
                ctx, rid = slug(parts[-3]), slug(parts[-1])
                if pub.context and ctx != pub.context:
                    continue
                suffix = suffix_for(fmt, url)
                found.append(Found(
                    dataset_id=f"{ctx}/resource/{rid}",
                    url=rehost(url, rehost_to),
                    name=f"{slug(title)}-{ctx}-{rid}{suffix}",
                    title=title,
                    years=years,
                    period=period,
                    format=format_of(suffix),
                ))
    return found


def rowstore_files(pub: Publisher, base: str) -> list[Found]:
    """One Found per rowstore dataset uuid of the catalogue entry (its rows are paged at fetch time)."""
    return [
        Found(
            dataset_id=uuid,
            url=join(base, "rowstore/dataset", uuid, "json"),
            name=f"rowstore-{slug(uuid)}.json",
            title=f"rowstore {uuid}",
            years=pub.years if pub.years and len(pub.years) == 4 else None,
            format="json",
            rowstore=True,
        )
        for uuid in pub.datasets
    ]


def write_rowstore(client: Client, url: str, dest: Path, rehost_to: str | None, *, limit: int | None = None) -> Path:
    """Every row of a rowstore dataset (following `next`) into dest as one JSON document, page by page.

    Written to dest.part and renamed when complete; a row count other than the portal's `resultCount`
    (rows added or removed while paging) is an error and leaves nothing behind.
    """
    limit = limit or ROWSTORE_LIMIT
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    count, total, seen = 0, None, set()
    page_url, params = url, {"_limit": limit, "_offset": 0}
    try:
        with part.open("w", encoding="utf-8", newline="\n") as out:
            out.write('{"results":[')
            for _ in range(MAX_PAGES):
                doc = client.get_json(page_url, params=params)
                if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
                    raise UserError(f"{client.what}: {page_url} answered without a 'results' list (not a rowstore page)")
                for row in doc["results"]:
                    out.write(("," if count else "") + json.dumps(row, ensure_ascii=False, separators=(",", ":")))
                    count += 1
                if total is None and isinstance(doc.get("resultCount"), int):
                    total = doc["resultCount"]
                nxt = doc.get("next")
                if not nxt:
                    break
                nxt = rehost(urllib.parse.urljoin(page_url, nxt), rehost_to)
                if nxt in seen:
                    raise UserError(f"{client.what}: {url}: the rowstore's `next` link repeats ({nxt}); stopped")
                seen.add(nxt)
                page_url, params = nxt, None
            else:
                raise UserError(f"{client.what}: {url}: more than {MAX_PAGES} pages; stopped")
            if total is not None and total != count:
                raise UserError(f"{client.what}: {url}: got {count:,} rows but the rowstore says resultCount {total:,}")
            out.write(f'],"resultCount":{count}}}')
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest
