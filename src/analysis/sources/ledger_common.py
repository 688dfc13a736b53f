"""What every ledger-portal client returns: `Found` files, plus small helpers for names, years and hosts."""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from dataclasses import dataclass

LEDGER_WORDS = re.compile(r"leverant", re.IGNORECASE)  # Leverantörsfakturor, Leverantörsreskontra, leverantörer
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:[-_ ]?(0[1-9]|1[0-2]))?(?!\d)")
SUFFIXES = (".csv", ".xlsx", ".xls", ".json", ".txt")


@dataclass(frozen=True)
class Found:
    """One ledger file a portal offers: `dataset_id` identifies it across runs (host-independent)."""

    dataset_id: str
    url: str
    name: str
    title: str = ""
    years: str | None = None
    period: str | None = None
    format: str = "unknown"
    rowstore: bool = False  # True: page the rowstore at `url` and write its rows as one JSON file

    @property
    def first_year(self) -> int | None:
        return int(self.years[:4]) if self.years else None


def years_in(text: str) -> tuple[str | None, str | None]:
    """('2019', '2019-05') from 'Leverantörsfakturor 2019-05.xlsx'; (None, None) when no year is named."""
    m = _YEAR.search(text or "")
    if not m:
        return None, None
    return m.group(1), (f"{m.group(1)}-{m.group(2)}" if m.group(2) else None)


def slug(text: str, limit: int = 60) -> str:
    """A safe ASCII file-name part: 'Leverantörsfakturor 2025' -> 'leverantorsfakturor-2025'."""
    s = unicodedata.normalize("NFKD", text or "")
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = re.sub(r"[^a-z0-9.]+", "-", s).strip("-.")
    return (s[:limit].rstrip("-.") or "file")


def suffix_for(fmt: str | None, url: str = "") -> str:
    """'.csv', '.xlsx' or '.json' from a declared format or the URL's file name; '' when unknown."""
    f = (fmt or "").lower()
    if "csv" in f:
        return ".csv"
    if "spreadsheet" in f or "excel" in f or "xls" in f:
        return ".xlsx"
    if "json" in f:
        return ".json"
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path).lower()
    for s in SUFFIXES:
        if path.endswith(s):
            return s
    return ""


def format_of(suffix: str) -> str:
    return {".csv": "csv", ".xlsx": "xlsx", ".xls": "xlsx", ".json": "json"}.get(suffix, "unknown")


def rehost(url: str, base: str | None) -> str:
    """url with its scheme and host replaced by `base` (a path prefix in base is kept); unchanged when base is None."""
    if not base:
        return url
    b = urllib.parse.urlsplit(base)
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((b.scheme, b.netloc, b.path.rstrip("/") + u.path, u.query, ""))
