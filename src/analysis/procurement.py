"""Procurement lens: advertised IT procurement 2021 (Upphandlingsmyndigheten) per municipality.

What it measures: procurement *activity* (advertised procurements and their whole-term contracted
value, options included; framework agreements at their maximum), not spend. Direct awards and call-offs
from existing frameworks are not in the data, so a municipality without an IT procurement still spends
on IT.

Rules (see docs/it-spend.md):
- IT by main CPV at group/class level from the reviewable table `data/mappings/cpv_it.csv` (module
  `cpv`): IT is 302, 48, 72, 324, 325, 642, 50312/5032/5033, 5161 (and mobile phones 3225); office goods
  (301) and radio/TV/audio-visual gear (321–323) are not. Division-level codes that mix the two are
  decided per procurement (`cpv_review_decisions.csv`) or left out and listed in `procurement_cpv_review`.
- Municipal buyers (Juridisk form = Kommuner) are matched to kommunkod by normalised name ("MALUNG-SÄLENS
  KOMMUN" → Malung-Sälen, "REGION GOTLAND" → 0980) and by orgnr; each municipality's canonical orgnr is
  its most frequent 212000xxxx orgnr. Rows under another orgnr are kept (attributed by name) and listed
  in `procurement_buyer_mismatches`.
- A procurement is one (Upphandlings-ID, buyer orgnr); repeated rows of the same pair are counted once.
  Its value is the contracted-value row with the same pair; when that pair has several value rows the
  largest is kept (they are alternative reports of one award; summing would double count). Without a
  same-pair row, a value row with the same id is used when all of that id's value rows have one buyer
  (award notices sometimes name another orgnr or a company of the buyer; `value_buyer_differs`). All
  such cases, ids shared by different buyers and value ids missing from the procurements table are
  listed in `procurement_duplicates`.
- Three value states: `reported` (a value above PLACEHOLDER_MAX_SEK), `placeholder` (a value of at most
  PLACEHOLDER_MAX_SEK, e.g. 0 or 1 SEK: not a value) and `missing` (no value row). Only reported values
  enter sums (`contracted_value_total_sek` is null otherwise); `raw_value_sek` keeps what the file says.
- Framework agreements (Ramavtal) carry a ceiling, not a purchase: totals keep contracts and framework
  ceilings apart (`municipal_totals`).
- Kommunalförbund and joint IT companies are attributed to their members by population share (31
  December 2021 when a refreshed population has it, else 2020; or equal shares) from `data/mappings/procurement_federations.csv`; bodies whose members are not
  established keep one row with null kommunkod (`buyer_kind` "cooperation_unattributed").
- Other municipally owned organisations (companies, foundations) go to `municipal_companies_it` only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from . import config, cpv
from .errors import UserError
from .io import read_parquet, validate

SOURCE_ID = "uhm-procurement-2021"
YEAR = 2021
POPULATION_YEAR = 2020  # latest SCB year in the mirrored data (31 December 2020)
RAW_FILES = {
    "procurements": "number_of_procurements.xlsx",
    "values": "contracted_value.xlsx",
    "tenders": "number_of_tenders.xlsx",
    "suppliers": "number_of_contracted_tenders_with_suppliers.xlsx",
}
FEDERATIONS_CSV = "procurement_federations.csv"

COL_NAME = "Namn för köpare"
COL_ORGNR = "Organisationsnummer för köpare"
COL_SEKTOR = "Sektor för köpare"
COL_DELSEKTOR = "Delsektor för köpare"
COL_FORM = "Juridisk form för köpare"
COL_ID = "Upphandlings-ID"
COL_CPV = "Huvudsaklig CPV-kod"
COL_TYPE = "Typ av avtal"
COL_TITLE = "Upphandlingens titel"
COL_DATE = "Publiceringsdatum"
COL_VALUE = "Kontrakterat värde, Summa"
BUYER_COLS = [COL_NAME, COL_ORGNR, COL_SEKTOR, COL_DELSEKTOR, COL_FORM]

PLACEHOLDER_MAX_SEK = 1_000.0  # a contracted value of at most this many SEK is a placeholder, not a value
VALUE_STATES = ("reported", "placeholder", "missing")
CONTRACT_TYPES = {"Kontrakt": False, "Ramavtal": True}

BUYER_ID = r"^(\d{10}|\d{7}-\d)$"  # Swedish orgnr, or a Finnish business id (Åland buyers)
KOMMUNKOD = r"^\d{4}$"

PROCUREMENT_IT_SCHEMA = pa.DataFrameSchema(
    {
        "procurement_id": pa.Column(str),
        "buyer_orgnr": pa.Column(str, pa.Check.str_matches(BUYER_ID)),
        "buyer_name": pa.Column(str),
        "buyer_kind": pa.Column(
            str, pa.Check.isin(["municipality", "kommunalforbund", "joint_it_company", "cooperation_unattributed"])
        ),
        "cooperation_id": pa.Column(str, nullable=True),
        "kommunkod": pa.Column(str, pa.Check.str_matches(KOMMUNKOD), nullable=True),
        "attribution_share": pa.Column(float, pa.Check.in_range(0, 1), nullable=True),
        "contract_type": pa.Column(str, pa.Check.isin(list(CONTRACT_TYPES))),
        "is_framework": pa.Column(bool),
        "cpv_code": pa.Column(str, pa.Check.str_matches(r"^\d{8}$")),
        "cpv_label": pa.Column(str),
        "cpv_division": pa.Column(str, pa.Check.str_matches(r"^\d{2}$")),
        "cpv_rule": pa.Column(str),
        "category": pa.Column(str, pa.Check.isin(list(cpv.IT_CATEGORIES))),
        "title": pa.Column(str, nullable=True),
        "published": pa.Column(str, nullable=True),
        "value_state": pa.Column(str, pa.Check.isin(list(VALUE_STATES))),
        "has_value": pa.Column(bool),
        "raw_value_sek": pa.Column(float, pa.Check.ge(0), nullable=True),
        "contracted_value_total_sek": pa.Column(float, pa.Check.gt(PLACEHOLDER_MAX_SEK), nullable=True),
        "contracted_value_sek": pa.Column(float, pa.Check.ge(0), nullable=True),
        "duplicate_procurement_rows": pa.Column(bool),
        "duplicate_value_rows": pa.Column(bool),
        "value_buyer_differs": pa.Column(bool),
        "buyer_orgnr_mismatch": pa.Column(bool),
    },
    unique=["procurement_id", "buyer_orgnr", "kommunkod"],
    strict=True,
    ordered=True,
)

MISMATCH_SCHEMA = pa.DataFrameSchema(
    {
        "buyer_name": pa.Column(str),
        "buyer_orgnr": pa.Column(str),
        "kommunkod_by_name": pa.Column(str, nullable=True),
        "canonical_orgnr": pa.Column(str, nullable=True),
        "kommunkod_by_orgnr": pa.Column(str, nullable=True),
        "n_rows": pa.Column("int64", pa.Check.gt(0)),
        "tables": pa.Column(str),
        "issue": pa.Column(str),
        "resolution": pa.Column(str),
    },
    strict=True,
    ordered=True,
)

DUPLICATES_SCHEMA = pa.DataFrameSchema(
    {
        "table": pa.Column(str),
        "procurement_id": pa.Column(str),
        "buyer_orgnr": pa.Column(str),
        "buyer_name": pa.Column(str),
        "n_rows": pa.Column("int64"),
        "values_sek": pa.Column(str, nullable=True),
        "issue": pa.Column(
            str,
            pa.Check.isin(
                ["duplicate_id_same_buyer", "id_shared_by_buyers", "value_buyer_differs", "value_id_not_in_procurements"]
            ),
        ),
        "rule": pa.Column(str),
        "is_it": pa.Column(bool),
    },
    strict=True,
    ordered=True,
)

COMPANIES_SCHEMA = pa.DataFrameSchema(
    {
        "procurement_id": pa.Column(str),
        "buyer_orgnr": pa.Column(str),
        "buyer_name": pa.Column(str),
        "juridisk_form": pa.Column(str, nullable=True),
        "contract_type": pa.Column(str),
        "cpv_code": pa.Column(str),
        "category": pa.Column(str),
        "title": pa.Column(str, nullable=True),
        "value_state": pa.Column(str, pa.Check.isin(list(VALUE_STATES))),
        "has_value": pa.Column(bool),
        "contracted_value_sek": pa.Column(float, pa.Check.gt(PLACEHOLDER_MAX_SEK), nullable=True),
    },
    unique=["procurement_id", "buyer_orgnr"],
    strict=True,
    ordered=True,
)

FEDERATIONS_SCHEMA = pa.DataFrameSchema(
    {
        "buyer_orgnr": pa.Column(str, pa.Check.str_matches(r"^\d{10}$"), unique=True),
        "buyer_name": pa.Column(str),
        "cooperation_id": pa.Column(str, nullable=True),
        "body_kind": pa.Column(str, pa.Check.isin(["kommunalförbund", "joint_it_company"])),
        "member_kommunkoder": pa.Column(str, pa.Check.str_matches(r"^(\d{4}( \d{4})*)?$"), nullable=True),
        "source": pa.Column(str, nullable=True),
        "note": pa.Column(str, nullable=True),
    },
    strict=True,
)

MUNICIPAL_STATES = ("reported", "not_reported", "none")
TOTALS_SCHEMA = pa.DataFrameSchema(
    {
        "kommunkod": pa.Column(str, pa.Check.str_matches(KOMMUNKOD), unique=True),
        "it_procurements_count": pa.Column(float, pa.Check.ge(0)),
        "it_contract_value_sek": pa.Column(float, pa.Check.ge(0), nullable=True),
        "unvalued_count": pa.Column(float, pa.Check.ge(0)),
        "value_state": pa.Column(str, pa.Check.isin(MUNICIPAL_STATES)),
        "it_frameworks_count": pa.Column(float, pa.Check.ge(0)),
        "it_framework_ceiling_sek": pa.Column(float, pa.Check.ge(0), nullable=True),
        "framework_state": pa.Column(str, pa.Check.isin(MUNICIPAL_STATES)),
        "largest_framework_sek": pa.Column(float, pa.Check.ge(0), nullable=True),
        "largest_framework_title": pa.Column(str, nullable=True),
        "has_buyer_record": pa.Column(bool),
    },
    checks=[
        pa.Check(lambda df: (df["value_state"] == "reported") == df["it_contract_value_sek"].notna(),
                 error="a contract value exactly when one is reported"),
        pa.Check(lambda df: (df["framework_state"] == "reported") == df["it_framework_ceiling_sek"].notna(),
                 error="a framework ceiling exactly when one is reported"),
    ],
    strict=True,
    ordered=True,
)

REVIEW_SCHEMA = pa.DataFrameSchema(
    {
        "procurement_id": pa.Column(str),
        "buyer_orgnr": pa.Column(str),
        "buyer_name": pa.Column(str),
        "juridisk_form": pa.Column(str, nullable=True),
        "cpv_code": pa.Column(str),
        "cpv_label": pa.Column(str),
        "cpv_rule": pa.Column(str, pa.Check.isin([cpv.REVIEW, cpv.UNMAPPED, *cpv.IT_CATEGORIES])),
        "title": pa.Column(str, nullable=True),
        "raw_value_sek": pa.Column(float, nullable=True),
        "decision": pa.Column(str),
        "reason": pa.Column(str),
    },
    unique=["procurement_id", "buyer_orgnr"],
    strict=True,
    ordered=True,
)


# ---------------------------------------------------------------- reading


def read_raw_table(path: Path) -> pd.DataFrame:
    """One UHM xlsx sheet via calamine, all text columns as str; missing columns are a UserError."""
    if not path.exists():
        raise UserError(f"{path}: missing; run `kommun-it fetch {SOURCE_ID}`")
    try:
        df = pd.read_excel(path, engine="calamine", dtype={COL_ORGNR: str, COL_ID: str})
    except Exception as exc:  # calamine raises several types for corrupt workbooks
        raise UserError(f"{path.name}: cannot read as xlsx ({exc})") from exc
    return check_raw_table(df, path.name)


def check_raw_table(df: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """Check columns, ids, CPV, contract type and values of one raw table; add 1-based `source_row`."""
    df = df.reset_index(drop=True).copy()
    required = BUYER_COLS + [COL_ID, COL_CPV, COL_TYPE]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise UserError(f"{file_name}: missing column {missing[0]!r}")
    if file_name == RAW_FILES["values"] and COL_VALUE not in df.columns:
        raise UserError(f"{file_name}: missing column {COL_VALUE!r}")
    for col in (COL_NAME, COL_ORGNR, COL_ID):
        bad = df.index[df[col].isna()]
        if len(bad):
            raise UserError(f"{file_name} row {bad[0] + 2}: empty {col!r}")
    df[COL_ORGNR] = df[COL_ORGNR].str.strip()
    df[COL_NAME] = df[COL_NAME].str.strip()
    bad = df.index[~df[COL_ORGNR].str.fullmatch(BUYER_ID)]
    if len(bad):
        raise UserError(
            f"{file_name} row {bad[0] + 2}: buyer orgnr {df.at[bad[0], COL_ORGNR]!r} is neither a 10-digit orgnr"
            " nor a Finnish business id"
        )
    bad = df.index[~df[COL_CPV].astype("str").str.match(r"^\d{8} ")]
    if len(bad):
        raise UserError(
            f"{file_name} row {bad[0] + 2}: main CPV {df.at[bad[0], COL_CPV]!r} is not '<8 digits> <label>'"
        )
    bad = df.index[~df[COL_TYPE].isin(list(CONTRACT_TYPES))]
    if len(bad):
        raise UserError(f"{file_name} row {bad[0] + 2}: unknown Typ av avtal {df.at[bad[0], COL_TYPE]!r}")
    if COL_VALUE in df.columns:
        values = pd.to_numeric(df[COL_VALUE], errors="coerce")
        bad = df.index[values.isna() | (values < 0)]
        if len(bad):
            raise UserError(
                f"{file_name} row {bad[0] + 2}: contracted value {df.at[bad[0], COL_VALUE]!r} is not a number ≥ 0"
            )
        df[COL_VALUE] = values.astype(float)
    df["source_row"] = np.arange(2, len(df) + 2)
    return df


def read_raw(raw_dir: Path | None = None) -> dict[str, pd.DataFrame]:
    """The four 2021 tables keyed as in RAW_FILES."""
    base = (raw_dir or config.raw_dir()) / SOURCE_ID
    return {key: read_raw_table(base / name) for key, name in RAW_FILES.items()}


def read_federations(path: Path | None = None) -> pd.DataFrame:
    """The reviewable cooperation-body mapping (one row per buyer orgnr)."""
    path = path or config.MAPPINGS_DIR / FEDERATIONS_CSV
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"{path}: cannot read federation mapping ({exc})") from exc
    df = df.replace({"": None})
    return validate(df, FEDERATIONS_SCHEMA, path.name)


def crosscheck_federations(federations: pd.DataFrame, cooperations: pd.DataFrame) -> pd.DataFrame:
    """Compare members per cooperation_id with the cooperation table: one row per mapped id, with the differences."""
    rows = []
    for _, fed in federations.dropna(subset=["cooperation_id"]).fillna({"member_kommunkoder": ""}).iterrows():
        ours = set(fed["member_kommunkoder"].split())
        theirs = set(cooperations.loc[cooperations["cooperation_id"] == fed["cooperation_id"], "kommunkod"])
        rows.append(
            {
                "buyer_orgnr": fed["buyer_orgnr"],
                "cooperation_id": fed["cooperation_id"],
                "only_in_mapping": " ".join(sorted(ours - theirs)),
                "only_in_cooperations": " ".join(sorted(theirs - ours)) if ours else "",
                "agrees": ours == theirs or not ours,
            }
        )
    return pd.DataFrame(rows, columns=["buyer_orgnr", "cooperation_id", "only_in_mapping", "only_in_cooperations", "agrees"])


def cooperations_table() -> pd.DataFrame:
    """The project's cooperation table when another stage maintains it, else the shared curated copy."""
    own = config.MAPPINGS_DIR / "cooperations.csv"
    path = own if own.exists() else config.PROJECT_ROOT.parent / "shared" / "data" / "curated" / "cooperations.csv"
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# ---------------------------------------------------------------- buyers


def _name_key(name: str) -> str:
    return " ".join(name.upper().replace("–", "-").split())


def kommun_by_buyer_name(name: str, names: dict[str, str]) -> str | None:
    """kommunkod for a municipal buyer name: 'MALUNG-SÄLENS KOMMUN' → 2023; genitive -s is dropped when needed."""
    key = _name_key(name)
    if key == "REGION GOTLAND":
        key = "GOTLAND"
    for suffix in (" KOMMUN", " STAD"):
        if key.endswith(suffix):
            key = key[: -len(suffix)]
    if key in names:
        return names[key]
    if key.endswith("S") and key[:-1] in names:
        return names[key[:-1]]
    return None


def buyer_records(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Distinct buyers over all tables with row counts and the tables they appear in."""
    parts = [t[BUYER_COLS].assign(table=key) for key, t in tables.items()]
    df = pd.concat(parts, ignore_index=True).fillna({COL_SEKTOR: "", COL_DELSEKTOR: "", COL_FORM: ""})
    out = df.groupby(BUYER_COLS, as_index=False).agg(
        n_rows=("table", "size"), tables=("table", lambda s: ",".join(sorted(set(s))))
    )
    return out.sort_values([COL_ORGNR, COL_NAME], ignore_index=True)


def municipal_buyers(buyers: pd.DataFrame, municipalities: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map each municipal buyer (name, orgnr) to a kommunkod; return (mapping, mismatches).

    mapping columns: buyer_name, buyer_orgnr, kommunkod, orgnr_mismatch.
    """
    names = {_name_key(n): k for n, k in zip(municipalities["name"], municipalities["kommunkod"])}
    muni = buyers[buyers[COL_FORM] == "Kommuner"].copy()
    muni["kommunkod_by_name"] = [kommun_by_buyer_name(n, names) for n in muni[COL_NAME]]
    valid = muni[muni["kommunkod_by_name"].notna() & muni[COL_ORGNR].str.fullmatch(r"212000\d{4}")]
    counts = valid.groupby(["kommunkod_by_name", COL_ORGNR], as_index=False)["n_rows"].sum()
    counts = counts.sort_values(["kommunkod_by_name", "n_rows", COL_ORGNR], ascending=[True, False, True])
    canonical = counts.drop_duplicates("kommunkod_by_name").set_index("kommunkod_by_name")[COL_ORGNR]
    by_orgnr = pd.Series(canonical.index, index=canonical.values)
    muni["canonical_orgnr"] = muni["kommunkod_by_name"].map(canonical)
    muni["kommunkod_by_orgnr"] = muni[COL_ORGNR].map(by_orgnr)
    muni["kommunkod"] = muni["kommunkod_by_name"].fillna(muni["kommunkod_by_orgnr"])
    unresolved = muni[muni["kommunkod"].isna()]
    if len(unresolved):
        first = unresolved.iloc[0]
        raise UserError(
            f"{RAW_FILES['procurements']}: municipal buyer {first[COL_NAME]!r} ({first[COL_ORGNR]}) matches no"
            f" kommunkod by name or orgnr ({len(unresolved)} such buyers)"
        )
    mismatch = muni[
        muni["kommunkod_by_name"].isna()
        | (muni[COL_ORGNR] != muni["canonical_orgnr"])
        | (muni["kommunkod_by_orgnr"].notna() & (muni["kommunkod_by_orgnr"] != muni["kommunkod_by_name"]))
    ].copy()
    mismatch["issue"] = np.where(
        mismatch["kommunkod_by_name"].isna(),
        "name matches no municipality",
        np.where(
            mismatch["kommunkod_by_orgnr"].notna(),
            "orgnr is another municipality's",
            "orgnr differs from the municipality's usual orgnr",
        ),
    )
    mismatch["resolution"] = np.where(
        mismatch["kommunkod_by_name"].isna(), "attributed by orgnr", "attributed by name"
    )
    mismatches = mismatch.rename(columns={COL_NAME: "buyer_name", COL_ORGNR: "buyer_orgnr"})[
        list(MISMATCH_SCHEMA.columns)
    ].astype({"n_rows": "int64"})
    mismatches = mismatches.sort_values(["buyer_name", "buyer_orgnr"], ignore_index=True)
    muni["orgnr_mismatch"] = muni.index.isin(mismatch.index)
    mapping = muni.rename(columns={COL_NAME: "buyer_name", COL_ORGNR: "buyer_orgnr"})[
        ["buyer_name", "buyer_orgnr", "kommunkod", "orgnr_mismatch"]
    ].drop_duplicates(["buyer_name", "buyer_orgnr"])
    return mapping.reset_index(drop=True), validate(mismatches, MISMATCH_SCHEMA, "procurement_buyer_mismatches")


# ---------------------------------------------------------------- IT classification and values


def cpv_category(cpv_code: str) -> str | None:
    """IT category of an 8-digit CPV code, or None when it is not IT or needs a per-procurement decision."""
    return cpv.category(cpv_code)


def value_state(value: pd.Series) -> pd.Series:
    """reported (> PLACEHOLDER_MAX_SEK), placeholder (≤ PLACEHOLDER_MAX_SEK, e.g. 0 or 1 SEK) or missing (NaN)."""
    return pd.Series(
        np.where(value.isna(), "missing", np.where(value > PLACEHOLDER_MAX_SEK, "reported", "placeholder")),
        index=value.index,
    )


def _procurements(tables: dict[str, pd.DataFrame], decisions: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (procurement id, buyer orgnr) with CPV rule, IT category, contract type and value state."""
    p = tables["procurements"].copy()
    p["cpv_code"] = p[COL_CPV].str[:8]
    p["cpv_label"] = p[COL_CPV].str[9:].str.strip()
    p = p.join(cpv.classify(p["cpv_code"]))
    p["category"] = p["cpv_rule"].where(p["cpv_rule"].isin(cpv.IT_CATEGORIES)).astype(object)
    p["decision"] = pd.Series(None, index=p.index, dtype=object)
    p["decision_reason"] = pd.Series(None, index=p.index, dtype=object)
    found = np.zeros(len(p), dtype=bool)
    if decisions is not None and len(decisions):
        d = decisions.set_index(["procurement_id", "buyer_orgnr"])
        keys = pd.MultiIndex.from_arrays([p[COL_ID], p[COL_ORGNR]])
        found = keys.isin(d.index)
    if found.any():
        chosen = d.reindex(keys[found])
        p.loc[found, "decision"] = chosen["category"].to_numpy(dtype=object)
        p.loc[found, "decision_reason"] = chosen["reason"].to_numpy(dtype=object)
        p.loc[found, "category"] = chosen["category"].where(chosen["category"] != cpv.NOT_IT).to_numpy(dtype=object)
    p["n_rows"] = p.groupby([COL_ID, COL_ORGNR])[COL_ID].transform("size")
    p = p.sort_values([COL_ID, COL_ORGNR, "source_row"]).drop_duplicates([COL_ID, COL_ORGNR])

    v = tables["values"]
    exact = v.groupby([COL_ID, COL_ORGNR], as_index=False).agg(
        value=(COL_VALUE, "max"), n_value_rows=(COL_VALUE, "size")
    )
    p = p.merge(exact, on=[COL_ID, COL_ORGNR], how="left", validate="one_to_one")
    by_id = v.groupby(COL_ID).agg(
        id_value=(COL_VALUE, "max"), id_rows=(COL_VALUE, "size"), id_buyers=(COL_ORGNR, "nunique")
    )
    by_id = by_id[by_id["id_buyers"] == 1]
    fallback = p["value"].isna() & p[COL_ID].isin(by_id.index)
    p["value_buyer_differs"] = fallback
    p.loc[fallback, "value"] = p.loc[fallback, COL_ID].map(by_id["id_value"])
    p.loc[fallback, "n_value_rows"] = p.loc[fallback, COL_ID].map(by_id["id_rows"])
    p["value_state"] = value_state(p["value"])
    p["has_value"] = p["value_state"] == "reported"
    p["raw_value"] = p["value"]
    p["value"] = p["value"].where(p["has_value"])
    p["duplicate_procurement_rows"] = p["n_rows"] > 1
    p["duplicate_value_rows"] = p["n_value_rows"].fillna(0) > 1
    return p


def check_decisions(decisions: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> None:
    """Every per-procurement CPV decision names a procurement with that buyer and its main CPV, and decides a
    `review` code or overrides an IT code whose title says otherwise (no stale or redundant rows)."""
    p = tables["procurements"]
    known = {(i, o): c[:8] for i, o, c in zip(p[COL_ID], p[COL_ORGNR], p[COL_CPV])}
    for row, (pid, orgnr, code) in enumerate(zip(decisions["procurement_id"], decisions["buyer_orgnr"], decisions["cpv_code"]), start=2):
        where = f"{cpv.DECISIONS_FILE} row {row}"
        if (pid, orgnr) not in known:
            raise UserError(f"{where}: procurement {pid} with buyer {orgnr} is not in {RAW_FILES['procurements']}")
        if known[(pid, orgnr)] != code:
            raise UserError(f"{where}: {pid} has main CPV {known[(pid, orgnr)]}, not {code}")
        rule = cpv.rule(code)[0]
        if rule == cpv.NOT_IT:
            raise UserError(f"{where}: CPV {code} is not IT by {cpv.MAPPING_FILE}; a decision decides review codes or corrects IT codes")
        if rule == decisions["category"].iloc[row - 2]:
            raise UserError(f"{where}: CPV {code} is already {rule} by {cpv.MAPPING_FILE}; the decision changes nothing")


def cpv_review(p: pd.DataFrame) -> pd.DataFrame:
    """Procurements whose main CPV is a review or unmapped code, or whose IT code a decision corrects from its
    title, with the decision taken (or 'undecided')."""
    r = p[p["cpv_rule"].isin([cpv.REVIEW, cpv.UNMAPPED]) | p["decision"].notna()]
    df = pd.DataFrame(
        {
            "procurement_id": r[COL_ID],
            "buyer_orgnr": r[COL_ORGNR],
            "buyer_name": r[COL_NAME],
            "juridisk_form": r[COL_FORM],
            "cpv_code": r["cpv_code"],
            "cpv_label": r["cpv_label"],
            "cpv_rule": r["cpv_rule"],
            "title": r[COL_TITLE] if COL_TITLE in r.columns else None,
            "raw_value_sek": r["raw_value"].astype(float),
            "decision": r["decision"].fillna("undecided (left out of the IT lens)").astype(str),
            "reason": r["decision_reason"].fillna("").astype(str),
        }
    )
    df = df.sort_values(["cpv_rule", "decision", "procurement_id", "buyer_orgnr"], ignore_index=True)
    return validate(df, REVIEW_SCHEMA, "procurement_cpv_review")


def duplicates_report(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Duplicate ids, ids shared by several buyers and value ids missing from the procurements table."""
    rows = []
    it_ids = set(tables["procurements"].loc[[cpv_category(c[:8]) is not None for c in tables["procurements"][COL_CPV]], COL_ID])
    for key in ("procurements", "values"):
        t = tables[key]
        for (pid, orgnr), g in t.groupby([COL_ID, COL_ORGNR]):
            if len(g) > 1:
                rows.append(
                    {
                        "table": RAW_FILES[key],
                        "procurement_id": pid,
                        "buyer_orgnr": orgnr,
                        "buyer_name": g[COL_NAME].iloc[0],
                        "n_rows": len(g),
                        "values_sek": " ".join(f"{x:.0f}" for x in g[COL_VALUE]) if key == "values" else None,
                        "issue": "duplicate_id_same_buyer",
                        "rule": "kept the largest value" if key == "values" else "counted once",
                        "is_it": pid in it_ids,
                    }
                )
        shared = t.groupby(COL_ID)[COL_ORGNR].nunique()
        for pid in shared[shared > 1].index:
            g = t[t[COL_ID] == pid]
            for orgnr, gg in g.groupby(COL_ORGNR):
                rows.append(
                    {
                        "table": RAW_FILES[key],
                        "procurement_id": pid,
                        "buyer_orgnr": orgnr,
                        "buyer_name": gg[COL_NAME].iloc[0],
                        "n_rows": len(gg),
                        "values_sek": " ".join(f"{x:.0f}" for x in gg[COL_VALUE]) if key == "values" else None,
                        "issue": "id_shared_by_buyers",
                        "rule": "matched on id and buyer orgnr, so each buyer keeps its own value",
                        "is_it": pid in it_ids,
                    }
                )
    v = tables["values"]
    proc = tables["procurements"]
    pairs = set(zip(proc[COL_ID], proc[COL_ORGNR]))
    proc_ids = set(proc[COL_ID])
    for _, r in v.iterrows():
        if (r[COL_ID], r[COL_ORGNR]) in pairs:
            continue
        known = r[COL_ID] in proc_ids
        rows.append(
            {
                "table": RAW_FILES["values"],
                "procurement_id": r[COL_ID],
                "buyer_orgnr": r[COL_ORGNR],
                "buyer_name": r[COL_NAME],
                "n_rows": 1,
                "values_sek": f"{r[COL_VALUE]:.0f}",
                "issue": "value_buyer_differs" if known else "value_id_not_in_procurements",
                "rule": (
                    "value attached by id to the procurement's own buyer when the id has one value buyer"
                    if known
                    else "not counted (no procurement row to attach it to)"
                ),
                "is_it": cpv_category(r[COL_CPV][:8]) is not None,
            }
        )
    df = pd.DataFrame(rows, columns=list(DUPLICATES_SCHEMA.columns)).astype({"n_rows": "int64", "is_it": bool})
    df = df.sort_values(["issue", "procurement_id", "buyer_orgnr", "table"], ignore_index=True)
    return validate(df, DUPLICATES_SCHEMA, "procurement_duplicates")


# ---------------------------------------------------------------- attribution


def population_year(population: pd.DataFrame) -> int:
    """2021 when a refreshed population covers all 290 municipalities for 2021, else 2020 (latest mirrored)."""
    return YEAR if population.loc[population["year"] == YEAR, "kommunkod"].nunique() >= 290 else POPULATION_YEAR


def attribution_shares(
    federations: pd.DataFrame, population: pd.DataFrame, *, method: str = "population", year: int | None = None
) -> pd.DataFrame:
    """Member shares per cooperation body: buyer_orgnr, kommunkod, attribution_share (sums to 1 per body).

    method "population" weights members by population on 31 December `year` (default `population_year`);
    "equal" splits evenly.
    """
    year = population_year(population) if year is None else year
    if method not in ("population", "equal"):
        raise UserError(f"attribution method {method!r} is not 'population' or 'equal'")
    members = federations["member_kommunkoder"].fillna("")
    rows = [(orgnr, k) for orgnr, m in zip(federations["buyer_orgnr"], members) for k in m.split()]
    df = pd.DataFrame(rows, columns=["buyer_orgnr", "kommunkod"])
    pop = population[population["year"] == year].set_index("kommunkod")["population"]
    unknown = sorted(set(df["kommunkod"]) - set(pop.index))
    if unknown:
        raise UserError(f"{FEDERATIONS_CSV}: member kommunkod {unknown[0]!r} has no {year} population")
    df["weight"] = df["kommunkod"].map(pop).astype(float) if method == "population" else 1.0
    df["attribution_share"] = df["weight"] / df.groupby("buyer_orgnr")["weight"].transform("sum")
    return df[["buyer_orgnr", "kommunkod", "attribution_share"]]


# ---------------------------------------------------------------- the stage


def build_procurement_tables(
    tables: dict[str, pd.DataFrame],
    municipalities: pd.DataFrame,
    population: pd.DataFrame,
    federations: pd.DataFrame,
    *,
    attribution: str = "population",
    decisions: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """procurement_it, procurement_cpv_review, procurement_buyer_mismatches, procurement_duplicates, municipal_companies_it."""
    buyers = buyer_records(tables)
    mapping, mismatches = municipal_buyers(buyers, municipalities)
    if decisions is not None:
        check_decisions(decisions, tables)
    p = _procurements(tables, decisions)
    it = p[p["category"].notna()].copy()
    it["is_framework"] = it[COL_TYPE].map(CONTRACT_TYPES).astype(bool)

    base = pd.DataFrame(
        {
            "procurement_id": it[COL_ID],
            "buyer_orgnr": it[COL_ORGNR],
            "buyer_name": it[COL_NAME],
            "juridisk_form": it[COL_FORM],
            "delsektor": it[COL_DELSEKTOR],
            "contract_type": it[COL_TYPE],
            "is_framework": it["is_framework"],
            "cpv_code": it["cpv_code"],
            "cpv_label": it["cpv_label"],
            "cpv_division": it["cpv_code"].str[:2],
            "cpv_rule": np.where(it["decision"].notna(), "decision: " + it["cpv_code"], it["cpv_prefix"]),
            "category": it["category"],
            "title": it[COL_TITLE] if COL_TITLE in it.columns else None,
            "published": it[COL_DATE].astype("str") if COL_DATE in it.columns else None,
            "value_state": it["value_state"],
            "has_value": it["has_value"],
            "raw_value_sek": it["raw_value"].astype(float),
            "contracted_value_total_sek": it["value"].astype(float),
            "duplicate_procurement_rows": it["duplicate_procurement_rows"],
            "duplicate_value_rows": it["duplicate_value_rows"],
            "value_buyer_differs": it["value_buyer_differs"].astype(bool),
        }
    )

    muni = base[base["juridisk_form"] == "Kommuner"].merge(
        mapping, on=["buyer_name", "buyer_orgnr"], how="left", validate="many_to_one"
    )
    muni = muni.assign(
        buyer_kind="municipality", cooperation_id=None, attribution_share=1.0, buyer_orgnr_mismatch=muni["orgnr_mismatch"]
    )

    fed_orgnrs = set(federations["buyer_orgnr"])
    is_coop = (base["juridisk_form"] == "Kommunalförbund") | base["buyer_orgnr"].isin(fed_orgnrs)
    coop = base[is_coop].merge(
        federations[["buyer_orgnr", "cooperation_id", "body_kind"]], on="buyer_orgnr", how="left"
    )
    shares = attribution_shares(federations, population, method=attribution)
    coop = coop.merge(shares, on="buyer_orgnr", how="left")
    coop["buyer_kind"] = np.where(
        coop["kommunkod"].isna(),
        "cooperation_unattributed",
        np.where(coop["body_kind"] == "joint_it_company", "joint_it_company", "kommunalforbund"),
    )
    coop["buyer_orgnr_mismatch"] = False

    cols = list(PROCUREMENT_IT_SCHEMA.columns)
    out = pd.concat([muni, coop], ignore_index=True)
    out["contracted_value_sek"] = out["contracted_value_total_sek"] * out["attribution_share"].fillna(1.0)
    out["cpv_rule"] = out["cpv_rule"].astype(str)
    out = out[cols].astype({"attribution_share": float, "buyer_orgnr_mismatch": bool})
    out = out.sort_values(["procurement_id", "buyer_orgnr", "kommunkod"], ignore_index=True, na_position="last")
    out = validate(out, PROCUREMENT_IT_SCHEMA, "procurement_it")
    out.attrs["municipal_buyers"] = sorted(mapping["kommunkod"].unique())

    companies = base[(base["delsektor"] == "Kommunalt ägd organisation") & ~is_coop]
    companies = companies.rename(columns={"contracted_value_total_sek": "contracted_value_sek"})
    companies = companies[list(COMPANIES_SCHEMA.columns)].sort_values(["buyer_name", "procurement_id"], ignore_index=True)

    return {
        "procurement_it": out,
        "procurement_cpv_review": cpv_review(p),
        "procurement_buyer_mismatches": mismatches,
        "procurement_duplicates": duplicates_report(tables),
        "municipal_companies_it": validate(companies, COMPANIES_SCHEMA, "municipal_companies_it"),
    }


def procurement_stage_tables(raw_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    """Read raw and reference tables and build the procurement tables (called by the it_spend stage)."""
    municipalities = read_parquet(out_dir / "municipalities.parquet")
    population = read_parquet(out_dir / "population.parquet")
    return build_procurement_tables(
        read_raw(raw_dir), municipalities, population, read_federations(), decisions=cpv.read_decisions()
    )


# ---------------------------------------------------------------- totals for the comparison


def municipal_totals(
    procurement_it: pd.DataFrame,
    municipalities: pd.DataFrame,
    *,
    attribute_federations: bool = True,
    include_frameworks: bool = False,
    trim_top_share: float | None = None,
    buyer_kommunkoder: list[str] | None = None,
) -> pd.DataFrame:
    """One row per municipality (all of `municipalities`), contracts and framework ceilings apart.

    Columns: it_procurements_count (IT procurements in the measure, attributed shares summed),
    it_contract_value_sek (reported values of those procurements; null unless value_state is
    "reported"), unvalued_count (those without a reported value), value_state ("reported": at least one
    value; "not_reported": IT procurement advertised but no value reported; "none": no IT procurement
    advertised), it_frameworks_count, it_framework_ceiling_sek and framework_state (the same for
    framework agreements, always computed), largest_framework_sek/_title (the largest single ceiling,
    attributed), has_buyer_record (appears as a buyer in any 2021 table, IT or not; from
    `procurement_it.attrs["municipal_buyers"]` or `buyer_kommunkoder`).

    - attribute_federations: add cooperation bodies' procurements at each member's attribution share;
      False keeps the municipality's own procurements only.
    - include_frameworks: False (the headline) leaves framework ceilings out of the measure; True adds
      them to it (a sensitivity variant).
    - trim_top_share: e.g. 0.01 drops the largest 1 % (rounded up) of the included procurements by full
      reported value (ties by procurement id), so a few huge awards cannot dominate.
    """
    if trim_top_share is not None and not 0 <= trim_top_share < 1:
        raise UserError(f"trim_top_share={trim_top_share!r} must be in [0, 1)")
    buyers = buyer_kommunkoder if buyer_kommunkoder is not None else procurement_it.attrs.get("municipal_buyers")
    if buyers is None:
        raise UserError(
            "procurement_it carries no municipal buyer list: read it with procurement.load_procurement_it()"
            " or pass buyer_kommunkoder"
        )
    df = procurement_it[procurement_it["kommunkod"].notna()]
    if not attribute_federations:
        df = df[df["buyer_kind"] == "municipality"]
    frameworks = df[df["is_framework"]]
    if not include_frameworks:
        df = df[~df["is_framework"]]
    if trim_top_share:
        full = df[df["has_value"]].drop_duplicates(["procurement_id", "buyer_orgnr"]).sort_values(
            ["contracted_value_total_sek", "procurement_id", "buyer_orgnr"], ascending=[False, True, True]
        )
        top = full.head(int(np.ceil(len(full) * trim_top_share)))
        dropped = set(zip(top["procurement_id"], top["buyer_orgnr"]))
        df = df[[k not in dropped for k in zip(df["procurement_id"], df["buyer_orgnr"])]]
    out = pd.DataFrame({"kommunkod": municipalities["kommunkod"].astype(str)})
    main = _sums(df, "it_procurements_count", "it_contract_value_sek", "unvalued_count", "value_state")
    fw = _sums(frameworks, "it_frameworks_count", "it_framework_ceiling_sek", "fw_unvalued", "framework_state")
    largest = frameworks[frameworks["has_value"]].sort_values(
        ["contracted_value_sek", "procurement_id"], ascending=[False, True]
    ).drop_duplicates("kommunkod").set_index("kommunkod")
    out = out.merge(main, left_on="kommunkod", right_index=True, how="left").merge(
        fw.drop(columns="fw_unvalued"), left_on="kommunkod", right_index=True, how="left"
    )
    out = out.fillna({"it_procurements_count": 0.0, "unvalued_count": 0.0, "value_state": "none",
                      "it_frameworks_count": 0.0, "framework_state": "none"})
    out["largest_framework_sek"] = out["kommunkod"].map(largest["contracted_value_sek"]).astype(float)
    out["largest_framework_title"] = out["kommunkod"].map(largest["title"]).astype(object)
    out["has_buyer_record"] = out["kommunkod"].isin(set(buyers))
    out = out.astype({"it_procurements_count": float, "unvalued_count": float, "it_frameworks_count": float,
                      "it_contract_value_sek": float, "it_framework_ceiling_sek": float})
    return validate(out.sort_values("kommunkod", ignore_index=True)[list(TOTALS_SCHEMA.columns)], TOTALS_SCHEMA,
                    "municipal_totals")


def _sums(df: pd.DataFrame, count: str, value: str, unvalued: str, state: str) -> pd.DataFrame:
    """Per kommunkod: attributed count, sum of reported values (null when none), unvalued count and value state."""
    g = df.assign(valued=df["has_value"]).groupby("kommunkod")
    out = pd.DataFrame({
        count: g["attribution_share"].sum(),
        value: g["contracted_value_sek"].sum(min_count=1),
        unvalued: df[~df["has_value"]].groupby("kommunkod")["attribution_share"].sum(),
    })
    out[unvalued] = out[unvalued].fillna(0.0)
    out[state] = np.where(out[value].notna(), "reported", "not_reported")
    return out


def load_procurement_it() -> pd.DataFrame:
    """The processed procurement_it table (with its municipal buyer list in attrs)."""
    return read_parquet(config.processed_dir() / "procurement_it.parquet")
