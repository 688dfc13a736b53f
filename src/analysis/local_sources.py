"""Ledgers supplied by the analyst: `kommun-it ingest FILE --kommun KOD --add`, kept in `data/local/`.

An analyst's own supplier ledger is cleaned exactly like a mirrored one (`analysis.ledgers.ingest_file`,
personnummer pseudonymised), then its cleaned rows, rejected rows and reconciliation are stored as
deterministic parquet in the git-ignored `data/local/<source id>/`, with one record per source in the
local manifest `data/local/sources.yml` (file name, sha256, detected shape, grain, periods,
reconciliation, and the sha256 of the stored tables). `kommun-it build` adds them to the ledger lens
(`local_parts`); their source id starts with `analyst-supplied-` and every figure made from them says
"supplied by the analyst" (`coverage_notes`, `attribution_line`, `banner`).

Rules: one municipality per file; every posting needs a month (from the file or `--period`); the same
file added twice is a no-op; a different file for a municipality and period already held is refused
unless `replace=True`; a municipality and period the mirrored public data already holds is refused
(it would be counted twice).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from . import config
from .errors import UserError
from .io import write_parquet

PREFIX = "analyst-supplied-"
SUPPLIED = "supplied by the analyst"
MANIFEST_NAME = "sources.yml"
TABLES = ("ledger", "rejects", "reconciliation")
_HEADER = (
    "# Ledgers supplied by the analyst (`kommun-it ingest FILE --kommun KOD --add`); git-ignored, local only.\n"
    "# `kommun-it build` adds them to the ledger lens; `kommun-it ingest --remove --kommun KOD` takes one out.\n"
)


def local_dir() -> Path:
    """data/local/ under the project home (KOMMUN_IT_HOME in tests)."""
    return config.home() / "data" / "local"


def manifest_path() -> Path:
    return local_dir() / MANIFEST_NAME


def is_local(source_id: str) -> bool:
    return str(source_id).startswith(PREFIX)


def _sha256(path: Path) -> str:
    from .fetch import sha256_file

    return sha256_file(path)


def load() -> list[dict]:
    """The local manifest's records, sorted by id (empty when nothing was added)."""
    path = manifest_path()
    if not path.exists():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: cannot read the local source manifest ({exc})") from None
    records = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) and "id" in r for r in records):
        raise UserError(f"{path}: expected a 'sources' list of records with an id")
    return sorted(records, key=lambda r: r["id"])


def _save(records: list[dict]) -> None:
    path = manifest_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _HEADER + yaml.safe_dump({"sources": sorted(records, key=lambda r: r["id"])}, sort_keys=False,
                                    allow_unicode=True, width=110)
    tmp = path.with_suffix(".yml.part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _label(periods: list[str]) -> str:
    return periods[0] if len(periods) == 1 else f"{periods[0]}--{periods[-1]}"


def _periods(ledger: pd.DataFrame, file: Path) -> list[str]:
    """The months (posting grain) or years (supplier_year grain) a cleaned ledger covers."""
    if (ledger["grain"] == "supplier_year").all():
        return sorted({str(y) for y in ledger["year"]})
    missing = int(ledger["period"].isna().sum())
    if missing:
        raise UserError(f"{file.name}: {missing:,} rows have no month (no date column); pass --period YYYY-MM")
    return sorted(set(ledger["period"]))


def _mirrored_overlap(kommunkod: str, periods: list[str]) -> str | None:
    """The mirrored ledger source that already holds this municipality and period, if any."""
    path = config.processed_dir() / "ledger_periods.parquet"  # what the ledger store holds (aggregate.py)
    if not path.exists():
        return None
    led = pd.read_parquet(path, columns=["source_id", "kommunkod", "year", "period", "grain"])
    led = led[(led["kommunkod"] == kommunkod) & ~led["source_id"].map(is_local)]
    if led.empty:
        return None
    held = set(led["period"].dropna()) | {str(y) for y in led.loc[led["grain"] == "supplier_year", "year"]}
    wanted = set(periods) | {p[:4] for p in periods}
    for p in sorted(wanted & held):
        sid = led.loc[(led["period"] == p) | (led["year"].astype(str) == p), "source_id"].iloc[0]
        return f"{p} ({sid})"
    return None


@dataclass
class AddResult:
    record: dict
    action: str  # "added", "replaced" or "unchanged"
    replaced: list[str]

    @property
    def summary(self) -> str:
        r = self.record
        if self.action == "unchanged":
            return (f"ingest: {r['file']} is already added as {r['id']} (same sha256); nothing to do")
        what = f"replaced {', '.join(self.replaced)} with" if self.replaced else "added"
        return (f"ingest: {what} {r['id']}: {r['rows_clean']:,} rows for {r['kommunkod']} {', '.join(r['periods'])},"
                f" {SUPPLIED}, kept in {local_dir() / r['id']}; run `kommun-it build` to include it in the reports")


def add(file: Path, result, *, replace: bool = False) -> AddResult:
    """Keep an ingested file (`analysis.ledgers.Ingested`) as a local source; see the module rules."""
    file = Path(file)
    sha = _sha256(file)
    records = load()
    for rec in records:
        if rec["sha256"] == sha:
            return AddResult(rec, "unchanged", [])
    ledger = result.ledger
    if ledger.empty:
        raise UserError(f"{file.name}: no clean rows to add (all {len(result.rejects):,} rows were rejected)")
    codes = sorted(set(ledger["kommunkod"]))
    if len(codes) != 1:
        raise UserError(f"{file.name}: holds rows for {len(codes)} municipalities ({', '.join(codes[:5])});"
                        " --add takes one municipality's ledger per file")
    kommunkod = codes[0]
    periods = _periods(ledger, file)
    mirrored = _mirrored_overlap(kommunkod, periods)
    if mirrored:
        raise UserError(f"{file.name}: {kommunkod} {mirrored} is already in the public mirrored data;"
                        " an analyst-supplied ledger would count it twice")
    clash = [r for r in records if r["kommunkod"] == kommunkod and set(r["periods"]) & set(periods)]
    if clash and not replace:
        old = clash[0]
        raise UserError(f"{file.name}: {kommunkod} {', '.join(sorted(set(old['periods']) & set(periods)))} already has"
                        f" an analyst-supplied ledger ({old['file']}, sha256 {old['sha256'][:12]}…, id {old['id']});"
                        " add with --replace to swap it, or --remove it first")
    for old in clash:
        _delete(old)
    source_id = f"{PREFIX}{kommunkod}-{_label(periods)}"
    tables = {
        "ledger": ledger.assign(source_id=source_id),
        "rejects": result.rejects.assign(source_id=source_id),
        "reconciliation": result.reconciliation.assign(source_id=source_id),
    }
    folder = local_dir() / source_id
    hashes = {name: _sha256(write_parquet(df, folder / f"{name}.parquet")) for name, df in tables.items()}
    recon = result.reconciliation.iloc[0]
    record = {
        "id": source_id,
        "kommunkod": kommunkod,
        "periods": periods,
        "file": file.name,
        "sha256": sha,
        "shape": str(recon["shape"]),
        "grain": str(recon["grain"]),
        "rows_in": int(recon["rows_in"]),
        "rows_clean": int(recon["rows_clean"]),
        "rows_rejected": int(recon["rows_rejected"]),
        "ore_in": int(recon["ore_in"]),
        "ore_clean": int(recon["ore_clean"]),
        "ore_rejected": int(recon["ore_rejected"]),
        "balanced": bool(recon["balanced"]),
        "note": str(recon["note"]),
        "tables": hashes,
    }
    _save([r for r in load() if r["id"] != source_id] + [record])
    return AddResult(record, "replaced" if clash else "added", [r["id"] for r in clash])


def _delete(record: dict) -> None:
    folder = local_dir() / record["id"]
    for name in TABLES:
        (folder / f"{name}.parquet").unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    _save([r for r in load() if r["id"] != record["id"]])


def remove(file: Path | None = None, kommun: str | None = None, period: str | None = None) -> list[str]:
    """Take local sources out: the one added from FILE (by sha256, else by file name), or those of a
    municipality (and period). Returns the removed ids; none matching is an error."""
    records = load()
    if file is not None:
        file = Path(file)
        sha = _sha256(file) if file.is_file() else None
        chosen = [r for r in records if r["sha256"] == sha] or [r for r in records if r["file"] == file.name]
        what = str(file)
    elif kommun is not None:
        chosen = [r for r in records if r["kommunkod"] == kommun and (period is None or period in r["periods"])]
        what = f"--kommun {kommun}" + (f" --period {period}" if period else "")
    else:
        raise UserError("ingest --remove: name the FILE that was added, or --kommun KOD [--period YYYY-MM]")
    if not chosen:
        held = ", ".join(f"{r['kommunkod']} {_label(r['periods'])} ({r['file']})" for r in records) or "none"
        raise UserError(f"ingest --remove {what}: no analyst-supplied ledger matches (held: {held})")
    for rec in chosen:
        _delete(rec)
    return [r["id"] for r in chosen]


def local_parts() -> list[tuple[pd.DataFrame, pd.DataFrame, dict]]:
    """The stored (ledger, rejects, reconciliation record) of every local source, for the ledger stage.

    A stored table whose sha256 no longer matches the manifest is an error (edit the source file and add
    it again instead)."""
    parts = []
    for rec in load():
        folder = local_dir() / rec["id"]
        frames = {}
        for name in TABLES:
            path = folder / f"{name}.parquet"
            if not path.is_file():
                raise UserError(f"{path} is missing: add {rec['file']} again or run `kommun-it ingest --remove"
                                f" --kommun {rec['kommunkod']}`")
            if _sha256(path) != rec.get("tables", {}).get(name):
                raise UserError(f"{path}: changed since it was added (sha256 differs from {manifest_path().name});"
                                f" add {rec['file']} again with --replace")
            frames[name] = pd.read_parquet(path)
        recon = frames["reconciliation"].iloc[0].to_dict()
        recon["note"] = "; ".join(x for x in (SUPPLIED, str(recon.get("note") or "")) if x)
        parts.append((frames["ledger"], frames["rejects"], recon))
    return parts


def coverage_notes() -> dict[str, str]:
    """{source id: coverage note} for the ledger lens of it_spend, naming the analyst as the source."""
    notes = {}
    for rec in load():
        months = "one month, not annualised" if len(rec["periods"]) == 1 and len(rec["periods"][0]) == 7 else (
            f"{len(rec['periods'])} periods")
        notes[rec["id"]] = (
            f"Supplied by the analyst, not public mirrored data: {rec['file']} (sha256 {rec['sha256'][:12]}…,"
            f" shape {rec['shape']}), {months}; checked by kommun-it only for shape and reconciliation."
        )
    return notes


def attribution_line(source_id: str) -> str | None:
    """The attribution of a local source, or None when it is not one."""
    for rec in load():
        if rec["id"] == source_id:
            return (f"Ledger {SUPPLIED}: {rec['file']} for {rec['kommunkod']} {_label(rec['periods'])}"
                    f" (sha256 {rec['sha256'][:12]}…); not a public source in data/sources.yml")
    if is_local(source_id):
        return f"Ledger {SUPPLIED} ({source_id}); since removed from data/local/ (rebuild to drop it)"
    return None


def built_ids() -> set[str]:
    """Local source ids present in the processed ledger store (its ledger_periods table)."""
    path = config.processed_dir() / "ledger_periods.parquet"
    if not path.exists():
        return set()
    ids = pd.read_parquet(path, columns=["source_id"])["source_id"].unique()
    return {s for s in ids if is_local(s)}


def in_report(params: dict) -> list[dict]:
    """Built local sources a report with these parameters draws on: those of its kommunkod (and period),
    or all of them for a report without parameters (the sources and coverage report)."""
    built = built_ids()
    recs = [r for r in load() if r["id"] in built]
    if not params:
        return recs
    if "kommunkod" not in params:
        return []
    recs = [r for r in recs if r["kommunkod"] == params["kommunkod"]]
    if "period" in params:
        recs = [r for r in recs if params["period"] in r["periods"] or str(params["period"])[:4] in r["periods"]]
    return recs


def banner_text(params: dict) -> str | None:
    """One sentence for the top of a report that uses analyst-supplied ledgers, else None."""
    recs = in_report(params)
    if not recs:
        return None
    items = "; ".join(f"{r['kommunkod']} {_label(r['periods'])} from {r['file']} (sha256 {r['sha256'][:12]}…)"
                      for r in recs)
    return (f"This report uses a supplier ledger {SUPPLIED}, not public mirrored data: {items}."
            " Its figures are marked with the source id prefix 'analyst-supplied-'.")


def status_rows() -> list[dict]:
    """`kommun-it sources` rows for the local sources (and built ones since removed)."""
    built = built_ids()
    rows = []
    recs = load()
    for r in recs:
        state = "in the build" if r["id"] in built else "added, not built yet (run `kommun-it build`)"
        rows.append({"kind": "local", "id": r["id"], "files": r["file"], "state": state,
                     "detail": f"{SUPPLIED}; {r['kommunkod']} {_label(r['periods'])}; shape {r['shape']};"
                               f" rows {r['rows_in']:,} = {r['rows_clean']:,} clean + {r['rows_rejected']:,}"
                               f" rejected; balanced {'yes' if r['balanced'] else 'NO'}; sha256 {r['sha256'][:12]}…"})
    for sid in sorted(built - {r["id"] for r in recs}):
        rows.append({"kind": "local", "id": sid, "files": "", "state": "removed, still in the build until"
                     " `kommun-it build`", "detail": SUPPLIED})
    return rows
