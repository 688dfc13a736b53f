"""`kommun-it refresh procurement`: parse --years and hand over to the publisher's client."""

from __future__ import annotations

import datetime as dt
import re

from .. import config
from ..errors import UserError
from .http import Client

SOURCES = ("ted", "ted-api", "uhm")


def parse_years(text: str, today: dt.date | None = None) -> list[int]:
    """'2006-2023' → 2006..2023; '2024-' → 2024..this year; '2022' → [2022]."""
    this_year = (today or dt.date.today()).year
    m = re.fullmatch(r"\s*(\d{4})\s*(?:(-)\s*(\d{4})?)?\s*", text or "")
    if not m:
        raise UserError(f"--years {text!r}: expected YYYY, YYYY-YYYY or YYYY-")
    first = int(m.group(1))
    last = int(m.group(3)) if m.group(3) else (this_year if m.group(2) else first)
    if last < first:
        raise UserError(f"--years {text!r}: {last} is before {first}")
    if last > this_year:
        raise UserError(f"--years {text!r}: {last} is in the future")
    return list(range(first, last + 1))


def refresh_procurement(source: str, years: str, base_url: str | None, progress: bool = False) -> str:
    if source not in SOURCES:
        raise UserError(f"--source {source!r}: must be one of {', '.join(SOURCES)}")
    span = parse_years(years)
    raw = config.raw_dir()
    client = Client(what=f"refresh procurement ({source})", rate_per_host=1.0, progress=progress)
    if source == "ted":
        from .ted import refresh_ted

        return refresh_ted(span, raw, base_url, client)
    if source == "ted-api":
        from .ted_api import refresh_ted_api

        return refresh_ted_api(span, raw, base_url, client)
    from .uhm import refresh_uhm

    return refresh_uhm(span, raw, base_url, client)
