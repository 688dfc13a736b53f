"""The it_spend stage: IT spend per inhabitant through three lenses, in one long table.

Lenses (docs/it-spend.md): `ledger` (supplier ledgers, classified by accounts and by vendors),
`procurement` (advertised IT procurement 2021, by main CPV) and `published` (figures municipalities
published themselves). Per-inhabitant figures use SCB population on 31 December of the matching year;
2021 procurement uses 2020 population, the latest year in the data. Partial periods (Örebro 2016-03)
keep their period and `months_covered` and are never annualised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from . import config, procurement
from .io import read_parquet, validate

LENSES = ("ledger", "procurement", "published")
METHODS = ("accounts", "vendors", "cpv", "published")
POPULATION_SOURCE = "scb-population-1950-2020"

IT_SPEND_SCHEMA = pa.DataFrameSchema(
    {
        "kommunkod": pa.Column(str, pa.Check.str_matches(r"^\d{4}$")),
        "year": pa.Column("int64", pa.Check.in_range(1990, 2100)),
        "period": pa.Column(str, pa.Check.str_matches(r"^\d{4}(-\d{2})?$")),
        "months_covered": pa.Column("int64", pa.Check.in_range(1, 12)),
        "lens": pa.Column(str, pa.Check.isin(list(LENSES))),
        "method": pa.Column(str, pa.Check.isin(list(METHODS))),
        "measure": pa.Column(str),
        "category": pa.Column(str),
        "value": pa.Column(float, nullable=True),
        "unit": pa.Column(str),
        "per_inhabitant": pa.Column(float, nullable=True),
        "population": pa.Column("Int64", nullable=True),
        "population_year": pa.Column("Int64", nullable=True),
        "coverage_note": pa.Column(str),
        "source_ids": pa.Column(str),
    },
    unique=["kommunkod", "period", "lens", "method", "measure", "category", "unit"],
    strict=True,
    ordered=True,
)

PROCUREMENT_NOTE = (
    "Advertised IT procurement 2021 (main CPV 30, 32, 48, 72, 642): whole-term contracted value incl."
    " options, frameworks at their maximum; direct awards and call-offs not included. Activity, not spend."
    " Cooperation bodies' procurements attributed to members by 2020 population share."
    " Per inhabitant uses population on 31 December 2020 (latest in the data)."
)


def with_population(df: pd.DataFrame, population: pd.DataFrame, population_year: pd.Series | int) -> pd.DataFrame:
    """Add population (31 December of population_year), population_year and per_inhabitant (value / population)."""
    df = df.copy()
    df["population_year"] = population_year if np.ndim(population_year) else int(population_year)
    pop = population.set_index(["kommunkod", "year"])["population"]
    keys = pd.MultiIndex.from_arrays([df["kommunkod"], df["population_year"].astype("int64")])
    df["population"] = pd.array(pop.reindex(keys).to_numpy(), dtype="Int64")
    df["population_year"] = df["population_year"].astype("Int64")
    per_inh = df["value"] / df["population"].astype(float)
    df["per_inhabitant"] = per_inh.where(df["unit"] == "SEK")
    return df


def procurement_rows(procurement_it: pd.DataFrame, municipalities: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Procurement lens rows: count and value per municipality (all 290), overall and per category."""
    totals = procurement.municipal_totals(procurement_it, municipalities)
    parts = [
        totals.assign(measure="it_procurements_count", category="all", value=totals["it_procurements_count"], unit="count"),
        totals.assign(measure="it_contracted_value_sek", category="all", value=totals["it_contracted_value_sek"], unit="SEK"),
    ]
    attributed = procurement_it[procurement_it["kommunkod"].notna()]
    by_cat = attributed.groupby(["kommunkod", "category"], as_index=False)["contracted_value_sek"].sum()
    grid = pd.MultiIndex.from_product(
        [municipalities["kommunkod"], sorted(set(procurement.CPV_CATEGORIES.values()))], names=["kommunkod", "category"]
    ).to_frame(index=False)
    by_cat = grid.merge(by_cat, on=["kommunkod", "category"], how="left").fillna({"contracted_value_sek": 0.0})
    parts.append(by_cat.assign(measure="it_contracted_value_sek", value=by_cat["contracted_value_sek"], unit="SEK"))
    df = pd.concat([p[["kommunkod", "measure", "category", "value", "unit"]] for p in parts], ignore_index=True)
    df = df.assign(
        year=procurement.YEAR,
        period=str(procurement.YEAR),
        months_covered=12,
        lens="procurement",
        method="cpv",
        coverage_note=PROCUREMENT_NOTE,
        source_ids=f"{procurement.SOURCE_ID},{POPULATION_SOURCE}",
    )
    return with_population(df, population, procurement.POPULATION_YEAR)


def finish(rows: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate lens rows into the validated, sorted it_spend table."""
    df = pd.concat(rows, ignore_index=True)
    df = df.astype({"year": "int64", "months_covered": "int64", "value": float, "per_inhabitant": float})
    df = df[list(IT_SPEND_SCHEMA.columns)].sort_values(
        ["lens", "method", "kommunkod", "period", "measure", "category", "unit"], ignore_index=True
    )
    return validate(df, IT_SPEND_SCHEMA, "it_spend")


def it_spend_stage(raw_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    """Build stage "it_spend": procurement, ledger and published lenses plus their helper tables."""
    municipalities = read_parquet(out_dir / "municipalities.parquet")
    population = read_parquet(out_dir / "population.parquet")
    tables = procurement.procurement_stage_tables(raw_dir, out_dir)
    rows = [procurement_rows(tables["procurement_it"], municipalities, population)]
    tables["it_spend"] = finish(rows)
    return tables


def load(lens: str | None = None) -> pd.DataFrame:
    """The processed it_spend table (optionally one lens) for notebooks."""
    df = read_parquet(config.processed_dir() / "it_spend.parquet")
    return df if lens is None else df[df["lens"] == lens].reset_index(drop=True)


def load_table(name: str) -> pd.DataFrame:
    """Any helper table of this stage by name (procurement_it, classifier_agreement, vendor_match_review, …)."""
    return read_parquet(config.processed_dir() / f"{name}.parquet")
