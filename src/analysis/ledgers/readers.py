"""Readers: one raw ledger file (CSV, Excel, rowstore JSON) into canonical raw text columns.

A reader does no cleaning: it maps the publisher's columns onto the canonical raw fields
(detect.ALIASES), all as text (Excel amounts stay float64 so they can be checked to the öre), keeps the
1-based raw row number of every row, and returns rows it cannot split into fields (ragged or empty
lines) separately, so that every raw row is accounted for.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv
import python_calamine

from ..errors import UserError
from . import detect
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


def _read_csv(path: Path, head: bytes, shape: str | None, encoding: str | None, delimiter: str | None) -> RawLedger:
    enc = encoding or detect.detect_encoding(head)
    try:
        head_text = head.decode(enc, errors="replace")
    except LookupError as exc:
        raise UserError(f"--encoding {enc!r} is not a known text encoding") from exc
    if encoding:
        where = detect.first_bad_byte(path, enc)
        if where:
            line, offset, bad_bytes = where
            raise UserError(f"row {line}: bytes {bad_bytes!r} at offset {offset} do not decode as {enc}")
    header_line = head_text.lstrip("\ufeff").splitlines()[0] if head_text.strip() else ""
    delim = delimiter or detect.detect_delimiter(header_line)
    if len(delim) != 1:
        raise UserError(f"--delimiter must be one character, not {delim!r}")
    headers = [h.strip().lstrip("\ufeff") for h in next(csv.reader([header_line], delimiter=delim))]
    shape = shape or detect.detect_shape(headers, "csv")
    wanted = set(detect.column_map(headers).values()) | {h for h in headers if detect.norm_header(h) == "year"}
    try:
        table, bad = _arrow_csv(path, enc, delim, headers, wanted)
    except UnicodeDecodeError as exc:
        table, bad, enc = _retry_encoding(path, enc, encoding, delim, headers, wanted, exc)
    except pa.ArrowInvalid as exc:
        if "UTF8" not in str(exc) and "utf8" not in str(exc).lower():
            raise UserError(f"cannot parse as CSV ({str(exc).splitlines()[0]})") from exc
        table, bad, enc = _retry_encoding(path, enc, encoding, delim, headers, wanted, exc)
    rows = len(table)
    numbers = [b["source_row"] for b in bad]
    keep = np.ones(rows + len(bad), dtype=bool)
    keep[np.asarray(numbers, dtype=np.int64) - 2] = False
    source_row = np.arange(2, rows + len(bad) + 2, dtype=np.int64)[keep]
    columns = {name: table.column(i) for i, name in enumerate(table.column_names)}
    del table
    notes = [] if enc in ("utf-8", "utf-8-sig", "utf-16") else [f"decoded as {enc}"]
    raw = RawLedger(path, "csv", shape, enc, delim, _to_table(columns, headers), source_row, bad, notes=notes)
    if shape == "goteborg-aggregates":
        raw.grain = "supplier_year"
        raw.columns["year"] = columns[headers[[detect.norm_header(h) for h in headers].index("year")]]
    return raw


def _arrow_csv(path: Path, enc: str, delim: str, headers: list[str], wanted: set[str], threads: bool = True):
    """Read the wanted columns as text; ragged and blank lines are collected with their line numbers."""
    bad: list[dict] = []

    def on_bad(row) -> str:
        reason = "empty row" if not (row.text or "").strip(delim + " \r") else (
            f"ragged row: {row.actual_columns} fields, expected {row.expected_columns}"
        )
        bad.append({"source_row": row.number, "reason": reason, "raw_text": row.text})
        return "skip"

    pa_enc = {"utf-8": "utf8", "utf-8-sig": "utf8"}.get(enc, enc)
    names = [f"c{i}" for i in range(len(headers))]
    table = pv.read_csv(
        path,
        read_options=pv.ReadOptions(encoding=pa_enc, use_threads=threads, skip_rows=1, column_names=names),
        parse_options=pv.ParseOptions(delimiter=delim, invalid_row_handler=on_bad, ignore_empty_lines=False),
        convert_options=pv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            include_columns=[n for n, h in zip(names, headers) if h in wanted],
        ),
    )
    if any(b["source_row"] is None for b in bad):
        return _arrow_csv(path, enc, delim, headers, wanted, threads=False)
    for b in bad:
        b["source_row"] = int(b["source_row"])
    return table.rename_columns([h for h in headers if h in wanted]), bad


def _retry_encoding(path, enc, explicit, delim, headers, wanted, exc):
    """UTF-8 that fails later in the file: Windows-1252 when it decodes, else one line naming the byte."""
    where = detect.first_bad_byte(path, enc if enc != "utf-16" else "utf-16")
    if explicit is None and enc in ("utf-8",) and detect.first_bad_byte(path, "cp1252") is None:
        table, bad = _arrow_csv(path, "cp1252", delim, headers, wanted)
        return table, bad, "cp1252"
    if where:
        line, offset, bad_bytes = where
        raise UserError(f"row {line}: bytes {bad_bytes!r} at offset {offset} do not decode as {enc}") from exc
    raise UserError(f"cannot decode as {enc} ({str(exc).splitlines()[0]})") from exc


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


def _read_xlsx(path: Path, shape: str | None) -> RawLedger:
    try:
        wb = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for corrupt workbooks
        raise UserError(f"cannot open as an Excel workbook ({exc})") from exc
    sheet_name, rows = None, []
    for name in wb.sheet_names:
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        if any(any(c not in ("", None) for c in r) for r in rows):
            sheet_name = name
            break
    if sheet_name is None:
        raise UserError("workbook has no sheet with data")
    header_idx = next(i for i, r in enumerate(rows) if any(c not in ("", None) for c in r))
    headers = [str(c).strip() if c is not None else "" for c in rows[header_idx]]
    shape = shape or detect.detect_shape(headers, "xlsx")
    body = rows[header_idx + 1 :]
    while body and all(c in ("", None) for c in body[-1]):
        body.pop()
    empty = np.array([all(c in ("", None) for c in r) for r in body], dtype=bool)
    numbers = np.arange(header_idx + 2, header_idx + 2 + len(body), dtype=np.int64)
    bad = [{"source_row": int(n), "reason": "empty row", "raw_text": ""} for n in numbers[empty]]
    keep = [r for r, e in zip(body, empty) if not e]
    cols = list(zip(*keep)) if keep else [()] * len(headers)
    cmap = detect.column_map(headers)
    columns: dict[str, pa.Array] = {}
    amount_is_float = False
    for fld, header in cmap.items():
        values = list(cols[headers.index(header)])
        if fld == "amount" and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            columns[fld] = pa.array(values, type=pa.float64())
            amount_is_float = True
        else:
            columns[fld] = _cell_text(values)
    raw = RawLedger(path, "xlsx", shape, None, None, columns, numbers[~empty], bad, amount_is_float=amount_is_float)
    raw.notes.append(f"sheet {sheet_name!r}")
    return raw


# ---- JSON (EntryScape rowstore or a plain list of records) ------------------------------------


def _read_json(path: Path, shape: str | None, encoding: str | None) -> RawLedger:
    data = path.read_bytes()
    enc = encoding or detect.detect_encoding(data[:4096])
    enc = "utf-8-sig" if enc == "utf-8" else enc
    try:
        doc = json.loads(data.decode(enc))
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UserError(f"row {line}: bytes {data[exc.start:exc.start + 4]!r} do not decode as {enc}") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"row {exc.lineno}: invalid JSON ({exc.msg})") from exc
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


def fingerprint(raw: RawLedger) -> str:
    """Content fingerprint independent of encoding and row order, to spot a month published twice."""
    frame = pd.DataFrame({k: pd.Series(v.to_pandas(), dtype=object) for k, v in sorted(raw.columns.items())})
    hashes = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    return hashlib.sha256(hashes.tobytes()).hexdigest()


__all__ = ["RawLedger", "read_raw", "attach_orgnr_by_name", "monthly_crosscheck", "fingerprint"]
