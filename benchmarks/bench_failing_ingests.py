"""200 failing `kommun-it ingest` runs in fresh processes: every one must end with exit code 2 and one
line on stderr, never SIGABRT (-6) or a traceback.

The CLI once aborted after printing its correct error ("terminate called without an active exception"):
pyarrow's native thread pools were torn down during interpreter finalisation while a worker thread was
still joinable. main() now flushes and leaves with os._exit. Synthetic files only; prints the figures.
Usage: python benchmarks/bench_failing_ingests.py [runs] [parallel]
"""

from __future__ import annotations

import collections
import os
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BODY = "".join(f"Firma {i} AB;{i},50;1880;2022-01-02\n" for i in range(2000))
FAILING = {  # synthetic files, each with a different user fault
    "synthetic_ragged.csv": ("leverantor;belopp;kommun_id;datum\n" + BODY.replace(";", ",")).encode(),
    "synthetic_encoding.csv": ("leverantor;belopp;kommun_id;datum\n" + BODY).encode() + b"Firma \x81\x8d;1,00;1880;2022-01-02\n",
    "synthetic_shape.csv": b"a;b;c\n1;2;3\n",
    "synthetic_amounts.csv": ("leverantor;belopp;kommun_id;datum\n" + BODY.replace(",50", " kr")).encode(),
    "synthetic_corrupt.xlsx": b"PK\x03\x04" + os.urandom(4096),
    "synthetic_kommun.csv": ("leverantor;belopp;kommun_id;datum\n" + BODY.replace(";1880;", ";0000;")).encode(),
    "synthetic_quote.csv": ("leverantor;belopp;kommun_id;datum\n" + BODY + '"Firma;1,00;1880;2022-01-02\n' + BODY).encode(),
}


def one(path: Path, env: dict) -> tuple[str, int, str]:
    cmd = [sys.executable, "-m", "analysis.cli", "ingest", str(path)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    return path.name, res.returncode, res.stderr


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    parallel = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    env = dict(os.environ, KOMMUN_IT_PSEUDONYM_KEY=secrets.token_hex(32))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, data in FAILING.items():
            (Path(tmp) / name).write_bytes(data)
            paths.append(Path(tmp) / name)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(parallel) as pool:
            results = list(pool.map(lambda i: one(paths[i % len(paths)], env), range(runs)))
        seconds = time.perf_counter() - t0
    codes = collections.Counter(code for _, code, _ in results)
    bad = [(n, c, e) for n, c, e in results if c != 2 or "Traceback" in e or len(e.strip().splitlines()) != 1]
    print(f"{runs} failing ingests ({parallel} at a time) in {seconds:.0f} s: exit codes {dict(codes)}; "
          f"{len(bad)} not one line with exit 2")
    for name, code, err in bad[:5]:
        print(f"  {name}: exit {code}: {err.strip()[-300:]!r}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
