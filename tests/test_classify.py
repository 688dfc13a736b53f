"""Ledger classifiers: account rules checked against text, vendor matching by orgnr and by name, agreement."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import classify
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
        ("556448-0282", "ATEA SVERIGE AB", "hardware", "vendor", "synthetic", ""),
        ("556267-5164", "TELE2 SVERIGE AB", "telecom_networks", "vendor", "synthetic", ""),
        ("556430-0142", "TELIA SVERIGE AB", "telecom_networks", "vendor", "synthetic", ""),
        ("556430-0142", "TELIASONERA SVERIGE AB", "telecom_networks", "vendor", "synthetic", ""),
        ("556337-2191", "CGI SVERIGE AB", "it_services_operations", "vendor", "synthetic", ""),
        ("556338-2191", "CGA SVERIGE AB", "it_consulting", "vendor", "synthetic", ""),
        ("", "IT-KOMMUNER I SKÅNE AB", "it_services_operations", "joint_it_company", "synthetic", ""),
    ],
    columns=["orgnr", "canonical_name", "it_category", "kind", "source", "note"],
)


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
    out, review = classify.classify_vendors(ledger, SYNTHETIC_VENDORS)
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
    rows, review, agr = classify.classify_ledger(ledger, SYNTHETIC_RULES, SYNTHETIC_VENDORS)
    a = agr.iloc[0]
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
