"""The source manifest (`data/sources.yml`): what every raw file is, where it comes from, its hash."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import config
from .errors import UserError


@dataclass(frozen=True)
class RawFile:
    source_id: str
    name: str
    url: str | None
    size: int
    sha256: str

    @property
    def relpath(self) -> str:
        return f"{self.source_id}/{self.name}"


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    publisher: str
    licence: str
    attribution: str
    url: str
    files: tuple[RawFile, ...]
    notes: str = ""
    date_accessed: str = ""
    derived_from: dict = field(default_factory=dict)


def load(path: Path | None = None) -> dict[str, Source]:
    """Read the manifest into {source_id: Source}, in file order."""
    path = path or config.MANIFEST
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: cannot read the source manifest ({exc})") from exc
    sources: dict[str, Source] = {}
    for rec in doc.get("sources", []):
        files = tuple(
            RawFile(rec["id"], f["name"], f.get("url"), int(f["size"]), str(f["sha256"]).lower())
            for f in rec.get("files", [])
        )
        sources[rec["id"]] = Source(
            id=rec["id"],
            title=rec["title"],
            publisher=rec["publisher"],
            licence=rec["licence"],
            attribution=rec["attribution"],
            url=rec["url"],
            files=files,
            notes=rec.get("notes", ""),
            date_accessed=str(rec.get("date_accessed", "")),
            derived_from=rec.get("derived_from") or {},
        )
    return sources


def raw_path(source_id: str, name: str) -> Path:
    """Where a fetched raw file lives, checked against the manifest."""
    sources = load()
    if source_id not in sources or name not in {f.name for f in sources[source_id].files}:
        raise UserError(f"{source_id}/{name} is not in the source manifest {config.MANIFEST.name}")
    path = config.raw_dir() / source_id / name
    if not path.exists():
        raise UserError(f"{source_id}/{name} has not been fetched: run `kommun-it fetch {source_id}` first")
    return path
