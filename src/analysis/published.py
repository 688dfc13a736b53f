"""Published lens: IT-cost figures that municipalities (or others, about them) published, harmonised.

The table is maintained in `data/mappings/published_it_costs.csv` (copied from the shared curated
compilation; one source URL per row). Definitions differ between sources (whole-municipality vs IT-unit
cost, gross vs net, contract values), so figures are kept as published, in their own units, and never
summed or compared with the other lenses by the code. Rows naming one municipality and one calendar
year enter `it_spend` (lens "published"); joint rows (several kommunkoder) and undated or multi-year
rows stay in `published_it_costs` with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from . import config
from .errors import UserError
from .io import validate

SOURCE_ID = "published_it_costs"  # data/mappings/published_it_costs.csv; URLs per row in the table
COLUMNS = [
    "municipality_name",
    "kommunkod",
    "country",
    "year",
    "measure",
    "value",
    "unit",
    "scope",
    "source_url",
    "quote",
    "confidence",
]
MEASURES = ["sek_per_inhabitant", "share_of_costs_pct", "sek_per_employee", "sek_per_workplace", "it_unit_budget_msek", "other"]

PUBLISHED_SCHEMA = pa.DataFrameSchema(
    {
        "kommunkod": pa.Column(str, pa.Check.str_matches(r"^\d{4}$"), nullable=True),
        "kommunkoder": pa.Column(str, pa.Check.str_matches(r"^\d{4}(;\d{4})*$")),
        "municipality_name": pa.Column(str),
        "year": pa.Column("Int64", nullable=True),
        "year_as_published": pa.Column(str),
        "measure": pa.Column(str, pa.Check.isin(MEASURES)),
        "value": pa.Column(float),
        "unit": pa.Column(str),
        "scope": pa.Column(str),
        "source_url": pa.Column(str, pa.Check.str_startswith("http")),
        "confidence": pa.Column(str),
        "in_it_spend": pa.Column(bool),
        "exclusion_reason": pa.Column(str, nullable=True),
    },
    strict=True,
    ordered=True,
)


def read_published(path: Path | None = None, municipalities: pd.DataFrame | None = None) -> pd.DataFrame:
    """The published figures, one row each, with kommunkod (single municipality) and an integer year when clear."""
    path = path or config.MAPPINGS_DIR / "published_it_costs.csv"
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"{path}: cannot read published figures ({exc})") from exc
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise UserError(f"{path.name}: missing column {missing[0]!r}")
    value = pd.to_numeric(raw["value"], errors="coerce")
    if value.isna().any():
        i = int(value.isna().to_numpy().argmax())
        raise UserError(f"{path.name} row {i + 2}: value {raw.at[i, 'value']!r} is not a number with a decimal point")
    if municipalities is not None:
        known = set(municipalities["kommunkod"])
        for i, codes in enumerate(raw["kommunkod"]):
            unknown = [c for c in codes.split(";") if c not in known]
            if unknown:
                raise UserError(f"{path.name} row {i + 2}: unknown kommunkod {unknown[0]!r}")
    single = ~raw["kommunkod"].str.contains(";")
    year = pd.to_numeric(raw["year"].where(raw["year"].str.fullmatch(r"\d{4}"), None), errors="coerce").astype("Int64")
    reason = pd.Series(pd.NA, index=raw.index, dtype="str")
    reason[year.isna()] = "year not a single calendar year"
    reason[~single] = "figure covers several municipalities jointly"
    df = pd.DataFrame(
        {
            "kommunkod": raw["kommunkod"].where(single, None),
            "kommunkoder": raw["kommunkod"],
            "municipality_name": raw["municipality_name"],
            "year": year,
            "year_as_published": raw["year"],
            "measure": raw["measure"],
            "value": value.astype(float),
            "unit": raw["unit"],
            "scope": raw["scope"],
            "source_url": raw["source_url"].str.split(r"\s+;\s+|\s+", regex=True).str[0],
            "confidence": raw["confidence"],
            "in_it_spend": reason.isna(),
            "exclusion_reason": reason,
        }
    )
    df = df.sort_values(["kommunkoder", "year_as_published", "measure", "unit"], ignore_index=True)
    return validate(df, PUBLISHED_SCHEMA, "published_it_costs")


def it_spend_rows(published: pd.DataFrame) -> pd.DataFrame:
    """Published rows in it_spend's long format (population columns are added by it_spend)."""
    df = published[published["in_it_spend"]]
    return pd.DataFrame(
        {
            "kommunkod": df["kommunkod"],
            "year": df["year"].astype("int64"),
            "period": df["year"].astype("int64").astype(str),
            "months_covered": 12,
            "lens": "published",
            "method": "published",
            "measure": df["measure"],
            "category": "all",
            "value": df["value"],
            "unit": df["unit"],
            "per_inhabitant": df["value"].where(df["measure"] == "sek_per_inhabitant"),
            "coverage_note": "As published: " + df["scope"] + " Confidence: " + df["confidence"],
            "source_ids": SOURCE_ID,
        }
    ).reset_index(drop=True)


def load() -> pd.DataFrame:
    """The processed published_it_costs table."""
    from .io import read_parquet

    return read_parquet(config.processed_dir() / "published_it_costs.parquet")
