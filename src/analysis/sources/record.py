"""Manifest records of refreshed raw files: one record per source id, one entry per file.

Records go into the git-ignored `data/raw/refreshed_sources.yml` that `kommun-it refresh population`
already writes (see `analysis.refresh`), so provenance lists every refreshed file with its hash. Each
file entry carries name, url, size, sha256, the query that produced it, when it was retrieved (UTC) and
which client fetched it; entries of the same name are replaced, other files of the source are kept, so
fetching 2019 after 2018 leaves both recorded.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from ..io import write_bytes_atomic
from ..refresh import load_refresh_manifest, refresh_manifest_path
from .http import Download, _now

__all__ = ["file_entry", "now", "upsert"]


def now() -> str:
    """UTC time now, ISO 8601 to the second."""
    return _now()

HEADER = (
    "# Raw files written by `kommun-it refresh` (git-ignored). To keep one for good, copy its record\n"
    "# into data/sources.yml and its files into the mirror (see docs/refresh.md).\n"
)


def file_entry(download: Download, *, query: str | None, client: str, derived_from: str | None = None) -> dict:
    """The manifest entry of one raw file written by a client."""
    entry = {
        "name": download.path.name,
        "url": download.url,
        "size": download.size,
        "sha256": download.sha256,
        "retrieved_at": download.retrieved_at,
        "query": query,
        "client": client,
    }
    if derived_from:
        entry["derived_from"] = derived_from
    return entry


def upsert(raw_dir: Path, record: dict, files: list[dict]) -> Path:
    """Add or update the source record `record["id"]` with these file entries; returns the manifest path."""
    sources = load_refresh_manifest(raw_dir)
    old = next((s for s in sources if s.get("id") == record["id"]), {})
    names = {f["name"] for f in files}
    kept = [f for f in old.get("files", []) if f.get("name") not in names]
    merged = sorted(kept + files, key=lambda f: f["name"])
    full = {**record, "date_accessed": dt.date.today().isoformat(), "files": merged}
    sources = sorted([s for s in sources if s.get("id") != record["id"]] + [full], key=lambda s: s["id"])
    text = HEADER + yaml.safe_dump({"sources": sources}, sort_keys=False, allow_unicode=True, width=110)
    path = refresh_manifest_path(raw_dir)
    write_bytes_atomic(path, text.encode("utf-8"))
    return path
