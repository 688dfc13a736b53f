"""Plain web pages (Örebro, Varberg): the links whose text names the ledger.

The page at `page_url` is parsed with the standard library's html.parser; a link counts when its text
(or, failing that, its file name) says "Leverantörsfakturor" / "Leverantörsreskontra" (any case, with or
without å/ä/ö). Its year (and month) is read from the link text, e.g. "Leverantörsfakturor 2019-05.xlsx".
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from html.parser import HTMLParser

from .http import Client
from .ledger_common import Found, format_of, rehost, slug, suffix_for, years_in
from .publishers import Publisher

LEDGER_LINK = re.compile(r"leverantors-?\s*(fakturor|reskontra)", re.IGNORECASE)


class _Links(HTMLParser):
    """Collects (href, text) for every <a href> of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


def _plain(text: str) -> str:
    s = unicodedata.normalize("NFKD", text)
    return "".join(c for c in s if not unicodedata.combining(c))


def ledger_links(html: str, page_url: str) -> list[tuple[str, str]]:
    """(absolute URL, link text) of the links that name the ledger, in page order, each URL once."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    out, seen = [], set()
    for href, text in parser.links:
        url = urllib.parse.urljoin(page_url, href.strip())
        file_name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        if not (LEDGER_LINK.search(_plain(text)) or LEDGER_LINK.search(_plain(file_name))):
            continue
        if url not in seen and urllib.parse.urlsplit(url).scheme in ("http", "https"):
            seen.add(url)
            out.append((url, text or file_name))
    return out


def files(client: Client, pub: Publisher, page_url: str, rehost_to: str | None) -> list[Found]:
    resp = client.request("GET", page_url)
    try:
        html = resp.content.decode("utf-8")
    except UnicodeDecodeError:
        html = resp.content.decode("cp1252", errors="replace")  # only link texts are read from a page
    out = []
    for url, text in ledger_links(html, page_url):
        path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
        file_name = path.rsplit("/", 1)[-1]
        suffix = suffix_for(None, url)
        stem = file_name[: -len(suffix)] if suffix else file_name
        years, period = years_in(f"{text} {file_name}")
        query = urllib.parse.urlsplit(url).query
        out.append(Found(
            dataset_id=path + (f"?{query}" if query else ""),
            url=rehost(url, rehost_to),
            name=f"{slug(stem or text)}{suffix}",
            title=text,
            years=years,
            period=period,
            format=format_of(suffix),
        ))
    return out
