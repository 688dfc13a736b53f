"""TED Search API v3 (2024 on): Swedish contract award notices through iteration tokens.

`POST {base}/v3/notices/search` (default base `https://api.ted.europa.eu`) with
`{query, fields, limit, scope: "ALL", paginationMode: "ITERATION", onlyLatestVersions: true}`, repeated
with `iterationNextToken` until `notices` is empty or the token is null. Answers are
`{notices, totalNoticeCount, iterationNextToken, timedOut}`; text fields are language maps
(`{"swe": [...]}`), most fields lists, absent fields omitted, numbers strings. One unknown field name
gives HTTP 400, so `FIELDS` holds only names seen in the recorded real answer
(`../shared/data/recorded/ted_api_v3_search_response.json`) plus `winner-name`; award values are not
asked for (their field names are unverified) — the 2024+ panel counts notices, not value.
The polite rate is one request a second (429 otherwise; the HTTP layer waits and retries).

All pages of one year go, as received, into `data/raw/ted-api-notices/ted-api-notices-{YYYY}.json`
(`{"query": …, "pages": [answer, …]}`), with a manifest record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import UserError
from ..io import write_bytes_atomic
from . import record
from .http import Client, Download, join, sha256_path

SOURCE_ID = "ted-api-notices"
DEFAULT_BASE = "https://api.ted.europa.eu"
FIRST_YEAR = 2024
LIMIT = 250
MAX_PAGES = 2000
AWARD_NOTICE_TYPES = ("can-standard", "can-social", "can-desg", "can-tran", "can-modif")
FIELDS = [
    "notice-identifier", "publication-number", "publication-date", "notice-type", "notice-version",
    "buyer-name", "buyer-country", "main-classification-proc", "classification-cpv", "title-proc",
    "estimated-value-proc", "estimated-value-cur-proc", "winner-name",
]
RECORD = {
    "id": SOURCE_ID,
    "title": "TED Search API v3: Swedish contract award notices, by publication year",
    "publisher": "Publications Office of the European Union (TED)",
    "licence": "EU reuse notice (Commission Decision 2011/833/EU)",
    "attribution": "Source: TED – Tenders Electronic Daily, © European Union",
    "url": "https://docs.ted.europa.eu/api/latest/search.html",
    "notes": "All answer pages of one year as received, in {query, pages}; iteration tokens followed to the end.",
}


def search_body(year: int, token: str | None = None) -> dict:
    query = (
        f"buyer-country=SWE AND publication-date>={year}0101 AND publication-date<={year}1231"
        f" AND notice-type IN ({' '.join(AWARD_NOTICE_TYPES)})"
    )
    body = {
        "query": query,
        "fields": FIELDS,
        "limit": LIMIT,
        "scope": "ALL",
        "paginationMode": "ITERATION",
        "onlyLatestVersions": True,
    }
    if token:
        body["iterationNextToken"] = token
    return body


def iterate(client: Client, url: str, year: int) -> list[dict]:
    """All answer pages for one year, following iterationNextToken; shape errors are one line."""
    pages, token, seen = [], None, set()
    while True:
        doc = client.post_json(url, search_body(year, token))
        if not isinstance(doc, dict) or not isinstance(doc.get("notices"), list):
            raise UserError(f"refresh procurement (ted-api): {url} page {len(pages) + 1}: no 'notices' list in the answer")
        if doc.get("timedOut"):
            raise UserError(f"refresh procurement (ted-api): {url} page {len(pages) + 1}: the search timed out (timedOut true)")
        pages.append(doc)
        token = doc.get("iterationNextToken")
        if not doc["notices"] or not token:
            return pages
        if token in seen or len(pages) >= MAX_PAGES:
            raise UserError(f"refresh procurement (ted-api): {url}: iterationNextToken repeats or never ends")
        seen.add(token)


def _first_text(value) -> str | None:
    """A TED language map or list → its Swedish text when present, else the first text."""
    if value is None:
        return None
    if isinstance(value, dict):
        for lang in ("swe", "eng", *sorted(value)):
            if lang in value:
                return _first_text(value[lang])
        return None
    if isinstance(value, list):
        return "---".join(str(v) for v in dict.fromkeys(value)) if value else None
    return str(value)


def notices_frame(doc: dict, where: str) -> pd.DataFrame:
    """One row per notice of a stored year file (all pages): the columns the panel needs, all text."""
    pages = doc.get("pages") if isinstance(doc, dict) else None
    if not isinstance(pages, list):
        raise UserError(f"{where}: no 'pages' list")
    rows = []
    for p, page in enumerate(pages, start=1):
        for i, n in enumerate(page.get("notices", []), start=1):
            if not isinstance(n, dict) or "publication-number" not in n:
                raise UserError(f"{where} page {p} notice {i}: no 'publication-number'")
            cpv = n.get("main-classification-proc") or n.get("classification-cpv") or []
            rows.append(
                {
                    "notice_id": str(n["publication-number"]),
                    "publication_date": _first_text(n.get("publication-date")),
                    "notice_type": _first_text(n.get("notice-type")),
                    "buyer_name": _first_text(n.get("buyer-name")),
                    "buyer_country": _first_text(n.get("buyer-country")),
                    "cpv": str(cpv[0] if isinstance(cpv, list) and cpv else cpv or "")[:8] or None,
                    "title": _first_text(n.get("title-proc")),
                    "estimated_value": _first_text(n.get("estimated-value-proc")),
                    "currency": _first_text(n.get("estimated-value-cur-proc")),
                    "winner_name": _first_text(n.get("winner-name")),
                }
            )
    return pd.DataFrame(rows, columns=[
        "notice_id", "publication_date", "notice_type", "buyer_name", "buyer_country", "cpv", "title",
        "estimated_value", "currency", "winner_name",
    ])


def file_name(year: int) -> str:
    return f"ted-api-notices-{year}.json"


def refresh_ted_api(years: list[int], raw_dir: Path, base_url: str | None = None, client: Client | None = None) -> str:
    bad = [y for y in years if y < FIRST_YEAR]
    if bad:
        raise UserError(f"--years: the TED Search API source starts in {FIRST_YEAR}; use --source ted for {bad[0]}")
    url = join(base_url or DEFAULT_BASE, "v3/notices/search")
    client = client or Client(what="refresh procurement (ted-api)", rate_per_host=1.0)
    total = 0
    for year in years:
        pages = iterate(client, url, year)
        body = search_body(year)
        doc = {"query": body, "pages": pages}
        path = raw_dir / SOURCE_ID / file_name(year)
        write_bytes_atomic(path, (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
        got = Download(path, url, path.stat().st_size, sha256_path(path), record.now())
        query = "POST " + json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        record.upsert(raw_dir, RECORD, [record.file_entry(got, query=query, client="analysis.sources.ted_api")])
        total += sum(len(p["notices"]) for p in pages)
    return (
        f"refresh procurement (ted-api): {total:,} notices for {len(years)} year(s) -> data/raw/{SOURCE_ID}/;"
        " run `kommun-it build` to use them"
    )
