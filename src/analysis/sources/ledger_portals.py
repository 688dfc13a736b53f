"""`kommun-it refresh ledgers`: every published municipal supplier ledger, fetched incrementally.

For each catalogue entry (`data/publishers.yml`, or `--catalogue FILE`) the portal's client lists the
ledger files (`ledger_entryscape`, `ledger_opendatasoft`, `ledger_ckan`, `ledger_page`), all over the one
shared `http.Client`. Each file is downloaded to `raw/ledgers/<kommunkod>/.incoming/` (temp-then-rename)
and hashed, then compared with the manifest `raw/ledgers/manifest.csv`:

- not recorded yet: kept as `<name>` (version 1);
- recorded and unchanged: nothing written (a second run says "0 new"). The request is conditional
  (If-None-Match / If-Modified-Since from the recorded ETag / Last-Modified) when the publisher sent those
  headers, so a 304 costs no download; otherwise the bytes are fetched and compared by sha256;
- recorded with other bytes: kept beside the old one as `<stem>.v<N><suffix>`; the manifest marks the
  newest version `current` and keeps every older one.

A current file whose bytes equal another current file of the same municipality (Göteborg uploaded some
months twice) is recorded with `duplicate_of` and left out of `current_files`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..errors import UserError
from ..io import write_bytes_atomic
from . import ledger_ckan, ledger_entryscape, ledger_opendatasoft, ledger_page, publishers, record
from .cli import parse_years
from .http import Client, sha256_path
from .ledger_common import SUFFIXES, Found, rehost

CLIENT = "analysis.sources.ledger_portals"
MANIFEST_COLUMNS = (
    "kommunkod", "publisher", "portal", "dataset_id", "version", "current", "duplicate_of", "title", "url", "path",
    "sha256", "size", "etag", "last_modified", "years", "period", "format", "vat_basis", "fetched_at", "client",
)


def ledgers_dir(raw_dir: Path) -> Path:
    return Path(raw_dir) / "ledgers"


def manifest_path(raw_dir: Path) -> Path:
    return ledgers_dir(raw_dir) / "manifest.csv"


# ---------------------------------------------------------------- manifest


def read_manifest(raw_dir: Path) -> list[dict]:
    """The manifest rows (all text; `version` as int), [] when nothing was fetched yet."""
    path = manifest_path(raw_dir)
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
            raise UserError(f"{path}: unexpected columns {reader.fieldnames}; expected {', '.join(MANIFEST_COLUMNS)}")
        rows = list(reader)
    for row in rows:
        row["version"] = int(row["version"])
    return rows


def write_manifest(raw_dir: Path, rows: list[dict]) -> Path:
    """Write the manifest deterministically: fixed columns, rows by kommunkod, dataset_id, version."""
    rows = sorted(rows, key=lambda r: (r["kommunkod"], r["dataset_id"], int(r["version"])))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in MANIFEST_COLUMNS})
    return write_bytes_atomic(manifest_path(raw_dir), out.getvalue().encode("utf-8"))


def current_files(raw_dir: Path | None = None) -> list[dict]:
    """The current version of every downloaded ledger file, for the ledger build stage.

    Returns one dict per file, sorted by kommunkod and path ([] when nothing was fetched):
    `path` (absolute Path), `kommunkod` (the catalogue's, a string; pass it as `kommun=` when the file
    has no kommun_id column), `source_id` ("ledger-online-<kommunkod>", one per municipality, so
    (source_id, file name) is unique), `dataset_id` (the portal's id of the file), `publisher`
    (municipality name), `portal`, `year` (int when the file names one year, else None), `period`
    ("YYYY-MM" when the file names a month, else None), `vat_basis` ("excl_vat" | "incl_vat" | "unknown"),
    `format`, `sha256` and `version`. Older versions and files whose bytes repeat another current file
    of the same municipality are left out. A listed file missing on disk is a UserError.
    """
    raw_dir = Path(raw_dir) if raw_dir is not None else config.raw_dir()
    rows = [r for r in read_manifest(raw_dir) if r["current"] == "true"]
    sha_now = {(r["kommunkod"], r["dataset_id"]): r["sha256"] for r in rows}
    out = []
    for row in rows:
        if row["duplicate_of"] and sha_now.get((row["kommunkod"], row["duplicate_of"])) == row["sha256"]:
            continue  # the same bytes as another current file of the municipality
        path = raw_dir / row["path"]
        if not path.is_file():
            raise UserError(f"{manifest_path(raw_dir)}: {row['path']} is missing; run `kommun-it refresh ledgers` again")
        out.append({
            "path": path,
            "kommunkod": row["kommunkod"],
            "source_id": f"ledger-online-{row['kommunkod']}",
            "dataset_id": row["dataset_id"],
            "publisher": row["publisher"],
            "portal": row["portal"],
            "year": int(row["years"]) if re.fullmatch(r"\d{4}", row["years"]) else None,
            "period": row["period"] or None,
            "vat_basis": row["vat_basis"],
            "format": row["format"],
            "sha256": row["sha256"],
            "version": row["version"],
        })
    return sorted(out, key=lambda r: (r["kommunkod"], str(r["path"])))


PORTAL_NAMES = {"entryscape_store": "EntryScape store", "entryscape_rowstore": "EntryScape rowstore",
                "opendatasoft": "Opendatasoft", "ckan": "CKAN", "page": "the publisher's web page"}
VAT_WORDS = {"excl_vat": "amounts excluding VAT", "incl_vat": "amounts including VAT", "unknown": "VAT basis not stated"}


def coverage_notes(raw_dir: Path | None = None) -> dict[str, str]:
    """{source_id: coverage note} of the online ledgers in the build (one per municipality, from the manifest):
    what was fetched, from where, and the VAT basis, so every figure says which ledger it comes from."""
    by_source: dict[str, list[dict]] = {}
    for f in current_files(raw_dir):
        by_source.setdefault(f["source_id"], []).append(f)
    notes = {}
    for source_id, files in by_source.items():
        first = files[0]
        notes[source_id] = (
            f"{first['publisher']} supplier ledger fetched from {PORTAL_NAMES.get(first['portal'], first['portal'])}"
            f" ({len(files)} files); {VAT_WORDS.get(first['vat_basis'], first['vat_basis'])}; months not published"
            " are missing, never estimated."
        )
    return notes


def attribution_line(source_id: str, raw_dir: Path | None = None) -> str | None:
    """The attribution of an online ledger source ("ledger-online-<kommunkod>"): publisher, where its files
    were fetched from and when; None for any other source id."""
    if not source_id.startswith("ledger-online-"):
        return None
    code = source_id.removeprefix("ledger-online-")
    rows = [r for r in read_manifest(Path(raw_dir) if raw_dir else config.raw_dir()) if r["kommunkod"] == code]
    if not rows:
        return None
    hosts = sorted({re.sub(r"^https?://([^/]+).*$", r"\1", r["url"]) for r in rows})
    fetched = max(r["fetched_at"] for r in rows)[:10]
    return f"Källa: {rows[0]['publisher']}, leverantörsreskontra ({', '.join(hosts)}), hämtad {fetched}"


# ---------------------------------------------------------------- selection


def select(catalogue: list[publishers.Publisher], kommun: list[str] | None, path: Path) -> list[publishers.Publisher]:
    """The entries for --kommun (all when none is given); an unknown or malformed code is one UserError line."""
    if not kommun:
        return catalogue
    by_code = {p.kommunkod: p for p in catalogue}
    chosen = []
    for code in kommun:
        if not re.fullmatch(r"\d{4}", code or ""):
            raise UserError(f"--kommun {code!r}: expected a four-digit kommunkod such as 1480")
        if code not in by_code:
            raise UserError(f"--kommun {code}: not in the catalogue {path} (known: {', '.join(sorted(by_code))})")
        if by_code[code] not in chosen:
            chosen.append(by_code[code])
    return chosen


def _overlaps(pub: publishers.Publisher, span: tuple[int, int] | None) -> bool:
    own = pub.year_span()
    if span is None or own is None:
        return True
    last = own[1] if own[1] is not None else dt.date.today().year
    return own[0] <= span[1] and span[0] <= last


def discover(client: Client, pub: publishers.Publisher, base_url: str | None) -> list[Found]:
    """The files the entry's portal offers now (base_url, when given, replaces every host)."""
    base = base_url or pub.base_url
    if pub.portal == "entryscape_store":
        return ledger_entryscape.store_files(client, pub, base, base_url)
    if pub.portal == "entryscape_rowstore":
        return ledger_entryscape.rowstore_files(pub, base)
    if pub.portal == "opendatasoft":
        return ledger_opendatasoft.files(pub, base)
    if pub.portal == "ckan":
        return ledger_ckan.files(client, pub, base, base_url)
    if pub.portal == "page":
        return ledger_page.files(client, pub, rehost(pub.page_url, base_url), base_url)
    raise UserError(f"catalogue entry {pub.kommunkod}: portal {pub.portal!r} cannot be fetched")


# ---------------------------------------------------------------- fetching


@dataclass
class Tally:
    new: int = 0
    versions: int = 0
    unchanged: int = 0
    restored: int = 0
    skipped: list[str] = field(default_factory=list)
    publishers: int = 0


def _sniff_suffix(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(8).lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"PK\x03\x04"):
        return ".xlsx"
    return ".json" if head[:1] in (b"{", b"[") else ".csv"


def _conditional(current: dict | None, raw_dir: Path) -> dict:
    """If-None-Match / If-Modified-Since from the current version, when its file is on disk at its recorded size."""
    if current is None:
        return {}
    path = raw_dir / current["path"]
    if not path.is_file() or str(path.stat().st_size) != str(current["size"]):
        return {}
    headers = {}
    if current["etag"]:
        headers["If-None-Match"] = current["etag"]
    if current["last_modified"]:
        headers["If-Modified-Since"] = current["last_modified"]
    return headers


def _versioned(name: str, version: int) -> str:
    p = Path(name)
    return name if version == 1 else f"{p.stem}.v{version}{p.suffix}"


def _fetch_one(client: Client, pub: publishers.Publisher, item: Found, raw_dir: Path, rows: list[dict],
               base_url: str | None, tally: Tally) -> None:
    folder = ledgers_dir(raw_dir) / pub.kommunkod
    incoming = folder / ".incoming" / item.name
    mine = [r for r in rows if r["kommunkod"] == pub.kommunkod and r["dataset_id"] == item.dataset_id]
    current = next((r for r in mine if r["current"] == "true"), None)
    etag = last_modified = ""
    if item.rowstore:
        ledger_entryscape.write_rowstore(client, item.url, incoming, base_url)
        url = item.url
    else:
        got = client.download(item.url, incoming, headers=_conditional(current, raw_dir))
        if got is None:  # 304 Not Modified: the recorded current file is still the publisher's
            tally.unchanged += 1
            return
        url, etag, last_modified = got.url, got.etag, got.last_modified
    sha, size = sha256_path(incoming), incoming.stat().st_size
    if current is not None and current["sha256"] == sha:
        if etag or last_modified:  # headers the publisher sends now make the next run conditional
            current.update(etag=etag, last_modified=last_modified)
        target = raw_dir / current["path"]
        if target.is_file() and sha256_path(target) == sha:
            incoming.unlink()
            tally.unchanged += 1
        else:
            os.replace(incoming, target)
            tally.restored += 1
        return
    version = max((r["version"] for r in mine), default=0) + 1
    first = next((r for r in mine if r["version"] == 1), None)
    name = Path(first["path"]).name if first else item.name
    if not first and Path(name).suffix.lower() not in SUFFIXES:
        name += _sniff_suffix(incoming)
    target = folder / _versioned(name, version)
    taken = {r["path"] for r in rows if not (r["kommunkod"] == pub.kommunkod and r["dataset_id"] == item.dataset_id)}
    if target.relative_to(raw_dir).as_posix() in taken:
        target = folder / _versioned(f"{Path(name).stem}-{sha[:8]}{Path(name).suffix}", version)
    os.replace(incoming, target)
    for r in mine:
        r["current"] = "false"
    twin = next((r for r in rows if r["kommunkod"] == pub.kommunkod and r["current"] == "true"
                 and r["sha256"] == sha and not r["duplicate_of"]), None)
    rows.append({
        "kommunkod": pub.kommunkod, "publisher": pub.name, "portal": pub.portal, "dataset_id": item.dataset_id,
        "version": version, "current": "true", "duplicate_of": twin["dataset_id"] if twin else "",
        "title": item.title, "url": url, "path": target.relative_to(raw_dir).as_posix(), "sha256": sha,
        "size": size, "etag": etag, "last_modified": last_modified, "years": item.years or "",
        "period": item.period or "", "format": item.format, "vat_basis": pub.vat_basis, "fetched_at": record.now(),
        "client": CLIENT,
    })
    if version == 1:
        tally.new += 1
    else:
        tally.versions += 1


def refresh_ledgers(
    kommun: list[str] | None = None,
    years: str | None = None,
    catalogue: Path | None = None,
    base_url: str | None = None,
    *,
    client: Client | None = None,
    raw_dir: Path | None = None,
    progress: bool = False,
) -> str:
    """Fetch the ledger files of the selected catalogue entries; returns the one-paragraph summary."""
    if base_url is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", base_url):
        raise UserError(f"--base-url {base_url!r}: expected an http(s) URL")
    span = None
    if years:
        got = parse_years(years)
        span = (got[0], got[-1])
    path = Path(catalogue) if catalogue is not None else publishers.CATALOGUE
    chosen = select(publishers.load(path), kommun, path)
    raw_dir = Path(raw_dir) if raw_dir is not None else config.raw_dir()
    client = client or Client(what="refresh ledgers", rate_per_host=1.0, progress=progress)
    rows = read_manifest(raw_dir)
    tally = Tally()
    for pub in chosen:
        why = pub.fetchable()
        if why:
            tally.skipped.append(f"{pub.name} {pub.kommunkod} ({why})")
            continue
        if not _overlaps(pub, span):
            continue
        tally.publishers += 1
        items, seen = [], set()
        for item in discover(client, pub, base_url):
            year = item.first_year
            if item.dataset_id in seen or (span and year is not None and not span[0] <= year <= span[1]):
                continue
            seen.add(item.dataset_id)
            items.append(item)
        for item in items:
            _fetch_one(client, pub, item, raw_dir, rows, base_url, tally)
            write_manifest(raw_dir, rows)
        try:
            (ledgers_dir(raw_dir) / pub.kommunkod / ".incoming").rmdir()
        except OSError:
            pass
    text = (
        f"refresh ledgers: {tally.new} new, {tally.versions} new version(s), {tally.unchanged} unchanged"
        + (f", {tally.restored} restored" if tally.restored else "")
        + f" from {tally.publishers} publisher(s) -> {ledgers_dir(raw_dir)}; manifest {manifest_path(raw_dir).name}"
    )
    if tally.skipped:
        text += "; skipped (nothing to fetch yet): " + ", ".join(tally.skipped)
    return text
