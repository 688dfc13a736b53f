"""Plain-language key findings, computed from the tables each report shows (never typed-in numbers).

Each function returns 3–5 sentences. Names inside sentences come from the data; key_findings() escapes them.
"""

from __future__ import annotations

import pandas as pd


def sek(x: float) -> str:
    """Kronor for prose: '1.2 billion SEK', '3.4 million SEK', '12,345 SEK'."""
    ax = abs(x)
    if ax >= 1e9:
        return f"{x / 1e9:,.1f} billion SEK"
    if ax >= 1e6:
        return f"{x / 1e6:,.1f} million SEK"
    return f"{x:,.0f} SEK"


def per_inh(x: float) -> str:
    return f"{x:,.0f} SEK per inhabitant"


def pct(part: float, whole: float) -> str:
    if not whole:
        return "0%"
    share = 100 * part / whole
    return f"{share:.1f}%" if abs(share) < 10 else f"{share:.0f}%"


def sources(sources_table: pd.DataFrame, coverage_summary: pd.DataFrame, coverage: pd.DataFrame) -> list[str]:
    """Findings of the sources-and-coverage report."""
    out = [
        f"The reports are built from {len(sources_table)} public sources ({int(sources_table['files'].sum())} raw"
        f" files, {sources_table['size_mb'].sum():.1f} MB), each pinned by its sha256 hash."
    ]
    cs = coverage_summary.set_index("lens")
    for lens, what in (("procurement", "advertised IT procurement"), ("ledger", "supplier ledgers"),
                       ("published", "published IT-cost figures")):
        n, share = int(cs.loc[lens, "municipalities"]), cs.loc[lens, "population_share_pct"]
        if n == 0:
            out.append(f"The {lens} lens ({what}) has no data for any municipality in this build.")
        else:
            names = ", ".join(coverage.loc[coverage[lens], "name"].head(5))
            example = f" ({names}{', …' if n > 5 else ''})" if n <= 20 else ""
            out.append(f"The {lens} lens ({what}) covers {n} of {int(cs.loc[lens, 'of'])} municipalities{example},"
                       f" home to {share:.0f}% of Sweden's population.")
    none = int((coverage["lenses"] == 0).sum())
    out.append(f"{none} municipalities have no data in any lens." if none else
               "Every municipality has data in at least one lens.")
    return out[:5]


def _states(per_inh_table: pd.DataFrame) -> tuple[int, int, int]:
    counts = per_inh_table["value_state"].value_counts()
    return int(counts.get("reported", 0)), int(counts.get("not_reported", 0)), int(counts.get("none", 0))


def national(per_inh_table: pd.DataFrame, bands: pd.DataFrame, flags: pd.DataFrame, year: int,
             concentration: pd.DataFrame | None = None, framework_flags: pd.DataFrame | None = None) -> list[str]:
    """Findings of the national IT picture (procurement lens), from the table the report shows."""
    if per_inh_table.empty:
        return [f"No advertised IT procurement figures are available for {year}: the procurement lens has no"
                " data for that year in the processed tables."]
    d = per_inh_table
    n_rep, n_unrep, n_none = _states(d)
    buyers = d[d["value_state"] == "reported"]
    total = buyers["value_sek"].sum()
    out = [
        f"In {year}, {n_rep} of {len(d)} municipalities advertised IT contracts with a reported value, together"
        f" {sek(total)}; {n_unrep} advertised IT contracts without reporting a value and {n_none} advertised none."
        " Framework-agreement ceilings are counted apart.",
    ]
    if len(buyers):
        top = buyers.sort_values(["per_inhabitant", "kommunkod"], ascending=[False, True]).iloc[0]
        out.append(f"Among those with a value, the median was {per_inh(buyers['per_inhabitant'].median())};"
                   f" the highest was {top['name']} with {per_inh(top['per_inhabitant'])}.")
        share_top10 = buyers.nlargest(10, "value_sek")["value_sek"].sum()
        out.append(f"The ten largest buyers account for {pct(share_top10, total)} of the reported IT contract value.")
    fw = d[d["framework_state"] == "reported"]
    if len(fw):
        text = (f"{len(fw)} municipalities also advertised IT framework agreements with ceilings of together"
                f" {sek(fw['framework_ceiling_sek'].sum())}: a maximum over several years, not a purchase.")
        if framework_flags is not None and len(framework_flags):
            f = framework_flags.iloc[0]
            text += (f" The highest ceilings per inhabitant, {f['name']}'s {per_inh(f['framework_per_inhabitant'])},"
                     f" come from one framework of {sek(f['largest_sek'])} ('{f['largest_title']}').")
        out.append(text)
    if len(flags):
        f = flags.iloc[0]
        one = (f" In {f['name']}, one contract ('{f['largest_title']}', {sek(f['largest_sek'])}) holds"
               f" {f['largest_share_pct']:.0f}% of the value." if pd.notna(f.get("largest_share_pct")) else "")
        out.append(f"{len(flags)} municipalities have a value more than five times the median.{one}")
    else:
        out.append("No municipality exceeds five times the median.")
    return out[:5]


def ledger(postings: pd.DataFrame, it: pd.DataFrame, suppliers: pd.DataFrame, name: str, period: str) -> list[str]:
    """Findings of the ledger deep-dive for one municipality and month."""
    if postings.empty:
        return [f"{name} has no published supplier-ledger postings for {period} in the processed data."]
    amounts = postings["amount_ore"]
    out = [
        f"{name} paid {sek(amounts.sum() / 100)} net to {postings['supplier_key'].nunique():,} suppliers in"
        f" {period}, in {len(postings):,} postings.",
    ]
    neg = amounts[amounts < 0]
    out.append(f"{len(neg):,} postings are credit notes or corrections, together {sek(neg.sum() / 100)}." if len(neg)
               else "There are no credit notes in this month.")
    total_it = it[(it["category"] == "all") & (it["measure"] == "it_spend_sek")]
    for _, row in total_it.iterrows():
        out.append(f"IT spend by the '{row['method']}' method: {sek(row['value'])}"
                   f" ({pct(row['value'], amounts.sum() / 100)} of the month's net payments).")
    if len(suppliers):
        top = suppliers.iloc[0]
        out.append(f"The largest supplier was {top['supplier_name']} with {sek(top['net_sek'])}.")
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


def verdict_sentence(v: pd.Series | None, kind: str, year: int) -> str:
    """The answer in words, from one row of the cooperation_verdict table."""
    label = KIND_LABELS.get(kind, kind)
    if v is None:
        return f"No comparison has been computed for {label} in {year}."
    measure = MEASURE_LABELS.get(v["measure"], v["measure"])
    if v["verdict"] == "no_evidence" and pd.isna(v["estimate"]):
        return (f"The data cannot answer whether municipalities in {label} spend less: {v['reason'].split(': ', 1)[-1]}"
                f" ({year}, {measure}).")
    if v["verdict"] == "no_evidence":
        return (f"No evidence that municipalities in {label} differ: the difference in {measure} ({year}) is not"
                f" statistically clear in any of the {int(v['variants'])} ways of counting (median difference"
                f" {v['estimate']:+,.0f}, p = {v['p_value']:.3f}).")
    direction = "higher" if v["direction"] == "higher" else "lower"
    base = (f"Municipalities in {label} had a {direction} median {measure} than the others in {year}"
            f" ({abs(v['estimate']):,.0f} {'SEK' if v['measure'].endswith('_sek') else ''} {direction},"
            f" 95% interval {v['ci_low']:,.0f} to {v['ci_high']:,.0f}, p = {max(v['p_value'], 0.001):.3f},"
            f" {int(v['n_members'])} members against {int(v['n_nonmembers'])} non-members).")
    if v["verdict"] == "robust":
        return f"{base} The result is robust: it holds in all {int(v['variants'])} ways of counting."
    changed = ", ".join(VARIANT_LABELS.get(c, c) for c in str(v["changed_by"]).split(";") if c)
    return f"{base} The result is fragile: it changes when {changed}."


VARIANT_LABELS = {
    "unknown_as_nonmember": "municipalities with unknown membership count as non-members",
    "federations_not_attributed": "federations' own purchases are not shared out among their members",
    "frameworks_included": "framework-agreement ceilings are counted",
    "top1pct_trimmed": "the largest 1% of contracts are left out",
    "hosts_excluded": "host municipalities of joint boards are left out",
}


def cooperation(estimates: pd.DataFrame, sensitivity: pd.DataFrame, members: pd.DataFrame, kind: str, lens: str,
                year: int, verdict: pd.Series | None = None) -> list[str]:
    """Findings of the cooperation comparison: the verdict, then the chosen variant's rows (one per method),
    the median-difference row of every variant, and the membership table."""
    counts = members["state"].value_counts() if len(members) else pd.Series(dtype="int64")
    out = [verdict_sentence(verdict, kind, year)] if verdict is not None else []
    out.append(f"For {KIND_LABELS.get(kind, kind)} in {year}: {int(counts.get('member', 0))} municipalities are"
               f" members, {int(counts.get('no_membership_found', 0))} have no membership found and"
               f" {int(counts.get('unknown', 0))} are unknown.")
    row = estimates[estimates["method"] == "median_diff"]
    if row.empty:
        out.append(f"No comparison is available for the {lens} lens, {year}, {KIND_LABELS.get(kind, kind)}.")
        return out
    r = row.iloc[0]
    if pd.isna(r["estimate"]):
        out.append(f"The groups are too small to compare ({r['note']}).")
        return out
    direction = "higher" if r["estimate"] > 0 else "lower"
    clear = pd.notna(r["p_value"]) and r["p_value"] < 0.05
    out.append(f"With the switches chosen here, the members' median is {per_inh(abs(r['estimate']))} {direction}"
               f" than the non-members' (95% interval {r['ci_low']:,.0f} to {r['ci_high']:,.0f}); the difference"
               f" is {'' if clear else 'not '}statistically clear (p = {r['p_value']:.3f}), comparing"
               f" {int(r['n_members'])} members and {int(r['n_nonmembers'])} non-members with a value.")
    if pd.notna(r["min_detectable_difference"]):
        out.append(f"With groups of this size, only a difference of about {per_inh(r['min_detectable_difference'])}"
                   " or more would be detected reliably (80% power).")
    valid = sensitivity.dropna(subset=["estimate"])
    if len(valid) > 1:
        n_clear = int((valid["p_value"] < 0.05).sum())
        out.append(f"Across {len(valid)} sensitivity variants the median difference ranges from"
                   f" {valid['estimate'].min():,.0f} to {valid['estimate'].max():,.0f} SEK per inhabitant and is"
                   f" statistically clear in {n_clear} of them.")
    return out[:5]


def region(per_inh_table: pd.DataFrame, lan_kod: str, year: int) -> list[str]:
    """Findings of the region report: the län's municipalities against the country and their peers."""
    d = per_inh_table
    if d.empty:
        return [f"No advertised IT procurement figures are available for {year}."]
    lan = d[d["lan_kod"] == lan_kod]
    name = lan["lan_name"].iloc[0]
    nat = d.loc[d["value_state"] == "reported", "per_inhabitant"]
    n_rep, n_unrep, n_none = _states(lan)
    buyers = lan[lan["value_state"] == "reported"]
    out = [f"{n_rep} of the {len(lan)} municipalities in {name} advertised IT contracts with a reported value"
           f" in {year}, together {sek(buyers['value_sek'].sum())}; {n_unrep} advertised IT contracts without a"
           f" value and {n_none} advertised none."]
    if len(buyers):
        out.append(f"Their median was {per_inh(buyers['per_inhabitant'].median())}, against"
                   f" {per_inh(nat.median())} for all Swedish municipalities with a value.")
        top = buyers.sort_values(["per_inhabitant", "kommunkod"], ascending=[False, True]).iloc[0]
        out.append(f"The highest in the län was {top['name']} ({per_inh(top['per_inhabitant'])}).")
        total = buyers["value_sek"].sum()
        big = buyers.sort_values(["value_sek", "kommunkod"], ascending=[False, True]).iloc[0]
        out.append(f"{big['name']} accounts for {pct(big['value_sek'], total)} of the län's reported IT contract value.")
    return out[:5]


STATE_WORDS = {
    "member": "member",
    "unknown": "membership unknown",
    "no_membership_found": "no membership found",
}


def municipality(profile: pd.Series, spend: pd.DataFrame, per_inh_table: pd.DataFrame,
                 memberships: pd.DataFrame) -> list[str]:
    """Findings of the municipality profile, from the tables the profile shows (spend, memberships)."""
    from .data import latest_memberships, rank_of

    out = [f"{profile['name']} ({profile['lan_name']}) had {int(profile['population']):,} inhabitants on"
           f" 31 December {int(profile['population_year'])} and belongs to the SKR group"
           f" '{profile['kommungrupp_2023']}'."]
    row = per_inh_table[per_inh_table["kommunkod"] == profile["kommunkod"]]
    if len(row):
        r = row.iloc[0]
        if r["value_state"] == "reported":
            rank = rank_of(per_inh_table, profile["kommunkod"])
            peers = per_inh_table[(per_inh_table["kommungrupp_2023"] == r["kommungrupp_2023"])
                                  & (per_inh_table["value_state"] == "reported")]
            out.append(f"Its advertised IT contracts had a reported value of {sek(r['value_sek'])}"
                       f" ({per_inh(r['per_inhabitant'])}), rank {rank[0]} of {rank[1]} municipalities with a value;"
                       f" the median of its SKR group peers with a value was {per_inh(peers['per_inhabitant'].median())}.")
        elif r["value_state"] == "not_reported":
            out.append(f"It advertised {r['procurements']:,.0f} IT contract(s) without reporting a value, so it is"
                       " not ranked.")
        else:
            out.append("It advertised no IT contract in the procurement year; that does not mean it spent nothing on IT.")
        if r["framework_state"] == "reported":
            out.append(f"Its IT framework agreements have ceilings of {sek(r['framework_ceiling_sek'])}"
                       f" ({per_inh(r['framework_per_inhabitant'])}), a maximum over several years, not a purchase.")
    ledger = spend[(spend["lens"] == "ledger") & (spend["measure"] == "it_spend_sek") & (spend["category"] == "all")]
    if len(ledger):
        latest = ledger.sort_values(["year", "period", "method"]).iloc[-1]
        out.append(f"Its supplier ledger for {latest['period']} shows {sek(latest['value'])} of IT purchases"
                   f" ({per_inh(latest['per_inhabitant'])}, '{latest['method']}' method).")
    published = spend[spend["lens"] == "published"]
    if len(published):
        latest = published.sort_values(["year", "measure"]).iloc[-1]
        out.append(f"{len(published)} published IT-cost figure(s), the latest for {int(latest['year'])}:"
                   f" {published_value(latest)} (definitions differ between sources).")
    if ledger.empty and published.empty:
        out.append("Only the procurement lens has figures for it: no published supplier ledger or IT-cost figure.")
    out.append(membership_sentence(latest_memberships(memberships)))
    return out[:6]


def published_value(row: pd.Series) -> str:
    """A published figure as published: value and unit ('1,490 MSEK paid to IT-service suppliers', '862 SEK/inhabitant')."""
    value = float(row["value"])
    number = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{number} {row['unit']}"


def membership_sentence(latest: pd.DataFrame) -> str:
    """One sentence over a municipality's latest-year membership rows: member of which, unknown for which."""
    if latest.empty:
        return "No cooperation membership table has been built."
    year = int(latest["year"].iloc[0])
    parts = []
    for state in ("member", "unknown", "no_membership_found"):
        sel = latest[latest["state"] == state]
        if len(sel):
            kinds = ", ".join(KIND_LABELS.get(k, k) + (f" ({c})" if c and state == "member" else "")
                              for k, c in zip(sel["cooperation_kind"], sel["cooperations"]))
            parts.append(f"{STATE_WORDS[state]}: {kinds}")
    return f"IT cooperations in {year}: " + "; ".join(parts) + "."
