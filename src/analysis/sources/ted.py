"""TED contract award notices, yearly bulk CSV zips 2006–2023 (EU Publications Office via data.europa.eu).

`{base}/ted-contract-award-notices-{YYYY}.zip` (default base `https://data.europa.eu/api/hub/store/data`)
holds one comma-separated UTF-8 CSV of about 700–900k EU award rows (one row per award × lot, notice
fields repeated). `refresh_ted` downloads each year's zip into `data/raw/ted-award-notices/` (hashed,
resumable), then streams the CSV inside the zip with pyarrow's incremental reader (8 MB blocks, every
column read as text, never the whole file in pandas), keeps the rows whose buyer country
`ISO_COUNTRY_CODE` is SE (multi-buyer cells `SE---DK` included) and writes them with the original header
to `ted-se-award-notices-{YYYY}.csv` beside the zip. Both files get a manifest record.

Columns are found by name, case-insensitively, per vintage (`COLUMN_ALIASES`); values fall back from
`*_FIN_1` to the plain columns later (in `analysis.panel`). A file without one of `REQUIRED` stops with
one line naming the file, row 1 (the header) and the column; a row the CSV parser cannot read stops with
the parser's row number.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import UserError
from . import record
from .http import Client, Download, join, sha256_path

SOURCE_ID = "ted-award-notices"
DEFAULT_BASE = "https://data.europa.eu/api/hub/store/data"
FIRST_YEAR, LAST_YEAR = 2006, 2023
COUNTRY = "SE"
BLOCK_SIZE = 8 << 20  # measured: smaller blocks cut peak RSS (64 MB: ~830 MB, 8 MB: ~490 MB) at no cost in speed

# Canonical name → other spellings seen across vintages (reported); matching is case-insensitive.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "ID_NOTICE_CAN": ("ID_NOTICE",),
    "ISO_COUNTRY_CODE": ("CAE_COUNTRY", "ISO_COUNTRY"),
    "CAE_NATIONALID": ("CAE_NATIONAL_ID",),
    "WIN_NATIONALID": ("WIN_NATIONAL_ID",),
}
REQUIRED = ("ID_NOTICE_CAN", "YEAR", "ISO_COUNTRY_CODE", "CAE_NAME", "CAE_NATIONALID", "CPV", "ID_AWARD")

RECORD = {
    "id": SOURCE_ID,
    "title": "TED contract award notices (bulk CSV), yearly files; Swedish rows extracted",
    "publisher": "Publications Office of the European Union (TED), via data.europa.eu",
    "licence": "EU reuse notice (Commission Decision 2011/833/EU)",
    "attribution": "Source: TED – Tenders Electronic Daily, © European Union",
    "url": "https://data.europa.eu/data/datasets/ted-csv",
    "notes": (
        "ted-contract-award-notices-YYYY.zip as published; ted-se-award-notices-YYYY.csv = rows with"
        " ISO_COUNTRY_CODE containing SE, all columns, original header (derived_from names the zip)."
    ),
}


def zip_name(year: int) -> str:
    return f"ted-contract-award-notices-{year}.zip"


def se_name(year: int) -> str:
    return f"ted-se-award-notices-{year}.csv"


def resolve_columns(header: list[str], where: str) -> dict[str, str]:
    """{canonical name: name in this file} for every canonical column the file has; REQUIRED must be there."""
    by_upper = {h.strip().upper(): h for h in header}
    found: dict[str, str] = {}
    for name in set(REQUIRED) | set(COLUMN_ALIASES) | set(by_upper):
        for candidate in (name, *COLUMN_ALIASES.get(name, ())):
            if candidate.upper() in by_upper:
                found[name] = by_upper[candidate.upper()]
                break
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise UserError(f"{where} row 1 (header): no column {missing[0]!r} (nor its known aliases); the file has {len(header)} columns")
    return found


def _csv_member(zf: zipfile.ZipFile, where: str) -> zipfile.ZipInfo:
    members = [m for m in zf.infolist() if m.filename.lower().endswith(".csv")]
    if len(members) != 1:
        raise UserError(f"{where}: expected one CSV inside the zip, found {len(members)}")
    return members[0]


def _header(raw: io.BufferedIOBase, where: str) -> list[str]:
    import csv

    first = raw.readline(1 << 20).decode("utf-8-sig", errors="strict")
    try:
        return next(csv.reader([first]))
    except StopIteration as exc:
        raise UserError(f"{where} row 1: empty file") from exc


def filter_country(source: Path, dest: Path, *, country: str = COUNTRY, block_size: int = BLOCK_SIZE) -> tuple[int, int]:
    """Stream the CSV in `source` (a .zip with one CSV, or a .csv) and write the rows of `country` to dest.

    Returns (rows read, rows kept). Memory stays at a few blocks whatever the file size.
    """
    where = source.name
    zf = zipfile.ZipFile(source) if source.suffix.lower() == ".zip" else None
    try:
        member = _csv_member(zf, where) if zf else None
        where = f"{source.name}:{member.filename}" if member else where
        with (zf.open(member) if zf else source.open("rb")) as raw:
            header = _header(raw, where)
        columns = resolve_columns(header, where)
        country_col = columns["ISO_COUNTRY_CODE"]
        pattern = rf"(^|---){country}($|---)"
        read = kept = 0
        tmp = dest.with_name(dest.name + ".part")
        with (zf.open(member) if zf else source.open("rb")) as raw:
            reader = pacsv.open_csv(
                raw,
                read_options=pacsv.ReadOptions(block_size=block_size, encoding="utf8"),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.string() for h in header}, strings_can_be_null=False
                ),
            )
            with pacsv.CSVWriter(tmp, reader.schema) as writer:
                for batch in reader:
                    read += batch.num_rows
                    col = batch.column(country_col)
                    mask = pc.match_substring_regex(pc.utf8_trim_whitespace(col), pattern)
                    chosen = batch.filter(pc.fill_null(mask, False))
                    kept += chosen.num_rows
                    if chosen.num_rows:
                        writer.write_batch(chosen)
        tmp.replace(dest)
        return read, kept
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0][:300]
        raise UserError(f"{where}: cannot read as the TED CSV shape ({first})") from exc
    except zipfile.BadZipFile as exc:
        raise UserError(f"{where}: not a readable zip ({exc})") from exc
    finally:
        if zf:
            zf.close()
        part = dest.with_name(dest.name + ".part")
        if part.exists():
            part.unlink()


def check_years(years: list[int]) -> None:
    bad = [y for y in years if not FIRST_YEAR <= y <= LAST_YEAR]
    if bad:
        raise UserError(
            f"--years: TED bulk award files exist for {FIRST_YEAR}–{LAST_YEAR}, not {bad[0]};"
            " use --source ted-api for 2024 onward"
        )


def refresh_ted(years: list[int], raw_dir: Path, base_url: str | None = None, client: Client | None = None) -> str:
    """Download, hash and filter each year's zip; record both files; return a one-line summary."""
    check_years(years)
    base = (base_url or DEFAULT_BASE).rstrip("/")
    client = client or Client(what="refresh procurement (ted)", rate_per_host=1.0)
    out = raw_dir / SOURCE_ID
    total_kept = 0
    for year in years:
        url = join(base, zip_name(year))
        got = client.download(url, out / zip_name(year))
        read, kept = filter_country(got.path, out / se_name(year))
        total_kept += kept
        se_path = out / se_name(year)
        se = Download(se_path, url, se_path.stat().st_size, sha256_path(se_path), got.retrieved_at)
        query = f"GET {url}"
        record.upsert(
            raw_dir,
            RECORD,
            [
                record.file_entry(got, query=query, client="analysis.sources.ted"),
                record.file_entry(
                    se, query=f"rows of {zip_name(year)} with ISO_COUNTRY_CODE {COUNTRY} ({kept:,} of {read:,})",
                    client="analysis.sources.ted.filter_country", derived_from=zip_name(year),
                ),
            ],
        )
    span = f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0])
    return (
        f"refresh procurement (ted): {len(years)} yearly file(s) {span}, {total_kept:,} Swedish award rows"
        f" -> data/raw/{SOURCE_ID}/; run `kommun-it build` to use them"
    )
