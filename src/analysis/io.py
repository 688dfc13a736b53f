"""Deterministic, atomic writing of processed tables and schema validation with one-line errors."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import UserError


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write bytes via a temporary file beside path and a rename, so a failed write leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    """Write df to path byte-reproducibly (no index, fixed compression), via a temp file and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd", compression_level=9, write_statistics=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d[\d \u00a0.,]*%?$")


def _neutralise(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of df whose text cells cannot run as spreadsheet formulas (CSV injection).

    A text cell starting with =, +, -, @, tab or carriage return gets a leading apostrophe, as
    spreadsheet-safe exporters do (OWASP); plain numbers written as text ("-12", "+3,5 %") are left alone,
    numeric columns are never touched.
    """
    out = df.copy(deep=False)
    for name in out.columns:
        col = out[name]
        if not (pd.api.types.is_string_dtype(col) or col.dtype == object):
            continue
        text = col.astype("string")
        risky = text.str.match(r"[=+\-@\t\r]").fillna(False)
        if risky.any():
            out[name] = col.astype(object).where(~risky, col[risky].map(_neutralise))
    return out


def check_output(out: Path, inputs: list[Path], flag: str = "--out", suffixes: tuple[str, ...] = ()) -> Path:
    """An output file path that is safe to write: not an input, not a directory, in a writable folder,
    with one of the given suffixes (any when none)."""
    out = Path(out)
    if out.is_dir():
        raise UserError(f"{flag} {out}: is a directory; give a file name")
    if suffixes and out.suffix.lower() not in suffixes:
        raise UserError(f"{flag} {out}: use a file name ending in {' or '.join(suffixes)}")
    for source in inputs:
        same = out.exists() and Path(source).exists() and os.path.samefile(out, source)
        if same or out.resolve() == Path(source).resolve():
            raise UserError(f"{flag} {out}: is the input file {source}; refusing to overwrite raw data")
    parent = out.resolve().parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is not None and (not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK)):
        raise UserError(f"{flag} {out}: folder {existing} is not writable")
    if out.exists() and not os.access(out, os.W_OK):
        raise UserError(f"{flag} {out}: file is not writable")
    return out


def read_parquet(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise UserError(f"{path} does not exist: run `kommun-it build` first")
    return pd.read_parquet(path)


def validate(df: pd.DataFrame, schema, what: str) -> pd.DataFrame:
    """Validate df against a pandera schema (lazily), turning failures into one UserError line."""
    import pandera.errors  # imported here: reports read tables and never validate, so they skip pandera's ~1 s import

    try:
        return schema.validate(df, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        first = fc.iloc[0]
        raise UserError(
            f"{what}: {len(fc)} schema failure(s); first: column {first.get('column')!r}"
            f" check {first.get('check')!r} failed for value {first.get('failure_case')!r}"
        ) from exc
