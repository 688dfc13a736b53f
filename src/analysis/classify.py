"""Ledger lens: two independent IT classifiers for supplier-ledger rows, and their agreement.

1. Accounts (`data/mappings/account_mapping.csv`): per publisher (kommunkod, or "*" for a Kommun-Bas
   fallback) the longest matching account prefix gives an IT category or `not_it`. A rule applies only
   when the row's account text matches the rule's `account_text_pattern` (case-insensitive regex; empty
   = no check): charts are customised below group level, so the number alone is not trusted
   (Göteborg 7431 is administration, 7452 IT consulting; Örebro 745 is general consulting).
2. Vendors: every supplier has an IT share (0–1) learned from data or reviewed in
   `data/mappings/it_vendors.csv` (`vendor_shares`); a matched row counts share × amount as IT. Rows are
   matched on orgnr first; rows without a listed orgnr are matched on the normalised name with rapidfuzz
   (`fuzz.ratio` after `normalise_supplier_name`) — against all suppliers when the row has no orgnr,
   against name-only suppliers when it has one: accepted when the best score ≥ NAME_THRESHOLD and beats
   the best *other* supplier by ≥ NAME_MARGIN; near misses go to the `vendor_match_review` table.

Agreement is the share of absolute SEK that both classifiers put on the same side (IT / not IT), with a
vendor row split into share × |SEK| IT and the rest not IT; absolute SEK so credit notes do not cancel.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from rapidfuzz import fuzz, process
from stdnum.se import orgnr as se_orgnr

from . import config
from .cpv import IT_CATEGORIES, NOT_IT  # one category list for every lens
from .errors import UserError
from .io import validate

CATEGORIES = IT_CATEGORIES + (NOT_IT,)
NAME_THRESHOLD = 90.0
NAME_MARGIN = 5.0
REVIEW_FLOOR = 75.0

ACCOUNT_MAPPING_SCHEMA = pa.DataFrameSchema(
    {
        "publisher": pa.Column(str, pa.Check.str_matches(r"^(\d{4}|\*)$")),
        "account_prefix": pa.Column(str, pa.Check.str_matches(r"^\d{2,6}$")),
        "account_text_pattern": pa.Column(str),
        "it_category": pa.Column(str, pa.Check.isin(list(CATEGORIES))),
        "note": pa.Column(str),
    },
    unique=["publisher", "account_prefix"],
    strict=True,
)

VENDORS_SCHEMA = pa.DataFrameSchema(
    {
        "orgnr": pa.Column(str, pa.Check.str_matches(r"^(\d{6}-\d{4})?$")),
        "canonical_name": pa.Column(str, pa.Check.str_length(min_value=2), unique=True),
        "it_category": pa.Column(str, pa.Check.isin(list(IT_CATEGORIES))),
        "kind": pa.Column(str, pa.Check.isin(["vendor", "cooperation_body", "joint_it_company"])),
        "source": pa.Column(str),
        "note": pa.Column(str),
        "it_share": pa.Column(str, pa.Check.str_matches(r"^(0(\.\d+)?|1(\.0+)?)?$")),
        "share_source": pa.Column(str),
    },
    strict=True,
)

REVIEW_SCHEMA = pa.DataFrameSchema(
    {
        "source_id": pa.Column(str),
        "supplier_name": pa.Column(str),
        "normalised_name": pa.Column(str),
        "best_vendor": pa.Column(str),
        "best_score": pa.Column(float),
        "runner_up_vendor": pa.Column(str, nullable=True),
        "runner_up_score": pa.Column(float, nullable=True),
        "decision": pa.Column(str, pa.Check.isin(["accepted", "ambiguous", "below_threshold"])),
        "amount_sek": pa.Column(float),
    },
    strict=True,
    ordered=True,
    coerce=True,
)

AGREEMENT_SCHEMA = pa.DataFrameSchema(
    {
        "source_id": pa.Column(str),
        "kommunkod": pa.Column(str, pa.Check.str_matches(r"^\d{4}$")),
        "period": pa.Column(str),
        "n_rows": pa.Column("int64"),
        "total_sek": pa.Column(float),
        "it_sek_accounts": pa.Column(float),
        "it_sek_vendors": pa.Column(float),
        "it_sek_both": pa.Column(float),
        "it_sek_vendors_out_of_sample": pa.Column(float, nullable=True),
        "vendors_to_accounts": pa.Column(float, nullable=True),
        "vendors_to_accounts_out_of_sample": pa.Column(float, nullable=True),
        "it_share_accounts": pa.Column(float),
        "it_share_vendors": pa.Column(float),
        "abs_total_sek": pa.Column(float),
        "agreement_share": pa.Column(float, pa.Check.in_range(0, 1)),
        "category_agreement_share": pa.Column(float, pa.Check.in_range(0, 1)),
        "account_text_mismatch_sek": pa.Column(float),
    },
    strict=True,
    ordered=True,
    coerce=True,
)

LEGAL_FORMS = {"AB", "AKTIEBOLAG", "AKTIEBOLAGET", "PUBL", "HB", "KB", "OY", "A/S", "AS", "LTD", "FB", "EK", "FÖR"}


def _read_mapping_csv(path: Path, schema, what: str) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"{path}: cannot read {what} ({exc})") from exc
    return validate(df, schema, path.name)


def read_account_mapping(path: Path | None = None) -> pd.DataFrame:
    """The reviewable account → IT category rules; every pattern must compile as a regex."""
    path = path or config.MAPPINGS_DIR / "account_mapping.csv"
    df = _read_mapping_csv(path, ACCOUNT_MAPPING_SCHEMA, "account mapping")
    for i, pattern in enumerate(df["account_text_pattern"]):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UserError(f"{path.name} row {i + 2}: account_text_pattern {pattern!r} is not a regex ({exc})") from exc
    return df


def read_vendors(path: Path | None = None) -> pd.DataFrame:
    """The reviewable IT vendor list; orgnr must pass the Luhn check and map to one category.

    `it_share` empty = take the learned share; filled = a reviewed override whose `share_source` starts
    with "reviewed".
    """
    path = path or config.MAPPINGS_DIR / "it_vendors.csv"
    df = _read_mapping_csv(path, VENDORS_SCHEMA, "vendor list")
    for i, o in enumerate(df["orgnr"]):
        if o and not se_orgnr.is_valid(o):
            raise UserError(f"{path.name} row {i + 2}: orgnr {o!r} fails the check digit")
    for i, (share, source) in enumerate(zip(df["it_share"], df["share_source"])):
        if bool(share) != source.startswith("reviewed"):
            raise UserError(f"{path.name} row {i + 2}: it_share needs a share_source starting 'reviewed' (and only then)")
    cats = df[df["orgnr"] != ""].groupby("orgnr")["it_category"].nunique()
    if (cats > 1).any():
        raise UserError(f"{path.name}: orgnr {cats[cats > 1].index[0]} has more than one it_category")
    return df


# ---------------------------------------------------------------- accounts


def _account_rule(publisher: str, account: str | None, text: str | None, rules: pd.DataFrame) -> tuple[str, str, str]:
    """(category, rule, check) for one account: publisher rules first, then the "*" fallback."""
    if account is None or account == "":
        return NOT_IT, "", "no_account"
    for scope in (publisher, "*"):
        prefix_ok = np.array([account.startswith(p) for p in rules["account_prefix"]], dtype=bool)
        candidates = rules[(rules["publisher"] == scope).to_numpy() & prefix_ok]
        if len(candidates):
            rule = candidates.loc[candidates["account_prefix"].str.len().idxmax()]
            label = f"{scope}:{rule['account_prefix']}"
            pattern = rule["account_text_pattern"]
            if not pattern:
                return rule["it_category"], label, "no_pattern"
            if text is None or text == "":
                return rule["it_category"], label, "no_text"
            if re.search(pattern, text, flags=re.IGNORECASE):
                return rule["it_category"], label, "text_ok"
            return NOT_IT, label, "text_mismatch"
    return NOT_IT, "", "no_rule"


def classify_accounts(ledger: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """Add account_category, account_rule and account_check to ledger rows (kommunkod, account, account_text)."""
    cols = ["kommunkod", "account", "account_text"]
    keys = ledger[cols].astype(object).where(ledger[cols].notna(), None)
    combos = keys.drop_duplicates()
    decided = {
        (k, a, t): _account_rule(k, a, t, rules) for k, a, t in combos.itertuples(index=False, name=None)
    }
    result = [decided[key] for key in keys.itertuples(index=False, name=None)]
    out = ledger.copy()
    out["account_category"] = [r[0] for r in result]
    out["account_rule"] = [r[1] for r in result]
    out["account_check"] = [r[2] for r in result]
    return out


# ---------------------------------------------------------------- vendors


def normalise_supplier_name(name: str) -> str:
    """Upper case, no leading apostrophe or numeric prefix ("061796 - X AB"), no legal forms or punctuation."""
    s = str(name).upper().strip().lstrip("'\"´`")
    s = re.sub(r"^\d+\s*-\s*", "", s)
    s = re.sub(r"[;,.()&/]+", " ", s.replace("A/S", "AS"))
    tokens = [t for t in s.split() if t not in LEGAL_FORMS]
    return " ".join(tokens)


def match_vendor_names(
    names: pd.Series, vendors: pd.DataFrame, *, threshold: float = NAME_THRESHOLD, margin: float = NAME_MARGIN
) -> pd.DataFrame:
    """Fuzzy-match distinct supplier names to the vendor list.

    Returns one row per distinct name with the best vendor, its score, the best vendor with a different
    identity (orgnr, or name when there is none) and a decision: "accepted" (score ≥ threshold and ≥
    margin above that runner-up), "ambiguous" (≥ threshold but not clear) or "below_threshold".
    """
    choices = vendors["canonical_name"].tolist()
    if "identity" in vendors:
        identity = vendors["identity"].to_numpy(dtype=object)
    else:
        identity = np.array([o or n for o, n in zip(vendors["orgnr"], vendors["canonical_name"])], dtype=object)
    queries = list(pd.unique(names.dropna()))
    rows = []
    if queries and choices:
        scores = process.cdist(queries, choices, scorer=fuzz.ratio, processor=normalise_supplier_name, workers=1)
        for name, row in zip(queries, scores):
            best_i = int(np.argmax(row))  # first maximum: ties go to the earlier vendor row
            best_score = float(row[best_i])
            others = np.where(identity != identity[best_i])[0]
            runner_i = int(others[np.argmax(row[others])]) if len(others) else None
            runner_score = float(row[runner_i]) if runner_i is not None else None
            if best_score < threshold:
                decision = "below_threshold"
            elif runner_score is None or best_score - runner_score >= margin:
                decision = "accepted"
            else:
                decision = "ambiguous"
            rows.append(
                {
                    "supplier_name": name,
                    "normalised_name": normalise_supplier_name(name),
                    "best_vendor": choices[best_i],
                    "best_score": best_score,
                    "runner_up_vendor": choices[runner_i] if runner_i is not None else None,
                    "runner_up_score": runner_score,
                    "decision": decision,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "supplier_name",
            "normalised_name",
            "best_vendor",
            "best_score",
            "runner_up_vendor",
            "runner_up_score",
            "decision",
        ],
    ).astype({"best_score": float, "runner_up_score": float})


def classify_vendors(ledger: pd.DataFrame, entries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add vendor_category, vendor_it_share, vendor_match ("orgnr" | "name" | "none") and matched_vendor.

    entries: identity, orgnr, canonical_name, it_category, it_share (`vendor_shares.vendor_entries`).
    Returns (rows, review); review lists every fuzzy candidate scoring ≥ REVIEW_FLOOR that was not an
    exact normalised match, with the SEK involved, so a person can confirm or reject it in it_vendors.csv.
    """
    entries = entries.assign(identity=entries["identity"].astype(object))
    by_orgnr = entries[entries["orgnr"] != ""].drop_duplicates("orgnr").set_index("orgnr")
    by_name = entries.set_index("canonical_name")
    out = ledger.copy()
    orgnr = out["supplier_orgnr"].astype(object).where(out["supplier_orgnr"].notna(), None)
    hit = orgnr.map(lambda o: o in by_orgnr.index if o else False).astype(bool)
    out["vendor_category"] = NOT_IT
    out["vendor_it_share"] = 0.0
    out["vendor_match"] = "none"
    out["matched_vendor"] = None
    out.loc[hit, "matched_vendor"] = orgnr[hit].map(by_orgnr["canonical_name"])
    out.loc[hit, "vendor_match"] = "orgnr"

    name_only = entries[entries["orgnr"] == ""]
    all_matches = []
    for rows, choices in ((orgnr.isna(), entries), (orgnr.notna() & ~hit, name_only)):
        matches = match_vendor_names(out.loc[rows, "supplier_name"], choices)
        accepted = matches[matches["decision"] == "accepted"].set_index("supplier_name")["best_vendor"]
        take = rows & out["supplier_name"].isin(accepted.index)
        out.loc[take, "matched_vendor"] = out.loc[take, "supplier_name"].map(accepted)
        out.loc[take, "vendor_match"] = "name"
        amounts = out[rows].groupby(["source_id", "supplier_name"], as_index=False)["amount_sek"].sum()
        all_matches.append(amounts.merge(matches, on="supplier_name", how="inner"))
    matched = out["vendor_match"] != "none"
    out.loc[matched, "vendor_category"] = out.loc[matched, "matched_vendor"].map(by_name["it_category"])
    out.loc[matched, "vendor_it_share"] = out.loc[matched, "matched_vendor"].map(by_name["it_share"]).astype(float)

    review = pd.concat(all_matches, ignore_index=True)
    review = review.groupby(list(review.columns.drop("amount_sek")), as_index=False, dropna=False)["amount_sek"].sum()
    exact = review["normalised_name"] == review["best_vendor"].map(normalise_supplier_name)
    review = review[(review["best_score"] >= REVIEW_FLOOR) & ~(exact & (review["decision"] == "accepted"))]
    review = review[list(REVIEW_SCHEMA.columns)].sort_values(
        ["decision", "best_score", "supplier_name", "source_id"], ascending=[True, False, True, True], ignore_index=True
    )
    return out, validate(review, REVIEW_SCHEMA, "vendor_match_review")


# ---------------------------------------------------------------- agreement


def agreement(classified: pd.DataFrame) -> pd.DataFrame:
    """Per source and period with accounts: IT SEK by each classifier and the share of |SEK| they classify alike.

    A vendor row counts share × SEK as IT; `vendor_it_share_oos` (shares learned without this
    municipality's own accounts) gives the out-of-sample vendor figure when present.
    """
    df = classified[classified["grain"] == "posting"].copy()
    df["period"] = df["period"].fillna(df["year"].astype(str))
    df["abs_sek"] = df["abs_ore"] / 100 if "abs_ore" in df else df["amount_sek"].abs()
    df["n"] = df["rows"] if "rows" in df else 1
    df["it_acc"] = (df["account_category"] != NOT_IT).astype(float)
    share = df["vendor_it_share"].astype(float)
    oos = df["vendor_it_share_oos"].astype(float) if "vendor_it_share_oos" in df else pd.Series(np.nan, index=df.index)
    df["ven_sek"] = share * df["amount_sek"]
    df["oos_sek"] = oos * df["amount_sek"]
    df["both_sek"] = np.minimum(df["it_acc"], share) * df["amount_sek"]
    df["same_side"] = (1 - (df["it_acc"] - share).abs()) * df["abs_sek"]
    same_cat = np.where(
        df["account_category"] == NOT_IT, 1 - share, np.where(df["account_category"] == df["vendor_category"], share, 0.0)
    )
    df["same_cat"] = same_cat * df["abs_sek"]
    df["has_oos"] = oos.notna()
    rows = []
    for (source_id, kommunkod, period), g in df.groupby(["source_id", "kommunkod", "period"]):
        if g["account"].isna().all():
            continue
        abs_total = g["abs_sek"].sum()
        total = g["amount_sek"].sum()
        it_acc = g.loc[g["it_acc"] == 1, "amount_sek"].sum()
        it_ven = g["ven_sek"].sum()
        it_oos = g["oos_sek"].sum() if g["has_oos"].all() else np.nan
        rows.append(
            {
                "source_id": source_id,
                "kommunkod": kommunkod,
                "period": period,
                "n_rows": int(g["n"].sum()),
                "total_sek": total,
                "it_sek_accounts": it_acc,
                "it_sek_vendors": it_ven,
                "it_sek_both": g["both_sek"].sum(),
                "it_sek_vendors_out_of_sample": it_oos,
                "vendors_to_accounts": it_ven / it_acc if it_acc else np.nan,
                "vendors_to_accounts_out_of_sample": it_oos / it_acc if it_acc else np.nan,
                "it_share_accounts": it_acc / total if total else np.nan,
                "it_share_vendors": it_ven / total if total else np.nan,
                "abs_total_sek": abs_total,
                "agreement_share": g["same_side"].sum() / abs_total if abs_total else 1.0,
                "category_agreement_share": g["same_cat"].sum() / abs_total if abs_total else 1.0,
                "account_text_mismatch_sek": g.loc[g["account_check"] == "text_mismatch", "amount_sek"].sum(),
            }
        )
    out = pd.DataFrame(rows, columns=list(AGREEMENT_SCHEMA.columns)).astype({"n_rows": "int64"})
    for col in out.columns[4:]:
        out[col] = out[col].astype(float)
    return validate(out, AGREEMENT_SCHEMA, "classifier_agreement")


def classify_ledger(
    ledger: pd.DataFrame,
    rules: pd.DataFrame | None = None,
    vendors: pd.DataFrame | None = None,
    suppliers: pd.DataFrame | None = None,
    learn_sources: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Both classifiers on a ledger table: (classified rows, vendor_match_review, classifier_agreement, vendor_it_shares).

    `ledger` is postings or the store's `ledger_lens` groups (aggregate.py: a `rows` count and `abs_ore`
    per group of postings alike in every column the classifiers read); the results are the same.

    Vendor shares are learned from the account-classified rows of `learn_sources` (default: all) and the
    2021 lots × suppliers table `suppliers` (default: read from raw). For each municipality whose accounts
    teach, `vendor_it_share_oos` repeats the vendor method with shares learned without its own accounts.
    """
    from . import procurement, vendor_shares

    rules = read_account_mapping() if rules is None else rules
    vendors = read_vendors() if vendors is None else vendors
    suppliers = procurement.read_raw()["suppliers"] if suppliers is None else suppliers
    rows = classify_accounts(ledger, rules)
    teach = rows if learn_sources is None else rows[rows["source_id"].isin(learn_sources)]
    teach = teach[teach["account"].notna()]
    proc_ev = vendor_shares.procurement_evidence(suppliers)

    def learned(exclude: str | None) -> pd.DataFrame:
        ev = vendor_shares.ledger_evidence(teach[teach["kommunkod"] != exclude])
        return vendor_shares.learn_shares(ev, proc_ev, vendors)

    shares = learned(None)
    rows, review = classify_vendors(rows, vendor_shares.vendor_entries(shares, vendors))
    rows["vendor_it_share_oos"] = np.nan
    for kommunkod in sorted(teach["kommunkod"].unique()):
        own = rows["kommunkod"] == kommunkod
        oos, _ = classify_vendors(rows[own], vendor_shares.vendor_entries(learned(kommunkod), vendors))
        rows.loc[own, "vendor_it_share_oos"] = oos["vendor_it_share"]
    return rows, review, agreement(rows), shares
