"""The ledger lens of it_spend, compared value for value with tests/golden/ledger_lens.csv.

The golden file was written from the whole-ledger build (with the CPV title corrections of
cpv_review_decisions.csv, which move some vendor shares) before the ledger moved into a partitioned
store aggregated in DuckDB (issue 13): Örebro 1880 2016-03, Göteborg 1480 2016–2019 and every other
ledger figure must stay exactly what they were.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

GOLDEN = Path(__file__).parent / "golden" / "ledger_lens.csv"


def test_ledger_lens_rows_equal_golden(processed_dir):
    spend = pd.read_parquet(processed_dir / "it_spend.parquet")
    got = spend[spend["lens"] == "ledger"].reset_index(drop=True)
    want = pd.read_csv(GOLDEN, dtype={"kommunkod": str, "period": str}, keep_default_na=False, na_values=[""])
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for col in want.columns:
        g, w = got[col].astype(object).where(got[col].notna(), None), want[col].astype(object).where(want[col].notna(), None)
        if col in ("value", "per_inhabitant"):
            assert [None if x is None else float(x) for x in g] == [None if x is None else float(x) for x in w], col
        elif col in ("year", "months_covered", "population", "population_year"):
            assert [None if x is None else int(x) for x in g] == [None if x is None else int(x) for x in w], col
        else:
            assert [None if x is None else str(x) for x in g] == [None if x is None else str(x) for x in w], col
