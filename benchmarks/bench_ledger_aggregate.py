"""Aggregating a synthetic 50,000,000-row partitioned ledger store with DuckDB.

Builds a synthetic national store (290 synthetic kommunkoder × 10 years, hive-partitioned exactly like
`data/processed/ledger/`) with DuckDB's COPY ... PARTITION_BY, then times, each in a fresh subprocess with
its peak RSS:
1. the query behind `ledger_lens` (`aggregate.lens_groups_sql`: postings summed per group of rows alike
   in every column the classifiers read), written to parquet by DuckDB;
2. the lens itself in DuckDB: municipality × year × IT category by the accounts method (a join with an
   account → category table), the shape of the figures in it_spend.
Prints only (no assertions). Target (issue 13): aggregating a 50 M-row store to the lens <= 10 s on 2 cores.
Usage: .venv/bin/python benchmarks/bench_ledger_aggregate.py [ROWS]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analysis.ledgers import aggregate, store

ACCOUNTS = [("74311", "software_licences"), ("74313", "it_consulting"), ("65400", "hardware"),
            ("46362", "telecom_networks"), ("70102", None), ("68100", None), ("74500", None), ("40233", None),
            ("54600", None), ("61100", None), ("73300", None), ("45800", None)]

GENERATE = """
COPY (
  SELECT 'synthetic-national' AS source_id, 'synthetic_' || kommunkod || '.csv' AS source_file,
         i + 2 AS source_row, 'posting' AS grain, kommunkod, year,
         year || '-' || lpad(month::VARCHAR, 2, '0') AS period,
         make_date(year::BIGINT, month::BIGINT, (1 + (h >> 50) % 28)::BIGINT) AS date, NULL::VARCHAR AS buyer_unit,
         'SYNTHETIC SUPPLIER ' || lpad(supplier::VARCHAR, 5, '0') || ' AB' AS supplier_name,
         '556' || lpad((supplier % 1000)::VARCHAR, 3, '0') || '-' || lpad((supplier // 1000)::VARCHAR, 4, '0')
           AS supplier_orgnr,
         '556' || lpad((supplier % 1000)::VARCHAR, 3, '0') || '-' || lpad((supplier // 1000)::VARCHAR, 4, '0')
           AS supplier_key,
         account, 'Konto ' || account AS account_text, amount_ore, amount_ore / 100.0 AS amount_sek,
         NULL::VARCHAR AS invoice_id
  FROM (
    SELECT i, h, lpad((100 + (h % 290) * 8)::VARCHAR, 4, '0') AS kommunkod,
           2015 + ((h >> 10) % 10)::INTEGER AS year, 1 + ((h >> 14) % 12)::INTEGER AS month,
           ((h % 290) * 37 + (h >> 20) % 400) % 20000 AS supplier,
           (ARRAY{accounts})[1 + ((h >> 30) % {n_accounts})::INTEGER] AS account,
           (((h >> 36) % 2000000)::BIGINT - 100000) AS amount_ore
    FROM (SELECT range AS i, hash(range) AS h FROM range({rows}))
  )
) TO '{root}' (FORMAT parquet, PARTITION_BY (kommunkod, year), COMPRESSION zstd)
"""

LENS_SQL = """
WITH categories AS (SELECT * FROM (VALUES {values}) t(account, category))
SELECT kommunkod, year, coalesce(category, 'not_it') AS category, count(*) AS postings,
       sum(amount_ore)::BIGINT AS amount_ore
FROM {source} LEFT JOIN categories USING (account)
GROUP BY ALL ORDER BY ALL
"""


def child(mode: str, root: Path) -> None:
    con = aggregate.connect()
    t0 = time.perf_counter()
    if mode == "groups":
        out = root.parent / "ledger_lens.parquet"
        con.execute(f"COPY ({aggregate.lens_groups_sql(root)}) TO '{out}' (FORMAT parquet)")
        rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    else:
        values = ", ".join(f"('{a}', {repr(c) if c else 'NULL'})" for a, c in ACCOUNTS)
        rows = len(con.sql(LENS_SQL.format(values=values, source=store.duckdb_source(root))).df())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"{time.perf_counter() - t0} {rows} {peak}")


def measure(mode: str, root: Path) -> tuple[float, int, float]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(root)], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), int(out[1]), float(out[2])


def generate(rows: int, root: Path) -> None:
    accounts = "[" + ", ".join(f"'{a}'" for a, _ in ACCOUNTS) + "]"
    aggregate.connect().execute(GENERATE.format(rows=rows, root=root, accounts=accounts, n_accounts=len(ACCOUNTS)))


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ledger"
        t0 = time.perf_counter()
        # in a subprocess: Linux reports a child's peak RSS as at least its parent's RSS when it was forked
        subprocess.run([sys.executable, __file__, "--generate", str(rows), str(root)], check=True)
        files = list(root.rglob("*.parquet"))
        size = sum(f.stat().st_size for f in files)
        print(f"generated a synthetic store of {rows:,} rows in {time.perf_counter() - t0:.1f} s: {len(files):,} files,"
              f" {size / 1e9:.2f} GB ({size / rows:.1f} bytes/row)")
        secs, out_rows, peak = measure("lens", root)
        print(f"lens in DuckDB (municipality x year x IT category, accounts method): {secs:.2f} s,"
              f" {rows / secs / 1e6:.1f} M rows/s, {out_rows:,} rows out, peak RSS {peak:.2f} GB")
        secs, out_rows, peak = measure("groups", root)
        print(f"ledger_lens groups (aggregate.lens_groups_sql, written to parquet by DuckDB): {secs:.2f} s,"
              f" {rows / secs / 1e6:.1f} M rows/s, {out_rows:,} groups, peak RSS {peak:.2f} GB")
        print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--generate":
        generate(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
