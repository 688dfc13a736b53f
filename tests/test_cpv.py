"""The CPV rule: group/class-level IT mapping, review codes decided per procurement, and what moved in 2021."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import cpv, procurement
from analysis.errors import UserError

GOLDEN = Path(__file__).parent / "golden" / "cpv_moved_2021.csv"


def legacy_division_rule(code: str) -> bool:
    """The rule replaced in issue 9: IT = main CPV division 30, 32, 48, 72 or group 642."""
    return code[:2] in ("30", "32", "48", "72") or code[:3] == "642"


@pytest.mark.parametrize(
    "code,expected",
    [
        ("30213100", "hardware"),  # laptops
        ("30232100", "hardware"),  # printers (302)
        ("30237110", "consumables"),  # computer parts
        ("30192000", None),  # office supplies
        ("30199230", None),  # envelopes
        ("30163000", None),  # payment and gift cards
        ("30125110", None),  # toner
        ("30195200", None),  # electronic whiteboards
        ("32250000", "telecom_networks"),  # mobile phones
        ("32321200", None),  # audio-visual equipment
        ("32342410", None),  # sound equipment
        ("32412110", "telecom_networks"),  # internet network
        ("32552600", "telecom_networks"),  # door phones (telephone equipment)
        ("48810000", "software_licences"),
        ("72222300", "it_consulting"),
        ("72514000", "it_services_operations"),
        ("64212000", "telecom_networks"),
        ("64112000", None),  # letter post
        ("50312610", "it_services_operations"),
        ("50324100", "it_services_operations"),
        ("50330000", "telecom_networks"),
        ("50740000", None),  # lifts
        ("51610000", "hardware"),
        ("51620000", None),  # office equipment installation
        ("30000000", None),  # division-level: review
        ("32000000", None),  # division-level: review
        ("45000000", None),  # construction: outside the candidate divisions
    ],
)
def test_category(code, expected):
    assert cpv.category(code) == expected


def test_review_and_unmapped_are_not_it():
    assert cpv.rule("30000000") == ("review", "30000000")
    assert cpv.rule("64000000")[0] == "review"
    assert cpv.rule("45000000") == ("not_it", "")


def test_unknown_prefix_inside_it_division_is_unmapped(tmp_path):
    """A code inside an IT division that the table does not cover is listed, not counted (synthetic table)."""
    table = tmp_path / "cpv_it.csv"
    table.write_text("cpv_prefix,category,reason\n302,hardware,computers\n", encoding="utf-8")
    assert cpv.rule("30192000", table) == ("unmapped", "")
    assert cpv.category("30192000", table) is None
    assert cpv.category("30213000", table) == "hardware"


def test_every_mapping_row_has_a_reason_and_known_category():
    m = cpv.read_mapping()
    assert m["reason"].str.len().min() > 10
    assert set(m["category"]) <= {*cpv.IT_CATEGORIES, "not_it", "review"}
    for prefix in ("301", "321", "322", "323"):
        assert m.set_index("cpv_prefix").loc[prefix, "category"] == "not_it"


def test_bad_mapping_is_one_line(tmp_path):
    table = tmp_path / "cpv_it.csv"
    table.write_text("cpv_prefix,category,reason\n3a,hardware,typo\n", encoding="utf-8")
    with pytest.raises(UserError, match="cpv_it.csv"):
        cpv.read_mapping(table)


@pytest.fixture(scope="module")
def procurement_it(processed_dir):
    return pd.read_parquet(processed_dir / "procurement_it.parquet")


def test_no_non_it_prefix_in_procurement_it(procurement_it):
    """The done-when check: no contract whose main CPV the mapping calls not_it (or review, undecided)."""
    rules = [cpv.rule(c)[0] for c in procurement_it["cpv_code"]]
    decided = procurement_it["cpv_rule"].str.startswith("decision: ")
    assert all(r in cpv.IT_CATEGORIES or d for r, d in zip(rules, decided))
    bad = procurement_it["cpv_code"].str.match(r"^(301|321|322[0-4]|3228|3229|323|641)")
    assert not bad.any(), procurement_it.loc[bad, ["procurement_id", "cpv_code", "title"]]


def test_review_table_lists_every_review_code(processed_dir):
    review = pd.read_parquet(processed_dir / "procurement_cpv_review.parquet")
    assert set(review["cpv_rule"]) <= {"review", "unmapped", *cpv.IT_CATEGORIES}
    corrected = review[review["cpv_rule"].isin(cpv.IT_CATEGORIES)]
    assert len(corrected) and not corrected["decision"].str.startswith("undecided").any()
    decisions = cpv.read_decisions()
    decided = review[~review["decision"].str.startswith("undecided")]
    assert len(decided) == len(decisions)


def moved_contracts(raw_dir) -> pd.DataFrame:
    """2021 procurements of municipalities and cooperation bodies that the new rule moved in or out of IT."""
    tables = procurement.read_raw(raw_dir)
    p = procurement._procurements(tables, cpv.read_decisions())
    feds = set(procurement.read_federations()["buyer_orgnr"])
    lens = p[p[procurement.COL_FORM].isin(["Kommuner", "Kommunalförbund"]) | p[procurement.COL_ORGNR].isin(feds)]
    old = lens["cpv_code"].map(legacy_division_rule)
    new = lens["category"].notna()
    moved = lens[old != new]
    out = pd.DataFrame({
        "procurement_id": moved[procurement.COL_ID],
        "buyer_orgnr": moved[procurement.COL_ORGNR],
        "buyer_name": moved[procurement.COL_NAME],
        "cpv_code": moved["cpv_code"],
        "cpv_label": moved["cpv_label"],
        "title": moved[procurement.COL_TITLE],
        "contract_type": moved[procurement.COL_TYPE],
        "value_state": moved["value_state"],
        "raw_value_sek": moved["raw_value"],
        "moved": ["in" if n else "out" for n in new[old != new]],
        "new_rule": [c if isinstance(c, str) else (d if isinstance(d, str) else r) for c, d, r in
                     zip(moved["category"], moved["decision"], moved["cpv_rule"])],
    })
    return out.sort_values(["moved", "procurement_id", "buyer_orgnr"], ignore_index=True)


def test_moved_contracts_golden(raw_dir):
    """The reviewed list of 2021 contracts that moved in or out of IT (regenerate with KOMMUN_IT_UPDATE_GOLDEN=1)."""
    import os

    got = moved_contracts(raw_dir)
    if os.environ.get("KOMMUN_IT_UPDATE_GOLDEN"):
        got.to_csv(GOLDEN, index=False, lineterminator="\n")
    want = pd.read_csv(GOLDEN, dtype={"procurement_id": str, "buyer_orgnr": str, "cpv_code": str})
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)
    assert "Kontorsmaterial 2021" in set(got.loc[got["moved"] == "out", "title"])


def test_title_corrections_take_construction_and_gift_cards_out(procurement_it):
    """IT codes used for other things: construction project managers (72224), Norrköping's digital gift
    cards (72), Ludvika's audio-visual service (50312610) are decided from their titles, never counted as IT."""
    titles = set(procurement_it["title"])
    for title in ("Ramavtal projekt- och projekteringsledare 2021", "Digitala presentkort",
                  "Service, underhåll och montage av audio- och videoutrustning", "Projektledare Snösätra"):
        assert title not in titles, title
    assert "Projektstöd i upphandlingen av BKS användanära IT tjänster" in titles


def test_a_decision_that_changes_nothing_or_names_a_non_it_code_is_refused(raw_dir):
    tables = procurement.read_raw(raw_dir)
    p = tables["procurements"]
    row = p[p[procurement.COL_CPV].str.startswith("48000000")].iloc[0]
    base = {"procurement_id": row[procurement.COL_ID], "buyer_orgnr": row[procurement.COL_ORGNR],
            "cpv_code": "48000000", "title": "t", "reason": "synthetic"}
    with pytest.raises(UserError, match="changes nothing"):
        procurement.check_decisions(pd.DataFrame([base | {"category": "software_licences"}]), tables)
    office = p[p[procurement.COL_CPV].str.startswith("30192")].iloc[0]
    with pytest.raises(UserError, match="is not IT by"):
        procurement.check_decisions(pd.DataFrame([base | {"procurement_id": office[procurement.COL_ID],
                                                          "buyer_orgnr": office[procurement.COL_ORGNR],
                                                          "cpv_code": office[procurement.COL_CPV][:8],
                                                          "category": "hardware"}]), tables)
