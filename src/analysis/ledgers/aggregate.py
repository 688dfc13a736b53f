"""Aggregates of the ledger store, computed by DuckDB over the partitioned parquet dataset.

Why: the ledger lens (it_spend, classify, vendor_shares) and the reports need sums, not postings. Both
classifiers decide per (municipality, account, account text) and per (supplier orgnr, supplier name), so
summing the postings that share every column a classifier or the lens reads loses nothing they use:
`ledger_lens` holds one row per such group with its posting count, net öre and absolute öre. At national
scale that is a few million groups instead of half a billion postings (docs/scale.md).
`ledger_periods` says which municipality × month (or year) the store holds, for coverage and the deep dive.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from ..io import validate
from . import store

# The columns the classifiers and the lens read from a posting; a group of postings alike in all of them.
# `source_row` is kept only for supplier_year rows (Göteborg's file is itself an aggregate: its rows stay as
# published, in file order), and is null for groups of postings.
LENS_KEYS = ["source_id", "grain", "kommunkod", "year", "period", "source_row", "supplier_key", "supplier_name",
             "supplier_orgnr", "account", "account_text"]

LENS_SCHEMA = pa.DataFrameSchema(
    {
        "source_id": pa.Column(str),
        "grain": pa.Column(str, pa.Check.isin(["posting", "supplier_year"])),
        "kommunkod": pa.Column(str, pa.Check.str_matches(r"^\d{4}$")),
        "year": pa.Column("int64"),
        "period": pa.Column(str, nullable=True),
        "source_row": pa.Column("Int64", nullable=True),
        "supplier_key": pa.Column(str),
        "supplier_name": pa.Column(str),
        "supplier_orgnr": pa.Column(str, nullable=True),
        "account": pa.Column(str, nullable=True),
        "account_text": pa.Column(str, nullable=True),
        "rows": pa.Column("int64", pa.Check.ge(1)),
        "amount_ore": pa.Column("int64"),
        "abs_ore": pa.Column("int64", pa.Check.ge(0)),
        "amount_sek": pa.Column("float64"),
    },
    unique=LENS_KEYS,
    strict=True,
    ordered=True,
)

PERIODS_SCHEMA = pa.DataFrameSchema(
    {
        "kommunkod": pa.Column(str, pa.Check.str_matches(r"^\d{4}$")),
        "year": pa.Column("int64"),
        "period": pa.Column(str, nullable=True),
        "grain": pa.Column(str),
        "source_id": pa.Column(str),
        "rows": pa.Column("int64", pa.Check.ge(1)),
        "amount_ore": pa.Column("int64"),
    },
    strict=True,
    ordered=True,
)


MEMORY_LIMIT = "2GB"  # DuckDB spills to disk beyond this instead of holding the store's pages in memory


def connect(threads: int | None = None):
    """A DuckDB connection with a bounded memory and its spill files in the system's temporary directory
    (DuckDB's default is `.tmp` in the working directory)."""
    import tempfile

    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute(f"SET temp_directory = '{Path(tempfile.gettempdir()) / 'kommun-it-duckdb'}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _has_parts(root: Path) -> bool:
    return any(Path(root).glob("kommunkod=*/year=*/*.parquet"))


def _frame(rel, columns: list[str], ints: list[str]) -> pd.DataFrame:
    df = rel.df() if rel is not None else pd.DataFrame({c: [] for c in columns})
    for c in columns:
        df[c] = df[c].astype("int64") if c in ints else df[c].astype("Int64") if c == "source_row" else df[c].astype("str")
    return df[columns]


def lens_groups_sql(root: Path) -> str:
    """The DuckDB query behind `ledger_lens` (also run by benchmarks/bench_ledger_aggregate.py)."""
    keys = ", ".join(LENS_KEYS)
    return (
        f"SELECT {keys}, count(*) AS rows, sum(amount_ore)::BIGINT AS amount_ore,"
        f" sum(abs(amount_ore))::BIGINT AS abs_ore FROM (SELECT * REPLACE (CASE WHEN grain = 'supplier_year'"
        f" THEN source_row END AS source_row) FROM {store.duckdb_source(root)})"
        f" GROUP BY {keys} ORDER BY {', '.join(k + ' NULLS FIRST' for k in LENS_KEYS)}"
    )


def lens_groups(root: Path, threads: int | None = None) -> pd.DataFrame:
    """`ledger_lens`: postings summed per LENS_KEYS group (posting count, net and absolute öre), sorted by the keys."""
    cols = LENS_KEYS + ["rows", "amount_ore", "abs_ore"]
    rel = connect(threads).sql(lens_groups_sql(root)) if _has_parts(root) else None
    df = _frame(rel, cols, ["year", "rows", "amount_ore", "abs_ore"])
    df["amount_sek"] = df["amount_ore"] / 100
    return validate(df, LENS_SCHEMA, "ledger_lens")


def periods(root: Path, threads: int | None = None) -> pd.DataFrame:
    """`ledger_periods`: postings and net öre per municipality, year, period, grain and source."""
    keys = ["kommunkod", "year", "period", "grain", "source_id"]
    cols = keys + ["rows", "amount_ore"]
    if not _has_parts(root):
        return validate(_frame(None, cols, ["year", "rows", "amount_ore"]), PERIODS_SCHEMA, "ledger_periods")
    con = connect(threads)
    rel = con.sql(
        f"SELECT {', '.join(keys)}, count(*) AS rows, sum(amount_ore)::BIGINT AS amount_ore"
        f" FROM {store.duckdb_source(root)} GROUP BY ALL ORDER BY {', '.join(k + ' NULLS FIRST' for k in keys)}"
    )
    return validate(_frame(rel, cols, ["year", "rows", "amount_ore"]), PERIODS_SCHEMA, "ledger_periods")


def store_tables(out_dir: Path) -> dict[str, pd.DataFrame]:
    """The aggregate tables the ledger stage writes beside the store."""
    root = store.store_dir(out_dir)
    return {"ledger_lens": lens_groups(root), "ledger_periods": periods(root)}


def write_ledger(ledger: pd.DataFrame, out_dir: Path) -> Path:
    """A whole ledger frame (LEDGER_SCHEMA) as the store of `out_dir` plus its aggregate tables, as the
    ledger stage leaves them (for reports and tests built on synthetic ledgers)."""
    from ..io import write_parquet

    writer = store.StoreWriter(store.store_dir(out_dir))
    try:
        store.write_frames(writer, [ledger])  # to_arrow gives every column its stored type
    except BaseException:
        writer.discard()
        raise
    root = writer.commit()
    for name, df in store_tables(out_dir).items():
        write_parquet(df, Path(out_dir) / f"{name}.parquet")
    return root


__all__ = ["LENS_KEYS", "LENS_SCHEMA", "PERIODS_SCHEMA", "lens_groups", "lens_groups_sql", "periods", "store_tables", "write_ledger"]
