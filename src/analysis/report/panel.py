"""Report content for the multi-year procurement lens and the before/after-joining stage.

Used by notebook 07 (before and after joining), and by the end cells of notebooks 03 (national series and
red flags over time) and 06 (one municipality's series). Every number is computed here from the processed
tables `procurement_panel`, `ted_awards_se`, `before_after_summary`, `before_after_estimates` and
`before_after_joiners`; a table that has not been built gives an empty frame and the notebook says so.

Red flags over time (documented parameters):
- **a year far above the municipality's own usual level**: per measure, log(1 + value) minus that
  year's national median (so a nationwide jump flags no one), then a robust z-score over the
  municipality's own years: (x − median) / (1.4826 · MAD). A year with z ≥ `RED_FLAG_Z` (default 3.5,
  the usual outlier cut for robust z-scores) is flagged; needs `MIN_YEARS` (4) observed years, and a
  MAD of 0 is replaced by 0.1 log points so one odd year in a flat series still shows.
- **IT value concentrated on one supplier**: from `procurement_supplier_values` (UHM suppliers table, a
  contract's value split equally among its named suppliers; TED award winners), a municipality-year whose
  largest supplier holds ≥ `CONCENTRATION_SHARE` (default 0.8) of ≥ `CONCENTRATION_MIN_SEK` (5 MSEK) of IT
  contract value, per source, over at least `CONCENTRATION_MIN_CONTRACTS` (3) supplier-contract pairs.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import config
from ..io import read_parquet
from . import i18n
from .i18n import bilingual, t

RED_FLAG_Z = 3.5
MIN_YEARS = 4
MAD_FLOOR = 0.1
CONCENTRATION_SHARE = 0.8
CONCENTRATION_MIN_SEK = 5_000_000.0
CONCENTRATION_MIN_CONTRACTS = 3  # supplier-contract pairs in the year: with one contract, 100 % is no signal
SERIES_MEASURES = ("tenders_all", "procurements_all", "it_procurements", "ted_it_procurements")
MEASURE_LABELS = {
    "tenders_all": "Advertised tenders, all kinds (BDF)",
    "procurements_all": "Advertised procurements, all kinds (UHM)",
    "it_procurements": "Advertised IT procurements (UHM)",
    "it_contracted_value_sek": "Advertised IT contracts, value SEK (UHM)",
    "ted_it_procurements": "IT procurements above EU thresholds (TED)",
    "ted_it_value_sek": "IT award value above EU thresholds, SEK (TED)",
}


def _load(table: str) -> pd.DataFrame:
    path = config.processed_dir() / f"{table}.parquet"
    return read_parquet(path) if path.exists() else pd.DataFrame()


def panel() -> pd.DataFrame:
    return _load("procurement_panel")


# ---------------------------------------------------------------- before / after joining


def summary(outcome: str) -> pd.Series | None:
    s = _load("before_after_summary")
    if s.empty or outcome not in set(s["outcome"]):
        return None
    return s.set_index("outcome").loc[outcome]


@bilingual
def findings(outcome: str, *, lang: str) -> list[str]:
    """Key findings: the verdict, the data behind it, who counts as a joiner."""
    from ..event_study import verdict  # statsmodels: imported only by the report that needs it

    s = summary(outcome)
    if s is None:
        return [t("before_after.no_result", lang, outcome=outcome)]
    s = s.copy()
    s["outcome"] = outcome
    j = joiners()
    status = j["status"].value_counts() if len(j) else pd.Series(dtype=int)
    out = [
        verdict(s, lang),
        t("before_after.outcome", lang, scope=i18n.value("before_after_outcome", outcome, lang), years=s["years"],
          n=int(s["n_municipalities"]), obs=i18n.integer(s["n_obs"], lang)),
        t("before_after.joiners", lang, joiners=int(status.get("joiner", 0)),
          unknown=int(status.get("start_unknown", 0)), ambiguous=int(status.get("ambiguous", 0))),
    ]
    if not s["too_few"] and pd.notna(s["placebo_p_value"]):
        out.append(t("before_after.placebo", lang, p=i18n.p_value(s["placebo_p_value"], lang),
                     draws=int(s["n_simulations"]), rate=i18n.number(s["placebo_rejection_rate"] * 100, lang, 0)))
    return out


def estimates(outcome: str) -> pd.DataFrame:
    e = _load("before_after_estimates")
    if e.empty:
        return e
    e = e[e["outcome"] == outcome].copy()
    e["change_pct"] = (np.exp(e["estimate"]) - 1) * 100
    e["ci_low_pct"] = (np.exp(e["ci_low"]) - 1) * 100
    e["ci_high_pct"] = (np.exp(e["ci_high"]) - 1) * 100
    cols = ["model", "term", "is_lead", "estimate", "std_error", "ci_low", "ci_high", "p_value", "change_pct",
            "ci_low_pct", "ci_high_pct", "n_obs", "n_municipalities"]
    return e[cols].reset_index(drop=True)


def event_study_figure(outcome: str):
    """Event-study coefficients by event-time bin with 95 % intervals; leads (placebo) in grey."""
    e = estimates(outcome)
    e = e[e["model"] == "event_study"] if len(e) else e
    if e.empty:
        return None, e
    from ..event_study import BINS

    order = [label for _, _, label in BINS]
    e = e.assign(pos=e["term"].map({t: i for i, t in enumerate(order)})).sort_values("pos")
    fig, ax = plt.subplots(figsize=(7, 4))
    colors = np.where(e["is_lead"], "#888888", "#1f77b4")
    for (_, r), c in zip(e.iterrows(), colors):
        ax.errorbar(r["pos"], r["estimate"], yerr=[[r["estimate"] - r["ci_low"]], [r["ci_high"] - r["estimate"]]],
                    fmt="o", color=c, capsize=3)
    ax.axhline(0, color="#333333", linewidth=1)
    ax.axvline(order.index("0 to 2") - 0.5, color="#d62728", linestyle="--", linewidth=1, label="joining")
    ax.set_xticks(range(len(order)), order)
    ax.set_xlabel("Years since joining (bins; reference −2 to −1)")
    ax.set_ylabel("Difference in log(1 + count), 95 % interval")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig, e[["term", "is_lead", "estimate", "ci_low", "ci_high"]].reset_index(drop=True)


def joiners() -> pd.DataFrame:
    """Members of joint IT organisations and how they enter the before/after comparison; a reason naming
    another cooperation by its id names it in words."""
    j = _load("before_after_joiners")
    if not len(j):
        return j
    names = {}
    for ids, named in zip(j["cooperation_ids"].fillna(""), j["cooperation_names"].fillna("")):
        if len(ids.split()) == len(named.split("; ")):
            names.update(zip(ids.split(), named.split("; ")))
    j = j.assign(reason=j["reason"].str.replace(r"\bC\d+\b", lambda m: names.get(m.group(), m.group()), regex=True))
    return j.sort_values(["status", "start_year", "kommunkod"], ignore_index=True)


def summary_table() -> pd.DataFrame:
    s = _load("before_after_summary")
    if s.empty:
        return s
    s = s[["outcome", "scope", "years", "n_obs", "n_joiners_usable", "n_controls", "too_few", "did_estimate",
           "did_ci_low", "did_ci_high", "did_p_value", "placebo_p_value", "mde"]].copy()
    s["scope"] = pd.Series([i18n.Localized({lang: i18n.value("before_after_outcome", o, lang) for lang in i18n.LANGS})
                            for o in s["outcome"]], index=s.index, dtype=object)
    return s.drop(columns=["outcome"])  # the scope names the outcome in words


@bilingual
def cannot_show(outcome: str, *, lang: str) -> list[str]:
    """What the before/after comparison cannot show, and the panel's gaps."""
    items = [t("before_after.cannot_show", lang)] if summary(outcome) is not None else []
    return items + [t(f"before_after.{key}", lang) for key in ("offline_panel", "ted_thresholds", "few_joiners")]


# ---------------------------------------------------------------- series over the years present


def national_series(measures: tuple[str, ...] = SERIES_MEASURES) -> pd.DataFrame:
    """Per measure and year: total over municipalities, municipalities observed, municipalities with > 0."""
    p = panel()
    if p.empty:
        return p
    p = p[p["measure"].isin(measures)]
    g = p.groupby(["measure", "year"])
    out = pd.DataFrame({
        "total": g["value"].sum(min_count=1),
        "municipalities_observed": g["value"].count(),
        "municipalities_above_zero": g["value"].apply(lambda s: int((s > 0).sum())),
    }).reset_index()
    out["label"] = out["measure"].map(MEASURE_LABELS).fillna(out["measure"])
    return out[["measure", "label", "year", "total", "municipalities_observed", "municipalities_above_zero"]]


def national_series_figure(measures: tuple[str, ...] = SERIES_MEASURES):
    data = national_series(measures)
    if data.empty:
        return None, data
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, g in data.groupby("label", sort=True):
        ax.plot(g["year"], g["total"], marker="o", label=label)
    ax.set_xlabel("Year")
    ax.set_ylabel("Count, all municipalities")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig, data


def municipality_series(kommunkod: str, measures: tuple[str, ...] = SERIES_MEASURES) -> pd.DataFrame:
    """One municipality's values per measure and year (missing = not observed), with its flags."""
    p = panel()
    if p.empty:
        return p
    p = p[(p["kommunkod"] == kommunkod) & p["measure"].isin(measures)]
    out = p[["measure", "year", "value", "scope"]].copy()
    out["label"] = out["measure"].map(MEASURE_LABELS).fillna(out["measure"])
    flags = red_flags(measures=measures)
    flagged = set(zip(flags.loc[flags["kommunkod"] == kommunkod, "measure"], flags.loc[flags["kommunkod"] == kommunkod, "year"]))
    out["red_flag"] = [(m, y) in flagged for m, y in zip(out["measure"], out["year"])]
    return out.sort_values(["measure", "year"], ignore_index=True)[["label", "measure", "year", "value", "red_flag", "scope"]]


def municipality_series_figure(kommunkod: str, measures: tuple[str, ...] = SERIES_MEASURES):
    data = municipality_series(kommunkod, measures)
    if data.empty or data["value"].notna().sum() == 0:
        return None, data
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, g in data.groupby("label", sort=True):
        ax.plot(g["year"], g["value"], marker="o", label=label)
        f = g[g["red_flag"]]
        if len(f):
            ax.scatter(f["year"], f["value"], s=120, facecolors="none", edgecolors="#d62728", linewidths=2)
    ax.set_xlabel("Year (red ring: a red flag)")
    ax.set_ylabel("Count")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig, data


# ---------------------------------------------------------------- red flags over time


# measures that continue one another across sources form one series (BDF tenders 2009–2015, UHM 2021 on)
SERIES = {"tenders_all": "activity_all", "procurements_all": "activity_all"}


def robust_z(p: pd.DataFrame) -> pd.DataFrame:
    """Add `z`: log(1 + value) less the year's national median, robust-standardised within municipality and series."""
    p = p[p["value"].notna()].copy()
    p["series"] = p["measure"].map(SERIES).fillna(p["measure"])
    p["x"] = np.log1p(p["value"]) - p.groupby(["measure", "year"])["value"].transform(lambda s: np.log1p(s).median())
    g = p.groupby(["series", "kommunkod"])["x"]
    med = g.transform("median")
    mad = (p["x"] - med).abs().groupby([p["series"], p["kommunkod"]]).transform("median") * 1.4826
    p["z"] = (p["x"] - med) / np.maximum(mad, MAD_FLOOR)
    p["n_years"] = g.transform("count")
    return p


def red_flags(z_threshold: float = RED_FLAG_Z, measures: tuple[str, ...] = SERIES_MEASURES) -> pd.DataFrame:
    """Municipality-years far above their own usual level, and supplier concentration (TED)."""
    p = panel()
    cols = ["kommunkod", "name", "measure", "year", "value", "usual", "z", "flag", "detail"]
    if p.empty:
        return pd.DataFrame(columns=cols)
    names = dict(zip(*(_load("municipalities")[c] for c in ("kommunkod", "name"))))
    z = robust_z(p[p["measure"].isin(measures)])
    z["usual"] = z.groupby(["series", "kommunkod"])["value"].transform("median")
    high = z[(z["z"] >= z_threshold) & (z["n_years"] >= MIN_YEARS)].copy()
    high["flag"] = "year far above own usual level"
    high["detail"] = [f"robust z = {v:.1f} (threshold {z_threshold})" for v in high["z"]]
    high["name"] = high["kommunkod"].map(names)
    conc = supplier_concentration()
    if len(conc):
        measure = np.where(conc["source_id"].str.startswith("ted"), "ted_it_value_sek", "it_contracted_value_sek")
        conc = conc.assign(name=conc["kommunkod"].map(names), measure=measure, value=conc["it_value_sek"],
                           usual=np.nan, z=np.nan, flag="IT value concentrated on one supplier",
                           detail=[f"{s * 100:.0f} % of the year's IT contract value to {w} ({src})" for s, w, src in
                                   zip(conc["top_share"], conc["top_supplier"], conc["source_id"])])
    out = pd.concat([high[cols], conc[cols] if len(conc) else None], ignore_index=True)
    return out.sort_values(["year", "kommunkod", "measure"], ignore_index=True)


def supplier_concentration(share: float = CONCENTRATION_SHARE, min_sek: float = CONCENTRATION_MIN_SEK) -> pd.DataFrame:
    """Municipality-years whose largest IT supplier holds ≥ share of ≥ min_sek IT contract value (per source)."""
    v = _load("procurement_supplier_values")
    cols = ["kommunkod", "year", "source_id", "it_value_sek", "top_supplier", "top_share"]
    if v.empty:
        return pd.DataFrame(columns=cols)
    g = v.groupby(["source_id", "kommunkod", "year"])
    tot = g["it_value_sek"].transform("sum")
    v = v.assign(share=v["it_value_sek"] / tot, total=tot, links=g["n_procurements"].transform("sum"))
    v = v[v["links"] >= CONCENTRATION_MIN_CONTRACTS]
    top = v.sort_values(["source_id", "kommunkod", "year", "it_value_sek", "supplier"],
                        ascending=[True, True, True, False, True]).drop_duplicates(["source_id", "kommunkod", "year"])
    top = top[(top["share"] >= share) & (top["total"] >= min_sek)]
    top = top.rename(columns={"total": "it_value_sek_all", "supplier": "top_supplier", "share": "top_share"})
    return top.assign(it_value_sek=top["it_value_sek_all"])[cols].reset_index(drop=True)


@bilingual
def red_flag_notes(*, lang: str) -> list[str]:
    """What a red flag is, and how supplier shares are counted."""
    notes = [
        t("red_flags.what", lang, z=i18n.number(RED_FLAG_Z, lang, 1), years=MIN_YEARS,
          share=t("fmt.pct", lang, n=i18n.number(CONCENTRATION_SHARE * 100, lang, 0)),
          msek=i18n.number(CONCENTRATION_MIN_SEK / 1e6, lang, 0), pairs=CONCENTRATION_MIN_CONTRACTS),
        t("red_flags.shares", lang),
    ]
    if _load("ted_awards_se").empty:
        notes.append(t("red_flags.no_ted", lang))
    return notes
