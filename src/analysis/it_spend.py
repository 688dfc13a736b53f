"""The it_spend stage: IT spend per inhabitant through three lenses, in one long table.

Lenses (docs/it-spend.md): `ledger` (supplier ledgers, classified by accounts and by vendors),
`procurement` (advertised IT procurement 2021, by main CPV) and `published` (figures municipalities
published themselves). Per-inhabitant figures use the population on 31 December of the matching year
(2021 procurement per 2021 inhabitants). Partial periods (Örebro 2016-03) keep their period and
`months_covered` and are never annualised. `value_state` tells a value ("reported") from "IT procurement
advertised, value not reported" ("not_reported", value null) and "no IT procurement advertised" ("none",
value 0).
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
VALUE_STATES = ("reported", "not_reported", "none")

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
        "value_state": pa.Column(str, pa.Check.isin(VALUE_STATES)),
        "unit": pa.Column(str),
        "per_inhabitant": pa.Column(float, nullable=True),
        "population": pa.Column("Int64", nullable=True),
        "population_year": pa.Column("Int64", nullable=True),
        "coverage_note": pa.Column(str),
        "source_ids": pa.Column(str),
    },
    checks=[
        pa.Check(lambda df: (df["value_state"] == "not_reported") == df["value"].isna(),
                 error="value is null exactly when it is not reported"),
        pa.Check(lambda df: (df["value_state"] != "none") | (df["value"] == 0), error="'none' has value 0"),
    ],
    unique=["kommunkod", "period", "lens", "method", "measure", "category", "unit"],
    strict=True,
    ordered=True,
)

PROCUREMENT_NOTE = (
    "Advertised IT procurement 2021, IT decided by main CPV group/class (data/mappings/cpv_it.csv):"
    " whole-term contracted value of contracts incl. options; framework-agreement ceilings kept apart;"
    " values of at most {placeholder:,.0f} SEK count as not reported; direct awards and call-offs not"
    " included. Activity, not spend. Cooperation bodies' procurements attributed to members by population"
    " share. Population: 31 December {year}{latest}."
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


def population_source(population: pd.DataFrame, year: int) -> str:
    """The raw source id of the population figures of `year`."""
    from .reference import population_sources

    return population_sources(population).get(int(year), "")


def _state_rows(totals: pd.DataFrame, measure: str, value: str, state: str) -> pd.DataFrame:
    """Long rows of one totals column: value 0 for "none", null for "not_reported"."""
    v = totals[value].where(totals[state] != "none", 0.0)
    return totals.assign(measure=measure, category="all", value=v, value_state=totals[state], unit="SEK")


def procurement_rows(procurement_it: pd.DataFrame, municipalities: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Procurement lens rows per municipality (all 290): contracts and framework ceilings apart, each with its state.

    Measures: it_contract_value_sek (the headline: contracts, framework ceilings excluded; overall and
    per IT category), it_framework_ceiling_sek, it_contracts_count, it_frameworks_count and
    it_unvalued_count (IT procurements, contracts or frameworks, advertised without a reported value).
    """
    totals = procurement.municipal_totals(procurement_it, municipalities)
    parts = [
        _state_rows(totals, "it_contract_value_sek", "it_contract_value_sek", "value_state"),
        _state_rows(totals, "it_framework_ceiling_sek", "it_framework_ceiling_sek", "framework_state"),
    ]
    for measure, col in (("it_contracts_count", "it_procurements_count"), ("it_frameworks_count", "it_frameworks_count")):
        parts.append(totals.assign(measure=measure, category="all", value=totals[col], value_state=np.where(
            totals[col] > 0, "reported", "none"), unit="count"))
    unvalued = totals["unvalued_count"] + procurement_it[
        procurement_it["kommunkod"].notna() & procurement_it["is_framework"] & ~procurement_it["has_value"]
    ].groupby("kommunkod")["attribution_share"].sum().reindex(totals["kommunkod"]).fillna(0.0).to_numpy()
    parts.append(totals.assign(measure="it_unvalued_count", category="all", value=unvalued,
                               value_state=np.where(unvalued > 0, "reported", "none"), unit="count"))
    contracts = procurement_it[procurement_it["kommunkod"].notna() & ~procurement_it["is_framework"]]
    by_cat = contracts.groupby(["kommunkod", "category"]).agg(
        value=("contracted_value_sek", lambda s: s.sum(min_count=1)), n=("attribution_share", "size"))
    grid = pd.MultiIndex.from_product(
        [municipalities["kommunkod"], list(classify.IT_CATEGORIES)], names=["kommunkod", "category"]
    ).to_frame(index=False)
    by_cat = grid.merge(by_cat.reset_index(), on=["kommunkod", "category"], how="left")
    by_cat["value_state"] = np.where(by_cat["value"].notna(), "reported", np.where(by_cat["n"] > 0, "not_reported", "none"))
    by_cat["value"] = by_cat["value"].where(by_cat["value_state"] != "none", 0.0)
    parts.append(by_cat.assign(measure="it_contract_value_sek", unit="SEK"))
    df = pd.concat([p[["kommunkod", "measure", "category", "value", "value_state", "unit"]] for p in parts], ignore_index=True)
    pop_year = procurement.population_year(population)
    latest = " (the latest year in the data)" if pop_year != procurement.YEAR else ""
    df = df.assign(
        year=procurement.YEAR,
        period=str(procurement.YEAR),
        months_covered=12,
        lens="procurement",
        method="cpv",
        coverage_note=PROCUREMENT_NOTE.format(year=pop_year, latest=latest, placeholder=procurement.PLACEHOLDER_MAX_SEK),
        source_ids=f"{procurement.SOURCE_ID},{population_source(population, pop_year)}",
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
    """LEDGER_SOURCES plus the ledgers `refresh ledgers` fetched and the analyst-supplied ledgers in
    data/local/ (their notes say so)."""
    from .local_sources import coverage_notes
    from .sources import ledger_portals

    return {**LEDGER_SOURCES, **ledger_portals.coverage_notes(), **coverage_notes()}


def ledger_rows(classified: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Ledger lens rows per source, municipality and period: IT SEK by method and category, total, IT share.

    Only sources in LEDGER_SOURCES and analyst-supplied ledgers count (ledger_source_notes; the Västerås
    file is a 2-row sample, not a ledger); vendor shares are learned from LEDGER_SOURCES only. A period
    is the month for a single-month ledger, else the year, with the months it covers. The vendor method
    counts each row's `vendor_it_share` × amount as IT.
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
    df["accounts_weight"] = (df["account_category"] != classify.NOT_IT).astype(float)
    df["vendors_weight"] = df["vendor_it_share"].astype(float).where(df["vendor_category"] != classify.NOT_IT, 0.0)
    for method, col in (("accounts", "account_category"), ("vendors", "vendor_category")):
        usable = df.groupby(keys)["account"].transform(lambda s: s.notna().any()) if method == "accounts" else True
        sub = df[usable] if method == "accounts" else df
        if sub.empty:
            continue
        total = sub.groupby(keys, as_index=False)["amount_ore"].sum()
        it = sub[sub[f"{method}_weight"] > 0].assign(amount_ore=lambda d: d["amount_ore"] * d[f"{method}_weight"])
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
        source_ids=out["source_id"] + "," + out["year"].map(lambda y: population_source(population, y)),
        value_state="reported",
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

    classified, review, agreement, shares = classify.classify_ledger(
        read_parquet(out_dir / "ledger_lens.parquet"),  # DuckDB aggregates of the store, never the postings
        suppliers=procurement.read_raw(raw_dir)["suppliers"],
        learn_sources=list(LEDGER_SOURCES),
    )
    rows.append(ledger_rows(classified, population))
    tables["vendor_it_shares"] = shares
    tables["vendor_match_review"] = review
    tables["classifier_agreement"] = agreement[agreement["source_id"].isin(list(ledger_source_notes()))].reset_index(drop=True)

    pub = published.read_published(municipalities=municipalities)
    tables["published_it_costs"] = pub
    pub_rows = published.it_spend_rows(pub)
    pub_rows["value_state"] = np.where(pub_rows["value"].isna(), "not_reported", "reported")
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
    orebro["vendors_to_accounts_in_sample"] = round(float(a["vendors_to_accounts"]), 4)
    orebro["vendors_out_of_sample_it_spend_sek"] = round(float(a["it_sek_vendors_out_of_sample"]), 2)
    orebro["vendors_to_accounts_out_of_sample"] = round(float(a["vendors_to_accounts_out_of_sample"]), 4)

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
        "it_contract_value_sek_own": round(float(own.loc[~own["is_framework"], "contracted_value_sek"].sum()), 2),
        "it_framework_ceiling_sek_own": round(float(own.loc[own["is_framework"], "contracted_value_sek"].sum()), 2),
        "it_value_sek_attributed_cooperations": round(
            float(attributed.loc[attributed["buyer_kind"] != "municipality", "contracted_value_sek"].sum()), 2
        ),
        "it_value_sek_unattributed_cooperations": round(
            float(proc.loc[proc["kommunkod"].isna(), "contracted_value_sek"].sum()), 2
        ),
        "own_procurements_by_value_state": {
            k: int(v) for k, v in own.drop_duplicates(["procurement_id", "buyer_orgnr"])["value_state"].value_counts().sort_index().items()
        },
        "municipalities_by_value_state": {
            k: int(v) for k, v in spend[(spend["lens"] == "procurement") & (spend["measure"] == "it_contract_value_sek")
                                        & (spend["category"] == "all")]["value_state"].value_counts().sort_index().items()
        },
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
