"""Provenance of a report: code version, parameters and the hashes of the data it was made from.

Hashing every processed table for each of 311 reports would rehash the same megabytes 311 times, so a
render run computes the hashes once (`snapshot`), writes them to a JSON file and points the kernels at
it through the environment variable `KOMMUN_IT_PROVENANCE`; `provenance` reads that file when set.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from . import __version__, config, manifest
from .errors import UserError
from .fetch import sha256_file
from .refresh import load_refresh_manifest

ENV_VAR = "KOMMUN_IT_PROVENANCE"


def code_version() -> str:
    """'<package version>+<short git commit>[-dirty]', or the package version alone outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=config.PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=config.PROJECT_ROOT, capture_output=True, text=True, timeout=30, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    if not commit:
        return __version__
    return f"{__version__}+{commit}{'-dirty' if status else ''}"


def raw_data_hashes() -> list[dict[str, str]]:
    """sha256 of every raw file a build can use, as the bytes are now (never copied from the manifest):
    manifest files present in data/raw, with "manifest_sha256" added where the bytes differ from the
    manifest, and files written by `kommun-it refresh`."""
    raw = config.raw_dir()
    fetched = []
    for source in manifest.load().values():
        for f in source.files:
            path = raw / f.source_id / f.name
            if path.is_file():
                actual = sha256_file(path)
                fetched.append({"file": f.relpath, "sha256": actual}
                               | ({"manifest_sha256": f.sha256} if actual != f.sha256 else {}))
    refreshed = [
        {"file": f"{rec['id']}/{f['name']}", "sha256": sha256_file(raw / rec["id"] / f["name"])}
        for rec in load_refresh_manifest(raw)
        for f in rec.get("files", [])
        if (raw / rec["id"] / f["name"]).is_file()
    ]
    from .local_sources import load as local_records  # analyst-supplied ledgers (data/local/)

    local = [{"file": f"local/{rec['id']}/{rec['file']}", "sha256": rec["sha256"]} for rec in local_records()]
    return fetched + refreshed + local


def verify_raw(raw_dir: Path | None = None) -> int:
    """Check every manifest file present in raw_dir against its manifest sha256 before a build computes
    anything; UserError naming the first file whose bytes differ. Returns the number of files checked."""
    raw_dir = raw_dir or config.raw_dir()
    checked = 0
    for source in manifest.load().values():
        for f in source.files:
            path = raw_dir / f.source_id / f.name
            if not path.is_file():
                continue
            actual = sha256_file(path)
            if actual != f.sha256:
                raise UserError(
                    f"{path}: sha256 {actual[:12]}… differs from the manifest's {f.sha256[:12]}…; the file was changed"
                    " after fetch: run `kommun-it fetch` to restore it (or update data/sources.yml with its provenance)"
                )
            checked += 1
    return checked


def processed_hashes(processed_dir: Path | None = None) -> list[dict[str, str]]:
    """sha256 of every parquet table in the processed directory, sorted by table name; the partitioned ledger
    store is the table `ledger`, hashed over its files' relative paths and bytes in path order."""
    directory = processed_dir or config.processed_dir()
    out = [{"table": p.stem, "sha256": sha256_file(p)} for p in directory.glob("*.parquet")]
    store = directory / "ledger"
    if store.is_dir():
        digest = hashlib.sha256()
        for part in sorted(store.rglob("*.parquet")):
            digest.update(part.relative_to(store).as_posix().encode() + b"\0" + bytes.fromhex(sha256_file(part)))
        out.append({"table": "ledger", "sha256": digest.hexdigest()})
    return sorted(out, key=lambda r: r["table"])


def snapshot() -> dict:
    """Everything in a provenance record except the parameters (the part worth caching)."""
    return {"code_version": code_version(), "raw_data": raw_data_hashes(), "processed": processed_hashes()}


def write_snapshot(path: Path) -> Path:
    """Compute the snapshot once and store it as JSON at path (for `KOMMUN_IT_PROVENANCE`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(snapshot(), indent=1, sort_keys=True), encoding="utf-8")
    return path


def provenance(params: dict | None = None) -> dict:
    """{"code_version", "parameters", "raw_data": [{file, sha256}], "processed": [{table, sha256}]}.

    Uses the snapshot file named by $KOMMUN_IT_PROVENANCE when it exists, else computes it now.
    """
    cached = os.environ.get(ENV_VAR)
    if cached and Path(cached).is_file():
        snap = json.loads(Path(cached).read_text(encoding="utf-8"))
    else:
        snap = snapshot()
    return {
        "code_version": snap["code_version"],
        "parameters": dict(params or {}),
        "raw_data": snap["raw_data"],
        "processed": snap["processed"],
    }
