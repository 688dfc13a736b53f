"""Readers: one raw ledger file (CSV, Excel, rowstore JSON) into canonical raw text columns.

A reader does no cleaning: it maps the publisher's columns onto the canonical raw fields
(detect.ALIASES), all as text (Excel amounts stay float64 so they can be checked to the öre), keeps the
1-based raw row number of every row, and returns rows it cannot split into fields (ragged or empty
lines) separately, so that every raw row is accounted for.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv
import python_calamine

from ..errors import UserError
from . import detect, structure
from .parse import classify_ids, normalise_names

FIELDS = tuple(detect.ALIASES)


@dataclass
class RawLedger:
    """Canonical raw columns of one file plus what the reader learnt about it."""

    path: Path
    container: str
    shape: str
    encoding: str | None
    delimiter: str | None
    columns: dict[str, pa.Array | pa.ChunkedArray]
    source_row: np.ndarray
    bad_rows: list[dict] = field(default_factory=list)
    amount_is_float: bool = False
    grain: str = "posting"
    notes: list[str] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return len(self.source_row) + len(self.bad_rows)


def read_raw(
    path: Path, *, shape: str | None = None, encoding: str | None = None, delimiter: str | None = None
) -> RawLedger:
    """Read one ledger file of any supported shape (detected unless given)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if shape is not None and shape not in detect.SHAPES:
        raise UserError(f"--format {shape!r} is not a known ledger shape; valid: {', '.join(detect.SHAPES)}")
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if not head:
        raise UserError(f"{path}: file is empty")
    container = detect.container_of(path, head)
    try:
        if container == "xlsx":
            raw = _read_xlsx(path, shape)
        elif container == "json":
            raw = _read_json(path, shape, encoding)
        else:
            raw = _read_csv(path, head, shape, encoding, delimiter)
    except UserError as exc:
        msg = str(exc)
        raise UserError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from exc
    return raw


def _to_table(frame_columns: dict[str, pa.Array], headers: list[str]) -> dict[str, pa.Array]:
    cmap = detect.column_map(headers)
    return {f: frame_columns[cmap[f]] for f in FIELDS if f in cmap}


# ---- CSV ---------------------------------------------------------------------------------------


@dataclass
class CsvPlan:
    """What the raw bytes and the header say about a CSV file, before any row is parsed."""

    path: Path
    encoding: str
    delimiter: str
    headers: list[str]
    shape: str
    records: int  # data records, counted from the bytes independently of the parser
    wanted: set[str]
    notes: list[str]


def guess_encoding(head: bytes, explicit: str | None) -> str:
    """The encoding structure.decode_whole_file will most likely find, from the first bytes only (to start
    parsing while the whole-file scan runs; the scan's answer is checked before anything is kept)."""
    import codecs

    if explicit:
        return explicit
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def csv_plan(path: Path, head: bytes, shape: str | None, encoding: str | None, delimiter: str | None,
             *, scan: bool = True) -> CsvPlan:
    """Strict whole-file decoding, header checks, shape and record count (structure.py) of one CSV file.

    With scan=False the encoding is guessed from `head` and the record count left at -1: a provisional
    plan to parse with while csv_plan(scan=True) runs elsewhere.
    """
    if not scan:
        return _header_plan(path, head, shape, guess_encoding(head, encoding), delimiter, None)
    facts = structure.decode_whole_file(path, encoding)
    return _header_plan(path, head, shape, facts.encoding, delimiter, facts)


def _header_plan(path: Path, head: bytes, shape, enc: str, delimiter, scan) -> CsvPlan:
    head_text = head.decode(enc, errors="replace")  # only the header line is used; the file decoded strictly
    header_line = re.split(r"\r\n|\r|\n", head_text.lstrip("\ufeff"), maxsplit=1)[0]
    delim = delimiter or detect.detect_delimiter(header_line)
    if len(delim) != 1:
        raise UserError(f"--delimiter must be one character, not {delim!r}")
    headers = [h.strip().lstrip("\ufeff") for h in next(csv.reader([header_line], delimiter=delim))]
    structure.check_header(path, headers)
    shape = shape or detect.detect_shape(headers, "csv")
    records = structure.count_records(path, scan, delim) - 1 if scan is not None else -1
    wanted = set(detect.column_map(headers).values()) | {h for h in headers if detect.norm_header(h) == "year"}
    notes = [] if enc in ("utf-8", "utf-8-sig", "utf-16") else [f"decoded as {enc}"]
    return CsvPlan(path, enc, delim, headers, shape, records, wanted, notes)


def _count_mismatch(parsed: int, records: int) -> UserError:
    return UserError(
        f"the CSV parser read {parsed:,} rows but the file holds {records:,} records after the"
        " header; refusing to lose or invent rows"
    )


def raw_from_columns(plan: CsvPlan, columns: dict, source_row: np.ndarray, bad: list[dict]) -> RawLedger:
    """A RawLedger (a whole file or one chunk of it) from parsed columns named by the file's headers."""
    headers = plan.headers
    raw = RawLedger(plan.path, "csv", plan.shape, plan.encoding, plan.delimiter, _to_table(columns, headers),
                    source_row, bad, notes=list(plan.notes))
    if plan.shape == "goteborg-aggregates":
        raw.grain = "supplier_year"
        raw.columns["year"] = columns[headers[[detect.norm_header(h) for h in headers].index("year")]]
    return raw


def _read_csv(path: Path, head: bytes, shape: str | None, encoding: str | None, delimiter: str | None) -> RawLedger:
    plan = csv_plan(path, head, shape, encoding, delimiter)
    try:
        table, bad = _arrow_csv(path, plan.encoding, plan.delimiter, plan.headers, plan.wanted)
    except pa.ArrowInvalid as exc:
        raise UserError(f"cannot parse as CSV ({str(exc).splitlines()[0]})") from exc
    if len(table) + len(bad) != plan.records:
        raise _count_mismatch(len(table) + len(bad), plan.records)
    rows = len(table)
    numbers = [b["source_row"] for b in bad]
    keep = np.ones(rows + len(bad), dtype=bool)
    keep[np.asarray(numbers, dtype=np.int64) - 2] = False
    source_row = np.arange(2, rows + len(bad) + 2, dtype=np.int64)[keep]
    columns = {name: table.column(i) for i, name in enumerate(table.column_names)}
    del table
    return raw_from_columns(plan, columns, source_row, bad)


def _bad_row_handler(bad: list[dict], delim: str):
    def on_bad(row) -> str:
        reason = "empty row" if not (row.text or "").strip(delim + " \r") else (
            f"ragged row: {row.actual_columns} fields, expected {row.expected_columns}"
        )
        bad.append({"source_row": row.number, "reason": reason, "raw_text": row.text})
        return "skip"

    return on_bad


def _csv_options(enc: str, delim: str, headers: list[str], wanted: set[str], on_bad, threads: bool, block_size=None):
    pa_enc = {"utf-8": "utf8", "utf-8-sig": "utf8"}.get(enc, enc)
    names = [f"c{i}" for i in range(len(headers))]
    extra = {"block_size": block_size} if block_size else {}
    return dict(
        read_options=pv.ReadOptions(encoding=pa_enc, use_threads=threads, skip_rows=1, column_names=names, **extra),
        parse_options=pv.ParseOptions(delimiter=delim, invalid_row_handler=on_bad, ignore_empty_lines=False),
        convert_options=pv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            include_columns=[n for n, h in zip(names, headers) if h in wanted],
        ),
    )


class Unnumbered(Exception):
    """A parallel CSV parse met a line it cannot split and cannot say its number: parse on one thread."""


def iter_csv(plan: CsvPlan, block_size: int, threads: bool = False) -> Iterator[RawLedger]:
    """The file as RawLedger chunks of about `block_size` bytes, in file order, with their raw row numbers.

    Every ragged or empty line goes with the chunk whose rows surround it (the trailing ones with the last
    chunk), so that each chunk reconciles on its own and the chunks together are exactly the whole file.
    A file without a parsable row still gives one (empty) chunk carrying its bad lines.
    """
    bad: list[dict] = []
    opts = _csv_options(plan.encoding, plan.delimiter, plan.headers, plan.wanted, _bad_row_handler(bad, plan.delimiter),
                        threads=threads, block_size=block_size)
    keep = [h for h in plan.headers if h in plan.wanted]
    taken = 0  # bad rows already given to a chunk
    next_row = 2
    parsed = 0
    pending = None
    try:
        reader = pv.open_csv(plan.path, **opts)
        for batch in reader:
            if not batch.num_rows:
                continue
            m = batch.num_rows
            if any(b["source_row"] is None for b in bad[taken:]):
                raise Unnumbered(str(plan.path))
            later = np.array(sorted(int(b["source_row"]) for b in bad[taken:]), dtype=np.int64)
            numbers = np.arange(next_row, next_row + m + len(later), dtype=np.int64)
            numbers = numbers[~np.isin(numbers, later)][:m]
            mine = [b for b in bad[taken:] if int(b["source_row"]) < numbers[-1]]
            taken += len(mine)
            next_row = int(numbers[-1]) + 1
            if pending is not None:
                yield pending
                pending = None
            columns = {name: batch.column(i) for i, name in enumerate(keep)}
            chunk_bad = sorted(({**b, "source_row": int(b["source_row"])} for b in mine), key=lambda b: b["source_row"])
            pending = raw_from_columns(plan, columns, numbers, chunk_bad)
            parsed += m + len(mine)
    except pa.ArrowInvalid as exc:
        raise UserError(f"{plan.path}: cannot parse as CSV ({str(exc).splitlines()[0]})") from exc
    if any(b["source_row"] is None for b in bad[taken:]):
        raise Unnumbered(str(plan.path))
    rest = sorted(({**b, "source_row": int(b["source_row"])} for b in bad[taken:]), key=lambda b: b["source_row"])
    parsed += len(rest)
    if plan.records >= 0 and parsed != plan.records:
        raise UserError(f"{plan.path}: {_count_mismatch(parsed, plan.records)}")
    if pending is None:
        empty = {h: pa.array([], pa.string()) for h in keep}
        pending = raw_from_columns(plan, empty, np.empty(0, dtype=np.int64), [])
    pending.bad_rows.extend(rest)
    yield pending


def concat_raw(parts: list[RawLedger]) -> RawLedger:
    """Consecutive chunks of one file (iter_csv) as one chunk: columns joined, row numbers and bad rows kept."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    columns = {name: pa.concat_arrays([c for p in parts for c in _chunks(p.columns[name])]) for name in first.columns}
    raw = RawLedger(first.path, first.container, first.shape, first.encoding, first.delimiter, columns,
                    np.concatenate([p.source_row for p in parts]), [b for p in parts for b in p.bad_rows],
                    first.amount_is_float, first.grain, list(first.notes))
    return raw


def _chunks(arr: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]


def _arrow_csv(path: Path, enc: str, delim: str, headers: list[str], wanted: set[str], threads: bool = True):
    """Read the wanted columns as text; ragged and blank lines are collected with their line numbers."""
    bad: list[dict] = []
    table = pv.read_csv(path, **_csv_options(enc, delim, headers, wanted, _bad_row_handler(bad, delim), threads))
    if any(b["source_row"] is None for b in bad):
        return _arrow_csv(path, enc, delim, headers, wanted, threads=False)
    for b in bad:
        b["source_row"] = int(b["source_row"])
    return table.rename_columns([h for h in headers if h in wanted]), bad


# ---- Excel -------------------------------------------------------------------------------------


def _cell_text(values: list) -> pa.Array:
    out = []
    for v in values:
        if v is None or v == "":
            out.append(None)
        elif isinstance(v, float):
            out.append(str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v))
        elif isinstance(v, (dt.datetime, dt.date)):
            out.append(v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat())
        else:
            out.append(str(v))
    return pa.array(out, type=pa.string())


_SHEET_ROWS = 1_048_576  # Excel's row limit: rows of the k-th data sheet are numbered k * this + row


def _filled(row) -> bool:
    return any(c not in ("", None) for c in row)


def _read_xlsx(path: Path, shape: str | None) -> RawLedger:
    """Every sheet is read: ledger sheets (same shape) are combined, the others named as skipped with why."""
    try:
        wb = python_calamine.CalamineWorkbook.from_path(str(path))
        sheets = [(name, wb.get_sheet_by_name(name).to_python(skip_empty_area=False)) for name in wb.sheet_names]
    except Exception as exc:  # calamine raises its own error types for corrupt workbooks
        raise UserError(f"cannot open as an Excel workbook ({' '.join(str(exc).split())[:200]})") from exc
    parts, notes, errors = [], [], []
    for name, rows in sheets:
        if not any(_filled(r) for r in rows):
            notes.append(f"sheet {name!r} skipped: empty")
            continue
        header_idx = next(i for i, r in enumerate(rows) if _filled(r))
        headers = [str(c).strip() if c is not None else "" for c in rows[header_idx]]
        try:
            sheet_shape = shape or detect.detect_shape(headers, "xlsx")
        except UserError as exc:
            errors.append(exc)
            notes.append(f"sheet {name!r} skipped: not a ledger ({str(exc).split(';')[0]})")
            continue
        structure.check_header(path, headers, f"sheet {name!r} row {header_idx + 1}")
        parts.append((name, sheet_shape, header_idx, headers, rows))
    if not parts:
        if errors:
            raise errors[0]
        raise UserError("workbook has no sheet with data")
    shapes = {p[1] for p in parts}
    if len(shapes) > 1:
        raise UserError("sheets hold different ledger shapes (" + ", ".join(f"{p[0]!r}: {p[1]}" for p in parts) + ")")
    fields = set(detect.column_map(parts[0][3]))
    for name, _, _, headers, _ in parts[1:]:
        if set(detect.column_map(headers)) != fields:
            raise UserError(f"sheet {name!r} has other columns than sheet {parts[0][0]!r}; split the workbook")
    values: dict[str, list] = {f: [] for f in fields}
    numbers, bad = [], []
    for k, (name, _, header_idx, headers, rows) in enumerate(parts):
        body = rows[header_idx + 1 :]
        while body and not _filled(body[-1]):
            body.pop()
        offset = k * _SHEET_ROWS
        keep = []
        for i, r in enumerate(body):
            number = offset + header_idx + 2 + i
            if _filled(r):
                keep.append(r)
                numbers.append(number)
            else:
                bad.append({"source_row": number, "reason": "empty row", "raw_text": ""})
        cmap = detect.column_map(headers)
        for fld in fields:
            j = headers.index(cmap[fld])
            values[fld].extend(r[j] if j < len(r) else None for r in keep)
        if k:
            notes.append(f"sheet {name!r}: {len(body):,} rows, numbered from {offset + header_idx + 2:,}")
    columns: dict[str, pa.Array] = {}
    amount_is_float = False
    for fld, vals in values.items():
        if fld == "amount" and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            columns[fld] = pa.array(vals, type=pa.float64())
            amount_is_float = True
        else:
            columns[fld] = _cell_text(vals)
    source_row = np.asarray(numbers, dtype=np.int64)
    raw = RawLedger(path, "xlsx", parts[0][1], None, None, columns, source_row, bad, amount_is_float=amount_is_float)
    raw.notes.append(f"sheet {parts[0][0]!r}" if len(parts) == 1 else "sheets " + ", ".join(repr(p[0]) for p in parts))
    raw.notes.extend(notes)
    return raw


# ---- JSON (EntryScape rowstore or a plain list of records) ------------------------------------


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object as a dict, refusing a key that appears twice (json would silently keep the last)."""
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise UserError(f"JSON object has the key {k!r} twice; which value counts would be a guess")
        out[k] = v
    return out


def _read_json(path: Path, shape: str | None, encoding: str | None) -> RawLedger:
    enc = structure.decode_whole_file(path, encoding).encoding  # one encoding for every byte, or an error
    enc = "utf-8-sig" if enc == "utf-8" else enc
    data = path.read_bytes()
    try:
        doc = json.loads(data.decode(enc), parse_float=decimal.Decimal, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UserError(f"row {line}: bytes {data[exc.start:exc.start + 4]!r} do not decode as {enc}") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"row {exc.lineno}: invalid JSON ({exc.msg})") from exc
    except RecursionError:
        raise UserError("JSON is nested too deeply to be a ledger (a rowstore is {'results': [{...}, ...]})") from None
    records = doc.get("results") if isinstance(doc, dict) else doc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise UserError("JSON is neither a rowstore {'results': [...]} nor a list of records")
    headers: list[str] = []
    for r in records:
        for k in r:
            if k not in headers:
                headers.append(k)
    shape = shape or detect.detect_shape(headers, "json")
    cmap = detect.column_map(headers)
    columns = {}
    for fld, header in cmap.items():
        vals = [r.get(header) for r in records]
        columns[fld] = pa.array([None if v is None else str(v) for v in vals], type=pa.string())
    source_row = np.arange(1, len(records) + 1, dtype=np.int64)
    raw = RawLedger(path, "json", shape, enc, None, columns, source_row)
    if any("\ufeff" in h for h in headers):
        raw.notes.append("byte-order mark inside the first JSON key removed")
    return raw


# ---- Göteborg supplier-per-year aggregates -----------------------------------------------------


def attach_orgnr_by_name(raw: RawLedger, orgnr_csv: Path) -> RawLedger:
    """Give each aggregate row the identifier its supplier NAME has in Göteborg's supplier list.

    Names are compared after normalisation (case, whitespace, leading apostrophe, numeric prefix). A name
    with exactly one valid identifier gets it; a name with several is left without one, but is marked
    anonymised when any of them is a personnummer, so that the sole trader's name is masked.
    """
    lst = pd.read_csv(orgnr_csv, dtype=str, keep_default_na=False, encoding="utf-8")
    if list(lst.columns) != ["organisationsnummer", "leverantör"]:
        raise UserError(f"{orgnr_csv}: expected columns organisationsnummer,leverantör, got {list(lst.columns)}")
    kind, value = classify_ids(lst["organisationsnummer"])
    lst = pd.DataFrame(
        {"name": normalise_names(lst["leverantör"]).str.upper(), "kind": kind, "value": value}
    )
    lst = lst[lst["kind"].isin(["orgnr", "personnummer"])].drop_duplicates()
    counts = lst.groupby("name")["value"].nunique()
    has_pnr = lst[lst["kind"] == "personnummer"].groupby("name").size()
    unique = lst[lst["name"].isin(counts.index[counts == 1])].drop_duplicates("name").set_index("name")["value"]
    names = normalise_names(raw.columns["supplier_name"]).str.upper()
    ids = names.map(unique)
    ambiguous = names.isin(counts.index[counts > 1])
    ids = ids.where(~(ambiguous & names.isin(has_pnr.index)), "*")
    raw.columns["supplier_id"] = pa.array(ids.astype(object).where(ids.notna(), None), type=pa.string())
    matched = int(ids.notna().sum())
    raw.notes.append(
        f"orgnr joined by name for {matched:,} of {len(ids):,} rows; {int(ambiguous.sum()):,} rows have an ambiguous"
        f" name; supplier list has {int((kind == 'personnummer').sum()):,} personnummer (pseudonymised)"
    )
    return raw


def monthly_crosscheck(totals_csv: Path, ore_by_year: pd.Series) -> str:
    """A note comparing the aggregates' yearly totals with Göteborg's monthly totals file."""
    m = pd.read_csv(totals_csv)
    if not {"year", "sum", "count"} <= set(m.columns):
        raise UserError(f"{totals_csv}: expected columns year,month,sum,count,period")
    by_year = m.groupby("year")["sum"].sum()
    parts = []
    for year, monthly in by_year.items():
        agg = ore_by_year.get(year, 0) / 100
        parts.append(f"{year}: aggregates {agg:,.0f} SEK vs monthly totals {monthly:,.0f} SEK (diff {agg - monthly:+,.2f})")
    return "cross-check with monthly_totals.csv: " + "; ".join(parts) + f"; monthly rows {int(m['count'].sum()):,}"


def _row_hashes(raw: RawLedger) -> np.ndarray:
    frame = pd.DataFrame({k: pd.Series(v.to_pandas(), dtype=object) for k, v in sorted(raw.columns.items())})
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def fingerprint(raw: RawLedger) -> str:
    """Content fingerprint independent of encoding and row order, to spot a month published twice."""
    return hashlib.sha256(np.sort(_row_hashes(raw)).tobytes()).hexdigest()


def fingerprint_chunks(chunks: Iterator[RawLedger]) -> str:
    """fingerprint() of a file read chunk by chunk (iter_csv): 8 bytes per row are held, not the rows."""
    hashes = [_row_hashes(raw) for raw in chunks]
    return hashlib.sha256(np.sort(np.concatenate(hashes)).tobytes()).hexdigest()


__all__ = ["CsvPlan", "RawLedger", "concat_raw", "csv_plan", "iter_csv", "read_raw", "attach_orgnr_by_name", "monthly_crosscheck", "fingerprint", "fingerprint_chunks"]
