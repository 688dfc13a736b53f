"""Kolada v3 (RKA): list paging and the municipality-group shape.

Kolada v2 answers HTTP 410 since 2025. v3 (`https://api.kolada.se/v3`) keeps the paths, pages with
`per_page` ≤ 5000 and answers `{values, count, next_url, previous_url}`; one client is still reported to
see `next_page`, so `pages` follows `next_url` and falls back to `next_page`. Group members come as
`{member_id, member_title}` (as in the real recorded answer `kolada_v2_municipality_groups_values.json`)
or, in older answers, `{id, title}`: `member` reads both. `analysis.refresh` uses these for
`kommun-it refresh population --source kolada` and `refresh kolada-groups`.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import UserError

MAX_PAGES = 200


def next_link(doc: dict) -> str | None:
    """The next page's URL: `next_url` (v3), else `next_page` (older answers); None on the last page."""
    return doc.get("next_url") or doc.get("next_page") or None


def pages(get_json: Callable[[str, dict | None], dict], url: str, what: str, params: dict | None = None) -> list[dict]:
    """Follow next_url / next_page from url; return all `values`. get_json(url, params) fetches one page."""
    values: list[dict] = []
    seen: set[str] = set()
    current: str | None = url
    while current:
        if current in seen or len(seen) >= MAX_PAGES:
            raise UserError(f"refresh {what}: unexpected answer from {current}: next_url repeats or never ends")
        seen.add(current)
        doc = get_json(current, params if current == url else None)
        if not isinstance(doc, dict) or not isinstance(doc.get("values"), list):
            raise UserError(f"refresh {what}: unexpected answer from {current}: no 'values' list")
        values.extend(doc["values"])
        current = next_link(doc)
    return values


def member(m) -> tuple[str, str] | None:
    """(id, title) of a group member in either shape; None when it is neither."""
    if not isinstance(m, dict):
        return None
    for id_key, title_key in (("member_id", "member_title"), ("id", "title")):
        if isinstance(m.get(id_key), str) and title_key in m:
            return m[id_key], m[title_key]
    return None
