"""Ledger ingestion speed and memory: a synthetic national-spec (v1.1) CSV, ingested into the partitioned store.

One run, one synthetic file, three measurements, each in its own fresh subprocess (wall time, CPU time,
rows/s, peak RSS):
1. the anchor: DuckDB's bare read-and-exact-sum of the file (every column as text, the amounts summed
   exactly as DECIMAL; DuckDB materialises only the amount column);
2. a like-for-like anchor: DuckDB copying the same file, every column as text and nothing cleaned, into a
   hive-partitioned zstd parquet dataset, the job `ingest_to_store` does without the cleaning;
3. `ingest_to_store` (streaming ingest, store.py and fast.py), timed from the call.
Prints only (no assertions). Targets on 2 cores (issue 13): ingest <= 2x the anchor and >= 1 M rows/s;
peak RSS <= 1 GB on 20 M rows.
Usage: .venv/bin/python benchmarks/bench_ledger_ingest.py [ROWS]   (default 5,000,000; try 20000000)
"""

from __future__ import annotations

import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from analysis.ledgers.parse import classify_id

SEED = 20160301


def synthetic_spec_csv(path: Path, rows: int) -> None:
    """Write a realistic synthetic spec CSV: ';', decimal-comma amounts with space thousands, 5,000 suppliers."""
    rng = np.random.default_rng(SEED)
    n_sup = 5_000
    sup_ids = []
    base = 556000000
    while len(sup_ids) < n_sup:
        nine = str(base + len(sup_ids) * 7 + len(sup_ids) % 3)
        for d in "0123456789":
            if classify_id(nine + d)[0] == "orgnr":
                sup_ids.append(f"{nine[:6]}-{nine[6:]}{d}")
                break
        else:
            base += 1
    names = pa.array([f"SYNTHETIC SUPPLIER {i:05d} AB" for i in range(n_sup)])
    ids = pa.array(sup_ids)
    accounts = pa.array(["74311", "74313", "65400", "46362", "70102", "68100", "74500", "40233"])
    units = pa.array([f"{100 + i} - Nämnd {i}" for i in range(30)])
    chunk = 1_000_000
    with path.open("wb") as fh:
        fh.write(
            "kopare_id;kopare;verifikationsnummer;leverantor;leverantor_id;konto_nr;konto_text;datum;forvaltning;"
            "fakturanummer;belopp;kommun_id\n".encode()
        )
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            s = rng.integers(0, n_sup, n)
            ore = rng.lognormal(11, 2, n).astype(np.int64) * np.where(rng.random(n) < 0.04, -1, 1)
            kr, rest = np.divmod(np.abs(ore), 100)
            kr_txt = pc.cast(pa.array(kr), pa.string())
            # space thousands separator for amounts >= 1000 kr
            grouped = pc.replace_substring_regex(kr_txt, r"^(\d{1,3})(\d{3})$", r"\1 \2")
            grouped = pc.replace_substring_regex(grouped, r"^(\d{1,3})(\d{3})(\d{3})$", r"\1 \2 \3")
            frac = pc.utf8_lpad(pc.cast(pa.array(rest), pa.string()), 2, "0")
            sign = pa.array(np.where(ore < 0, "-", ""))
            amount = pc.binary_join_element_wise(sign, grouped, ",", "")
            amount = pc.binary_join_element_wise(amount, frac, "")
            acc = rng.integers(0, len(accounts), n)
            day = pc.cast(pa.array(rng.integers(1, 29, n)), pa.string())
            table = pa.table(
                {
                    "kopare_id": pa.array(np.full(n, "2120002080")),
                    "kopare": pa.array(np.full(n, "SYNTETISK KOMMUN")),
                    "verifikationsnummer": pc.cast(pa.array(np.arange(start, start + n)), pa.string()),
                    "leverantor": names.take(pa.array(s)),
                    "leverantor_id": ids.take(pa.array(s)),
                    "konto_nr": accounts.take(pa.array(acc)),
                    "konto_text": pc.binary_join_element_wise("Konto ", accounts.take(pa.array(acc)), ""),
                    "datum": pc.binary_join_element_wise("2024-03-", pc.utf8_lpad(day, 2, "0"), ""),
                    "forvaltning": units.take(pa.array(rng.integers(0, 30, n))),
                    "fakturanummer": pc.cast(pa.array(rng.integers(10**7, 10**8, n)), pa.string()),
                    "belopp": amount,
                    "kommun_id": pa.array(np.full(n, "1980")),
                }
            )
            pv.write_csv(table, fh, pv.WriteOptions(include_header=False, delimiter=";", quoting_style="none"))


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


ANCHOR_SQL = """
SELECT count(*), sum(CAST(replace(replace(belopp, ' ', ''), ',', '.') AS DECIMAL(18, 2)))
FROM read_csv('{path}', delim = ';', header = true, all_varchar = true)
"""
COPY_SQL = """
COPY (SELECT * FROM read_csv('{path}', delim = ';', header = true, all_varchar = true))
TO '{out}' (FORMAT parquet, PARTITION_BY (kommun_id), COMPRESSION zstd)
"""


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def child(mode: str, path: Path) -> None:
    """Run one measurement in this (fresh) process and print 'seconds cpu_seconds rows peak_gb import_s [note]'."""
    t_import = time.perf_counter()
    if mode in ("anchor", "copy"):
        import duckdb
    else:
        from analysis.ledgers import ingest_to_store
    import_s = time.perf_counter() - t_import
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        c0, t0 = cpu_seconds(), time.perf_counter()
        if mode == "anchor":
            rows, total = duckdb.connect().execute(ANCHOR_SQL.format(path=path)).fetchone()
            note = f"sum {total} SEK"
        elif mode == "copy":
            duckdb.connect().execute(COPY_SQL.format(path=path, out=Path(tmp) / "copy"))
            rows = None
            size = sum(f.stat().st_size for f in (Path(tmp) / "copy").rglob("*.parquet"))
            note = f"{size / 1e6:,.0f} MB of parquet"
        else:
            result = ingest_to_store([path], Path(tmp) / "ledger", municipalities=frozenset({"1980"}))
            rec = result.reconciliation.iloc[0]
            rows = int(rec["rows_in"])
            size = sum(f.stat().st_size for f in (Path(tmp) / "ledger").rglob("*.parquet"))
            note = (f"clean {rec['rows_clean']:,}, rejected {rec['rows_rejected']:,}, balanced {rec['balanced']},"
                    f" sum {rec['ore_in'] / 100:.2f} SEK; store {size / 1e6:,.0f} MB ({size / rows:.1f} bytes/row)")
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    print(f"{seconds} {cpu} {rows or 0} {peak_rss_gb()} {import_s} {note}")


def measure(mode: str, path: Path) -> tuple[float, float, int, float, float, str]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True,
                         check=True, env=dict(os.environ)).stdout.strip().split(" ", 5)
    return float(out[0]), float(out[1]), int(out[2]), float(out[3]), float(out[4]), out[5] if len(out) > 5 else ""


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000
    os.environ.setdefault("KOMMUN_IT_PSEUDONYM_KEY", secrets.token_hex(32))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic_spec_v11.csv"
        t0 = time.perf_counter()
        # in a subprocess: Linux reports a child's peak RSS as at least its parent's RSS when it was forked,
        # so this process stays small for the measurements that follow
        subprocess.run([sys.executable, __file__, "--generate", str(rows), str(path)], check=True)
        print(f"generated {rows:,} rows, {path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - t0:.1f} s")
        anchor_s, anchor_cpu, _, anchor_gb, _, anchor_note = measure("anchor", path)
        print(f"anchor, DuckDB read-and-exact-sum: {anchor_s:.2f} s ({rows / anchor_s / 1e6:.2f} M rows/s,"
              f" CPU {anchor_cpu:.1f} s), peak RSS {anchor_gb:.2f} GB; {anchor_note}")
        copy_s, copy_cpu, _, copy_gb, _, copy_note = measure("copy", path)
        print(f"like for like, DuckDB CSV -> partitioned parquet, nothing cleaned: {copy_s:.2f} s"
              f" ({copy_s / anchor_s:.2f}x the anchor, CPU {copy_cpu:.1f} s), peak RSS {copy_gb:.2f} GB; {copy_note}")
        ingest_s, ingest_cpu, rows_in, ingest_gb, _, note = measure("ingest", path)
        print(f"ingest into the store: {ingest_s:.2f} s ({rows_in / ingest_s / 1e6:.2f} M rows/s,"
              f" CPU {ingest_cpu:.1f} s), {ingest_s / anchor_s:.2f}x the anchor, {ingest_s / copy_s:.2f}x DuckDB's copy,"
              f" peak RSS {ingest_gb:.2f} GB; {note}")
        print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--generate":
        synthetic_spec_csv(Path(sys.argv[3]), int(sys.argv[2]))
    else:
        main()
