"""The catalogue of municipalities that publish their supplier ledger online (`data/publishers.yml`).

`load(path)` reads and validates it into `Publisher` records; any fault stops with one UserError line
naming the file, the entry (number and kommunkod) and the field. Field meanings are in the file's header
comment and docs/ledgers-online.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import config
from ..errors import UserError

CATALOGUE = config.PROJECT_ROOT / "data" / "publishers.yml"
PORTALS = ("entryscape_store", "entryscape_rowstore", "opendatasoft", "ckan", "page", "unknown")
FORMATS = ("csv", "xlsx", "json", "mixed", "unknown")
VAT_BASES = ("excl_vat", "incl_vat", "unknown")
STATUSES = ("known", "candidate")
FIELDS = (
    "kommunkod", "name", "portal", "base_url", "context", "search", "datasets", "page_url", "years", "format",
    "licence", "vat_basis", "quirks", "status", "notes",
)
REQUIRED = ("kommunkod", "name", "portal", "status")


@dataclass(frozen=True)
class Publisher:
    """One catalogue entry (see the catalogue's header for the fields)."""

    kommunkod: str
    name: str
    portal: str
    base_url: str | None = None
    context: str | None = None
    search: str | None = None
    datasets: tuple[str, ...] = ()
    page_url: str | None = None
    years: str | None = None
    format: str = "unknown"
    licence: str = "unknown"
    vat_basis: str = "unknown"
    quirks: str = ""
    status: str = "known"
    notes: str = ""

    def year_span(self) -> tuple[int, int | None] | None:
        """(first, last) from `years`; last is None for an open end ("2016-"); None when unknown."""
        if not self.years:
            return None
        m = re.fullmatch(r"(\d{4})(?:(-)(\d{4})?)?", self.years)
        first = int(m.group(1))
        return first, int(m.group(3)) if m.group(3) else (None if m.group(2) else first)

    def fetchable(self) -> str | None:
        """None when refresh can ask the portal; else why not (a short reason)."""
        if self.portal == "unknown":
            return "portal not known"
        if self.portal == "page":
            return None if self.page_url else "no page_url"
        if not self.base_url:
            return "no base_url"
        if self.portal in ("entryscape_rowstore", "opendatasoft", "ckan") and not self.datasets:
            return "no dataset ids"
        if self.portal == "entryscape_store" and not self.search:
            return "no search query"
        return None


def _fault(path: Path, index: int, entry: dict | None, field: str, problem: str) -> UserError:
    code = entry.get("kommunkod") if isinstance(entry, dict) else None
    who = f"entry {index}" + (f" (kommunkod {code})" if code is not None else "")
    return UserError(f"{path}: {who}: field '{field}': {problem}")


def _text(value) -> str | None:
    return None if value is None else str(value)


def _entry(path: Path, index: int, raw) -> Publisher:
    if not isinstance(raw, dict):
        raise UserError(f"{path}: entry {index}: expected a mapping of fields, got {type(raw).__name__}")
    for key in raw:
        if key not in FIELDS:
            raise _fault(path, index, raw, str(key), f"unknown field (known: {', '.join(FIELDS)})")
    for key in REQUIRED:
        if raw.get(key) in (None, ""):
            raise _fault(path, index, raw, key, "missing")
    code = raw["kommunkod"]
    if not isinstance(code, str) or not re.fullmatch(r"\d{4}", code):
        raise _fault(path, index, raw, "kommunkod", f"{code!r} is not a quoted four-digit code such as \"0181\"")
    choices = {"portal": PORTALS, "format": FORMATS, "vat_basis": VAT_BASES, "status": STATUSES}
    for key, allowed in choices.items():
        if key in raw and raw[key] is not None and raw[key] not in allowed:
            raise _fault(path, index, raw, key, f"{raw[key]!r} is not one of {', '.join(allowed)}")
    for key in ("base_url", "page_url"):
        value = raw.get(key)
        if value is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", str(value)):
            raise _fault(path, index, raw, key, f"{value!r} is not an http(s) URL")
    datasets = raw.get("datasets") or []
    if not isinstance(datasets, list) or not all(isinstance(d, str | int) and str(d).strip() for d in datasets):
        raise _fault(path, index, raw, "datasets", "expected a list of ids (use [] when none is known)")
    years = _text(raw.get("years"))
    if years is not None:
        m = re.fullmatch(r"(\d{4})(?:-(\d{4})?)?", years)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise _fault(path, index, raw, "years", f"{years!r}: expected YYYY, YYYY-YYYY (ascending) or YYYY-")
    values = {k: raw.get(k) for k in FIELDS if raw.get(k) is not None}
    values.update(
        kommunkod=code,
        name=str(raw["name"]),
        datasets=tuple(str(d).strip() for d in datasets),
        context=_text(raw.get("context")),
        years=years,
    )
    for key in ("quirks", "notes", "licence", "search"):
        if key in values:
            values[key] = str(values[key]).strip()
    return Publisher(**values)


def load(path: Path | None = None) -> list[Publisher]:
    """The validated catalogue at `path` (default data/publishers.yml), in file order."""
    path = Path(path) if path is not None else CATALOGUE
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such catalogue file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise UserError(f"{path}:{line} is not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("publishers"), list):
        raise UserError(f"{path}: expected a top-level 'publishers:' list")
    entries = [_entry(path, i, raw) for i, raw in enumerate(doc["publishers"], start=1)]
    seen: dict[str, int] = {}
    for i, p in enumerate(entries, start=1):
        if p.kommunkod in seen:
            raise UserError(f"{path}: entry {i} (kommunkod {p.kommunkod}): field 'kommunkod': also entry {seen[p.kommunkod]}")
        seen[p.kommunkod] = i
    return entries
