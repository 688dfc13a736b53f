"""TED yearly-file filter: a SYNTHETIC TED-shaped award-notice file of 800,000 rows (75 columns), zipped.

Measures `analysis.sources.ted.filter_country` (stream the CSV inside the zip with pyarrow, keep the
Swedish rows, write them) against DuckDB's bare read of the same CSV (every column as text, all rows
streamed to Python, nothing kept) in the same run; each measurement runs in its own process so its peak
RSS is its own. Prints seconds, rows/s and peak RSS; no assertions. Target: ≤ 2× the bare read, ≤ 1 GB.
Usage: .venv/bin/python benchmarks/bench_ted_filter.py [ROWS]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 800_000
YEAR = 2019

CHILD = r"""
import json, sys, time
from pathlib import Path
mode, path, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
t0 = time.perf_counter()
if mode == "ours":
    from analysis.sources.ted import filter_country
    read, kept = filter_country(path, out)
else:
    import duckdb
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    rel = con.sql(f"SELECT * FROM read_csv('{path}', all_varchar = true, header = true)")
    read = kept = 0
    with rel.to_arrow_reader(batch_size=122_880) as reader:
        for batch in reader:
            read += batch.num_rows
seconds = time.perf_counter() - t0
# VmHWM is this process's own peak (ru_maxrss can carry the parent's peak over fork + exec)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "rows": read, "kept": kept, "peak_rss_mb": hwm / 1024}))
"""


def measure(mode: str, path: Path, out: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), str(out)], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    from analysis.sources.synthetic import synthetic_ted_table, write_synthetic_zip

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        table = synthetic_ted_table(ROWS, YEAR, seed=2019)
        zpath = write_synthetic_zip(tmp / f"SYNTHETIC-ted-contract-award-notices-{YEAR}.zip", table, year=YEAR)
        del table
        with zipfile.ZipFile(zpath) as zf:
            csv_path = Path(zf.extract(zf.infolist()[0], tmp))
        print(f"SYNTHETIC TED-shaped file: {ROWS:,} rows, 75 columns; zip {zpath.stat().st_size / 1e6:.0f} MB,"
              f" CSV {csv_path.stat().st_size / 1e6:.0f} MB")
        runs = {
            "filter from the zip (refresh's path)": measure("ours", zpath, tmp / "se_zip.csv"),
            "filter from the unzipped CSV": measure("ours", csv_path, tmp / "se_csv.csv"),
            "DuckDB bare read of the unzipped CSV": measure("duckdb", csv_path, tmp / "unused"),
        }
        base = runs["DuckDB bare read of the unzipped CSV"]["seconds"]
        for name, r in runs.items():
            kept = f", {r['kept']:,} Swedish rows kept" if r["kept"] else ""
            print(f"{name:40s} {r['seconds']:6.2f} s  {r['rows'] / r['seconds']:>10,.0f} rows/s"
                  f"  peak RSS {r['peak_rss_mb']:6.0f} MB  ({r['seconds'] / base:.2f}× DuckDB){kept}")


if __name__ == "__main__":
    main()
