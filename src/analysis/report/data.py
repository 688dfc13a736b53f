"""Tables the reports show, computed from the processed tables (read through config.processed_dir()).

A lens whose stage has not been built (or has no rows for the chosen parameters) gives an empty table
with the contract's columns, so a report says "no data" instead of failing. Columns follow
docs/contracts.md; names from raw data are left as they are here and escaped when displayed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from .. import config, manifest
from . import i18n
from ..errors import UserError
from ..io import read_parquet

CONTRACT_COLUMNS = {
    "ledger": ["source_id", "source_file", "source_row", "grain", "kommunkod", "year", "period", "date",
               "buyer_unit", "supplier_name", "supplier_orgnr", "supplier_key", "account", "account_text",
               "amount_ore", "amount_sek", "invoice_id"],
    "ledger_periods": ["kommunkod", "year", "period", "grain", "source_id", "rows", "amount_ore"],
    "it_spend": ["kommunkod", "year", "period", "months_covered", "lens", "method", "measure", "category",
                 "value", "unit", "per_inhabitant", "population", "population_year", "coverage_note", "source_ids"],
    "cooperation_membership": ["kommunkod", "year", "cooperation_kind", "state", "is_host", "confidence",
                               "cooperation_ids"],
    "cooperation_comparison": ["lens", "year", "cooperation_kind", "variant", "method", "estimate", "ci_low",
                               "ci_high", "p_value", "n_members", "n_nonmembers", "coverage",
                               "min_detectable_difference", "note"],
}

PROCUREMENT_MEASURE = "it_contract_value_sek"
FRAMEWORK_MEASURE = "it_framework_ceiling_sek"


@lru_cache(maxsize=32)
def _cached(path: Path, mtime_ns: int, size: int) -> pd.DataFrame:
    return read_parquet(path)


def _read(path: Path) -> pd.DataFrame:
    """A parquet table read once per file version (path, mtime, size); callers get their own copy."""
    if not path.exists():
        return read_parquet(path)
    st = path.stat()
    df = _cached(path, st.st_mtime_ns, st.st_size)
    out = df.copy()
    out.attrs = dict(df.attrs)
    return out


def load(table: str) -> pd.DataFrame:
    """A processed table; UserError naming the missing file when it has not been built."""
    return _read(config.processed_dir() / f"{table}.parquet")


def load_optional(table: str) -> pd.DataFrame:
    """A processed table, or an empty one with its contract columns when its stage has not been built."""
    path = config.processed_dir() / f"{table}.parquet"
    if path.exists():
        return _read(path)
    return pd.DataFrame({c: pd.Series(dtype=object) for c in CONTRACT_COLUMNS.get(table, [])})


def municipalities() -> pd.DataFrame:
    return load("municipalities")


def municipality_name(kommunkod: str) -> str:
    m = municipalities().set_index("kommunkod")
    return str(m.loc[kommunkod, "name"])


def official_name(kommunkod: str) -> str:
    """The official Swedish name ('Norrköpings kommun', 'Göteborgs Stad'); '<name> kommun' on older builds."""
    m = municipalities().set_index("kommunkod")
    if "official_name" in m.columns:
        return str(m.loc[kommunkod, "official_name"])
    return f"{m.loc[kommunkod, 'name']} kommun"


def lan_name(lan_kod: str) -> str:
    m = municipalities()
    return str(m.loc[m["lan_kod"] == lan_kod, "lan_name"].iloc[0])


def _both_languages(english: str) -> i18n.Localized:
    """Text from data/sources.yml (English) with its Swedish from the catalogue's data_text."""
    return i18n.Localized({lang: i18n.data_text(english, lang) for lang in i18n.LANGS})


def sources_table() -> pd.DataFrame:
    """One row per source in the manifest: publisher, licence, files, size, date accessed."""
    rows = [
        {
            "source_id": s.id,
            "title": _both_languages(s.title),
            "publisher": _both_languages(s.publisher),
            "licence": _both_languages(s.licence),
            "files": len(s.files),
            "size_mb": round(sum(f.size for f in s.files) / 1e6, 2),
            "date_accessed": s.date_accessed,
        }
        for s in manifest.load().values()
    ]
    table = pd.DataFrame(rows)
    for col in ("title", "publisher", "licence"):  # object dtype keeps each text's Swedish (a str column drops it)
        table[col] = pd.Series([r[col] for r in rows], dtype=object)
    return table


def processed_tables() -> pd.DataFrame:
    """Which processed tables exist, with their row counts; the partitioned ledger store counts as the table
    `ledger` (its rows from ledger_periods, so the postings are never read)."""
    paths = sorted(config.processed_dir().glob("*.parquet"))
    rows = {p.stem: len(read_parquet(p)) for p in paths}
    if (config.processed_dir() / "ledger").is_dir() and "ledger_periods" in rows:
        rows["ledger"] = int(load_optional("ledger_periods")["rows"].sum())
    return pd.DataFrame({"table": sorted(rows), "rows": [rows[t] for t in sorted(rows)]}, columns=["table", "rows"])


def lens_coverage() -> pd.DataFrame:
    """Per municipality: which lenses have data (True/False per lens) and how many.

    procurement and published: a row in it_spend; ledger: postings in the ledger table or a ledger figure
    in it_spend (a published ledger is data even before its IT share is classified).
    """
    spend = load_optional("it_spend")
    m = municipalities()[["kommunkod", "name", "lan_name", "kommungrupp_2023"]]
    lenses = ["ledger", "procurement", "published"]
    present = {lens: set(spend.loc[spend["lens"] == lens, "kommunkod"]) for lens in lenses}
    present["ledger"] |= set(load_optional("ledger_periods")["kommunkod"])
    out = m.copy()
    for lens in lenses:
        out[lens] = out["kommunkod"].isin(present[lens])
    out["lenses"] = out[lenses].sum(axis=1).astype("int64")
    return out


def lens_coverage_summary(coverage: pd.DataFrame) -> pd.DataFrame:
    """Per lens: municipalities covered and the share of Sweden's population they hold (latest year)."""
    pop = latest_population()
    cov = coverage.merge(pop, on="kommunkod", how="left")
    total = cov["population"].sum()
    rows = []
    for lens in ("ledger", "procurement", "published"):
        sel = cov[cov[lens]]
        rows.append({"lens": lens, "municipalities": len(sel), "of": len(cov),
                     "population_share_pct": round(100 * sel["population"].sum() / total, 1)})
    return pd.DataFrame(rows)


def latest_population(year: int | None = None) -> pd.DataFrame:
    """kommunkod, population, population_year: for `year`, or the latest year not after it."""
    pop = load("population")
    cand = pop if year is None else pop[pop["year"] <= year]
    y = int(cand["year"].max()) if len(cand) else int(pop["year"].min())
    sel = pop[pop["year"] == y][["kommunkod", "population"]].copy()
    sel["population_year"] = y
    return sel.reset_index(drop=True)


def reconciliation() -> pd.DataFrame:
    """The ledger stage's reconciliation of raw rows and kronor (as built), for readers: kronor instead of
    öre (exact to the öre in the processed table), notes in plain words."""
    rec = load_optional("ledger_reconciliation")
    if rec.empty:
        return rec
    out = rec[["source_id", "source_file", "shape", "grain", "rows_in", "rows_clean", "rows_rejected"]].copy()
    out.insert(0, "source", pd.Series([source_name(sid) for sid in rec["source_id"]], index=out.index, dtype=object))
    out = out.drop(columns=["source_id"])
    for part in ("in", "clean", "rejected"):
        out[f"kronor_{part}"] = rec[f"ore_{part}"] / 100
    out["balanced"] = rec["balanced"]
    out["note"] = rec["note"]
    return out


def source_name(source_id: str):
    """A ledger source in words, both languages: the catalogue's name for the mirrored ones, the municipality
    for ledgers fetched online (`ledger-online-<kommunkod>`) or supplied by the analyst."""
    from ..local_sources import PREFIX

    if source_id.startswith("ledger-online-"):
        name = municipality_names().get(source_id.removeprefix("ledger-online-"), source_id)
        return i18n.Localized({"sv": f"{name}: leverantörsreskontra hämtad från kommunens webbplats",
                               "en": f"{name}: supplier ledger fetched from the municipality's portal"})
    if source_id.startswith(PREFIX):
        return i18n.Localized({"sv": "leverantörsreskontra tillförd av analytikern",
                               "en": "supplier ledger supplied by the analyst"})
    return i18n.Localized({lang: i18n.value("source_id", source_id, lang) for lang in i18n.LANGS})


def municipality_names() -> dict[str, str]:
    """{kommunkod: short name} of the 290 municipalities."""
    m = municipalities()
    return dict(zip(m["kommunkod"], m["name"], strict=True))


def procurement_per_inhabitant(year: int | None) -> pd.DataFrame:
    """All 290 municipalities with advertised IT procurement in `year` (procurement lens), contracts and frameworks apart.

    Columns: kommunkod, name, lan_kod, lan_name, kommungrupp_2023, population, procurements (IT contracts),
    value_state ("reported" / "not_reported": IT contracts advertised, no value reported / "none": no IT
    contract advertised), value_sek and per_inhabitant (null when not reported, 0 when none),
    unvalued (IT procurements without a reported value), frameworks, framework_state,
    framework_ceiling_sek, framework_per_inhabitant (the same three states for framework ceilings).
    Empty (with these columns) when the lens has no figures for `year` or year is None.
    """
    spend = load_optional("it_spend")
    m = municipalities()[["kommunkod", "name", "lan_kod", "lan_name", "kommungrupp_2023"]]
    sel = spend[(spend["lens"] == "procurement") & (spend["year"] == year) & (spend["category"] == "all")]
    cols = {"kommunkod": str, "name": str, "lan_kod": str, "lan_name": str, "kommungrupp_2023": str,
            "population": "int64", "procurements": float, "value_state": str, "value_sek": float,
            "per_inhabitant": float, "unvalued": float, "frameworks": float, "framework_state": str,
            "framework_ceiling_sek": float, "framework_per_inhabitant": float}
    if sel.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in cols.items()})

    def measure(name: str, value: str, state: str | None = None, per_inh: str | None = None) -> pd.DataFrame:
        part = sel[sel["measure"] == name].set_index("kommunkod")
        out = pd.DataFrame({value: part["value"]})
        if state:
            out[state] = part["value_state"]
        if per_inh:
            out[per_inh] = part["per_inhabitant"]
        return out

    parts = [
        measure(PROCUREMENT_MEASURE, "value_sek", "value_state", "per_inhabitant"),
        measure(FRAMEWORK_MEASURE, "framework_ceiling_sek", "framework_state", "framework_per_inhabitant"),
        measure("it_contracts_count", "procurements"),
        measure("it_frameworks_count", "frameworks"),
        measure("it_unvalued_count", "unvalued"),
    ]
    out = m.merge(pd.concat(parts, axis=1), left_on="kommunkod", right_index=True, how="left")
    pop = sel[sel["measure"] == PROCUREMENT_MEASURE].set_index("kommunkod")["population"]
    out["population"] = out["kommunkod"].map(pop).astype("int64")
    return out[list(cols)].astype(cols).sort_values("kommunkod", ignore_index=True)


def reported(per_inh: pd.DataFrame) -> pd.DataFrame:
    """The municipalities with a reported contract value (value_state "reported")."""
    return per_inh[per_inh["value_state"] == "reported"]


def ranking(per_inh: pd.DataFrame) -> pd.DataFrame:
    """Municipalities with a reported value ranked by per-inhabitant value, highest first.

    Ties share a rank (the best of the tied places); `of` is the number ranked. Municipalities without a
    reported value are not ranked: they are counted by value state in `ranking_note`.
    """
    out = reported(per_inh).sort_values(["per_inhabitant", "kommunkod"], ascending=[False, True], ignore_index=True)
    out.insert(0, "rank", out["per_inhabitant"].rank(method="min", ascending=False).astype("int64"))
    out.insert(1, "of", len(out))
    return out[["rank", "of", "kommunkod", "name", "lan_name", "kommungrupp_2023", "population", "procurements",
                "value_sek", "per_inhabitant", "unvalued", "framework_ceiling_sek"]]


def ranking_note(per_inh: pd.DataFrame) -> str:
    """One sentence: how many are ranked, and how many have no value reported or advertised nothing."""
    counts = per_inh["value_state"].value_counts()
    return (f"Ranked: the {int(counts.get('reported', 0))} municipalities with a reported IT contract value."
            f" Not ranked: {int(counts.get('not_reported', 0))} advertised IT contracts without reporting a value"
            f" and {int(counts.get('none', 0))} advertised no IT contract.")


def rank_of(per_inh: pd.DataFrame, kommunkod: str) -> tuple[int, int] | None:
    """(rank, of) of one municipality among those with a reported value, or None when it is not ranked."""
    r = ranking(per_inh)
    row = r[r["kommunkod"] == kommunkod]
    return (int(row["rank"].iloc[0]), int(row["of"].iloc[0])) if len(row) else None


POPULATION_BANDS = [0, 10_000, 20_000, 50_000, 100_000, 200_000, 10_000_000]


def scale_bands(per_inh: pd.DataFrame) -> pd.DataFrame:
    """By population band: how many municipalities advertised IT procurement with a value, and the median
    and quartiles of value per inhabitant among those that did (the scale curve)."""
    labels = [f"{a:,}–{b:,}" if b < 10_000_000 else f"{a:,}+" for a, b in zip(POPULATION_BANDS, POPULATION_BANDS[1:])]
    band = pd.cut(per_inh["population"], POPULATION_BANDS, labels=labels, right=False)
    d = per_inh.assign(band=band)
    size = d.groupby("band", observed=False).size()
    g = d[(d["value_state"] == "reported")].groupby("band", observed=False)["per_inhabitant"]
    out = pd.DataFrame({"municipalities": size, "with_value": g.size(), "median": g.median(),
                        "q25": g.quantile(0.25), "q75": g.quantile(0.75)}).reset_index()
    out["band"] = out["band"].astype(str)
    out["with_value_pct"] = (100 * out["with_value"] / out["municipalities"].where(out["municipalities"] > 0)).round(0)
    return out[["band", "municipalities", "with_value", "with_value_pct", "median", "q25", "q75"]]


def red_flags(per_inh: pd.DataFrame, factor: float = 5.0, year: int | None = None) -> pd.DataFrame:
    """Municipalities whose contract value per inhabitant is more than `factor` × the median of those with a value.

    `largest_share_pct` and `largest_title`: the share of the municipality's contract value held by its
    largest single contract (from procurement_it when `year` is the lens's year), so an outlier driven by
    one contract says so.
    """
    cols = ["kommunkod", "name", "lan_name", "population", "procurements", "value_sek", "per_inhabitant"]
    pos = reported(per_inh)
    extra = {"times_median": float, "largest_title": object, "largest_sek": float, "largest_share_pct": float}
    if pos.empty:
        return per_inh[cols].iloc[0:0].assign(**{c: pd.Series(dtype=t) for c, t in extra.items()})
    med = pos["per_inhabitant"].median()
    out = pos[pos["per_inhabitant"] > factor * med][cols].assign(times_median=lambda d: d["per_inhabitant"] / med)
    top = largest_contracts(year)
    out = out.merge(top[["kommunkod", "largest_title", "largest_sek", "largest_share_pct"]], on="kommunkod", how="left")
    return out.sort_values(["times_median", "kommunkod"], ascending=[False, True], ignore_index=True)


def largest_contracts(year: int | None) -> pd.DataFrame:
    """Per municipality: its largest single IT contract (attributed value, frameworks excluded) and its share.

    Columns kommunkod, largest_title, largest_buyer, largest_sek, total_sek, largest_share_pct; empty when
    procurement_it does not hold `year`.
    """
    cols = ["kommunkod", "largest_title", "largest_buyer", "largest_sek", "total_sek", "largest_share_pct"]
    proc = load_optional("procurement_it")
    if proc.empty or year is None or latest_year("procurement") != year:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    proc = proc[proc["kommunkod"].notna() & ~proc["is_framework"] & proc["has_value"]]
    total = proc.groupby("kommunkod")["contracted_value_sek"].sum().rename("total_sek")
    top = proc.sort_values(["contracted_value_sek", "procurement_id"], ascending=[False, True]).drop_duplicates("kommunkod")
    out = top.merge(total, left_on="kommunkod", right_index=True)
    out = out.rename(columns={"title": "largest_title", "buyer_name": "largest_buyer", "contracted_value_sek": "largest_sek"})
    out["largest_share_pct"] = (100 * out["largest_sek"] / out["total_sek"]).round(1)
    return out[cols].sort_values("kommunkod", ignore_index=True)


def ledger_slice(kommunkod: str, period: str) -> pd.DataFrame:
    """The ledger postings of one municipality in one month (empty when none are published): one partition
    of the ledger store, never the whole ledger."""
    from ..ledgers import store

    return store.read_store(store.store_dir(config.processed_dir()), kommunkod, period)


def ledger_periods() -> pd.DataFrame:
    """Which municipality × period combinations the ledger lens holds, with row counts, kronor and the
    source (an `analyst-supplied-…` id marks a ledger supplied by the analyst)."""
    keys = ["kommunkod", "year", "period", "grain", "source_id"]
    led = load_optional("ledger_periods")
    if led.empty:
        return pd.DataFrame(columns=[*keys, "rows", "amount_sek"])
    out = led.sort_values(keys, na_position="last", ignore_index=True)
    return out.assign(amount_sek=out["amount_ore"] / 100)[[*keys, "rows", "amount_sek"]]


def ledger_it_by_category(kommunkod: str, period: str) -> pd.DataFrame:
    """IT spend in one municipality and month, by category and method (ledger lens of it_spend)."""
    spend = load_optional("it_spend")
    sel = spend[(spend["lens"] == "ledger") & (spend["kommunkod"] == kommunkod) & (spend["period"] == period)]
    return sel[["method", "measure", "category", "value", "per_inhabitant", "coverage_note"]].sort_values(
        ["method", "measure", "category"], ignore_index=True)


def without_notes(df: pd.DataFrame) -> pd.DataFrame:
    """The table without its coverage_note column (shown once, by coverage_notes, instead of on every row)."""
    return df.drop(columns=["coverage_note"], errors="ignore")


def coverage_notes(df: pd.DataFrame):
    """The distinct coverage notes of a table, joined, in both languages: what its figures include and leave out.

    The notes are written by the build in English; `i18n.data_text` gives each its Swedish.
    """
    notes = sorted(set(df["coverage_note"].dropna())) if "coverage_note" in df.columns else []
    if not notes:
        return "No coverage notes (no rows)."
    return i18n.Localized({lang: i18n.data_text("Coverage: {notes}", lang).replace(
        "{notes}", " / ".join(i18n.data_text(n, lang) for n in notes)) for lang in i18n.LANGS})


def top_suppliers(postings: pd.DataFrame, n: int = 25) -> pd.DataFrame:
    """Suppliers by net amount (credit notes netted), with postings and credit-note counts."""
    if postings.empty:
        return pd.DataFrame(columns=["supplier_name", "supplier_orgnr", "postings", "credit_notes", "net_sek"])
    g = postings.groupby("supplier_key", dropna=False)
    out = g.agg(supplier_name=("supplier_name", "first"), supplier_orgnr=("supplier_orgnr", "first"),
                postings=("amount_ore", "size"), credit_notes=("amount_ore", lambda s: int((s < 0).sum())),
                net_ore=("amount_ore", "sum")).reset_index(drop=True)
    out["net_sek"] = out["net_ore"] / 100
    out = out.sort_values(["net_ore", "supplier_name"], ascending=[False, True], ignore_index=True)
    return out[["supplier_name", "supplier_orgnr", "postings", "credit_notes", "net_sek"]].head(n)


def credit_notes(postings: pd.DataFrame) -> pd.DataFrame:
    """The negative postings (credit notes and corrections), largest first."""
    cols = ["date", "supplier_name", "account", "account_text", "amount_sek", "invoice_id"]
    neg = postings[postings["amount_ore"] < 0] if len(postings) else postings
    return neg.sort_values("amount_ore", ignore_index=True)[cols] if len(neg) else pd.DataFrame(columns=cols)


def ledger_rejects(postings: pd.DataFrame) -> pd.DataFrame:
    """Rows the ledger stage could not use from the raw files behind these postings, with the reason."""
    rej = load_optional("ledger_rejects")
    if rej.empty or "source_id" not in rej.columns:
        return rej
    return rej[rej["source_id"].isin(sources_of(postings))].reset_index(drop=True)


def membership(year: int, kind: str) -> pd.DataFrame:
    """Membership state of every municipality for one cooperation kind and year, with names."""
    mem = load_optional("cooperation_membership")
    sel = mem[(mem["year"] == year) & (mem["cooperation_kind"] == kind)]
    m = municipalities()[["kommunkod", "name", "lan_name", "kommungrupp_2023"]]
    cols = ["state", "is_host", "confidence", "cooperation_ids"]
    return m.merge(sel[["kommunkod", *cols]], on="kommunkod", how="inner").sort_values("kommunkod", ignore_index=True)


def membership_summary(members: pd.DataFrame) -> pd.DataFrame:
    """Municipalities per membership state and confidence."""
    if members.empty:
        return pd.DataFrame(columns=["state", "confidence", "municipalities"])
    return members.groupby(["state", "confidence"], dropna=False).size().rename("municipalities").reset_index()


def comparison(lens: str, year: int, kind: str) -> pd.DataFrame:
    """All rows (variants and methods) of the cooperation comparison for one lens, year and kind."""
    comp = load_optional("cooperation_comparison")
    sel = comp[(comp["lens"] == lens) & (comp["year"] == year) & (comp["cooperation_kind"] == kind)]
    return sel.reset_index(drop=True)


def region_table(per_inh_table: pd.DataFrame, lan_kod: str) -> pd.DataFrame:
    """The län's municipalities with their value per inhabitant, the national median and their SKR-group median.

    Medians are over municipalities that advertised IT procurement with a value (zeros excluded).
    """
    pos = reported(per_inh_table)
    group_median = pos.groupby("kommungrupp_2023")["per_inhabitant"].median().rename("kommungrupp_median")
    lan = per_inh_table[per_inh_table["lan_kod"] == lan_kod].merge(
        group_median, left_on="kommungrupp_2023", right_index=True, how="left")
    lan["national_median"] = pos["per_inhabitant"].median()
    cols = ["kommunkod", "name", "kommungrupp_2023", "population", "procurements", "value_state", "value_sek",
            "per_inhabitant", "framework_ceiling_sek", "kommungrupp_median", "national_median"]
    return lan[cols].sort_values(["per_inhabitant", "kommunkod"], ascending=[False, True], ignore_index=True,
                                 na_position="last")


def municipality_profile(kommunkod: str) -> pd.Series:
    """One municipality's reference facts with its latest population and density."""
    m = municipalities().set_index("kommunkod").loc[kommunkod]
    pop = latest_population().set_index("kommunkod").loc[kommunkod]
    return pd.Series({
        "kommunkod": kommunkod, "name": m["name"], "lan_kod": m["lan_kod"], "lan_name": m["lan_name"],
        "kommungrupp_2023": m["kommungrupp_2023"], "population": int(pop["population"]),
        "population_year": int(pop["population_year"]), "land_area_km2": float(m["land_area_km2"]),
        "inhabitants_per_km2": round(int(pop["population"]) / float(m["land_area_km2"]), 1),
    })


def municipality_spend(kommunkod: str) -> pd.DataFrame:
    """Every IT figure for one municipality across lenses (it_spend rows), sorted."""
    spend = load_optional("it_spend")
    sel = spend[spend["kommunkod"] == kommunkod]
    cols = ["lens", "method", "year", "period", "measure", "category", "value", "unit", "per_inhabitant",
            "coverage_note", "source_ids"]
    return sel[cols].sort_values(["lens", "year", "period", "method", "measure", "category"], ignore_index=True)


def municipality_memberships(kommunkod: str) -> pd.DataFrame:
    """The municipality's cooperation memberships, every kind and year."""
    mem = load_optional("cooperation_membership")
    sel = mem[mem["kommunkod"] == kommunkod]
    return sel[["year", "cooperation_kind", "state", "is_host", "confidence", "cooperation_ids"]].sort_values(
        ["cooperation_kind", "year"], ignore_index=True)


def peers(per_inh_table: pd.DataFrame, kommunkod: str) -> pd.DataFrame:
    """The municipality's SKR kommungrupp peers by per-inhabitant value, highest first."""
    if per_inh_table.empty:
        return per_inh_table
    group = per_inh_table.loc[per_inh_table["kommunkod"] == kommunkod, "kommungrupp_2023"].iloc[0]
    sel = per_inh_table[per_inh_table["kommungrupp_2023"] == group]
    return ranking(sel)


def latest_year(lens: str) -> int | None:
    """The latest year a lens has figures for in it_spend (None when the lens has none)."""
    spend = load_optional("it_spend")
    years = spend.loc[spend["lens"] == lens, "year"]
    return int(years.max()) if len(years) else None


def sources_of(df: pd.DataFrame) -> list[str]:
    """Sorted source ids named in a table's source_id / source_ids column (for the attribution line)."""
    col = "source_ids" if "source_ids" in df.columns else "source_id"
    if col not in df.columns or df.empty:
        return []
    return sorted({s.strip() for v in df[col].dropna() for s in str(v).split(",") if s.strip()})


def profile_table(profile: pd.Series) -> pd.DataFrame:
    """A municipality's facts as a two-column table for display."""
    return pd.DataFrame({"fact": profile.index, "value": [str(v) for v in profile.values]})


def coverage_categories(coverage: pd.DataFrame) -> pd.DataFrame:
    """kommunkod, name, lan_kod, coverage: which lenses give a figure ('procurement + ledger', 'none', …)."""
    lenses = ["ledger", "procurement", "published"]
    label = coverage[lenses].apply(lambda r: " + ".join(lens for lens in lenses if r[lens]) or "none", axis=1)
    m = municipalities()[["kommunkod", "lan_kod"]]
    return coverage[["kommunkod", "name"]].assign(coverage=label.astype(str)).merge(m, on="kommunkod")


def national_median(per_inh_table: pd.DataFrame) -> float | None:
    """Median value per inhabitant over municipalities with a value above zero (None when there are none)."""
    pos = reported(per_inh_table)["per_inhabitant"]
    return float(pos.median()) if len(pos) else None


def it_categories(it: pd.DataFrame) -> pd.DataFrame:
    """IT spend by category (one method: 'accounts' when present), largest first, for a bar chart."""
    sel = it[(it["category"] != "all") & (it["measure"] == "it_spend_sek")]
    if sel.empty:
        return pd.DataFrame({"category": pd.Series(dtype=str), "value": pd.Series(dtype=float)})
    method = "accounts" if (sel["method"] == "accounts").any() else sel["method"].iloc[0]
    return sel[sel["method"] == method][["category", "value"]].sort_values("value", ascending=False, ignore_index=True)


def framework_outliers(per_inh: pd.DataFrame, year: int | None, factor: float = 5.0) -> pd.DataFrame:
    """Municipalities whose framework ceilings per inhabitant exceed `factor` × the median of those with a ceiling,
    with their largest single framework (title, attributed ceiling, share of their ceilings)."""
    cols = ["kommunkod", "name", "framework_ceiling_sek", "framework_per_inhabitant", "times_median",
            "largest_title", "largest_sek", "largest_share_pct", "frameworks"]
    fw = per_inh[per_inh["framework_state"] == "reported"]
    proc = load_optional("procurement_it")
    if fw.empty or proc.empty or year is None or latest_year("procurement") != year:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    med = fw["framework_per_inhabitant"].median()
    out = fw[fw["framework_per_inhabitant"] > factor * med].assign(
        times_median=lambda d: d["framework_per_inhabitant"] / med)
    proc = proc[proc["kommunkod"].notna() & proc["is_framework"] & proc["has_value"]]
    top = proc.sort_values(["contracted_value_sek", "procurement_id"], ascending=[False, True]).drop_duplicates("kommunkod")
    top = top.set_index("kommunkod")
    out["largest_title"] = out["kommunkod"].map(top["title"])
    out["largest_sek"] = out["kommunkod"].map(top["contracted_value_sek"])
    out["largest_share_pct"] = (100 * out["largest_sek"] / out["framework_ceiling_sek"]).round(1)
    return out[cols].sort_values(["framework_per_inhabitant", "kommunkod"], ascending=[False, True], ignore_index=True)


def procurement_concentration(year: int, min_share: float = 0.5) -> pd.DataFrame:
    """Municipalities where one IT contract holds at least min_share of their reported contract value.

    Frameworks are left out, as in the headline measure; procurement_it holds one advertising year (the
    lens's year in it_spend), other years give an empty table.
    """
    cols = ["kommunkod", "name", "largest_title", "largest_buyer", "largest_sek", "total_sek", "largest_share_pct"]
    top = largest_contracts(year)
    out = top[top["largest_share_pct"].astype(float) >= 100 * min_share].merge(
        municipalities()[["kommunkod", "name"]], on="kommunkod")
    return out[cols].sort_values(["largest_sek", "kommunkod"], ascending=[False, True], ignore_index=True)


@lru_cache(maxsize=1)
def _cooperation_names(mtime: float) -> dict[str, str]:
    coop = pd.read_csv(config.MAPPINGS_DIR / "cooperations.csv", dtype=str, keep_default_na=False)
    names = dict(zip(coop["cooperation_id"], coop["cooperation_name"]))
    groups = config.MAPPINGS_DIR / "kolada_kommunalforbund_groups.csv"
    if groups.exists():
        g = pd.read_csv(groups, dtype=str, keep_default_na=False)
        names.update(zip(g["group_id"], g["group_title"]))
    return names


def cooperation_names() -> dict[str, str]:
    """cooperation_id → cooperation name, from the project's cooperation table (Kolada group ids → their title);
    read once per version of the table."""
    return dict(_cooperation_names((config.MAPPINGS_DIR / "cooperations.csv").stat().st_mtime))


def latest_memberships(memberships: pd.DataFrame) -> pd.DataFrame:
    """The latest year's row per cooperation kind of a municipality_memberships table, with cooperation names."""
    if memberships.empty:
        return memberships.assign(cooperations=pd.Series(dtype=str))
    latest = memberships[memberships["year"] == memberships["year"].max()].copy()
    names = cooperation_names()
    latest["cooperations"] = [
        "; ".join(names.get(i, i) for i in ids.split(";") if i) for ids in latest["cooperation_ids"]
    ]
    return latest.reset_index(drop=True)


COMPARISON_MEASURE = "it_contract_value_sek"


def variant_name(attribute_federations: bool = True, include_frameworks: bool = False, trim_top_share: bool = False,
                 unknown_as_nonmember: bool = False, exclude_hosts: bool = False) -> str:
    """The compare stage's variant computed for these sensitivity switches (one switch at a time)."""
    from ..compare import VARIANTS, Variant

    wanted = Variant(unknown_as_nonmember=unknown_as_nonmember, attribute_federations=attribute_federations,
                     include_frameworks=include_frameworks, trim_top_share=0.01 if trim_top_share else None,
                     exclude_hosts=exclude_hosts)
    names = {v: k for k, v in VARIANTS.items()}
    if wanted not in names:
        raise UserError("sensitivity switches: the comparison is computed with one switch changed at a time;"
                        f" valid variants: {', '.join(VARIANTS)}")
    return names[wanted]


def verdict(lens: str, year: int, kind: str, measure: str = COMPARISON_MEASURE) -> pd.Series | None:
    """The cooperation_verdict row of one comparison (None when it was not built)."""
    v = load_optional("cooperation_verdict")
    if v.empty:
        return None
    sel = v[(v["lens"] == lens) & (v["year"] == year) & (v["cooperation_kind"] == kind) & (v["measure"] == measure)]
    return sel.iloc[0] if len(sel) else None


def select_variant(comparison_rows: pd.DataFrame, variant: str, measure: str = COMPARISON_MEASURE) -> pd.DataFrame:
    """The comparison rows (one per method) of one variant and measure."""
    sel = comparison_rows[(comparison_rows["variant"] == variant) & (comparison_rows["measure"] == measure)]
    cols = ["method", "estimate", "ci_low", "ci_high", "p_value", "n_members", "n_nonmembers",
            "min_detectable_difference", "note"]
    return sel[cols].reset_index(drop=True)


def sensitivity(comparison_rows: pd.DataFrame, method: str = "median_diff",
                measure: str = COMPARISON_MEASURE) -> pd.DataFrame:
    """One row per variant for one method and measure: does the answer survive other choices?"""
    sel = comparison_rows[(comparison_rows["method"] == method) & (comparison_rows["measure"] == measure)]
    cols = ["variant", "estimate", "ci_low", "ci_high", "p_value", "n_members", "n_nonmembers",
            "min_detectable_difference", "note"]
    return sel[cols].reset_index(drop=True)


def member_codes(members: pd.DataFrame) -> set[str]:
    """kommunkod of the members in a membership table."""
    return set(members.loc[members["state"] == "member", "kommunkod"]) if len(members) else set()


def lan_memberships(lan_kod: str) -> pd.DataFrame:
    """Memberships ('member' rows) of the län's municipalities in the latest membership year, every kind."""
    mem = load_optional("cooperation_membership")
    cols = ["kommunkod", "name", "cooperation_kind", "is_host", "confidence", "cooperation_ids"]
    if mem.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    m = municipalities()
    sel = mem[(mem["year"] == mem["year"].max()) & (mem["state"] == "member")].merge(
        m[m["lan_kod"] == lan_kod][["kommunkod", "name"]], on="kommunkod")
    return sel[cols].sort_values(["kommunkod", "cooperation_kind"], ignore_index=True)


def peer_window(peers_table: pd.DataFrame, kommunkod: str, n: int = 25) -> pd.DataFrame:
    """At most n rows of a ranked peers table, always including the municipality itself."""
    head = peers_table.head(n)
    if kommunkod in set(head["kommunkod"]) or peers_table.empty:
        return head
    return pd.concat([peers_table.head(n - 1), peers_table[peers_table["kommunkod"] == kommunkod]],
                     ignore_index=True)
