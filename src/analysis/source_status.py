"""`kommun-it sources`: every source the build can use, with its state.

mirrored: the records of data/sources.yml, their files checked in data/raw/ against the manifest sha256;
refreshed: the records `kommun-it refresh` wrote to data/raw/refreshed_sources.yml;
online: the municipal ledgers `kommun-it refresh ledgers` fetched (data/raw/ledgers/manifest.csv), one row
per municipality, each file checked against its recorded sha256;
local: the analyst-supplied ledgers in data/local/ (`kommun-it ingest --add`), built or not yet.
"""

from __future__ import annotations

from . import config, local_sources, manifest
from .fetch import sha256_file
from .refresh import load_refresh_manifest
from .sources import ledger_portals


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
    by_kommun: dict[str, list[dict]] = {}
    for rec in ledger_portals.read_manifest(raw):
        by_kommun.setdefault(rec["kommunkod"], []).append(rec)
    for kommunkod, recs in sorted(by_kommun.items()):
        current = [r for r in recs if r["current"] == "true"]
        changed = [r["path"] for r in current
                   if not (raw / r["path"]).is_file() or sha256_file(raw / r["path"]) != r["sha256"]]
        state = (f"CHANGED or missing: {', '.join(changed)} (run `kommun-it refresh ledgers`)" if changed else
                 f"fetched {max(r['fetched_at'] for r in recs)[:10]}, verified; {len(recs) - len(current)} older versions kept")
        rows.append({"kind": "online", "id": f"ledger-online-{kommunkod}", "files": len(current), "state": state,
                     "detail": f"{recs[0]['publisher']} ({recs[0]['portal']}); VAT basis {recs[0]['vat_basis']}"})
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
    counts = {k: sum(r["kind"] == k for r in rows) for k in ("mirrored", "refreshed", "online", "local")}
    lines.append("sources: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return "\n".join(lines)
