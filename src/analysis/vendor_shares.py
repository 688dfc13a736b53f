"""IT share per supplier, learned from data (docs/it-spend.md, "Vendor IT shares").

Evidence, in order of precedence:
1. reviewed: `it_share` filled in `data/mappings/it_vendors.csv` (a person's override, with its reason);
2. ledger accounts: the account-classified IT SEK of a supplier ÷ its total SEK in the ledgers that have
   accounts (needs a net total ≥ MIN_LEDGER_SEK);
3. procurement 2021: the lots a supplier won whose main CPV is IT (`procurement.cpv_category`) ÷ all
   lots it won (needs ≥ MIN_LOTS lots).
A listed vendor with too little evidence counts whole (1.0), as the reviewed list said before shares
were learned. A learned share below MIN_SHARE counts as 0 (IT incidental to the supplier). Procurement names carry no
orgnr: they are resolved to a listed vendor or a ledger supplier by clear-winner fuzzy matching
(`classify.match_vendor_names`), otherwise they stay a name-only supplier.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from . import classify, procurement
from .io import validate

MIN_LEDGER_SEK = 50_000.0
MIN_LOTS = 3
MIN_SHARE = 0.25
COL_SUPPLIER = "Namn för leverantör"
DECISIONS = ("reviewed", "ledger", "procurement", "listed", "below_min_share", "too_little_evidence")
LISTED_SOURCE = "listed in it_vendors.csv, too little data evidence: counted whole"

SHARES_SCHEMA = pa.DataFrameSchema(
    {
        "identity": pa.Column(str, unique=True),
        "orgnr": pa.Column(str, pa.Check.str_matches(r"^(\d{6}-\d{4})?$")),
        "canonical_name": pa.Column(str),
        "it_category": pa.Column(str, pa.Check.isin(list(classify.CATEGORIES))),
        "it_share": pa.Column(float, pa.Check.in_range(0, 1)),
        "decision": pa.Column(str, pa.Check.isin(list(DECISIONS))),
        "share_source": pa.Column(str),
        "listed": pa.Column(bool),
        "ledger_it_sek": pa.Column(float),
        "ledger_total_sek": pa.Column(float),
        "ledger_postings": pa.Column("int64"),
        "ledger_evidence": pa.Column(str),
        "lots_it": pa.Column("int64"),
        "lots_total": pa.Column("int64"),
        "procurement_names": pa.Column(str),
    },
    strict=True,
    ordered=True,
)


def _identity(orgnr, name) -> str:
    return orgnr if isinstance(orgnr, str) and orgnr else "name:" + classify.normalise_supplier_name(name)


def _top_category(df: pd.DataFrame, key: str, cat: str, weight: str) -> pd.Series:
    """Per key the IT category with the largest weight (ties: IT_CATEGORIES order)."""
    it = df[df[cat] != classify.NOT_IT]
    w = it.groupby([key, cat])[weight].sum().reset_index()
    w["order"] = w[cat].map({c: i for i, c in enumerate(classify.IT_CATEGORIES)})
    w = w.sort_values([key, weight, "order"], ascending=[True, False, True])
    return w.drop_duplicates(key).set_index(key)[cat]


def ledger_evidence(classified: pd.DataFrame) -> pd.DataFrame:
    """Per supplier (orgnr, else normalised name) of account-classified postings: IT SEK, total SEK, postings."""
    df = classified[(classified["grain"] == "posting") & classified["account"].notna()].copy()
    cols = ["identity", "orgnr", "name", "ledger_it_sek", "ledger_total_sek", "ledger_postings", "ledger_category", "ledger_evidence"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["identity"] = [_identity(o, n) for o, n in zip(df["supplier_orgnr"], df["supplier_name"])]
    df["it_sek"] = df["amount_sek"].where(df["account_category"] != classify.NOT_IT, 0.0)
    df["n"] = df["rows"].astype("int64") if "rows" in df else 1  # ledger_lens groups count their postings
    df["label"] = df["kommunkod"] + " " + df["period"].fillna(df["year"].astype(str))
    df["name"] = df["supplier_name"].str.strip()
    g = df.sort_values(["identity", "name"]).groupby("identity")
    out = g.agg(
        orgnr=("supplier_orgnr", "first"),
        name=("name", "first"),
        ledger_it_sek=("it_sek", "sum"),
        ledger_total_sek=("amount_sek", "sum"),
        ledger_postings=("n", "sum"),
        labels=("label", lambda s: ", ".join(sorted(set(s)))),
    ).reset_index()
    out["orgnr"] = out["orgnr"].fillna("")
    out["ledger_category"] = out["identity"].map(_top_category(df, "identity", "account_category", "it_sek"))
    out["ledger_evidence"] = [
        f"ledger accounts {lab}: {it:,.0f} of {tot:,.0f} SEK"
        for lab, it, tot in zip(out["labels"], out["ledger_it_sek"], out["ledger_total_sek"])
    ]
    return out[cols]


def procurement_evidence(suppliers: pd.DataFrame) -> pd.DataFrame:
    """Per normalised supplier name in the lots × suppliers table: IT lots, all lots, top CPV category."""
    df = pd.DataFrame({"raw": suppliers[COL_SUPPLIER].astype(str).str.strip(), "cpv": suppliers[procurement.COL_CPV].astype(str).str[:8]})
    df["key"] = df["raw"].map(classify.normalise_supplier_name)
    df = df[df["key"] != ""]
    df["category"] = [procurement.cpv_category(c) or classify.NOT_IT for c in df["cpv"]]
    df["is_it"] = (df["category"] != classify.NOT_IT).astype("int64")
    df["one"] = 1
    g = df.sort_values(["key", "raw"]).groupby("key")
    out = g.agg(
        name=("raw", "first"),
        names=("raw", lambda s: "; ".join(sorted(set(s)))),
        lots_it=("is_it", "sum"),
        lots_total=("one", "sum"),
    ).reset_index()
    out["proc_category"] = out["key"].map(_top_category(df, "key", "category", "one"))
    return out


def _resolve(proc: pd.DataFrame, known: pd.DataFrame) -> pd.Series:
    """Identity of each procurement supplier: a known vendor or ledger supplier on a clear fuzzy win, else its name."""
    matches = classify.match_vendor_names(proc["name"], known)
    accepted = matches[matches["decision"] == "accepted"].set_index("supplier_name")["best_vendor"]
    by_name = known.drop_duplicates("canonical_name").set_index("canonical_name")["identity"]
    ident = proc["name"].map(accepted).map(by_name)
    return ident.fillna("name:" + proc["key"])


def learn_shares(ledger_ev: pd.DataFrame, proc_ev: pd.DataFrame, vendors: pd.DataFrame) -> pd.DataFrame:
    """One row per supplier identity with an IT share, its decision and evidence (SHARES_SCHEMA)."""
    vendors = vendors.assign(identity=[_identity(o, n) for o, n in zip(vendors["orgnr"], vendors["canonical_name"])])
    known = pd.concat(
        [
            vendors[["identity", "orgnr", "canonical_name"]],
            ledger_ev.rename(columns={"name": "canonical_name"})[["identity", "orgnr", "canonical_name"]],
        ],
        ignore_index=True,
    )
    proc = proc_ev.copy()
    proc["identity"] = _resolve(proc, known) if len(proc) else pd.Series(dtype=str)
    proc_by_id = proc.sort_values(["identity", "lots_total", "key"], ascending=[True, False, True]).groupby("identity").agg(
        proc_name=("name", "first"),
        procurement_names=("names", lambda s: "; ".join(s)),
        lots_it=("lots_it", "sum"),
        lots_total=("lots_total", "sum"),
        proc_category=("proc_category", "first"),
    )
    listed = vendors.drop_duplicates("identity").set_index("identity")
    led = ledger_ev.set_index("identity")
    ids = sorted(set(listed.index) | set(led.index[led["ledger_it_sek"] > 0]) | set(proc_by_id.index[proc_by_id["lots_it"] > 0]))
    out = pd.DataFrame({"identity": ids}).set_index("identity")
    out = out.join(listed[["orgnr", "canonical_name", "it_category", "it_share", "share_source"]])
    out = out.join(led.rename(columns={"orgnr": "ledger_orgnr"})).join(proc_by_id)
    out["listed"] = out["canonical_name"].notna()
    out["orgnr"] = out["orgnr"].fillna(out["ledger_orgnr"]).fillna("")
    out["canonical_name"] = out["canonical_name"].fillna(out["name"]).fillna(out["proc_name"])
    for col in ("ledger_it_sek", "ledger_total_sek"):
        out[col] = out[col].fillna(0.0).astype(float)
    for col in ("ledger_postings", "lots_it", "lots_total"):
        out[col] = out[col].fillna(0).astype("int64")
    out["ledger_evidence"] = out["ledger_evidence"].fillna("")
    out["procurement_names"] = out["procurement_names"].fillna("")

    reviewed = out["it_share"].fillna("") != ""
    ledger_ok = ~reviewed & (out["ledger_total_sek"] >= MIN_LEDGER_SEK)
    proc_ok = ~reviewed & ~ledger_ok & (out["lots_total"] >= MIN_LOTS)
    share = pd.Series(np.nan, index=out.index)
    share[reviewed] = out.loc[reviewed, "it_share"].astype(float)
    share[ledger_ok] = (out.loc[ledger_ok, "ledger_it_sek"] / out.loc[ledger_ok, "ledger_total_sek"]).clip(0, 1)
    share[proc_ok] = out.loc[proc_ok, "lots_it"] / out.loc[proc_ok, "lots_total"]
    listed_only = out["listed"] & ~reviewed & ~ledger_ok & ~proc_ok
    share[listed_only] = 1.0
    decision = np.select(
        [reviewed, ledger_ok, proc_ok, listed_only], ["reviewed", "ledger", "procurement", "listed"], "too_little_evidence"
    )
    proc_text = [f"procurement 2021: {i} of {n} lots IT" if n else "" for i, n in zip(out["lots_it"], out["lots_total"])]
    thin = [" / ".join(filter(None, [le, pt])) or "no evidence" for le, pt in zip(out["ledger_evidence"], proc_text)]
    thin = pd.Series(thin, index=out.index)
    source = np.select(
        [reviewed, ledger_ok, proc_ok, listed_only],
        [out["share_source"].fillna(""), out["ledger_evidence"], pd.Series(proc_text, index=out.index), LISTED_SOURCE + " (" + thin + ")"],
        thin,
    )
    low = np.isin(decision, ["ledger", "procurement"]) & (share < MIN_SHARE)
    out["decision"] = np.where(low, "below_min_share", decision)
    out["it_share"] = share.where(~low & share.notna(), 0.0).astype(float)
    out["share_source"] = source
    category = out["it_category"].where(out["listed"])
    category = category.fillna(out["ledger_category"].where(ledger_ok)).fillna(out["proc_category"])
    out["it_category"] = category.fillna(out["ledger_category"]).fillna(classify.NOT_IT)
    out = out.reset_index().sort_values(["it_share", "identity"], ascending=[False, True], ignore_index=True)
    return validate(out[list(SHARES_SCHEMA.columns)], SHARES_SCHEMA, "vendor_it_shares")


def vendor_entries(shares: pd.DataFrame, vendors: pd.DataFrame) -> pd.DataFrame:
    """Names to match ledger rows against: every counted identity under its canonical name and its listed names."""
    counted = shares[shares["it_share"] > 0].set_index("identity")
    listed = vendors.assign(identity=[_identity(o, n) for o, n in zip(vendors["orgnr"], vendors["canonical_name"])])
    names = pd.concat(
        [counted.reset_index()[["identity", "canonical_name"]], listed[["identity", "canonical_name"]]], ignore_index=True
    )
    names = names[names["identity"].isin(counted.index)].drop_duplicates("canonical_name")
    out = names.assign(
        orgnr=names["identity"].map(counted["orgnr"]),
        it_category=names["identity"].map(counted["it_category"]),
        it_share=names["identity"].map(counted["it_share"]).astype(float),
    )
    return out[["identity", "orgnr", "canonical_name", "it_category", "it_share"]].reset_index(drop=True)
