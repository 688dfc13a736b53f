"""Deterministic, atomic writing of processed tables and schema validation with one-line errors."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import UserError


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
