"""Benchmark of report rendering (prints figures; asserts nothing).

1. the floors: bare papermill + nbconvert of an empty notebook, run in this process, and the same with
   pandas + matplotlib imported and one plot (the one-plot floor every executed report is compared with,
   target ≤ 1.5×), and that plus `import analysis.report` (what the report package adds to each kernel);
2. five regional reports through `analysis.render`, one worker (serial like the floor; two language pages
   from each execution): the per-report median against the one-plot floor;
3. all 21 regional reports with 2 workers: wall time per report against the floor;
4. the site: landing pages, methods, downloads and the 290 profiles in both languages (no notebook runs);
5. with --all: what `make reports` renders (4 national + 21 regional reports, both languages, and the site),
   with the number of pages written.

Reports go to benchmarks/out/reports (git-ignored); the real processed data is used.
Usage: python benchmarks/bench_render.py [--all] [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter

from analysis import config, render

OUT = config.PROJECT_ROOT / "benchmarks" / "out" / "reports"


PLOT_CELL = "%matplotlib inline\nimport pandas as pd\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"
REPORT_CELL = PLOT_CELL + "\nimport analysis.report"


def floor_once(workdir: Path, source: str = "") -> float:
    """Seconds to execute a one-cell notebook with papermill and convert it to HTML."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": render.KERNEL, "display_name": "Python (kommun-it)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source)]
    src, dst = workdir / "empty.ipynb", workdir / "empty.out.ipynb"
    nbformat.write(nb, src)
    t0 = time.perf_counter()
    executed = papermill.execute_notebook(str(src), str(dst), kernel_name=render.KERNEL, progress_bar=False)
    body, _ = HTMLExporter(exclude_input=True).from_notebook_node(executed)
    (workdir / "empty.html").write_text(body, encoding="utf-8")
    return time.perf_counter() - t0


def timed_render(jobs: list[render.Job], workers: int, site: bool = False) -> tuple[float, list[render.Result]]:
    t0 = time.perf_counter()
    results = render.render(jobs, out_dir=OUT, workers=workers, timeout=600, site=site)
    return time.perf_counter() - t0, results


def report(label: str, seconds: float, results: list[render.Result], floor: float) -> None:
    failed = [r for r in results if not r.ok]
    per = statistics.median(r.seconds for r in results)
    print(
        f"{label:<34} {seconds:8.1f} s total  {len(results):4d} reports  median {per:5.1f} s/report"
        f" ({per / floor:4.2f}× one-plot floor)  wall/report {seconds / len(results):5.2f} s  failed {len(failed)}"
    )
    for r in failed:
        print(f"    FAILED {r.job.html_relpath}: {r.error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also time the whole `make reports` render")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the floor measurement")
    args = parser.parse_args()

    shutil.rmtree(OUT, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        floors = [floor_once(Path(tmp)) for _ in range(args.repeat)]
        plots = [floor_once(Path(tmp), PLOT_CELL) for _ in range(args.repeat)]
        imports = [floor_once(Path(tmp), REPORT_CELL) for _ in range(args.repeat)]
    empty = statistics.median(floors)
    floor = statistics.median(plots)
    print(f"{'empty notebook':<34} {empty:8.1f} s (median of {args.repeat}: "
          f"{', '.join(f'{f:.1f}' for f in floors)})")
    print(f"{'floor: pandas + matplotlib, 1 plot':<34} {floor:8.1f} s ({floor / empty:4.2f}× empty notebook)")
    print(f"{'  + import analysis.report':<34} {statistics.median(imports):8.1f} s "
          f"({statistics.median(imports) / floor:4.2f}× floor: the report package adds"
          f" {statistics.median(imports) - floor:.1f} s per kernel)")

    regions = [j for j in render.plan() if j.group == "region"]
    # Serial, like the floor: the per-report median (both language pages from one execution) is the ratio
    # the target speaks of. With --jobs 2 every report shares the 2 cores with another, so its own time is
    # longer; what counts there is the wall time per report.
    seconds, results = timed_render(regions[:5], workers=1)
    report("5 regional reports, --jobs 1", seconds, results, floor)
    seconds, results = timed_render(regions, workers=2)
    report("21 regional reports, --jobs 2", seconds, results, floor)
    print(f"{'':<34} wall per report with 2 jobs: {seconds / len(results) / floor:4.2f}× one-plot floor")
    from analysis.report import landing

    t0 = time.perf_counter()
    pages = landing.write_site(OUT)
    print(f"{'site: landing + 290 profiles × 2':<34} {time.perf_counter() - t0:8.1f} s total  {len(pages):4d} pages")
    if args.all:
        shutil.rmtree(OUT, ignore_errors=True)
        everything = render.plan()
        seconds, results = timed_render(everything, workers=2, site=True)
        n_pages = len(list(OUT.rglob("*.html")))
        report(f"make reports ({n_pages} pages), --jobs 2", seconds, results, floor)
    sizes = sorted(p.stat().st_size for p in OUT.rglob("*.html") if p.name != "index.html")
    if sizes:
        print(f"HTML size: median {statistics.median(sizes) / 1024:.0f} KiB, max {sizes[-1] / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
