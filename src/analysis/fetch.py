"""Fill `data/raw/<source_id>/<file>` from an offline mirror or the pinned URL, verifying every sha256.

A file is written under a temporary name and renamed into place only after its hash matched, so a
failed or corrupt fetch never leaves a half-written or wrong file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm import tqdm

from . import config, manifest
from .errors import UserError

CHUNK = 1 << 20


@dataclass(frozen=True)
class FetchResult:
    relpath: str
    action: str  # "verified" (already present), "copied" (from mirror) or "downloaded"
    path: Path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_verified(chunks, dest: Path, raw: manifest.RawFile, origin: str) -> None:
    """Stream chunks into a temp file beside dest; rename into place only if the sha256 matches."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                h.update(chunk)
                out.write(chunk)
        got = h.hexdigest()
        if got != raw.sha256:
            raise UserError(
                f"{raw.relpath}: sha256 mismatch from {origin} (got {got[:12]}…, manifest says {raw.sha256[:12]}…);"
                f" data/raw/{raw.relpath} left untouched"
            )
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _from_mirror(src: Path):
    with open(src, "rb") as fh:
        yield from iter(lambda: fh.read(CHUNK), b"")


def _from_url(url: str, raw: manifest.RawFile):
    try:
        with requests.get(url, stream=True, timeout=(10, 120)) as resp:
            resp.raise_for_status()
            yield from resp.iter_content(CHUNK)
    except requests.RequestException as exc:
        reason = type(exc).__name__ if not isinstance(exc, requests.HTTPError) else str(exc)
        raise UserError(f"{raw.relpath}: cannot download {url} ({reason}); no network and no mirror file?") from exc


def fetch_file(raw: manifest.RawFile, mirror: Path | None, raw_dir: Path) -> FetchResult:
    dest = raw_dir / raw.source_id / raw.name
    if dest.exists() and sha256_file(dest) == raw.sha256:
        return FetchResult(raw.relpath, "verified", dest)
    mirror_file = mirror / raw.source_id / raw.name if mirror else None
    if mirror_file is not None and mirror_file.is_file():
        _write_verified(_from_mirror(mirror_file), dest, raw, f"mirror {mirror_file}")
        return FetchResult(raw.relpath, "copied", dest)
    if raw.url is None:
        where = f"mirror {mirror}" if mirror else "no mirror (set KOMMUN_IT_MIRROR or pass --mirror)"
        raise UserError(f"{raw.relpath}: not in {where}, and the manifest has no download URL for this derived file")
    _write_verified(_from_url(raw.url, raw), dest, raw, raw.url)
    return FetchResult(raw.relpath, "downloaded", dest)


def fetch(
    source_ids: list[str] | None = None,
    mirror: Path | None = None,
    raw_dir: Path | None = None,
    progress: bool = True,
) -> list[FetchResult]:
    """Fetch and verify the raw files of the given sources (all when none are given)."""
    sources = manifest.load()
    unknown = [s for s in source_ids or [] if s not in sources]
    if unknown:
        raise UserError(f"unknown source id {unknown[0]!r}; valid: {', '.join(sources)}")
    mirror = mirror if mirror is not None else config.default_mirror()
    if mirror is not None and not mirror.is_dir():
        raise UserError(f"mirror directory {mirror} does not exist")
    raw_dir = raw_dir or config.raw_dir()
    files = [f for sid in (source_ids or list(sources)) for f in sources[sid].files]
    results = []
    for raw in tqdm(files, desc="fetch", unit="file", disable=not progress, leave=False):
        results.append(fetch_file(raw, mirror, raw_dir))
    return results

