"""`kommun-it sources`: every source the build can use, with its state.

mirrored: the records of data/sources.yml, their files checked in data/raw/ against the manifest sha256;
refreshed: the records `kommun-it refresh` wrote to data/raw/refreshed_sources.yml;
local: the analyst-supplied ledgers in data/local/ (`kommun-it ingest --add`), built or not yet.
"""

from __future__ import annotations

from . import config, local_sources, manifest
from .fetch import sha256_file
from .refresh import load_refresh_manifest


def status_rows() -> list[dict]:
    raw = config.raw_dir()
    rows = []
    for source in manifest.load().values():
        present = [f for f in source.files if (raw / f.source_id / f.name).is_file()]
        bad = [f.name for f in present if sha256_file(raw / f.source_id / f.name) != f.sha256]
        if bad:
            state = f"CHANGED: {', '.join(bad)} differ from the manifest sha256 (run `kommun-it fetch`)"
        elif len(present) == len(source.files):
            state = "fetched, verified"
        else:
            state = f"missing {len(source.files) - len(present)} of {len(source.files)} files (run `kommun-it fetch`)"
        rows.append({"kind": "mirrored", "id": source.id, "files": len(source.files), "state": state,
                     "detail": f"{source.publisher}; {source.licence}"})
    for rec in load_refresh_manifest(raw):
        files = rec.get("files", [])
        missing = [f["name"] for f in files if not (raw / rec["id"] / f["name"]).is_file()]
        state = f"missing {', '.join(missing)}" if missing else f"refreshed {rec.get('date_accessed', '')}".strip()
        rows.append({"kind": "refreshed", "id": rec["id"], "files": len(files), "state": state,
                     "detail": str(rec.get("publisher", ""))})
    for row in local_sources.status_rows():
        rows.append({**row, "files": 1 if row["files"] else 0})
    return rows


def status_table() -> str:
    """The rows as aligned text, one source per line, with a count per kind."""
    rows = status_rows()
    width = max(len(r["id"]) for r in rows) if rows else 10
    lines = [f"{'kind':<9} {'id':<{width}} {'files':>5}  state / detail"]
    for r in rows:
        lines.append(f"{r['kind']:<9} {r['id']:<{width}} {r['files']:>5}  {r['state']}")
        if r["detail"]:
            lines.append(f"{'':<9} {'':<{width}} {'':>5}    {r['detail']}")
    counts = {k: sum(r["kind"] == k for r in rows) for k in ("mirrored", "refreshed", "local")}
    lines.append("sources: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return "\n".join(lines)
