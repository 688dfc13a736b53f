"""Ledger classifiers: account rules checked against text, vendor shares learned from data, matching, agreement."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import classify, procurement, vendor_shares
from analysis.errors import UserError

SYNTHETIC_RULES = pd.DataFrame(
    [
        ("1880", "40233", "IT-utrustning", "hardware", ""),
        ("1880", "7431", "IT-tj", "it_services_operations", ""),
        ("1880", "74311", "licens", "software_licences", ""),
        ("1880", "745", "Konsult", "not_it", ""),
        ("1480", "7431", "Administrativ", "not_it", ""),
        ("1480", "7452", "IT", "it_consulting", ""),
        ("1480", "7451", "", "not_it", ""),
        ("*", "681", "Tele|IT", "telecom_networks", ""),
    ],
    columns=["publisher", "account_prefix", "account_text_pattern", "it_category", "note"],
)

SYNTHETIC_VENDORS = pd.DataFrame(
    [
        ("556448-0282", "ATEA SVERIGE AB", "hardware", "vendor", "synthetic", "", "", ""),
        ("556267-5164", "TELE2 SVERIGE AB", "telecom_networks", "vendor", "synthetic", "", "", ""),
        ("556430-0142", "TELIA SVERIGE AB", "telecom_networks", "vendor", "synthetic", "", "", ""),
        ("556430-0142", "TELIASONERA SVERIGE AB", "telecom_networks", "vendor", "synthetic", "", "", ""),
        ("556337-2191", "CGI SVERIGE AB", "it_services_operations", "vendor", "synthetic", "", "", ""),
        ("556338-2191", "CGA SVERIGE AB", "it_consulting", "vendor", "synthetic", "", "", ""),
        ("", "IT-KOMMUNER I SKÅNE AB", "it_services_operations", "joint_it_company", "synthetic", "", "1", "reviewed: synthetic"),
    ],
    columns=["orgnr", "canonical_name", "it_category", "kind", "source", "note", "it_share", "share_source"],
)
IT_CPV = "48000000 Programvara och informationssystem"
BUILD_CPV = "45000000 Byggnadsarbete"


def synthetic_lots(rows) -> pd.DataFrame:
    """A synthetic lots × suppliers table: (supplier name, n IT lots, n other lots)."""
    lots = [(name, IT_CPV) for name, n_it, _ in rows for _ in range(n_it)]
    lots += [(name, BUILD_CPV) for name, _, n_other in rows for _ in range(n_other)]
    return pd.DataFrame(lots, columns=[vendor_shares.COL_SUPPLIER, procurement.COL_CPV])


NO_LOTS = synthetic_lots([])


def synthetic_entries(vendors=SYNTHETIC_VENDORS, ledger_ev=None, lots=NO_LOTS) -> pd.DataFrame:
    ledger_ev = vendor_shares.ledger_evidence(synthetic_ledger([])) if ledger_ev is None else ledger_ev
    shares = vendor_shares.learn_shares(ledger_ev, vendor_shares.procurement_evidence(lots), vendors)
    return vendor_shares.vendor_entries(shares, vendors)


def synthetic_ledger(rows) -> pd.DataFrame:
    cols = ["kommunkod", "account", "account_text", "supplier_name", "supplier_orgnr", "amount_sek"]
    df = pd.DataFrame(rows, columns=cols)
    df["source_id"] = "synthetic-ledger"
    df["grain"] = "posting"
    df["year"] = 2016
    df["period"] = "2016-03"
    return df


def test_account_rules_longest_prefix_and_text_check():
    ledger = synthetic_ledger(
        [
            ("1880", "40233", "Inköp, IT-utrustning", "X", None, 100.0),
            ("1880", "74311", "IT-tj standpr licenser pc-pr", "X", None, 10.0),  # longer prefix wins
            ("1880", "74310", "Köp IT-tjänster enligt avtal", "X", None, 20.0),
            ("1880", "74500", "Konsulttjänster", "X", None, 30.0),  # Örebro 745: not IT
            ("1480", "7431", "Administrativa tjänster", "X", None, 40.0),  # Göteborg 7431: not IT
            ("1480", "7452", "IT-konsulttjänster", "X", None, 50.0),
            ("1480", "7452", "Konsulttjänster juridik", "X", None, 60.0),  # number says IT, text does not
            ("1480", "7451", None, "X", None, 70.0),
            ("1980", "68120", "Mobil telefoni", "X", None, 80.0),  # fallback rule applies with "Tele"
            ("1980", "68130", "Porto", "X", None, 90.0),  # fallback prefix but text not telecom
            ("1980", None, None, "X", None, 1.0),
            ("1980", "50000", "Löner", "X", None, 2.0),
        ]
    )
    out = classify.classify_accounts(ledger, SYNTHETIC_RULES)
    assert out["account_category"].tolist() == [
        "hardware",
        "software_licences",
        "it_services_operations",
        "not_it",
        "not_it",
        "it_consulting",
        "not_it",
        "not_it",
        "telecom_networks",
        "not_it",
        "not_it",
        "not_it",
    ]
    assert out["account_check"].tolist() == [
        "text_ok",
        "text_ok",
        "text_ok",
        "text_ok",
        "text_ok",
        "text_ok",
        "text_mismatch",
        "no_pattern",
        "text_ok",
        "text_mismatch",
        "no_account",
        "no_rule",
    ]
    assert out.loc[1, "account_rule"] == "1880:74311" and out.loc[8, "account_rule"] == "*:681"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("'ATEA SVERIGE AB (FB)", "ATEA SVERIGE"),
        ("061796 - HJÄLLBOLAGET AB", "HJÄLLBOLAGET"),
        ("KUMBRO STADSNÄT;AB", "KUMBRO STADSNÄT"),
        ("Tele2 Sverige Aktiebolag", "TELE2 SVERIGE"),
    ],
)
def test_normalise_supplier_name(raw, normalised):
    assert classify.normalise_supplier_name(raw) == normalised


def test_name_matching_acceptance_rule():
    names = pd.Series(["ATEA SVERIGE AB (FB)", "TELIASONERA SVERIGE", "CGB SVERIGE AB", "BYGG AB"])
    m = classify.match_vendor_names(names, SYNTHETIC_VENDORS).set_index("supplier_name")
    assert m.loc["ATEA SVERIGE AB (FB)", "decision"] == "accepted" and m.loc["ATEA SVERIGE AB (FB)", "best_score"] == 100
    # Telia and TeliaSonera share an orgnr, so the runner-up must be a different vendor (Tele2)
    assert m.loc["TELIASONERA SVERIGE", "decision"] == "accepted"
    assert m.loc["TELIASONERA SVERIGE", "runner_up_vendor"] not in ("TELIA SVERIGE AB", "TELIASONERA SVERIGE AB")
    # "CGB SVERIGE" is 90.9 from both CGI and CGA: above threshold, no margin → ambiguous, not accepted
    assert m.loc["CGB SVERIGE AB", "best_score"] == pytest.approx(100 * 20 / 22)
    assert m.loc["CGB SVERIGE AB", "decision"] == "ambiguous"
    assert m.loc["BYGG AB", "decision"] == "below_threshold"


def test_vendor_classifier_orgnr_first_then_name():
    ledger = synthetic_ledger(
        [
            ("1880", "40233", "IT-utrustning", "ATEA SVERIGE AB", "556448-0282", 100.0),
            ("1880", "40233", "IT-utrustning", "ATEA SVERIGE AB", "556000-0001", 5.0),  # other orgnr: no name match
            ("1480", None, None, "'TELE2 SVERIGE AB (FB)", None, 30.0),
            ("1480", None, None, "IT KOMMUNER I SKÅNE AB", None, 7.0),  # name-only cooperation entry
            ("1480", None, None, "CGB SVERIGE AB", None, 11.0),  # ambiguous: reviewed, not counted
            ("1480", None, None, "BYGGARNA AB", None, 13.0),
        ]
    )
    out, review = classify.classify_vendors(ledger, synthetic_entries())
    assert out["vendor_category"].tolist() == [
        "hardware",
        "not_it",
        "telecom_networks",
        "it_services_operations",
        "not_it",
        "not_it",
    ]
    assert out["vendor_match"].tolist() == ["orgnr", "none", "name", "name", "none", "none"]
    assert set(review["supplier_name"]) >= {"CGB SVERIGE AB", "IT KOMMUNER I SKÅNE AB"}
    assert review.set_index("supplier_name").loc["CGB SVERIGE AB", "amount_sek"] == 11.0


def test_agreement_hand_computed():
    ledger = synthetic_ledger(
        [
            ("1880", "40233", "IT-utrustning", "ATEA SVERIGE AB", "556448-0282", 100.0),  # both IT, same cat
            ("1880", "74311", "IT-tj licenser", "ATEA SVERIGE AB", "556448-0282", 50.0),  # both IT, other cat
            ("1880", "40233", "IT-utrustning", "BYGG AB", "556000-0001", 30.0),  # accounts only
            ("1880", "50000", "Lokalhyra", "TELE2 SVERIGE AB", "556267-5164", -20.0),  # vendors only (credit)
            ("1880", "50000", "Lokalhyra", "BYGG AB", "556000-0001", 800.0),  # both not IT
        ]
    )
    rows, review, agr, shares = classify.classify_ledger(ledger, SYNTHETIC_RULES, SYNTHETIC_VENDORS, NO_LOTS)
    a = agr.iloc[0]
    # every amount is far below MIN_LEDGER_SEK: listed vendors count whole, BYGG AB not at all
    assert shares.set_index("canonical_name").loc["ATEA SVERIGE AB", "decision"] == "listed"
    assert a["total_sek"] == 960 and a["it_sek_accounts"] == 180 and a["it_sek_vendors"] == 130
    assert a["it_sek_both"] == 150
    assert a["abs_total_sek"] == 1000
    assert a["agreement_share"] == pytest.approx((100 + 50 + 800) / 1000)
    assert a["category_agreement_share"] == pytest.approx((100 + 800) / 1000)


def test_mapping_files_are_valid_and_bad_rows_are_user_errors(tmp_path):
    rules = classify.read_account_mapping()
    assert {"1880", "1480"} <= set(rules["publisher"])
    vendors = classify.read_vendors()
    assert {"cooperation_body", "joint_it_company"} <= set(vendors["kind"])
    bad = tmp_path / "it_vendors.csv"
    SYNTHETIC_VENDORS.assign(orgnr=["556448-0283"] + SYNTHETIC_VENDORS["orgnr"].tolist()[1:]).to_csv(bad, index=False)
    with pytest.raises(UserError, match="check digit"):
        classify.read_vendors(bad)
    bad_rules = tmp_path / "account_mapping.csv"
    SYNTHETIC_RULES.assign(account_text_pattern=["(unclosed"] + ["x"] * 7).to_csv(bad_rules, index=False)
    with pytest.raises(UserError, match="row 2: account_text_pattern"):
        classify.read_account_mapping(bad_rules)
    unsourced = tmp_path / "unsourced.csv"
    valid = SYNTHETIC_VENDORS[SYNTHETIC_VENDORS["canonical_name"] != "CGA SVERIGE AB"]
    valid.assign(it_share=["0.5"] + [""] * 4 + ["1"]).to_csv(unsourced, index=False)
    with pytest.raises(UserError, match="row 2: it_share needs a share_source"):
        classify.read_vendors(unsourced)


def test_real_vendor_list_has_reviewed_shares_for_cooperations():
    vendors = classify.read_vendors()
    coop = vendors[vendors["kind"] != "vendor"]
    assert (coop["it_share"] == "1").all() and coop["share_source"].str.startswith("reviewed").all()


def test_synthetic_shares_evidence_precedence_and_floors():
    """reviewed > ledger accounts (≥ MIN_LEDGER_SEK) > procurement lots (≥ MIN_LOTS) > listed; below MIN_SHARE → 0."""
    big = vendor_shares.MIN_LEDGER_SEK
    ledger = classify.classify_accounts(
        synthetic_ledger(
            [
                ("1880", "40233", "IT-utrustning", "ATEA SVERIGE AB", "556448-0282", 0.8 * big),
                ("1880", "50000", "Lokalhyra", "ATEA SVERIGE AB", "556448-0282", 0.2 * big),
                ("1880", "40233", "IT-utrustning", "SMÅ DATOR AB", "556000-0027", 0.5 * big),  # too little SEK
                ("1880", "40233", "IT-utrustning", "BLANDAT AB", "556000-0035", 0.1 * big),
                ("1880", "50000", "Lokalhyra", "BLANDAT AB", "556000-0035", 0.9 * big),  # 10 % < MIN_SHARE
            ]
        ),
        SYNTHETIC_RULES,
    )
    lots = synthetic_lots(
        [
            ("Atea Sverige AB", 1, 9),  # ledger evidence wins over these lots
            ("Tele2 Sverige Aktiebolag", 3, 1),  # resolves to the listed TELE2 orgnr
            ("Konsultbolaget Syntetisk AB", 2, 2),  # learned from procurement only, name-only identity
            ("Två Lotter AB", 2, 0),  # fewer than MIN_LOTS
            ("Byggbolaget AB", 1, 9),  # 10 % < MIN_SHARE
        ]
    )
    shares = vendor_shares.learn_shares(
        vendor_shares.ledger_evidence(ledger), vendor_shares.procurement_evidence(lots), SYNTHETIC_VENDORS
    ).set_index("canonical_name")
    assert shares.loc["ATEA SVERIGE AB", ["it_share", "decision"]].tolist() == [pytest.approx(0.8), "ledger"]
    assert shares.loc["ATEA SVERIGE AB", "share_source"] == "ledger accounts 1880 2016-03: 40,000 of 50,000 SEK"
    assert shares.loc["TELE2 SVERIGE AB", ["it_share", "decision", "share_source"]].tolist() == [
        0.75,
        "procurement",
        "procurement 2021: 3 of 4 lots IT",
    ]
    syn = shares.loc["Konsultbolaget Syntetisk AB"]
    assert syn["identity"] == "name:KONSULTBOLAGET SYNTETISK" and syn["it_share"] == 0.5 and syn["orgnr"] == ""
    assert syn["it_category"] == "software_licences"  # from the lots' CPV
    assert shares.loc["SMÅ DATOR AB", ["it_share", "decision"]].tolist() == [0.0, "too_little_evidence"]
    assert shares.loc["Två Lotter AB", ["it_share", "decision"]].tolist() == [0.0, "too_little_evidence"]
    assert shares.loc["BLANDAT AB", ["it_share", "decision"]].tolist() == [0.0, "below_min_share"]
    assert shares.loc["Byggbolaget AB", ["it_share", "decision"]].tolist() == [0.0, "below_min_share"]
    assert shares.loc["CGI SVERIGE AB", ["it_share", "decision"]].tolist() == [1.0, "listed"]
    assert shares.loc["IT-KOMMUNER I SKÅNE AB", ["it_share", "decision"]].tolist() == [1.0, "reviewed"]


def test_synthetic_orgnr_match_first_then_name_only_suppliers():
    """An orgnr decides over the name; a row with an unlisted orgnr may match only name-only suppliers."""
    lots = synthetic_lots([("Konsultbolaget Syntetisk AB", 3, 1)])
    ledger = synthetic_ledger(
        [
            ("1880", None, None, "TELE2 SVERIGE AB", "556448-0282", 10.0),  # Atea's orgnr, Tele2's name
            ("1880", None, None, "KONSULTBOLAGET SYNTETISK AB", "556000-0043", 20.0),  # name-only supplier
            ("1880", None, None, "TELE2 SVERIGE AB", "556000-0050", 30.0),  # another orgnr: not Tele2
        ]
    )
    out, _ = classify.classify_vendors(ledger, synthetic_entries(lots=lots))
    assert out["matched_vendor"].tolist() == ["ATEA SVERIGE AB", "Konsultbolaget Syntetisk AB", None]
    assert out["vendor_match"].tolist() == ["orgnr", "name", "none"]
    assert out["vendor_it_share"].tolist() == [1.0, 0.75, 0.0]


def test_synthetic_fuzzy_match_needs_a_clear_winner_among_learned_suppliers():
    lots = synthetic_lots([("Datatjänst Nord AB", 3, 0), ("Datatjänst Norr AB", 3, 0), ("Molnbolaget AB", 3, 1)])
    ledger = synthetic_ledger(
        [
            ("1480", None, None, "DATATJÄNST NORT AB", None, 10.0),  # 93.3 to both: no clear winner
            ("1480", None, None, "'MOLNBOLAGET AB (FB)", None, 20.0),
        ]
    )
    out, review = classify.classify_vendors(ledger, synthetic_entries(lots=lots))
    assert out["vendor_match"].tolist() == ["none", "name"]
    assert out["vendor_it_share"].tolist() == [0.0, 0.75]
    m = review.set_index("supplier_name").loc["DATATJÄNST NORT AB"]
    assert m["decision"] == "ambiguous" and m["best_score"] == pytest.approx(100 * 28 / 30)


def test_synthetic_proportional_share_in_vendor_method_and_agreement():
    """A mixed vendor (60 % IT by accounts) counts 0.6 × its SEK as IT, and agreement splits its rows."""
    k = vendor_shares.MIN_LEDGER_SEK
    ledger = synthetic_ledger(
        [
            ("1880", "40233", "IT-utrustning", "BLANDAT AB", "556000-0035", 0.6 * k),
            ("1880", "50000", "Lokalhyra", "BLANDAT AB", "556000-0035", 0.4 * k),
            ("1880", "50000", "Lokalhyra", "BYGG AB", "556000-0001", 1.0 * k),
        ]
    )
    rows, _, agr, shares = classify.classify_ledger(ledger, SYNTHETIC_RULES, SYNTHETIC_VENDORS, NO_LOTS)
    assert rows["vendor_it_share"].tolist() == pytest.approx([0.6, 0.6, 0.0])
    a = agr.iloc[0]
    assert a["it_sek_accounts"] == pytest.approx(0.6 * k)
    assert a["it_sek_vendors"] == pytest.approx(0.6 * k)  # 0.6 × (0.6k + 0.4k): in-sample, by construction
    assert a["vendors_to_accounts"] == pytest.approx(1.0)
    # IT row: 0.6 of it agrees; rent row of the mixed vendor: 0.4 agrees; BYGG AB: all agrees
    assert a["agreement_share"] == pytest.approx((0.6 * 0.6 * k + 0.4 * 0.4 * k + k) / (2 * k))
    assert a["it_sek_both"] == pytest.approx(0.6 * 0.6 * k)


def test_synthetic_leave_one_out_learns_without_own_accounts():
    """Shares for a municipality's out-of-sample figure come from other ledgers and procurement only."""
    k = vendor_shares.MIN_LEDGER_SEK
    ledger = synthetic_ledger(
        [
            ("1880", "40233", "IT-utrustning", "BLANDAT AB", "556000-0035", 1.0 * k),  # 100 % IT in Örebro
            ("1480", "7452", "IT-konsulttjänster", "BLANDAT AB", "556000-0035", 0.5 * k),  # 50 % IT in Göteborg
            ("1480", "7451", "Övrig konsult", "BLANDAT AB", "556000-0035", 0.5 * k),
            ("1880", "50000", "Lokalhyra", "ENDAST ÖREBRO AB", "556000-0068", 0.5 * k),
            ("1880", "40233", "IT-utrustning", "ENDAST ÖREBRO AB", "556000-0068", 0.5 * k),
        ]
    )
    rows, _, agr, shares = classify.classify_ledger(ledger, SYNTHETIC_RULES, SYNTHETIC_VENDORS, NO_LOTS)
    assert shares.set_index("canonical_name").loc["BLANDAT AB", "it_share"] == pytest.approx(1.5 / 2)  # pooled
    ore = rows[rows["kommunkod"] == "1880"]
    assert ore["vendor_it_share"].tolist() == pytest.approx([0.75, 0.5, 0.5])
    assert ore["vendor_it_share_oos"].tolist() == pytest.approx([0.5, 0.0, 0.0])  # Göteborg's 50 %; the other unknown
    a = agr.set_index("kommunkod").loc["1880"]
    assert a["it_sek_accounts"] == pytest.approx(1.5 * k)
    assert a["it_sek_vendors_out_of_sample"] == pytest.approx(0.5 * k)
    assert a["vendors_to_accounts_out_of_sample"] == pytest.approx(0.5 / 1.5)
