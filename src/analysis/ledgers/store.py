"""The partitioned ledger store: `<processed>/ledger/kommunkod=KKKK/year=YYYY/part-FFFF-CCCCC.parquet`.

Why: a national ledger (290 municipalities × 10 years, about half a billion postings) never fits in one
pandas frame. Files are read in bounded chunks (pyarrow's streaming CSV reader), each chunk is cleaned
by the same vectorised `clean()` as a whole file, validated with pandera, and appended to a
hive-partitioned parquet dataset that DuckDB, Spark or Dask read as it is (docs/scale.md). Only the
rejects and one reconciliation row per file stay in memory.

Layout and determinism: the partition columns `kommunkod` and `year` live in the directory names (not in
the files); `FFFF` is the file's position in the build and `CCCCC` the chunk's position in the file, so
file names sort in build order and two builds of the same inputs write byte-identical files. A store is
written into a sibling scratch directory and swapped in whole, so a failed ingest never leaves half a store.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import UserError
from . import fast, parse, readers
from .clean import Context, Tally, clean

STORE = "ledger"
PARTITIONS = ("kommunkod", "year")
# Bytes of CSV per block the reader parses (~28,000 national-spec rows). pyarrow's streaming reader reads
# up to 32 blocks ahead of a slower consumer, so the block size, not the file size, bounds the memory.
BLOCK_SIZE = 4 << 20
# Bytes of CSV cleaned at once (consecutive blocks joined, ~225,000 rows): large enough that the per-value
# work of the fast lane (fast.py) is done once for many rows, small enough for well under 1 GB on any
# file (measured on 5 M rows: 0.61 GB peak; 8 MB blocks 0.81 GB, 64 MB chunks 0.95 GB, no faster).
CHUNK_SIZE = 32 << 20
FAST_LANE = True  # regular chunks are cleaned by fast.clean_chunk (tests switch it off to compare)
_DICTIONARY = ["source_id", "source_file", "grain", "period", "buyer_unit", "supplier_name", "supplier_orgnr",
               "supplier_key", "account", "account_text"]  # repetitive text; invoice ids are mostly unique
# Row-group statistics only where readers filter (text statistics cost a third of the writing time), and
# no arrow schema in the files: dictionary-encoded text reads back as plain text.
_WRITE = dict(compression="zstd", compression_level=1, use_dictionary=_DICTIONARY, store_schema=False,
              write_statistics=["source_row", "period", "date", "amount_ore"])

# The arrow types of the stored columns (the LEDGER_SCHEMA contract without the partition columns).
ARROW_SCHEMA = pa.schema(
    [
        ("source_id", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("grain", pa.string()),
        ("period", pa.string()),
        ("date", pa.date32()),
        ("buyer_unit", pa.string()),
        ("supplier_name", pa.string()),
        ("supplier_orgnr", pa.string()),
        ("supplier_key", pa.string()),
        ("account", pa.string()),
        ("account_text", pa.string()),
        ("amount_ore", pa.int64()),
        ("amount_sek", pa.float64()),
        ("invoice_id", pa.string()),
    ]
)


# What is written: the repetitive text columns as dictionary arrays, exactly as pc.dictionary_encode makes
# them (the fast lane builds them per distinct value, clean()'s rows are encoded), so both lanes write the
# same bytes.
WRITE_SCHEMA = pa.schema([pa.field(f.name, pa.dictionary(pa.int32(), pa.string())) if f.name in _DICTIONARY else f
                          for f in ARROW_SCHEMA])


def store_dir(out_dir: Path) -> Path:
    """Where the ledger store of a processed directory lives."""
    return Path(out_dir) / STORE


def parquet_glob(root: Path) -> str:
    """The glob DuckDB, Spark or Dask read the store with."""
    return str(Path(root) / "kommunkod=*" / "year=*" / "*.parquet")


def duckdb_source(root: Path) -> str:
    """A DuckDB table expression over the store (partition columns typed as the contract says)."""
    glob = parquet_glob(root).replace("'", "''")
    return (f"read_parquet('{glob}', hive_partitioning = true,"
            " hive_types = {'kommunkod': VARCHAR, 'year': BIGINT})")


class StoreWriter:
    """Writes ledger chunks into a fresh store: scratch directory first, swapped in by `commit()`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.scratch = self.root.with_name(f".{self.root.name}.building-{os.getpid()}")
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir(parents=True)
        self.files = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ledger-store")
        self._pending: Future | None = None

    def next_file(self) -> int:
        """A new file number (the FFFF of the part names)."""
        self.files += 1
        return self.files

    def write(self, ledger: pd.DataFrame, file_no: int, chunk_no: int) -> None:
        """Append one validated chunk of ledger rows, split by municipality and year, rows in file order."""
        if ledger.empty:
            return
        self.write_arrow(to_arrow(ledger), pa.array(ledger["kommunkod"], type=pa.string()),
                         ledger["year"].to_numpy(dtype=np.int64), file_no, chunk_no)

    def write_arrow(self, table: pa.Table, kommunkod: pa.Array, year: np.ndarray, file_no: int, chunk_no: int) -> None:
        """Append stored columns (WRITE_SCHEMA) with each row's municipality and year: one part file per
        partition, rows in file order. Files are written by a background thread while the next chunk is
        cleaned (one write in flight, so memory stays bounded)."""
        if not len(table):
            return
        codes = kommunkod.dictionary_encode()
        names = codes.dictionary.to_pylist()
        combo = codes.indices.to_numpy(zero_copy_only=False).astype(np.int64) * 10_000 + year  # years < 10,000
        jobs = []
        for _, y, c in sorted((names[c // 10_000], c % 10_000, c) for c in np.unique(combo).tolist()):
            mask = combo == c
            part = table if mask.all() else table.filter(pa.array(mask))
            path = self.scratch / f"kommunkod={names[c // 10_000]}" / f"year={y}" / f"part-{file_no:04d}-{chunk_no:05d}.parquet"
            jobs.append((part, path))
        self.wait()
        self._pending = self._pool.submit(_write_parts, jobs)

    def wait(self) -> None:
        """Block until the write in flight is on disk (and raise its error, if any)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def discard(self) -> None:
        try:
            self.wait()
        except Exception:  # the store is thrown away; the error that led here is the one to report
            pass
        self._pool.shutdown()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def commit(self) -> Path:
        """Replace the store by what was written (an old store is removed only after the new one is whole)."""
        self.wait()
        self._pool.shutdown()
        old = self.root.with_name(f".{self.root.name}.old-{os.getpid()}")
        if self.root.exists():
            os.replace(self.root, old)
        os.replace(self.scratch, self.root)
        shutil.rmtree(old, ignore_errors=True)
        return self.root


def _write_parts(jobs: list[tuple[pa.Table, Path]]) -> None:
    for part, path in jobs:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(part, path, **_WRITE)


def to_arrow(ledger: pd.DataFrame) -> pa.Table:
    """Ledger rows (LEDGER_SCHEMA) as an arrow table of the stored columns, typed as WRITE_SCHEMA."""
    arrays = []
    for f in WRITE_SCHEMA:
        col = ledger[f.name]
        if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type):
            arr = pa.array(col, from_pandas=True)
            arr = arr if arr.type == pa.string() else arr.cast(pa.string())
            arrays.append(arr.dictionary_encode() if pa.types.is_dictionary(f.type) else arr)
        else:
            arrays.append(pa.array(col, type=f.type))
    return pa.Table.from_arrays(arrays, schema=WRITE_SCHEMA)


def _files(root: Path, kommunkod: str | None, year: int | None) -> list[tuple[str, int, Path]]:
    out = []
    for kdir in sorted(Path(root).glob("kommunkod=*")):
        k = kdir.name.split("=", 1)[1]
        if kommunkod is not None and k != kommunkod:
            continue
        for ydir in sorted(kdir.glob("year=*"), key=lambda p: int(p.name.split("=", 1)[1])):
            y = int(ydir.name.split("=", 1)[1])
            if year is not None and y != year:
                continue
            out.extend((k, y, f) for f in sorted(ydir.glob("*.parquet")))
    return out


def read_store(root: Path, kommunkod: str | None = None, period: str | None = None,
               columns: list[str] | None = None) -> pd.DataFrame:
    """Ledger rows of the store (LEDGER_SCHEMA column order), only the partitions asked for.

    Rows come in build order within a partition; partitions in kommunkod then year order. Meant for one
    municipality or month (a deep dive); aggregates over the whole store are DuckDB's (aggregate.py).
    """
    from . import LEDGER_COLUMNS

    year = int(period[:4]) if period else None
    wanted = list(LEDGER_COLUMNS) if columns is None else columns
    frames = []
    for k, y, f in _files(root, kommunkod, year):
        t = pq.read_table(f)
        if period is not None:
            t = t.filter(pc.equal(t["period"], period))
        df = t.to_pandas(types_mapper={pa.date32(): pd.ArrowDtype(pa.date32())}.get)
        df.insert(4, "kommunkod", pd.Series([k] * len(df), dtype="str"))
        df.insert(5, "year", np.full(len(df), y, dtype="int64"))
        frames.append(df[wanted])
    if not frames:
        return empty_ledger()[wanted]
    out = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    for c in out.columns:
        if pa.types.is_string(_type(c)):
            out[c] = out[c].astype("str")
    return out.reset_index(drop=True)


def _type(name: str) -> pa.DataType:
    return pa.string() if name == "kommunkod" else pa.int64() if name == "year" else ARROW_SCHEMA.field(name).type


def empty_ledger() -> pd.DataFrame:
    """A ledger frame without rows, with the contract's columns and dtypes."""
    from . import LEDGER_COLUMNS

    cols = {}
    for c in LEDGER_COLUMNS:
        t = _type(c)
        cols[c] = (pd.Series(dtype="str") if pa.types.is_string(t) else
                   pd.Series(dtype=pd.ArrowDtype(t)) if pa.types.is_date32(t) else pd.Series(dtype=t.to_pandas_dtype()))
    return pd.DataFrame(cols)


# ---- streaming one CSV file ----------------------------------------------------------------------


@dataclass
class Streamed:
    """What streaming one file leaves in memory: its rejects and its reconciliation row."""

    rejects: pd.DataFrame
    reconciliation: dict
    shape: str


def _add(a: tuple | None, b: tuple) -> tuple:
    return b if a is None else tuple(x + y for x, y in zip(a, b))


def _decisions(stats: tuple[int, int, int, int]) -> tuple:
    """The file-level decimal decisions parse_amounts takes from these counts (the mixing counts are quoted)."""
    detected = parse._detected(stats[0], stats[1])
    return (detected, stats[2:] if stats[2] and stats[3] else None)


def _stream_pass(plan: readers.CsvPlan, ctx: Context, writer: StoreWriter, file_no: int, block_size: int,
                 chunk_size: int, assumed: tuple | None,
                 threads: bool = False) -> tuple[Streamed | None, tuple | None, tuple | None]:
    """One pass over the file. Returns (result, assumed stats, whole-file stats); result is None when the
    whole file's decimal decisions differ from those assumed from its first chunk (then pass again).

    Regular chunks take the fast lane (fast.py); the others, and every chunk when FAST_LANE is off, clean().
    The fast lane's rows are validated against LEDGER_SCHEMA's column checks once per file, through the
    distinct values it saw (fast.Witness)."""
    from . import _LEDGER_COLUMNS_ONLY, validate_chunk
    from ..io import validate

    tally = Tally()
    witness = fast.Witness()
    rejects, recons, total = [], [], None
    ragged, rows_in, fast_rows = [], 0, 0
    for chunk_no, raw in enumerate(_joined(readers.iter_csv(plan, block_size, threads), chunk_size // block_size)):
        ragged.extend(b for b in raw.bad_rows if b["reason"].startswith("ragged"))
        rows_in += raw.rows_in
        plain = fast.amounts(raw.columns.get("amount")) if FAST_LANE else None
        if "amount" in raw.columns:
            stats = plain.stats if plain is not None else parse.decimal_stats(raw.columns["amount"])
            total = _add(total, stats)
            assumed = assumed or stats
        chunk_ctx = dataclasses.replace(ctx, amount_stats=assumed)
        done = fast.clean_chunk(raw, chunk_ctx, tally, plain, witness) if plain is not None else None
        if done is not None:
            table, kommun, year, rej, rec = done
            writer.write_arrow(table, kommun, year, file_no, chunk_no)
            fast_rows += len(table)
        else:
            ledger, rej, rec = clean(raw, chunk_ctx, tally)
            writer.write(validate_chunk(ledger), file_no, chunk_no)
            del ledger
        rejects.append(rej)
        recons.append(rec)
        del raw, done
    _check_ragged_whole(plan, ctx, ragged, rows_in)
    if total is not None and _decisions(total) != _decisions(assumed) and total != assumed:
        return None, assumed, total
    tally.check(str(plan.path), ctx)
    if fast_rows:
        validate(witness.frame(), _LEDGER_COLUMNS_ONLY, "ledger")
    rec = dict(recons[0])
    for key in ("rows_in", "rows_clean", "rows_rejected", "ore_in", "ore_clean", "ore_rejected"):
        rec[key] = sum(r[key] for r in recons)
    rec["balanced"] = all(r["balanced"] for r in recons) and rec["rows_in"] == rows_in
    rej = rejects[0] if len(rejects) == 1 else pd.concat(rejects, ignore_index=True)
    return Streamed(rej, rec, plan.shape), assumed, total


def _joined(chunks: Iterator[readers.RawLedger], per: int) -> Iterator[readers.RawLedger]:
    """Consecutive chunks of the reader joined `per` at a time (readers.concat_raw), read by a background
    thread one joined chunk ahead: pyarrow parses while the previous chunk is cleaned."""
    per = max(1, per)

    def groups() -> Iterator[readers.RawLedger]:
        group: list[readers.RawLedger] = []
        for raw in chunks:
            group.append(raw)
            if len(group) == per:
                yield readers.concat_raw(group)
                group = []
        if group:
            yield readers.concat_raw(group)

    return _read_ahead(groups())


def _read_ahead(items: Iterator, depth: int = 1) -> Iterator:
    """Yield what `items` yields, produced by a background thread at most `depth` items ahead; an error
    in the producer is raised here, in order. A consumer that stops early stops the producer."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as exc:  # handed to the consumer, which raises it where it reads
            q.put((done, exc))

    thread = threading.Thread(target=produce, name="ledger-read", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass


def _check_ragged_whole(plan: readers.CsvPlan, ctx: Context, ragged: list[dict], rows_in: int) -> None:
    from .clean import _check_ragged

    rows = np.broadcast_to(np.int64(0), (rows_in - len(ragged),))  # only the count is read
    _check_ragged(readers.RawLedger(plan.path, "csv", plan.shape, plan.encoding, plan.delimiter, {}, rows, ragged), ctx)


PARALLEL_SCAN_BYTES = 64 << 20  # from this size the whole-file structure scan runs beside the parse


def stream_csv(path: Path, ctx: Context, writer: StoreWriter, *, shape: str | None = None,
               encoding: str | None = None, delimiter: str | None = None,
               block_size: int = BLOCK_SIZE, chunk_size: int = CHUNK_SIZE) -> Streamed:
    """Clean one CSV file chunk by chunk into the store; the same rows, rejects and reconciliation as
    `clean(read_raw(path))`, in bounded memory.

    The file's decimal separator decisions (parse_amounts) are taken from its first chunk and checked
    against the whole file at the end; when they differ (a file whose majority separator changes after its
    first chunk, or that mixes separators) the file is streamed a second time with the whole file's counts.
    A large file is parsed while another process makes the structure checks of its raw bytes (strict
    decoding, record count); their verdict comes first, and a file whose encoding was guessed wrongly from
    its first bytes is streamed again.
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if not head:
        raise UserError(f"{path}: file is empty")
    file_no = writer.next_file()
    if path.stat().st_size < PARALLEL_SCAN_BYTES:
        plan = _plan(path, head, shape, encoding, delimiter)
        return _stream_file(plan, ctx, writer, file_no, block_size, chunk_size)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    writer.wait()  # no write in flight while forking: the child must not inherit a lock held mid-write
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        scan = pool.submit(_plan, path, head, shape, encoding, delimiter)
        try:
            guess = readers.csv_plan(path, head, shape, encoding, delimiter, scan=False)
            result, error = _stream_file(guess, ctx, writer, file_no, block_size, chunk_size), None
        except Exception as exc:  # the structure scan's verdict, when it has one, is the file's first error
            guess, result, error = None, None, exc
        plan = scan.result()
    if guess is not None and _same_reading(plan, guess):
        if error is not None:
            raise error
        if result.reconciliation["rows_in"] != plan.records:
            raise UserError(f"{path}: {readers._count_mismatch(result.reconciliation['rows_in'], plan.records)}")
        return result
    _drop_file(writer, file_no)
    return _stream_file(plan, ctx, writer, file_no, block_size, chunk_size)


def _plan(path: Path, head: bytes, shape, encoding, delimiter) -> readers.CsvPlan:
    try:
        return readers.csv_plan(path, head, shape, encoding, delimiter)
    except UserError as exc:
        msg = str(exc)
        raise UserError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from exc


def _same_reading(plan: readers.CsvPlan, guess: readers.CsvPlan) -> bool:
    return (plan.encoding, plan.delimiter, plan.headers, plan.shape, plan.wanted, plan.notes) == (
        guess.encoding, guess.delimiter, guess.headers, guess.shape, guess.wanted, guess.notes)


def _drop_file(writer: StoreWriter, file_no: int) -> None:
    writer.wait()
    for f in writer.scratch.glob(f"kommunkod=*/year=*/part-{file_no:04d}-*.parquet"):
        f.unlink()


def _stream_file(plan: readers.CsvPlan, ctx: Context, writer: StoreWriter, file_no: int,
                 block_size: int, chunk_size: int) -> Streamed:
    """Parse on all cores; a file with a ragged or empty line is parsed again on one, because only then
    does pyarrow number the lines it cannot split (they become rejects with their row number)."""
    threads = True
    while True:
        try:
            result, assumed, total = _stream_pass(plan, ctx, writer, file_no, block_size, chunk_size, None, threads)
            if result is None:
                _drop_file(writer, file_no)
                result, _, _ = _stream_pass(plan, ctx, writer, file_no, block_size, chunk_size, total, threads)
            return result
        except readers.Unnumbered:
            _drop_file(writer, file_no)
            threads = False


def is_streamable(path: Path) -> bool:
    """CSV files stream; workbooks and JSON (small by nature) are cleaned whole."""
    with Path(path).open("rb") as fh:
        head = fh.read(1 << 16)
    from . import detect

    return bool(head) and detect.container_of(Path(path), head) == "csv"


def write_frames(writer: StoreWriter, ledgers: Iterable[pd.DataFrame]) -> None:
    """Whole-file ledgers (already validated) into the store, one file number each."""
    for ledger in ledgers:
        file_no = writer.next_file()
        for chunk_no, start in enumerate(range(0, max(len(ledger), 1), 1_000_000)):
            writer.write(ledger.iloc[start : start + 1_000_000], file_no, chunk_no)


def iter_parts(root: Path) -> Iterator[Path]:
    """Every part file of a store, in name order (for checksums and tests)."""
    return iter(sorted(Path(root).rglob("*.parquet")))


__all__ = ["STORE", "BLOCK_SIZE", "StoreWriter", "Streamed", "duckdb_source", "empty_ledger", "parquet_glob",
           "read_store", "store_dir", "stream_csv", "to_arrow", "write_frames"]
