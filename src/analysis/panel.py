"""Panel stage: one procurement lens over every year present, per municipality and year.

Sources, each read only when its raw files are present (see docs/panel.md):
- `bdf-procurement-panel-2009-2015` (mirrored): number of advertised tenders per municipality and year,
  **all procurement** (`tenders_all`); activity, not IT. Missing cells stay missing (not zero).
- `uhm-procurement-YYYY` (2021 mirrored, later years from `kommun-it refresh procurement --source uhm`):
  all advertised procurements of the municipality itself (`procurements_all`, activity) and the IT ones
  (`it_procurements` = contracts + frameworks, `it_contracts`, `it_frameworks`, `it_contracted_value_sek`
  (null when IT was advertised but no value reported), `it_framework_ceiling_sek`), computed by the 2021
  lens's own functions (`procurement.build_procurement_tables`, `procurement.municipal_totals`), so every
  year follows the same CPV mapping, value states and federation attribution (population weights of the
  lens's population year).
- `ted-award-notices` (from `refresh procurement --source ted`): Swedish award rows. Buyers are matched by
  orgnr (digits only) to the municipalities' orgnr (from the UHM tables) and the federation mapping, then
  by name ("Göteborgs kommun", "Kommunstyrelsen i Tierp"); unmatched Swedish public buyers (orgnr
  starting 2) are listed in `procurement_panel_unmatched`. An award (`ID_NOTICE_CAN`, `ID_AWARD`) is
  counted once across lots, rows and yearly files (earliest file wins). EUR → SEK with the yearly rate in
  `data/mappings/eur_sek_rates.csv`. Flags: framework, cancelled, not awarded, award == estimate.
  Measures `ted_it_procurements` (notices), `ted_it_contracts` (non-framework awards), `ted_it_value_sek`
  and `ted_it_framework_ceiling_sek`.
- `ted-api-notices` (2024 on): `ted_it_procurements` from the Search API notices (no values).

Every measure is a complete grid (all 290 municipalities × the years its source covers; 0 when the
source shows nothing), with `scope` and `coverage` saying what it can and cannot show.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from . import config, procurement
from .errors import UserError
from .io import read_parquet, validate

BDF_ID = "bdf-procurement-panel-2009-2015"
BDF_FILE = "bdf_replication.dta"
BDF_COUNT = "ncmc_sb_yr"  # "Number of tenders" in the replication data
RATES_CSV = "eur_sek_rates.csv"

SCOPE_ACTIVITY = "all procurement (activity, not IT)"
SCOPE_IT = "IT procurement"
SCOPE_TED = "IT procurement above EU thresholds (TED)"
COVERAGE = {
    "tenders_all": "advertised tenders of all kinds (BDF replication data 2009–2015); missing cells are unknown, not zero",
    "procurements_all": "advertised procurements of all kinds by the municipality itself (Upphandlingsmyndigheten)",
    "it_procurements": "advertised IT procurements incl. cooperation bodies' shares; direct awards and call-offs are not in the data",
    "it_contracts": "advertised IT procurements that are contracts (not frameworks)",
    "it_frameworks": "advertised IT framework agreements",
    "it_contracted_value_sek": "contracted value of advertised IT contracts, whole term (not spend)",
    "it_framework_ceiling_sek": "maximum value of advertised IT framework agreements (a ceiling, not spend)",
    "ted_it_procurements": "TED sees only above-threshold procurement: about two thirds of advertised municipal IT procurement (65 % in 2021, 71 % of value)",
    "ted_it_contracts": "TED above-threshold IT awards that are not frameworks, each award once across lots and files",
    "ted_it_value_sek": "TED above-threshold IT award value (EUR → SEK, yearly rate); often the estimate typed again",
    "ted_it_framework_ceiling_sek": "TED above-threshold IT framework ceilings (EUR → SEK, yearly rate)",
}
MEASURES = tuple(COVERAGE)
SCOPES = {
    "tenders_all": SCOPE_ACTIVITY,
    "procurements_all": SCOPE_ACTIVITY,
    **{m: SCOPE_IT for m in MEASURES if m.startswith("it_")},
    **{m: SCOPE_TED for m in MEASURES if m.startswith("ted_")},
}

PANEL_SCHEMA = pa.DataFrameSchema(
    {
        "kommunkod": pa.Column(str, pa.Check.str_matches(r"^\d{4}$")),
        "year": pa.Column("int64", pa.Check.in_range(2000, 2100)),
        "measure": pa.Column(str, pa.Check.isin(list(MEASURES))),
        "value": pa.Column(float, pa.Check.ge(0), nullable=True),
        "source_id": pa.Column(str),
        "scope": pa.Column(str),
        "coverage": pa.Column(str),
    },
    unique=["kommunkod", "year", "measure"],
    strict=True,
    ordered=True,
)

UNMATCHED_SCHEMA = pa.DataFrameSchema(
    {
        "source_id": pa.Column(str),
        "year": pa.Column("int64"),
        "buyer_name": pa.Column(str),
        "buyer_id": pa.Column(str),
        "n_rows": pa.Column("int64", pa.Check.gt(0)),
        "reason": pa.Column(str),
    },
    strict=True,
    ordered=True,
)

SUPPLIER_SCHEMA = pa.DataFrameSchema(
    {
        "kommunkod": pa.Column(str, pa.Check.str_matches(r"^\d{4}$")),
        "year": pa.Column("int64"),
        "supplier": pa.Column(str),
        "it_value_sek": pa.Column(float, pa.Check.ge(0)),
        "n_procurements": pa.Column("int64", pa.Check.gt(0)),
        "source_id": pa.Column(str),
    },
    unique=["kommunkod", "year", "supplier", "source_id"],
    strict=True,
    ordered=True,
)

TED_AWARDS_SCHEMA = pa.DataFrameSchema(
    {
        "notice_id": pa.Column(str),
        "award_id": pa.Column(str),
        "year": pa.Column("int64"),
        "file": pa.Column(str),
        "buyer_name": pa.Column(str),
        "buyer_id": pa.Column(str),
        "kommunkod": pa.Column(str, pa.Check.str_matches(r"^\d{4}$"), nullable=True),
        "matched_by": pa.Column(str, pa.Check.isin(["orgnr", "federation", "name", "none"])),
        "attribution_share": pa.Column(float, pa.Check.in_range(0, 1), nullable=True),
        "cpv_code": pa.Column(str),
        "category": pa.Column(str, nullable=True),
        "is_framework": pa.Column(bool),
        "is_cancelled": pa.Column(bool),
        "not_awarded": pa.Column(bool),
        "award_equals_estimate": pa.Column(bool),
        "value_eur": pa.Column(float, nullable=True),
        "value_sek": pa.Column(float, nullable=True),
        "winner_name": pa.Column(str, nullable=True),
        "winner_id": pa.Column(str, nullable=True),
        "n_rows": pa.Column("int64"),
    },
    strict=True,
    ordered=True,
)


# ---------------------------------------------------------------- helpers


def _grid(kommunkoder: list[str], years: list[int]) -> pd.DataFrame:
    return pd.MultiIndex.from_product([sorted(kommunkoder), sorted(years)], names=["kommunkod", "year"]).to_frame(
        index=False
    )


def _long(wide: pd.DataFrame, measure: str, source_id: str) -> pd.DataFrame:
    out = wide[["kommunkod", "year", measure]].rename(columns={measure: "value"})
    return out.assign(measure=measure, source_id=source_id, scope=SCOPES[measure], coverage=COVERAGE[measure])


def read_rates(path: Path | None = None) -> pd.Series:
    """SEK per EUR by year from the documented rate table."""
    path = path or config.MAPPINGS_DIR / RATES_CSV
    try:
        df = pd.read_csv(path, dtype={"year": "int64", "sek_per_eur": float})
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read the EUR/SEK rate table ({exc})") from exc
    if df["year"].duplicated().any() or (df["sek_per_eur"] <= 0).any():
        raise UserError(f"{path.name}: a year is listed twice or a rate is not positive")
    return df.set_index("year")["sek_per_eur"]


# ---------------------------------------------------------------- BDF 2009–2015


def bdf_panel(raw_dir: Path, kommunkoder: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """tenders_all per municipality and year from the BDF replication data; unknown codes are listed."""
    path = raw_dir / BDF_ID / BDF_FILE
    if not path.exists():
        return pd.DataFrame(), pd.DataFrame()
    try:
        df = pd.read_stata(path, convert_categoricals=False, columns=["m", "mc", "year", BDF_COUNT])
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{path.name}: cannot read columns m, mc, year, {BDF_COUNT} ({exc})") from exc
    for i, (mc, yr) in enumerate(zip(df["mc"], df["year"]), start=1):
        if pd.isna(mc) or pd.isna(yr) or float(mc) != int(mc) or float(yr) != int(yr):
            raise UserError(f"{path.name} row {i}: column 'mc' or 'year' is not a whole number ({mc!r}, {yr!r})")
    df["kommunkod"] = df["mc"].astype(int).astype(str).str.zfill(4)
    df["year"] = df["year"].astype("int64")
    unknown = df[~df["kommunkod"].isin(kommunkoder)]
    unmatched = pd.DataFrame(
        {
            "source_id": BDF_ID,
            "year": unknown["year"],
            "buyer_name": unknown["m"].fillna("").astype(str),
            "buyer_id": unknown["kommunkod"],
            "n_rows": 1,
            "reason": "municipal code is not one of the 290 kommunkoder (left out)",
        }
    )
    df = df[df["kommunkod"].isin(kommunkoder)]
    dup = df[df.duplicated(["kommunkod", "year"], keep=False)]
    if len(dup):
        raise UserError(f"{path.name}: kommunkod {dup['kommunkod'].iloc[0]} year {dup['year'].iloc[0]} appears twice")
    grid = _grid(kommunkoder, sorted(df["year"].unique()))
    wide = grid.merge(df[["kommunkod", "year", BDF_COUNT]], how="left").rename(columns={BDF_COUNT: "tenders_all"})
    return _long(wide.astype({"tenders_all": float}), "tenders_all", BDF_ID), unmatched


# ---------------------------------------------------------------- Upphandlingsmyndigheten, any year


def uhm_years(raw_dir: Path) -> list[int]:
    years = []
    for d in sorted(raw_dir.glob("uhm-procurement-*")):
        m = re.fullmatch(r"uhm-procurement-(\d{4})", d.name)
        if m and (d / procurement.RAW_FILES["procurements"]).exists():
            years.append(int(m.group(1)))
    return years


def uhm_year_panel(
    raw_dir: Path, year: int, municipalities: pd.DataFrame, population: pd.DataFrame, federations: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Measures of one UHM year (long), and the municipal orgnr → kommunkod map found in it.

    The IT measures come from the 2021 lens's own code (`procurement.build_procurement_tables` and
    `procurement.municipal_totals`: the CPV mapping table, per-procurement decisions where they name a
    procurement of this year, value states, frameworks apart, federation attribution), so every year
    follows the same rule as 2021.
    """
    base = raw_dir / f"uhm-procurement-{year}"
    tables = {key: procurement.read_raw_table(base / name) for key, name in procurement.RAW_FILES.items()}
    decisions = _decisions_for(tables)
    built = procurement.build_procurement_tables(tables, municipalities, population, federations, decisions=decisions)
    it = built["procurement_it"]
    contracts = procurement.municipal_totals(it, municipalities, include_frameworks=False)
    mapping, _ = procurement.municipal_buyers(procurement.buyer_records(tables), municipalities)

    C = procurement
    p = tables["procurements"].drop_duplicates([C.COL_ID, C.COL_ORGNR])
    muni = p[p[C.COL_FORM] == "Kommuner"].merge(
        mapping.rename(columns={"buyer_name": C.COL_NAME, "buyer_orgnr": C.COL_ORGNR}), on=[C.COL_NAME, C.COL_ORGNR]
    )
    all_counts = muni.groupby("kommunkod")[C.COL_ID].nunique().rename("procurements_all")

    c = contracts.set_index("kommunkod")
    none_c, none_f = c["value_state"].eq("none"), c["framework_state"].eq("none")
    wide = pd.DataFrame({
        "kommunkod": c.index,
        "year": year,
        "it_procurements": (c["it_procurements_count"] + c["it_frameworks_count"]).to_numpy(),
        "it_contracts": c["it_procurements_count"].to_numpy(),
        "it_frameworks": c["it_frameworks_count"].to_numpy(),
        # no IT procurement at all: 0; IT procurement without a reported value: unknown (null)
        "it_contracted_value_sek": c["it_contract_value_sek"].where(~none_c, 0.0).to_numpy(),
        "it_framework_ceiling_sek": c["it_framework_ceiling_sek"].where(~none_f, 0.0).to_numpy(),
    })
    wide = wide.merge(all_counts, left_on="kommunkod", right_index=True, how="left")
    wide["procurements_all"] = wide["procurements_all"].fillna(0.0)
    measures = ["procurements_all", "it_procurements", "it_contracts", "it_frameworks", "it_contracted_value_sek",
                "it_framework_ceiling_sek"]
    wide[measures] = wide[measures].astype(float)
    wide["year"] = wide["year"].astype("int64")
    source = f"uhm-procurement-{year}"
    long = pd.concat([_long(wide, m, source) for m in measures], ignore_index=True)
    orgnr_map = {o: k for o, k in zip(mapping["buyer_orgnr"], mapping["kommunkod"]) if re.fullmatch(r"212000\d{4}", o)}
    suppliers = uhm_supplier_values(tables, it, year, source)
    return long, orgnr_map, suppliers


def uhm_supplier_values(tables: dict[str, pd.DataFrame], procurement_it: pd.DataFrame, year: int, source: str) -> pd.DataFrame:
    """IT contract value per municipality, year and supplier from the UHM suppliers table.

    The suppliers table names who won each procurement but carries no value per supplier: a contract's
    reported value (attributed share) is split equally among its distinct suppliers. Framework ceilings
    and unreported values are left out.
    """
    C = procurement
    sup = tables["suppliers"][[C.COL_ID, C.COL_ORGNR, "Namn för leverantör"]].dropna().drop_duplicates()
    sup = sup.rename(columns={C.COL_ID: "procurement_id", C.COL_ORGNR: "buyer_orgnr", "Namn för leverantör": "supplier"})
    sup["supplier"] = sup["supplier"].str.strip()
    sup["n_suppliers"] = sup.groupby(["procurement_id", "buyer_orgnr"])["supplier"].transform("size")
    it = procurement_it[procurement_it["kommunkod"].notna() & ~procurement_it["is_framework"]
                        & procurement_it["contracted_value_sek"].notna()]
    m = it[["procurement_id", "buyer_orgnr", "kommunkod", "contracted_value_sek"]].merge(sup, on=["procurement_id", "buyer_orgnr"])
    m["v"] = m["contracted_value_sek"] / m["n_suppliers"]
    out = m.groupby(["kommunkod", "supplier"], as_index=False).agg(it_value_sek=("v", "sum"), n_procurements=("procurement_id", "nunique"))
    return out.assign(year=year, source_id=source)[list(SUPPLIER_SCHEMA.columns)]


def _decisions_for(tables: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """The per-procurement CPV decisions that name a procurement (id, buyer, main CPV) of these tables."""
    from . import cpv

    decisions = cpv.read_decisions()
    p = tables["procurements"]
    present = set(zip(p[procurement.COL_ID], p[procurement.COL_ORGNR], p[procurement.COL_CPV].astype(str).str[:8]))
    keep = [k in present for k in zip(decisions["procurement_id"], decisions["buyer_orgnr"], decisions["cpv_code"])]
    return decisions[keep].reset_index(drop=True)


def _population_year(population: pd.DataFrame, year: int) -> int:
    complete = population.groupby("year")["kommunkod"].nunique()
    years = sorted(complete[complete >= 290].index)
    if not years:
        raise UserError("population.parquet has no year covering all 290 municipalities")
    return int(min(max(year, years[0]), years[-1]))


# ---------------------------------------------------------------- TED


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


NAME_PREFIX = re.compile(r"^(KOMMUNSTYRELSEN|KOMMUNLEDNINGSKONTORET|KOMMUNEN)\s+I\s+", re.I)


def _kommun_by_name(name: str, names: dict[str, str]) -> str | None:
    """'Göteborgs kommun', 'GÖTEBORGS STAD', 'Kommunstyrelsen i Tierp' → kommunkod; else None.

    Only names that read as the municipality itself are matched (a "… kommun"/"… stad" name, a
    "Kommunstyrelsen i …" name or the bare municipality name), so "Göteborg Energi AB" is not Göteborg.
    Several buyers joined with '---' give the first municipality named.
    """
    for raw_part in str(name).split("---"):
        prefixed = bool(NAME_PREFIX.match(raw_part.strip()))
        part = NAME_PREFIX.sub("", raw_part.strip())
        key = procurement._name_key(part)
        municipal = prefixed or key.endswith((" KOMMUN", " STAD")) or key == "REGION GOTLAND" or key in names
        code = procurement.kommun_by_buyer_name(part, names) if municipal else None
        if code:
            return code
    return None


def ted_files(raw_dir: Path) -> list[Path]:
    from .sources import ted

    return sorted((raw_dir / ted.SOURCE_ID).glob("ted-se-award-notices-*.csv"))


def ted_awards(
    raw_dir: Path,
    municipalities: pd.DataFrame,
    population: pd.DataFrame,
    federations: pd.DataFrame,
    orgnr_map: dict[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Award-level Swedish TED rows (each award once) with buyer resolution, and unmatched public buyers."""
    from .sources import ted

    frames = []
    for path in ted_files(raw_dir):
        header = pd.read_csv(path, nrows=0).columns.tolist()
        cols = ted.resolve_columns(header, path.name)
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        df = df.rename(columns={v: k for k, v in cols.items()})
        df["file"] = path.name
        df["source_row"] = np.arange(2, len(df) + 2)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=list(TED_AWARDS_SCHEMA.columns)), pd.DataFrame(columns=list(UNMATCHED_SCHEMA.columns))
    df = pd.concat(frames, ignore_index=True).fillna("")
    for c in ("ID_LOT", "ID_LOT_AWARDED", "B_FRA_AGREEMENT", "CANCELLED", "INFO_ON_NON_AWARD", "AWARD_VALUE_EURO",
              "AWARD_VALUE_EURO_FIN_1", "AWARD_EST_VALUE_EURO", "WIN_NAME", "WIN_NATIONALID"):
        if c not in df.columns:
            df[c] = ""
    bad = df.index[~df["YEAR"].str.fullmatch(r"\d{4}")]
    if len(bad):
        r = df.loc[bad[0]]
        raise UserError(f"{r['file']} row {r['source_row']}: column 'YEAR' {r['YEAR']!r} is not a year")
    df["year"] = df["YEAR"].astype("int64")
    # every row's numbers are checked before awards are deduplicated (a bad cell is never skipped)
    for col in ("AWARD_VALUE_EURO_FIN_1", "AWARD_VALUE_EURO", "AWARD_EST_VALUE_EURO"):
        num = pd.to_numeric(df[col].str.strip(), errors="coerce")
        bad = df.index[num.isna() & (df[col].str.strip() != "")]
        if len(bad):
            r = df.loc[bad[0]]
            raise UserError(f"{r['file']} row {r['source_row']}: column {col!r} {r[col]!r} is not a number")
        df[col + "_num"] = num
    df["value_eur_raw"] = df["AWARD_VALUE_EURO_FIN_1_num"].fillna(df["AWARD_VALUE_EURO_num"])
    df["est_eur_raw"] = df["AWARD_EST_VALUE_EURO_num"]
    df["award_id"] = np.where(df["ID_AWARD"] != "", df["ID_AWARD"], "lot:" + df["ID_LOT_AWARDED"].where(df["ID_LOT_AWARDED"] != "", df["ID_LOT"]))
    df = df.sort_values(["ID_NOTICE_CAN", "award_id", "year", "file", "source_row"], kind="stable")
    df["n_rows"] = df.groupby(["ID_NOTICE_CAN", "award_id"])["file"].transform("size").astype("int64")
    df = df.drop_duplicates(["ID_NOTICE_CAN", "award_id"], keep="first")

    names = {procurement._name_key(n): k for n, k in zip(municipalities["name"], municipalities["kommunkod"])}
    fed_ids = set(federations["buyer_orgnr"])
    df["buyer_id"] = df["CAE_NATIONALID"].map(_digits)
    by_orgnr = df["buyer_id"].map(orgnr_map)
    by_name = df["CAE_NAME"].map(lambda n: _kommun_by_name(n, names))
    is_fed = df["buyer_id"].isin(fed_ids)
    df["matched_by"] = np.select([by_orgnr.notna(), is_fed, by_name.notna()], ["orgnr", "federation", "name"], "none")
    df["kommunkod"] = by_orgnr.fillna(by_name).where(~is_fed | by_orgnr.notna())

    rates = read_rates()
    missing = sorted(set(df["year"]) - set(rates.index))
    if missing:
        raise UserError(f"{RATES_CSV}: no EUR/SEK rate for {missing[0]} (TED rows of that year need one)")
    val, est = df["value_eur_raw"], df["est_eur_raw"]
    df["value_eur"] = val
    df["value_sek"] = val * df["year"].map(rates)
    df["award_equals_estimate"] = (val.notna() & est.notna() & np.isclose(val.fillna(-1), est.fillna(-2))).astype(bool)
    df["cpv_code"] = df["CPV"].str.extract(r"(\d{8})", expand=False).fillna("")
    df["category"] = [procurement.cpv_category(c) if c else None for c in df["cpv_code"]]

    # federations: one row per member with its share
    fed_rows = df[df["matched_by"] == "federation"]
    rows = [df[df["matched_by"] != "federation"].assign(attribution_share=np.where(df.loc[df["matched_by"] != "federation", "kommunkod"].notna(), 1.0, np.nan))]
    if len(fed_rows):
        parts = []
        for year, grp in fed_rows.groupby("year"):
            shares = procurement.attribution_shares(federations, population, year=_population_year(population, int(year)))
            merged = grp.drop(columns=["kommunkod"]).merge(shares, left_on="buyer_id", right_on="buyer_orgnr", how="left")
            parts.append(merged.drop(columns=["buyer_orgnr"]))
        rows += parts
    out = pd.concat(rows, ignore_index=True)
    out = pd.DataFrame(
        {
            "notice_id": out["ID_NOTICE_CAN"],
            "award_id": out["award_id"],
            "year": out["year"].astype("int64"),
            "file": out["file"],
            "buyer_name": out["CAE_NAME"],
            "buyer_id": out["buyer_id"],
            "kommunkod": out["kommunkod"].astype(object).where(out["kommunkod"].notna(), None),
            "matched_by": out["matched_by"],
            "attribution_share": out["attribution_share"].astype(float),
            "cpv_code": out["cpv_code"],
            "category": out["category"],
            "is_framework": out["B_FRA_AGREEMENT"].str.upper().eq("Y"),
            "is_cancelled": out["CANCELLED"].isin(["1", "Y"]),
            "not_awarded": out["INFO_ON_NON_AWARD"] != "",
            "award_equals_estimate": out["award_equals_estimate"].astype(bool),
            "value_eur": out["value_eur"].astype(float),
            "value_sek": out["value_sek"].astype(float),
            "winner_name": out["WIN_NAME"].replace("", None),
            "winner_id": out["WIN_NATIONALID"].map(_digits).replace("", None),
            "n_rows": out["n_rows"].astype("int64"),
        }
    )
    out = out.sort_values(["year", "notice_id", "award_id", "kommunkod"], ignore_index=True, na_position="last")
    public = out[(out["matched_by"] == "none") & out["buyer_id"].str.startswith("2")]
    unmatched = (
        public.groupby(["year", "buyer_name", "buyer_id"], as_index=False)
        .size()
        .rename(columns={"size": "n_rows"})
        .assign(source_id=ted.SOURCE_ID, reason="Swedish public buyer (orgnr 2…) matched no municipality or federation")
    )
    unmatched = unmatched[list(UNMATCHED_SCHEMA.columns)].astype({"n_rows": "int64", "year": "int64"})
    return validate(out, TED_AWARDS_SCHEMA, "ted_awards_se"), unmatched


def ted_panel(awards: pd.DataFrame, kommunkoder: list[str], years: list[int]) -> pd.DataFrame:
    """Per municipality and publication year (every yearly file present): TED IT notices, contracts, value, ceilings."""
    from .sources import ted

    if not years:
        return pd.DataFrame()
    a = awards[awards["kommunkod"].notna() & awards["category"].notna() & ~awards["is_cancelled"] & ~awards["not_awarded"]]
    a = a.assign(value_share=a["value_sek"].fillna(0.0) * a["attribution_share"])
    notices = a.drop_duplicates(["notice_id", "kommunkod"]).groupby(["kommunkod", "year"])["attribution_share"].sum()
    contracts = a[~a["is_framework"]].groupby(["kommunkod", "year"])["attribution_share"].sum()
    value = a[~a["is_framework"]].groupby(["kommunkod", "year"])["value_share"].sum()
    ceiling = a[a["is_framework"]].groupby(["kommunkod", "year"])["value_share"].sum()
    wide = _grid(kommunkoder, sorted(set(years) | set(awards["year"])))
    for name, s in (("ted_it_procurements", notices), ("ted_it_contracts", contracts), ("ted_it_value_sek", value),
                    ("ted_it_framework_ceiling_sek", ceiling)):
        wide = wide.merge(s.rename(name), left_on=["kommunkod", "year"], right_index=True, how="left")
        wide[name] = wide[name].fillna(0.0).astype(float)
    return pd.concat(
        [_long(wide, m, ted.SOURCE_ID) for m in ("ted_it_procurements", "ted_it_contracts", "ted_it_value_sek", "ted_it_framework_ceiling_sek")],
        ignore_index=True,
    )


def ted_supplier_values(awards: pd.DataFrame) -> pd.DataFrame:
    """Above-threshold IT award value per municipality, year and winner (non-framework, awarded, attributed)."""
    from .sources import ted

    a = awards[awards["kommunkod"].notna() & awards["category"].notna() & ~awards["is_cancelled"]
               & ~awards["not_awarded"] & ~awards["is_framework"] & awards["value_sek"].notna()]
    if a.empty:
        return pd.DataFrame(columns=list(SUPPLIER_SCHEMA.columns))
    a = a.assign(v=a["value_sek"] * a["attribution_share"], supplier=a["winner_name"].fillna("(winner not named)"))
    out = a.groupby(["kommunkod", "year", "supplier"], as_index=False).agg(
        it_value_sek=("v", "sum"), n_procurements=("notice_id", "nunique"))
    return out.assign(source_id=ted.SOURCE_ID)[list(SUPPLIER_SCHEMA.columns)]


def ted_api_panel(raw_dir: Path, municipalities: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ted_it_procurements for 2024 on from stored Search API answers (matched by buyer name; no values)."""
    from .sources import ted_api

    files = sorted((raw_dir / ted_api.SOURCE_ID).glob("ted-api-notices-*.json"))
    if not files:
        return pd.DataFrame(), pd.DataFrame()
    names = {procurement._name_key(n): k for n, k in zip(municipalities["name"], municipalities["kommunkod"])}
    frames, unmatched = [], []
    for path in files:
        year = int(re.search(r"(\d{4})", path.name).group(1))
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: cannot read as JSON ({exc})") from exc
        n = ted_api.notices_frame(doc, path.name).drop_duplicates("notice_id")
        n = n[n["buyer_country"].fillna("").str.contains("SWE")]
        n["kommunkod"] = n["buyer_name"].fillna("").map(lambda x: _kommun_by_name(x, names))
        n["category"] = [procurement.cpv_category(c) if c else None for c in n["cpv"].fillna("")]
        n["year"] = year
        frames.append(n)
        miss = n[n["kommunkod"].isna()]
        if len(miss):
            unmatched.append(
                miss.groupby("buyer_name", as_index=False).size().rename(columns={"size": "n_rows"}).assign(
                    source_id=ted_api.SOURCE_ID, year=year, buyer_id="",
                    reason="buyer name matched no municipality (the API answer carries no orgnr)",
                )
            )
    n = pd.concat(frames, ignore_index=True)
    counts = n[n["kommunkod"].notna() & n["category"].notna()].groupby(["kommunkod", "year"]).size().rename("ted_it_procurements")
    wide = _grid(list(municipalities["kommunkod"]), sorted(n["year"].unique()))
    wide = wide.merge(counts, left_on=["kommunkod", "year"], right_index=True, how="left").fillna({"ted_it_procurements": 0})
    wide["ted_it_procurements"] = wide["ted_it_procurements"].astype(float)
    um = pd.concat(unmatched, ignore_index=True)[list(UNMATCHED_SCHEMA.columns)] if unmatched else pd.DataFrame()
    return _long(wide, "ted_it_procurements", ted_api.SOURCE_ID), um


# ---------------------------------------------------------------- the stage


def build_panel(
    raw_dir: Path, municipalities: pd.DataFrame, population: pd.DataFrame, federations: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    codes = sorted(municipalities["kommunkod"])
    parts, unmatched = [], []
    bdf, bdf_unmatched = bdf_panel(raw_dir, codes)
    parts.append(bdf)
    unmatched.append(bdf_unmatched)
    orgnr_map: dict[str, str] = {}
    suppliers = []
    for year in uhm_years(raw_dir):
        long, found, sup = uhm_year_panel(raw_dir, year, municipalities, population, federations)
        parts.append(long)
        suppliers.append(sup)
        orgnr_map.update({o: k for o, k in found.items() if o not in orgnr_map})
    awards, ted_unmatched = ted_awards(raw_dir, municipalities, population, federations, orgnr_map)
    ted_years = [int(re.search(r"(\d{4})", p.name).group(1)) for p in ted_files(raw_dir)]
    parts.append(ted_panel(awards, codes, ted_years))
    if not awards.empty:
        suppliers.append(ted_supplier_values(awards))
    unmatched.append(ted_unmatched)
    api, api_unmatched = ted_api_panel(raw_dir, municipalities)
    parts.append(api)
    unmatched.append(api_unmatched)
    panel = pd.concat([p for p in parts if len(p)], ignore_index=True)
    panel = panel[list(PANEL_SCHEMA.columns)].astype({"year": "int64", "value": float})
    panel = panel.sort_values(["measure", "kommunkod", "year"], ignore_index=True)
    um = [u for u in unmatched if len(u)]
    unmatched_df = (
        pd.concat(um, ignore_index=True).astype({"year": "int64", "n_rows": "int64"})
        if um
        else pd.DataFrame({c: pd.Series(dtype="int64" if c in ("year", "n_rows") else str) for c in UNMATCHED_SCHEMA.columns})
    )
    unmatched_df = unmatched_df.sort_values(["source_id", "year", "buyer_name", "buyer_id"], ignore_index=True)
    if awards.empty:
        awards = pd.DataFrame({c: pd.Series(dtype=_empty_dtype(c)) for c in TED_AWARDS_SCHEMA.columns})
    sup = [x for x in suppliers if len(x)]
    supplier_df = (
        pd.concat(sup, ignore_index=True).astype({"year": "int64", "n_procurements": "int64", "it_value_sek": float})
        if sup
        else pd.DataFrame({c: pd.Series(dtype=_empty_dtype(c)) for c in SUPPLIER_SCHEMA.columns})
    )
    supplier_df = supplier_df.sort_values(["source_id", "year", "kommunkod", "supplier"], ignore_index=True)
    return {
        "procurement_panel": validate(panel, PANEL_SCHEMA, "procurement_panel"),
        "procurement_supplier_values": validate(supplier_df, SUPPLIER_SCHEMA, "procurement_supplier_values"),
        "procurement_panel_unmatched": validate(unmatched_df, UNMATCHED_SCHEMA, "procurement_panel_unmatched"),
        "ted_awards_se": validate(awards, TED_AWARDS_SCHEMA, "ted_awards_se"),
    }


def _empty_dtype(col: str):
    if col in ("year", "n_rows"):
        return "int64"
    if col == "n_procurements":
        return "int64"
    if col in ("attribution_share", "value_eur", "value_sek", "it_value_sek"):
        return float
    if col.startswith(("is_", "not_", "award_equals")):
        return bool
    return str


def panel_stage(raw_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    municipalities = read_parquet(out_dir / "municipalities.parquet")
    population = read_parquet(out_dir / "population.parquet")
    return build_panel(raw_dir, municipalities, population, procurement.read_federations())


def load_panel(processed_dir: Path | None = None) -> pd.DataFrame:
    return read_parquet((processed_dir or config.processed_dir()) / "procurement_panel.parquet")
