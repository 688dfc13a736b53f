"""Supplier-ledger ingestion: every known publisher shape into one `ledger` table, nothing lost.

Public API
- `ingest_file(path, ...)` / `ingest_files(paths, ...)`: read, detect, clean and reconcile files
  -> `Ingested(ledger, rejects, reconciliation)`, validated against the schemas below.
- `ledgers_stage(raw_dir, out_dir)`: the build stage for the ledger sources in the manifest.
- Schemas `LEDGER_SCHEMA`, `REJECTS_SCHEMA`, `RECONCILIATION_SCHEMA` (docs/contracts.md, docs/ledgers.md).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pyarrow

from ..errors import UserError
from ..io import csv_safe, read_parquet, validate, write_bytes_atomic
from . import privacy, readers, store
from .clean import Context, clean

KOMMUNKOD = r"^\d{4}$"


def _one_row_per_raw_row(df: pd.DataFrame) -> bool:
    """(source_id, source_file, source_row) is unique; via integer keys, cheap on millions of rows."""
    ids, _ = pd.factorize(df["source_id"])
    files, _ = pd.factorize(df["source_file"])
    key = (ids.astype("int64") * 65_536 + files) * 2**32 + df["source_row"].to_numpy()
    return pd.Series(key).is_unique


ROW_KEY_CHECK = pa.Check(_one_row_per_raw_row, error="(source_id, source_file, source_row) is not unique")

LEDGER_COLUMNS = {
    "source_id": pa.Column(str),
    "source_file": pa.Column(str),
    "source_row": pa.Column("int64", pa.Check.ge(1)),
    "grain": pa.Column(str, pa.Check.isin(["posting", "supplier_year"])),
    "kommunkod": pa.Column(str, pa.Check.str_matches(KOMMUNKOD)),
    "year": pa.Column("int64", pa.Check.in_range(1990, 2100)),
    "period": pa.Column(str, pa.Check.str_matches(r"^\d{4}-(0[1-9]|1[0-2])$"), nullable=True),
    "date": pa.Column(pd.ArrowDtype(pyarrow.date32()), nullable=True),
    "buyer_unit": pa.Column(str, nullable=True),
    "supplier_name": pa.Column(str, pa.Check.str_length(min_value=1)),
    "supplier_orgnr": pa.Column(str, pa.Check.str_matches(r"^\d{6}-\d{4}$"), nullable=True),
    "supplier_key": pa.Column(str, pa.Check.str_matches(r"^(\d{6}-\d{4}|pn:[a-z2-7]{32}|name:.+)$")),
    "account": pa.Column(str, nullable=True),
    "account_text": pa.Column(str, nullable=True),
    "amount_ore": pa.Column("int64"),
    "amount_sek": pa.Column("float64"),
    "invoice_id": pa.Column(str, nullable=True),
}

LEDGER_SCHEMA = pa.DataFrameSchema(LEDGER_COLUMNS, checks=ROW_KEY_CHECK, strict=True, ordered=True)
# For millions of rows: the same column checks chunk by chunk, and the row key on its three columns
# (pandera copies the frame it validates).
_LEDGER_COLUMNS_ONLY = pa.DataFrameSchema(LEDGER_COLUMNS, strict=True, ordered=True)
_ROW_KEY_SCHEMA = pa.DataFrameSchema(
    {c: LEDGER_COLUMNS[c] for c in ("source_id", "source_file", "source_row")}, checks=ROW_KEY_CHECK
)
_CHUNK = 500_000


def validate_chunk(ledger: pd.DataFrame) -> pd.DataFrame:
    """LEDGER_SCHEMA's column checks on one chunk of a streamed file (its row key is unique by construction:
    the chunks of a file hold increasing raw row numbers, and the reconciliation is unique per file)."""
    return validate(ledger, _LEDGER_COLUMNS_ONLY, "ledger")


def validate_ledger(ledger: pd.DataFrame) -> pd.DataFrame:
    """LEDGER_SCHEMA validation that does not double the memory of a multi-million-row ledger."""
    if len(ledger) <= _CHUNK:
        return validate(ledger, LEDGER_SCHEMA, "ledger")
    for start in range(0, len(ledger), _CHUNK):
        validate(ledger.iloc[start : start + _CHUNK], _LEDGER_COLUMNS_ONLY, "ledger")
    validate(ledger[["source_id", "source_file", "source_row"]], _ROW_KEY_SCHEMA, "ledger")
    return ledger


REJECTS_SCHEMA = pa.DataFrameSchema(
    {
        "source_id": pa.Column(str),
        "source_file": pa.Column(str),
        "source_row": pa.Column("int64", pa.Check.ge(1)),
        "reason": pa.Column(str),
        "raw_amount": pa.Column(str, nullable=True),
        "amount_ore": pa.Column("Int64", nullable=True),
        "raw_supplier_name": pa.Column(str, nullable=True),
        "raw_supplier_id": pa.Column(str, nullable=True),
        "raw_date": pa.Column(str, nullable=True),
        "raw_text": pa.Column(str, nullable=True),
    },
    checks=ROW_KEY_CHECK,
    strict=True,
    ordered=True,
)

RECONCILIATION_SCHEMA = pa.DataFrameSchema(
    {
        "source_id": pa.Column(str),
        "source_file": pa.Column(str),
        "shape": pa.Column(str),
        "grain": pa.Column(str),
        "rows_in": pa.Column("int64", pa.Check.ge(0)),
        "rows_clean": pa.Column("int64", pa.Check.ge(0)),
        "rows_rejected": pa.Column("int64", pa.Check.ge(0)),
        "ore_in": pa.Column("int64"),
        "ore_clean": pa.Column("int64"),
        "ore_rejected": pa.Column("int64"),
        "balanced": pa.Column(bool, pa.Check.eq(True)),
        "note": pa.Column(str),
    },
    checks=[
        pa.Check(lambda d: (d.rows_in == d.rows_clean + d.rows_rejected).all(), error="rows do not add up"),
        pa.Check(lambda d: (d.ore_in == d.ore_clean + d.ore_rejected).all(), error="öre do not add up"),
    ],
    unique=["source_id", "source_file"],
    strict=True,
    ordered=True,
)


@dataclass
class Ingested:
    """Cleaned rows, rejected rows and one reconciliation row per raw file."""

    ledger: pd.DataFrame
    rejects: pd.DataFrame
    reconciliation: pd.DataFrame
    shapes: dict[str, str]


def _check_params(kommun: str | None, period: str | None, municipalities) -> None:
    if kommun is not None and not re.fullmatch(KOMMUNKOD, kommun):
        raise UserError(f"--kommun {kommun!r}: expected a four-digit kommunkod such as 0180")
    if kommun is not None and kommun not in municipalities:
        raise UserError(f"--kommun {kommun!r}: not one of Sweden's 290 kommunkoder")
    if period is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise UserError(f"--period {period!r}: expected YYYY-MM, e.g. 2016-03")
    if not municipalities:
        raise UserError("the list of municipalities is empty: run `kommun-it build reference` first")


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _small_tables(rejects: list[pd.DataFrame], recons: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The validated rejects and reconciliation tables of several files."""
    rejects = _concat(rejects)
    recon = pd.DataFrame(recons).astype(
        {c: "int64" for c in ("rows_in", "rows_clean", "rows_rejected", "ore_in", "ore_clean", "ore_rejected")}
        | {"balanced": bool, "note": "str", "shape": "str", "grain": "str", "source_id": "str", "source_file": "str"}
    )
    rejects["amount_ore"] = rejects["amount_ore"].astype("Int64")
    return (validate(rejects, REJECTS_SCHEMA, "ledger_rejects"),
            validate(recon, RECONCILIATION_SCHEMA, "ledger_reconciliation"))


def _finish(parts: list[tuple[pd.DataFrame, pd.DataFrame, dict]], shapes: dict[str, str]) -> Ingested:
    ledger = _concat([p[0] for p in parts])
    rejects, recon = _small_tables([p[1] for p in parts], [p[2] for p in parts])
    return Ingested(validate_ledger(ledger), rejects, recon, shapes)


def ingest_files(
    paths: list[Path],
    *,
    municipalities: frozenset[str] | set[str],
    source_id: str = "ingest",
    shape: str | None = None,
    kommun: str | None = None,
    period: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    max_bad_share: float = 0.01,
) -> Ingested:
    """Ingest several files of one publisher; a file whose content repeats an earlier one is rejected whole."""
    municipalities = frozenset(municipalities)
    _check_params(kommun, period, municipalities)
    if decimal not in (None, ",", "."):
        raise UserError(f"decimal separator {decimal!r}: expected ',' or '.'")
    parts, shapes, seen = [], {}, {}
    for path in paths:
        path = Path(path)
        raw = readers.read_raw(path, shape=shape, encoding=encoding, delimiter=delimiter)
        fp = readers.fingerprint(raw) if len(paths) > 1 else path.name
        ctx = Context(
            source_id=source_id,
            source_file=privacy.scrub_text(path.name),  # a file may be named after a sole trader
            kommunkod=kommun,
            period=period,
            decimal=decimal,
            municipalities=municipalities,
            max_bad_share=max_bad_share,
            duplicate_of=seen.get(fp),
        )
        seen.setdefault(fp, path.name)
        parts.append(clean(raw, ctx))
        shapes[path.name] = raw.shape
        raw.columns.clear()  # free the raw text before validation copies the cleaned tables
    return _finish(parts, shapes)


def ingest_file(path: Path, **kwargs) -> Ingested:
    """Ingest one file (see ingest_files for the keyword arguments)."""
    return ingest_files([Path(path)], **kwargs)


@dataclass
class Stored:
    """A ledger written to a partitioned store (store.py), with the rejects and reconciliation in memory."""

    store: Path
    rejects: pd.DataFrame
    reconciliation: pd.DataFrame
    shapes: dict[str, str]


def ingest_to_store(
    paths: list[Path],
    store_root: Path,
    *,
    municipalities: frozenset[str] | set[str],
    source_id: str = "ingest",
    shape: str | None = None,
    kommun: str | None = None,
    period: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    max_bad_share: float = 0.01,
    block_size: int = store.BLOCK_SIZE,
    chunk_size: int = store.CHUNK_SIZE,
) -> Stored:
    """ingest_files() into a partitioned store at `store_root` (replaced whole), in bounded memory.

    CSV files are read in blocks of about `block_size` bytes and cleaned in chunks of about `chunk_size`;
    the ledger rows, rejects and reconciliation are exactly those of ingest_files(). Workbooks and JSON
    files are cleaned whole.
    """
    municipalities = frozenset(municipalities)
    _check_params(kommun, period, municipalities)
    if decimal not in (None, ",", "."):
        raise UserError(f"decimal separator {decimal!r}: expected ',' or '.'")
    writer = store.StoreWriter(Path(store_root))
    try:
        rejects, recons, shapes = _files_into(
            writer, list(map(Path, paths)), municipalities=municipalities, source_id=source_id, shape=shape,
            kommun=kommun, period=period, encoding=encoding, delimiter=delimiter, decimal=decimal,
            max_bad_share=max_bad_share, block_size=block_size, chunk_size=chunk_size)
        rejects, recon = _small_tables(rejects, recons)
    except BaseException:
        writer.discard()
        raise
    return Stored(writer.commit(), rejects, recon, shapes)


def _files_into(writer: store.StoreWriter, paths: list[Path], *, municipalities: frozenset[str], source_id: str,
                shape: str | None = None, kommun: str | None = None, period: str | None = None,
                encoding: str | None = None, delimiter: str | None = None, decimal: str | None = None,
                max_bad_share: float = 0.01, block_size: int = store.BLOCK_SIZE,
                chunk_size: int = store.CHUNK_SIZE) -> tuple[list, list, dict]:
    """Clean the files of one source into an open store writer (CSV streamed, the rest whole); a file whose
    content repeats an earlier one of the same call is rejected whole. Returns (rejects, reconciliations, shapes)."""
    rejects, recons, shapes, seen = [], [], {}, {}
    for path in paths:
        streamable = store.is_streamable(path)
        fp = _file_fingerprint(path, streamable, shape, encoding, delimiter) if len(paths) > 1 else path.name
        ctx = Context(
            source_id=source_id,
            source_file=privacy.scrub_text(path.name),
            kommunkod=kommun,
            period=period,
            decimal=decimal,
            municipalities=municipalities,
            max_bad_share=max_bad_share,
            duplicate_of=seen.get(fp),
        )
        seen.setdefault(fp, path.name)
        if streamable:
            done = store.stream_csv(path, ctx, writer, shape=shape, encoding=encoding, delimiter=delimiter,
                                    block_size=block_size, chunk_size=chunk_size)
            rejects.append(done.rejects)
            recons.append(done.reconciliation)
            shapes[path.name] = done.shape
        else:
            raw = readers.read_raw(path, shape=shape, encoding=encoding, delimiter=delimiter)
            ledger, rej, rec = clean(raw, ctx)
            store.write_frames(writer, [validate_chunk(ledger)])
            rejects.append(rej)
            recons.append(rec)
            shapes[path.name] = raw.shape
    return rejects, recons, shapes


def _file_fingerprint(path: Path, streamable: bool, shape, encoding, delimiter) -> str:
    if not streamable:
        return readers.fingerprint(readers.read_raw(path, shape=shape, encoding=encoding, delimiter=delimiter))
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if not head:
        raise UserError(f"{path}: file is empty")
    plan = readers.csv_plan(path, head, shape, encoding, delimiter)
    return readers.fingerprint_chunks(readers.iter_csv(plan, store.BLOCK_SIZE))


# ---- build stage -------------------------------------------------------------------------------

# The ledger sources in data/sources.yml and what their files do not say themselves.
LEDGER_SOURCES: dict[str, dict] = {
    "orebro-ledger-2016-03": {"files": ["Orebro.2016-03.xlsx"], "kommun": "1880"},
    "vasteras-ledger-sample-2025-01": {"files": ["sample.json"], "kommun": None},
    "goteborg-ledger-aggregates-2016-2019": {
        "files": ["spend_per_supplier_per_year.csv"],
        "kommun": "1480",
        "orgnr_list": "supplier_orgnr.csv",
        "crosscheck": "monthly_totals.csv",
    },
}


def ingest_source(source_id: str, raw_dir: Path, municipalities: frozenset[str]) -> list[tuple]:
    """Read and clean every ledger file of one manifest source."""
    spec = LEDGER_SOURCES[source_id]
    folder = Path(raw_dir) / source_id
    parts = []
    for name in spec["files"]:
        path = folder / name
        raw = readers.read_raw(path)
        if "orgnr_list" in spec:
            readers.attach_orgnr_by_name(raw, folder / spec["orgnr_list"])
        ctx = Context(source_id=source_id, source_file=name, kommunkod=spec["kommun"], municipalities=municipalities)
        ledger, rejects, recon = clean(raw, ctx)
        if "crosscheck" in spec:
            by_year = ledger.groupby("year")["amount_ore"].sum()
            note = readers.monthly_crosscheck(folder / spec["crosscheck"], by_year)
            recon["note"] = "; ".join(x for x in (recon["note"], note) if x)
        parts.append((ledger, rejects, recon))
    return parts


def _online_files(raw_dir: Path) -> dict[tuple[str, str], list[Path]]:
    """{(source_id, kommunkod): files} of the ledgers `kommun-it refresh ledgers` fetched (current versions)."""
    from ..sources.ledger_portals import current_files

    out: dict[tuple[str, str], list[Path]] = {}
    for f in current_files(raw_dir):
        out.setdefault((f["source_id"], f["kommunkod"]), []).append(f["path"])
    return out


def ledgers_stage(raw_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    """Build stage "ledgers": the partitioned store `ledger/` (written here, replaced whole), the small
    tables ledger_rejects and ledger_reconciliation, and the DuckDB aggregates ledger_lens and ledger_periods
    that every consumer reads instead of the postings (aggregate.py).

    Sources: the mirrored ledgers of the manifest (LEDGER_SOURCES), the analyst's (data/local/) and every
    ledger `kommun-it refresh ledgers` fetched (raw/ledgers/, CSV files streamed)."""
    from . import aggregate

    municipalities = frozenset(read_parquet(Path(out_dir) / "municipalities.parquet")["kommunkod"])
    writer = store.StoreWriter(store.store_dir(out_dir))
    rejects, recons = [], []
    try:
        from ..local_sources import local_parts  # analyst-supplied ledgers (`kommun-it ingest --add`), data/local/

        parts = (part for source_id in LEDGER_SOURCES for part in ingest_source(source_id, raw_dir, municipalities))
        for ledger, rej, rec in itertools.chain(parts, local_parts()):
            store.write_frames(writer, [validate_chunk(ledger)])
            rejects.append(rej)
            recons.append(rec)
        for (source_id, kommun), paths in _online_files(raw_dir).items():
            rej, rec, _ = _files_into(writer, paths, municipalities=municipalities, source_id=source_id, kommun=kommun)
            rejects.extend(rej)
            recons.extend(rec)
        rejects, recon = _small_tables(rejects, recons)
    except BaseException:
        writer.discard()
        raise
    writer.commit()
    (Path(out_dir) / "ledger.parquet").unlink(missing_ok=True)  # the whole-ledger table of earlier builds
    return {"ledger_rejects": rejects, "ledger_reconciliation": recon, **aggregate.store_tables(out_dir)}


__all__ = [
    "LEDGER_SCHEMA",
    "REJECTS_SCHEMA",
    "RECONCILIATION_SCHEMA",
    "LEDGER_SOURCES",
    "Ingested",
    "Stored",
    "ingest_file",
    "ingest_files",
    "ingest_to_store",
    "ingest_source",
    "ledgers_stage",
]


# ---- command line ------------------------------------------------------------------------------


def known_municipalities() -> frozenset[str]:
    """The 290 kommunkoder: from the processed reference table, else from the raw SCB file."""
    from .. import config, reference

    table = config.processed_dir() / "municipalities.parquet"
    if table.exists():
        return frozenset(read_parquet(table)["kommunkod"])
    if (config.raw_dir() / "kommuner-lan" / "municipality_county.csv").exists():
        return frozenset(reference.build_municipalities(config.raw_dir())["kommunkod"])
    raise UserError("no list of municipalities: run `kommun-it fetch` and `kommun-it build reference` first")


def write_table(df: pd.DataFrame, out: Path) -> Path:
    """Write a table as parquet (deterministic) or CSV, chosen by the file extension."""
    from ..io import write_parquet

    out = Path(out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise UserError(f"--out {out}: use a .parquet or .csv file name")
    try:
        if out.suffix.lower() == ".csv":
            out.parent.mkdir(parents=True, exist_ok=True)
            text = csv_safe(df).to_csv(index=False, lineterminator="\n")
            write_bytes_atomic(out, text.encode("utf-8"))
            return out
        return write_parquet(df, out)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write ({exc.strerror or exc})") from exc


def _kronor(ore: int) -> str:
    """Exact kronor text from öre (no float): -130203 -> '-1,302.03'."""
    kr, rest = divmod(abs(int(ore)), 100)
    return f"{'-' if ore < 0 else ''}{kr:,}.{rest:02d}"


def ingest_report(result: Ingested) -> str:
    """Human-readable detected shapes and reconciliation, one block per file."""
    lines = []
    for rec in result.reconciliation.itertuples(index=False):
        lines.append(f"{rec.source_file}: shape {rec.shape} ({rec.grain})" + (f"; {rec.note}" if rec.note else ""))
        lines.append(
            f"  rows   in {rec.rows_in:>12,} = clean {rec.rows_clean:>12,} + rejected {rec.rows_rejected:>10,}"
        )
        lines.append(
            f"  kronor in {_kronor(rec.ore_in):>16} = clean {_kronor(rec.ore_clean):>16}"
            f" + rejected {_kronor(rec.ore_rejected):>14}  balanced: {'yes' if rec.balanced else 'NO'}"
        )
    if len(result.rejects):
        counts = result.rejects["reason"].value_counts().sort_index()
        lines.append("  rejects: " + "; ".join(f"{r}: {c:,}" for r, c in counts.items()))
    return "\n".join(lines)
