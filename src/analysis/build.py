"""`kommun-it build`: run the processing stages in order, raw data in, validated parquet out.

Each stage is a function `(raw_dir, out_dir) -> {table_name: DataFrame}`; every table is written to
`out_dir/<table_name>.parquet` deterministically. Later stages read earlier stages' outputs from out_dir.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from . import config, reference
from .errors import UserError
from .io import write_parquet

Stage = Callable[[Path, Path], dict[str, pd.DataFrame]]


def reference_stage(raw_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    municipalities = reference.build_municipalities(raw_dir)
    population = reference.build_population(municipalities, raw_dir)
    return {"municipalities": municipalities, "population": population}


def ledgers_stage(raw_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    from .ledgers import ledgers_stage as run

    return run(raw_dir, out_dir)


def it_spend_stage(raw_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    from .it_spend import it_spend_stage as run

    return run(raw_dir, out_dir)


def cooperation_stage(raw_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    from .compare import cooperation_stage as run

    return run(raw_dir, out_dir)


def panel_stage(raw_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    from .panel import panel_stage as run

    tables = run(raw_dir, out_dir)
    from .event_study import before_after_stage

    return {**tables, **before_after_stage(tables["procurement_panel"], out_dir)}


STAGES: dict[str, Stage] = {
    "reference": reference_stage,
    "ledgers": ledgers_stage,
    "it_spend": it_spend_stage,  # reads ledger_lens.parquet: keep after "ledgers"
    "cooperation": cooperation_stage,  # reads procurement_it.parquet: keep after "it_spend"
    "panel": panel_stage,  # multi-year procurement lens + before/after joining; reads reference tables
}


def build(
    stages: list[str] | None = None,
    raw_dir: Path | None = None,
    out_dir: Path | None = None,
    echo: Callable[[str], None] = lambda s: None,
) -> dict[str, Path]:
    """Run the given stages (all when none), write their tables, return {table: path}."""
    unknown = [s for s in stages or [] if s not in STAGES]
    if unknown:
        raise UserError(f"unknown build stage {unknown[0]!r}; valid: {', '.join(STAGES)}")
    raw_dir = raw_dir or config.raw_dir()
    out_dir = out_dir or config.processed_dir()
    from .provenance import verify_raw

    verify_raw(raw_dir)  # nothing is computed from raw bytes that differ from the manifest
    written: dict[str, Path] = {}
    for name in [s for s in STAGES if not stages or s in stages]:
        t0 = time.perf_counter()
        tables = STAGES[name](raw_dir, out_dir)
        for table, df in tables.items():
            written[table] = write_parquet(df, out_dir / f"{table}.parquet")
        sizes = ", ".join(f"{t} {len(df):,} rows" for t, df in tables.items())
        echo(f"build {name}: {sizes} ({time.perf_counter() - t0:.1f} s)")
    return written
