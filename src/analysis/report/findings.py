"""Plain-language key findings, computed from the tables each report shows (never typed-in numbers).

Each function returns 3–5 sentences in Swedish or English (`lang`); called without `lang` it returns the
English list carrying both languages (see i18n.bilingual), so a notebook cell shows both. Sentences are
templates in i18n's catalogue; names inside them come from the data and key_findings() escapes them.
"""

from __future__ import annotations

import pandas as pd

from . import i18n
from .i18n import bilingual, t


def sek(x: float, lang: str = "en") -> str:
    """Kronor for prose: '1.2 billion SEK', '3.4 million SEK', '12,345 SEK' ('1,2 miljarder kr' …)."""
    return i18n.sek(x, lang)


def per_inh(x: float, lang: str = "en") -> str:
    return i18n.per_inh(x, lang)


def pct(part: float, whole: float, lang: str = "en") -> str:
    return i18n.pct(part, whole, lang)


def _n(x, lang: str) -> str:
    return i18n.integer(x, lang)


def kind_label(kind: str, lang: str = "en") -> str:
    return i18n.value("cooperation_kind", kind, lang)


def lens_label(lens: str, lang: str = "en") -> str:
    return i18n.value("lens", lens, lang)


@bilingual
def sources(sources_table: pd.DataFrame, coverage_summary: pd.DataFrame, coverage: pd.DataFrame, *,
            lang: str) -> list[str]:
    """Findings of the sources-and-coverage report."""
    out = [t("sources.intro", lang, n=len(sources_table), files=_n(sources_table["files"].sum(), lang),
             mb=i18n.number(sources_table["size_mb"].sum(), lang, 1))]
    cs = coverage_summary.set_index("lens")
    for lens in ("procurement", "ledger", "published"):
        n, share = int(cs.loc[lens, "municipalities"]), cs.loc[lens, "population_share_pct"]
        if n == 0:
            out.append(t("sources.lens_none", lang, lens=lens_label(lens, lang)))
        else:
            names = ", ".join(coverage.loc[coverage[lens], "name"].head(5))
            example = f" ({names}{', …' if n > 5 else ''})" if n <= 20 else ""
            out.append(t("sources.lens", lang, lens=lens_label(lens, lang), n=n, of=int(cs.loc[lens, "of"]),
                         example=example, share=i18n.number(share, lang, 0)))
    none = int((coverage["lenses"] == 0).sum())
    out.append(t("sources.no_lens", lang, n=none) if none else t("sources.every_lens", lang))
    return out[:5]


def _states(per_inh_table: pd.DataFrame) -> tuple[int, int, int]:
    counts = per_inh_table["value_state"].value_counts()
    return int(counts.get("reported", 0)), int(counts.get("not_reported", 0)), int(counts.get("none", 0))


@bilingual
def national(per_inh_table: pd.DataFrame, bands: pd.DataFrame, flags: pd.DataFrame, year: int,
             concentration: pd.DataFrame | None = None, framework_flags: pd.DataFrame | None = None, *,
             lang: str) -> list[str]:
    """Findings of the national IT picture (procurement lens), from the table the report shows."""
    if per_inh_table.empty:
        return [t("national.no_data", lang, year=year)]
    d = per_inh_table
    n_rep, n_unrep, n_none = _states(d)
    buyers = d[d["value_state"] == "reported"]
    total = buyers["value_sek"].sum()
    out = [t("national.states", lang, year=year, n_rep=n_rep, n=len(d), total=sek(total, lang), n_unrep=n_unrep,
             n_none=n_none)]
    if len(buyers):
        top = buyers.sort_values(["per_inhabitant", "kommunkod"], ascending=[False, True]).iloc[0]
        out.append(t("national.median", lang, median=per_inh(buyers["per_inhabitant"].median(), lang),
                     name=top["name"], top=per_inh(top["per_inhabitant"], lang)))
        share_top10 = buyers.nlargest(10, "value_sek")["value_sek"].sum()
        out.append(t("national.top10", lang, share=pct(share_top10, total, lang)))
    fw = d[d["framework_state"] == "reported"]
    if len(fw):
        text = t("national.frameworks", lang, n=len(fw), total=sek(fw["framework_ceiling_sek"].sum(), lang))
        if framework_flags is not None and len(framework_flags):
            f = framework_flags.iloc[0]
            text += t("national.framework_outlier", lang, name=f["name"],
                      per_inh=per_inh(f["framework_per_inhabitant"], lang), value=sek(f["largest_sek"], lang),
                      title=f["largest_title"])
        out.append(text)
    if len(flags):
        f = flags.iloc[0]
        one = (t("national.one_contract", lang, name=f["name"], title=f["largest_title"],
                 value=sek(f["largest_sek"], lang), share=i18n.number(f["largest_share_pct"], lang, 0))
               if pd.notna(f.get("largest_share_pct")) else "")
        out.append(t("national.flags", lang, n=len(flags), one=one))
    else:
        out.append(t("national.no_flags", lang))
    return out[:5]


@bilingual
def ledger(postings: pd.DataFrame, it: pd.DataFrame, suppliers: pd.DataFrame, name: str, period: str, *,
           lang: str) -> list[str]:
    """Findings of the ledger deep-dive for one municipality and month."""
    if postings.empty:
        return [t("ledger.no_data", lang, name=name, period=period)]
    amounts = postings["amount_ore"]
    out = [t("ledger.total", lang, name=name, total=sek(amounts.sum() / 100, lang),
             suppliers=_n(postings["supplier_key"].nunique(), lang), period=period, postings=_n(len(postings), lang))]
    neg = amounts[amounts < 0]
    out.append(t("ledger.credit", lang, n=_n(len(neg), lang), total=sek(neg.sum() / 100, lang)) if len(neg)
               else t("ledger.no_credit", lang))
    total_it = it[(it["category"] == "all") & (it["measure"] == "it_spend_sek")]
    for _, row in total_it.iterrows():
        out.append(t("ledger.it", lang, method=i18n.value("method", row["method"], lang), value=sek(row["value"], lang),
                     share=pct(row["value"], amounts.sum() / 100, lang)))
    if len(suppliers):
        top = suppliers.iloc[0]
        out.append(t("ledger.top_supplier", lang, name=top["supplier_name"], value=sek(top["net_sek"], lang)))
    return out[:5]


KIND_LABELS = {
    "joint_it_operations": "joint IT operations",
    "e_archive": "e-archive federations",
    "e_services": "joint e-services",
    "broad_kommunalforbund": "broad kommunalförbund",
    "any_it": "any IT cooperation",
}
MEASURE_LABELS = {
    "it_contract_value_sek": "advertised IT contract value per inhabitant",
    "it_procurements_count": "IT procurements per 10,000 inhabitants",
}
VARIANT_LABELS = {
    "unknown_as_nonmember": "municipalities with unknown membership count as non-members",
    "federations_not_attributed": "federations' own purchases are not shared out among their members",
    "frameworks_included": "framework-agreement ceilings are counted",
    "top1pct_trimmed": "the largest 1% of contracts are left out",
    "hosts_excluded": "host municipalities of joint boards are left out",
}
STATE_WORDS = {
    "member": "member",
    "unknown": "membership unknown",
    "no_membership_found": "no membership found",
}


@bilingual
def verdict_sentence(v: pd.Series | None, kind: str, year: int, *, lang: str) -> str:
    """The answer in words, from one row of the cooperation_verdict table."""
    label = kind_label(kind, lang)
    if v is None:
        return t("verdict.none", lang, label=label, year=year)
    measure = i18n.value("measure", v["measure"], lang)
    if v["verdict"] == "no_evidence" and pd.isna(v["estimate"]):
        return t("verdict.cannot", lang, label=label, reason=i18n.text(v["reason"].split(": ", 1)[-1], lang),
                 year=year, measure=measure)
    if v["verdict"] == "no_evidence":
        sign = "+" if v["estimate"] > 0 else ("−" if v["estimate"] < 0 else "")
        return t("verdict.no_evidence", lang, label=label, measure=measure, year=year, variants=int(v["variants"]),
                 estimate=sign + i18n.number(abs(v["estimate"]), lang), p=i18n.p_value(v["p_value"], lang))
    direction = i18n.value("direction", "higher" if v["direction"] == "higher" else "lower", lang)
    unit = t("fmt.unit_sek", lang) if v["measure"].endswith("_sek") else ""
    base = t("verdict.base", lang, label=label, direction=direction, measure=measure, year=year,
             amount=i18n.number(abs(v["estimate"]), lang), unit=unit, lo=i18n.number(v["ci_low"], lang),
             hi=i18n.number(v["ci_high"], lang), p=i18n.p_value(v["p_value"], lang), n_members=int(v["n_members"]),
             n_nonmembers=int(v["n_nonmembers"]))
    if v["verdict"] == "robust":
        return base + " " + t("verdict.robust", lang, variants=int(v["variants"]))
    changed = ", ".join(i18n.value("variant", c, lang) for c in str(v["changed_by"]).split(";") if c)
    return base + " " + t("verdict.fragile", lang, changed=changed)


@bilingual
def cooperation(estimates: pd.DataFrame, sensitivity: pd.DataFrame, members: pd.DataFrame, kind: str, lens: str,
                year: int, verdict: pd.Series | None = None, *, lang: str) -> list[str]:
    """Findings of the cooperation comparison: the verdict, then the chosen variant's rows (one per method),
    the median-difference row of every variant, and the membership table."""
    counts = members["state"].value_counts() if len(members) else pd.Series(dtype="int64")
    out = [verdict_sentence(verdict, kind, year, lang=lang)] if verdict is not None else []
    out.append(t("coop.members", lang, label=kind_label(kind, lang), year=year,
                 member=int(counts.get("member", 0)), none=int(counts.get("no_membership_found", 0)),
                 unknown=int(counts.get("unknown", 0))))
    row = estimates[estimates["method"] == "median_diff"]
    if row.empty:
        out.append(t("coop.no_comparison", lang, lens=lens_label(lens, lang), year=year, label=kind_label(kind, lang)))
        return out
    r = row.iloc[0]
    if pd.isna(r["estimate"]):
        out.append(t("coop.too_small", lang, note=i18n.text(r["note"], lang)))
        return out
    direction = i18n.value("direction", "higher" if r["estimate"] > 0 else "lower", lang)
    clear = pd.notna(r["p_value"]) and r["p_value"] < 0.05
    out.append(t("coop.estimate" if clear else "coop.estimate_unclear", lang,
                 amount=per_inh(abs(r["estimate"]), lang), direction=direction,
                 lo=i18n.number(r["ci_low"], lang), hi=i18n.number(r["ci_high"], lang),
                 p=i18n.p_value(r["p_value"], lang), n_members=int(r["n_members"]), n_nonmembers=int(r["n_nonmembers"])))
    if pd.notna(r["min_detectable_difference"]):
        out.append(t("coop.mdd", lang, amount=per_inh(r["min_detectable_difference"], lang)))
    valid = sensitivity.dropna(subset=["estimate"])
    if len(valid) > 1:
        n_clear = int((valid["p_value"] < 0.05).sum())
        out.append(t("coop.sensitivity", lang, n=len(valid), lo=i18n.number(valid["estimate"].min(), lang),
                     hi=i18n.number(valid["estimate"].max(), lang), n_clear=n_clear))
    return out[:5]


@bilingual
def region(per_inh_table: pd.DataFrame, lan_kod: str, year: int, *, lang: str) -> list[str]:
    """Findings of the region report: the län's municipalities against the country and their peers."""
    d = per_inh_table
    if d.empty:
        return [t("region.no_data", lang, year=year)]
    lan = d[d["lan_kod"] == lan_kod]
    name = lan["lan_name"].iloc[0]
    nat = d.loc[d["value_state"] == "reported", "per_inhabitant"]
    n_rep, n_unrep, n_none = _states(lan)
    buyers = lan[lan["value_state"] == "reported"]
    out = [t("region.states", lang, n_rep=n_rep, n=len(lan), name=name, year=year,
             total=sek(buyers["value_sek"].sum(), lang), n_unrep=n_unrep, n_none=n_none)]
    if len(buyers):
        out.append(t("region.median", lang, median=per_inh(buyers["per_inhabitant"].median(), lang),
                     national=per_inh(nat.median(), lang)))
        top = buyers.sort_values(["per_inhabitant", "kommunkod"], ascending=[False, True]).iloc[0]
        out.append(t("region.top", lang, name=top["name"], value=per_inh(top["per_inhabitant"], lang)))
        total = buyers["value_sek"].sum()
        big = buyers.sort_values(["value_sek", "kommunkod"], ascending=[False, True]).iloc[0]
        out.append(t("region.biggest", lang, name=big["name"], share=pct(big["value_sek"], total, lang)))
    return out[:5]


@bilingual
def municipality(profile: pd.Series, spend: pd.DataFrame, per_inh_table: pd.DataFrame,
                 memberships: pd.DataFrame, *, lang: str) -> list[str]:
    """Findings of the municipality profile, from the tables the profile shows (spend, memberships)."""
    from .data import latest_memberships, rank_of

    out = [t("muni.facts", lang, name=profile["name"], lan=profile["lan_name"],
             population=_n(profile["population"], lang), year=int(profile["population_year"]),
             group=profile["kommungrupp_2023"])]
    row = per_inh_table[per_inh_table["kommunkod"] == profile["kommunkod"]]
    if len(row):
        r = row.iloc[0]
        if r["value_state"] == "reported":
            rank = rank_of(per_inh_table, profile["kommunkod"])
            peers = per_inh_table[(per_inh_table["kommungrupp_2023"] == r["kommungrupp_2023"])
                                  & (per_inh_table["value_state"] == "reported")]
            out.append(t("muni.reported", lang, value=sek(r["value_sek"], lang), per=per_inh(r["per_inhabitant"], lang),
                         rank=rank[0], of=rank[1], peers=per_inh(peers["per_inhabitant"].median(), lang)))
        elif r["value_state"] == "not_reported":
            out.append(t("muni.not_reported", lang, n=_n(r["procurements"], lang)))
        else:
            out.append(t("muni.none", lang))
        if r["framework_state"] == "reported":
            out.append(t("muni.frameworks", lang, value=sek(r["framework_ceiling_sek"], lang),
                         per=per_inh(r["framework_per_inhabitant"], lang)))
    ledger_rows = spend[(spend["lens"] == "ledger") & (spend["measure"] == "it_spend_sek") & (spend["category"] == "all")]
    if len(ledger_rows):
        latest = ledger_rows.sort_values(["year", "period", "method"]).iloc[-1]
        out.append(t("muni.ledger", lang, period=latest["period"], value=sek(latest["value"], lang),
                     per=per_inh(latest["per_inhabitant"], lang), method=i18n.value("method", latest["method"], lang)))
    published = spend[spend["lens"] == "published"]
    if len(published):
        latest = published.sort_values(["year", "measure"]).iloc[-1]
        out.append(t("muni.published", lang, n=len(published), year=int(latest["year"]),
                     value=published_value(latest, lang)))
    if ledger_rows.empty and published.empty:
        out.append(t("muni.only_procurement", lang))
    out.append(membership_sentence(latest_memberships(memberships), lang=lang))
    return out[:6]


def published_value(row: pd.Series, lang: str = "en") -> str:
    """A published figure as published: value and unit ('1,490 MSEK paid to IT-service suppliers', '862 SEK/inhabitant')."""
    value = float(row["value"])
    number = i18n.number(value, lang, 0) if abs(value) >= 100 else i18n.number(value, lang, 2).rstrip("0").rstrip(",.")
    return f"{number} {i18n.text(row['unit'], lang)}"


def membership_sentence(latest: pd.DataFrame, lang: str = "en") -> str:
    """One sentence over a municipality's latest-year membership rows: member of which, unknown for which."""
    if latest.empty:
        return t("muni.no_membership_table", lang)
    year = int(latest["year"].iloc[0])
    parts = []
    for state in ("member", "unknown", "no_membership_found"):
        sel = latest[latest["state"] == state]
        if len(sel):
            kinds = ", ".join(kind_label(k, lang) + (f" ({c})" if c and state == "member" else "")
                              for k, c in zip(sel["cooperation_kind"], sel["cooperations"]))
            parts.append(f"{i18n.value('membership', state, lang)}: {kinds}")
    return t("muni.memberships", lang, year=year, parts="; ".join(parts))
