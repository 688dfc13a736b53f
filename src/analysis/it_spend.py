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

from . import classify, config, procurement, published
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
    " Cooperation bodies' procurements attributed to members by population share."
    " Population: 31 December {year}{latest}."
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
    pop_year = procurement.population_year(population)
    latest = " (the latest year in the data)" if pop_year != procurement.YEAR else ""
    df = df.assign(
        year=procurement.YEAR,
        period=str(procurement.YEAR),
        months_covered=12,
        lens="procurement",
        method="cpv",
        coverage_note=PROCUREMENT_NOTE.format(year=pop_year, latest=latest),
        source_ids=f"{procurement.SOURCE_ID},{POPULATION_SOURCE}",
    )
    return with_population(df, population, pop_year)


LEDGER_SOURCES = {
    "orebro-ledger-2016-03": (
        "Örebro supplier ledger, one month (2016-03), not annualised; external purchases only (no salaries,"
        " internal recharges or capitalised investments); VAT basis not stated."
    ),
    "goteborg-ledger-aggregates-2016-2019": (
        "Göteborg supplier ledger aggregated per supplier and year: no accounts, so only the vendor method"
        " applies; totals include pensions, accruals and köp av huvudverksamhet; the city's own IT unit"
        " (Intraservice) is internal and not a supplier."
    ),
}


def ledger_source_notes() -> dict[str, str]:
    """LEDGER_SOURCES plus the analyst-supplied ledgers in data/local/ (their notes say so)."""
    from .local_sources import coverage_notes

    return {**LEDGER_SOURCES, **coverage_notes()}


def ledger_rows(classified: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Ledger lens rows per source, municipality and period: IT SEK by method and category, total, IT share.

    Only sources in LEDGER_SOURCES count (the Västerås file is a 2-row sample, not a ledger). A period
    is the month for a single-month ledger, else the year, with the months it covers.
    """
    notes = ledger_source_notes()
    df = classified[classified["source_id"].isin(list(notes))].copy()
    if df.empty:
        return pd.DataFrame()
    months = df.groupby(["source_id", "year"])["period"].transform(lambda s: s.dropna().nunique())
    df["months_covered"] = months.where(df["grain"] == "posting", 12).clip(lower=1).astype("int64")
    one_month = (df["months_covered"] == 1) & df["period"].notna()
    df["period_label"] = df["period"].where(one_month, df["year"].astype(str))
    keys = ["source_id", "kommunkod", "year", "period_label", "months_covered"]
    parts = []
    for method, col in (("accounts", "account_category"), ("vendors", "vendor_category")):
        usable = df.groupby(keys)["account"].transform(lambda s: s.notna().any()) if method == "accounts" else True
        sub = df[usable] if method == "accounts" else df
        if sub.empty:
            continue
        total = sub.groupby(keys, as_index=False)["amount_ore"].sum()
        it = sub[sub[col] != classify.NOT_IT]
        by_cat = it.groupby(keys + [col], as_index=False)["amount_ore"].sum().rename(columns={col: "category"})
        grid = total[keys].merge(pd.DataFrame({"category": list(classify.IT_CATEGORIES)}), how="cross")
        by_cat = grid.merge(by_cat, on=keys + ["category"], how="left").fillna({"amount_ore": 0})
        all_it = by_cat.groupby(keys, as_index=False)["amount_ore"].sum().assign(category="all")
        spend = pd.concat([all_it, by_cat], ignore_index=True).assign(measure="it_spend_sek", unit="SEK")
        spend["value"] = spend["amount_ore"] / 100
        tot = total.assign(measure="ledger_total_sek", category="all", unit="SEK", value=total["amount_ore"] / 100)
        share = all_it.merge(total, on=keys, suffixes=("", "_total"))
        share = share.assign(
            measure="it_share_of_ledger_pct",
            category="all",
            unit="percent",
            value=100 * share["amount_ore"] / share["amount_ore_total"],
        )
        parts.append(pd.concat([spend, tot, share], ignore_index=True).assign(method=method))
    out = pd.concat(parts, ignore_index=True)
    out = out.assign(
        lens="ledger",
        period=out["period_label"],
        coverage_note=out["source_id"].map(notes)
        + " Per inhabitant: population on 31 December of the same year.",
        source_ids=out["source_id"] + "," + POPULATION_SOURCE,
    )
    return with_population(out, population, out["year"])


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

    classified, review, agreement = classify.classify_ledger(read_parquet(out_dir / "ledger.parquet"))
    rows.append(ledger_rows(classified, population))
    tables["vendor_match_review"] = review
    tables["classifier_agreement"] = agreement[agreement["source_id"].isin(list(ledger_source_notes()))].reset_index(drop=True)

    pub = published.read_published(municipalities=municipalities)
    tables["published_it_costs"] = pub
    pub_rows = published.it_spend_rows(pub)
    rows.append(with_population(pub_rows, population, pub_rows["year"]).assign(per_inhabitant=pub_rows["per_inhabitant"]))
    tables["it_spend"] = finish(rows)
    return tables


def load(lens: str | None = None) -> pd.DataFrame:
    """The processed it_spend table (optionally one lens) for notebooks."""
    df = read_parquet(config.processed_dir() / "it_spend.parquet")
    return df if lens is None else df[df["lens"] == lens].reset_index(drop=True)


def load_table(name: str) -> pd.DataFrame:
    """Any helper table of this stage by name (procurement_it, classifier_agreement, vendor_match_review, …)."""
    return read_parquet(config.processed_dir() / f"{name}.parquet")


def summary(out_dir: Path | None = None) -> dict:
    """Headline figures of the stage, rounded, for the reviewed golden file tests/golden/it_spend_summary.json."""
    out_dir = out_dir or config.processed_dir()
    spend = read_parquet(out_dir / "it_spend.parquet")
    agreement = read_parquet(out_dir / "classifier_agreement.parquet")
    proc = read_parquet(out_dir / "procurement_it.parquet")
    dup = read_parquet(out_dir / "procurement_duplicates.parquet")
    mism = read_parquet(out_dir / "procurement_buyer_mismatches.parquet")
    companies = read_parquet(out_dir / "municipal_companies_it.parquet")

    def pick(lens, method, kommunkod, measure, period=None):
        sel = spend[
            (spend["lens"] == lens)
            & (spend["method"] == method)
            & (spend["kommunkod"] == kommunkod)
            & (spend["measure"] == measure)
            & (spend["category"] == "all")
        ]
        if period is not None:
            sel = sel[sel["period"] == period]
        return sel

    orebro = {}
    for method in ("accounts", "vendors"):
        row = pick("ledger", method, "1880", "it_spend_sek", "2016-03").iloc[0]
        share = pick("ledger", method, "1880", "it_share_of_ledger_pct", "2016-03").iloc[0]
        orebro[method] = {
            "it_spend_sek": round(float(row["value"]), 2),
            "it_share_pct": round(float(share["value"]), 3),
            "per_inhabitant_one_month": round(float(row["per_inhabitant"]), 2),
        }
    a = agreement[agreement["kommunkod"] == "1880"].iloc[0]
    orebro["agreement_share"] = round(float(a["agreement_share"]), 4)
    orebro["category_agreement_share"] = round(float(a["category_agreement_share"]), 4)

    gbg = pick("ledger", "vendors", "1480", "it_spend_sek").sort_values("period")
    goteborg = {
        p: {"it_spend_sek": round(float(v), 2), "per_inhabitant": round(float(pi), 2)}
        for p, v, pi in zip(gbg["period"], gbg["value"], gbg["per_inhabitant"])
    }

    own = proc[proc["buyer_kind"] == "municipality"]
    attributed = proc[proc["kommunkod"].notna()]
    procurement_summary = {
        "municipalities_with_own_it_procurement": int(own["kommunkod"].nunique()),
        "municipalities_with_it_procurement_incl_cooperations": int(attributed["kommunkod"].nunique()),
        "municipalities_with_buyer_record": len(proc.attrs.get("municipal_buyers", [])),
        "own_it_procurements": int(own.drop_duplicates(["procurement_id", "buyer_orgnr"]).shape[0]),
        "own_it_frameworks": int(own.drop_duplicates(["procurement_id", "buyer_orgnr"])["is_framework"].sum()),
        "it_contracted_value_sek_own": round(float(own["contracted_value_sek"].sum()), 2),
        "it_contracted_value_sek_attributed_cooperations": round(
            float(attributed.loc[attributed["buyer_kind"] != "municipality", "contracted_value_sek"].sum()), 2
        ),
        "it_contracted_value_sek_unattributed_cooperations": round(
            float(proc.loc[proc["kommunkod"].isna(), "contracted_value_sek"].sum()), 2
        ),
        "rows_by_buyer_kind": {k: int(v) for k, v in proc["buyer_kind"].value_counts().sort_index().items()},
        "buyer_orgnr_mismatches": sorted(mism["buyer_orgnr"].tolist()),
        "duplicates_by_issue": {k: int(v) for k, v in dup["issue"].value_counts().sort_index().items()},
        "municipal_company_it_procurements": len(companies),
    }
    return {
        "orebro_2016_03": orebro,
        "goteborg_vendors": goteborg,
        "procurement_2021": procurement_summary,
        "published_rows": int((spend["lens"] == "published").sum()),
    }
