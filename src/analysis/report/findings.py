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


def national(per_inh_table: pd.DataFrame, bands: pd.DataFrame, flags: pd.DataFrame, year: int,
             concentration: pd.DataFrame | None = None) -> list[str]:
    """Findings of the national IT picture (procurement lens); concentration from data.procurement_concentration."""
    if per_inh_table.empty:
        return [f"No advertised IT procurement figures are available for {year}: the procurement lens has no"
                " data for that year in the processed tables."]
    d = per_inh_table
    buyers = d[d["value_sek"] > 0]
    total, pop = d["value_sek"].sum(), d["population"].sum()
    out = [
        f"In {year}, {len(buyers)} of {len(d)} municipalities advertised IT procurements with a contracted value,"
        f" together {sek(total)} ({per_inh(total / pop)} across the country).",
    ]
    if len(buyers):
        top = buyers.sort_values("per_inhabitant", ascending=False).iloc[0]
        out.append(f"Among those that did, the median was {per_inh(buyers['per_inhabitant'].median())};"
                   f" the highest was {top['name']} with {per_inh(top['per_inhabitant'])}.")
        share_top10 = buyers.nlargest(10, "value_sek")["value_sek"].sum()
        out.append(f"The ten largest buyers account for {pct(share_top10, total)} of the contracted IT value.")
    b = bands[bands["with_value"] > 0]
    if len(b) >= 2:
        small, large = b.iloc[0], b.iloc[-1]
        direction = "higher" if small["median"] > large["median"] else "lower"
        out.append(f"{small['with_value_pct']:.0f}% of the smallest municipalities ({small['band']} inhabitants)"
                   f" advertised IT procurement with a value, against {large['with_value_pct']:.0f}% of the largest"
                   f" ({large['band']}); those small ones that did had a {direction} median"
                   f" ({per_inh(small['median'])} against {per_inh(large['median'])}).")
    flag_text = (f"{len(flags)} municipalities have a value more than five times the median; such peaks are"
                 " usually one large multi-year or framework contract, not a year's spending." if len(flags)
                 else "No municipality exceeds five times the median.")
    if concentration is not None and len(concentration):
        c = concentration.iloc[0]
        flag_text += (f" In {len(concentration)} municipalities a single procurement holds at least half of the IT"
                      f" value; the largest is '{c['title']}' ({c['name']}, {sek(c['largest_sek'])}).")
    out.append(flag_text)
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


def cooperation(estimates: pd.DataFrame, sensitivity: pd.DataFrame, members: pd.DataFrame, kind: str, lens: str,
                year: int) -> list[str]:
    """Findings of the cooperation comparison: the chosen variant's rows (one per method), the
    median-difference row of every variant, and the membership table."""
    counts = members["state"].value_counts() if len(members) else pd.Series(dtype="int64")
    out = [f"For '{kind}' in {year}: {int(counts.get('member', 0))} municipalities are members,"
           f" {int(counts.get('no_membership_found', 0))} have no membership found and"
           f" {int(counts.get('unknown', 0))} are unknown."]
    row = estimates[estimates["method"] == "median_diff"]
    if row.empty:
        out.append(f"No comparison is available for the {lens} lens, {year}, '{kind}'.")
        return out
    r = row.iloc[0]
    if pd.isna(r["estimate"]):
        out.append(f"The groups are too small to compare ({r['note']}).")
        return out
    direction = "higher" if r["estimate"] > 0 else "lower"
    out.append(f"The members' median {lens} value is {per_inh(abs(r['estimate']))} {direction} than the"
               f" non-members' (95% interval {r['ci_low']:,.0f} to {r['ci_high']:,.0f}).")
    clear = pd.notna(r["p_value"]) and r["p_value"] < 0.05
    out.append(f"The difference is {'' if clear else 'not '}statistically clear (p = {r['p_value']:.3f}),"
               f" comparing the {int(r['n_members'])} members and {int(r['n_nonmembers'])} non-members with data.")
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
    nat_med = d.loc[d["per_inhabitant"] > 0, "per_inhabitant"].median()
    buyers = lan[lan["value_sek"] > 0]
    out = [f"{len(buyers)} of the {len(lan)} municipalities in {name} advertised IT procurements with a value"
           f" in {year}, together {sek(lan['value_sek'].sum())}."]
    if len(buyers):
        out.append(f"Their median was {per_inh(buyers['per_inhabitant'].median())}, against"
                   f" {per_inh(nat_med)} for all Swedish municipalities that advertised.")
        top = buyers.sort_values("per_inhabitant", ascending=False).iloc[0]
        out.append(f"The highest in the län was {top['name']} ({per_inh(top['per_inhabitant'])}).")
    total = lan["value_sek"].sum()
    if total > 0:
        big = lan.sort_values("value_sek", ascending=False).iloc[0]
        out.append(f"{big['name']} accounts for {pct(big['value_sek'], total)} of the län's contracted IT value.")
    return out[:5]


def municipality(profile: pd.Series, spend: pd.DataFrame, per_inh_table: pd.DataFrame,
                 memberships: pd.DataFrame) -> list[str]:
    """Findings of the municipality profile."""
    out = [f"{profile['name']} ({profile['lan_name']}) had {int(profile['population']):,} inhabitants on"
           f" 31 December {int(profile['population_year'])} and belongs to the SKR group"
           f" '{profile['kommungrupp_2023']}'."]
    row = per_inh_table[per_inh_table["kommunkod"] == profile["kommunkod"]]
    if len(row):
        r = row.iloc[0]
        peers = per_inh_table[(per_inh_table["kommungrupp_2023"] == r["kommungrupp_2023"])
                              & (per_inh_table["per_inhabitant"] > 0)]
        if r["value_sek"] > 0:
            rank = int((per_inh_table["per_inhabitant"] > r["per_inhabitant"]).sum()) + 1
            peer_text = (f"; the median of its SKR group peers that advertised was"
                         f" {per_inh(peers['per_inhabitant'].median())}") if len(peers) else ""
            out.append(f"Its advertised IT procurements had a contracted value of {sek(r['value_sek'])}"
                       f" ({per_inh(r['per_inhabitant'])}), rank {rank} of {len(per_inh_table)}{peer_text}.")
        else:
            out.append("It advertised no IT procurement with a contracted value in the procurement year;"
                       " that does not mean it spent nothing on IT.")
    ledger = spend[(spend["lens"] == "ledger") & (spend["measure"] == "it_spend_sek") & (spend["category"] == "all")]
    if len(ledger):
        latest = ledger.sort_values(["year", "period", "method"]).iloc[-1]
        out.append(f"Its supplier ledger for {latest['period']} shows {sek(latest['value'])} of IT purchases"
                   f" ({per_inh(latest['per_inhabitant'])}, '{latest['method']}' method).")
    published = spend[(spend["lens"] == "published") & (spend["measure"] == "sek_per_inhabitant")]
    if len(published):
        latest = published.sort_values("year").iloc[-1]
        out.append(f"A published figure gives IT costs of {per_inh(latest['value'])} in {int(latest['year'])}"
                   " (definitions differ between sources).")
    if ledger.empty and published.empty:
        out.append("Only the procurement lens has figures for it: no published supplier ledger or IT-cost figure.")
    member = memberships[memberships["state"] == "member"] if len(memberships) else memberships
    kinds = ", ".join(sorted(set(member["cooperation_kind"]))) if len(member) else ""
    out.append(f"Member of IT cooperation, kinds: {kinds} (found up to {int(member['year'].max())})." if len(member)
               else "No IT cooperation membership was found (absence in our table does not prove non-membership).")
    return out[:5]
