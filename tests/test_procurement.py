"""Procurement lens: buyer matching, IT classification, value rules, attribution and municipal totals."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import procurement as pr
from analysis.errors import UserError

SYNTHETIC_MUNICIPALITIES = pd.DataFrame(
    {
        "kommunkod": ["0180", "0980", "1490", "2023", "0580", "0604"],
        "name": ["Stockholm", "Gotland", "Borås", "Malung-Sälen", "Linköping", "Aneby"],
    }
)
SYNTHETIC_POPULATION = pd.DataFrame(
    {
        "kommunkod": ["0180", "0980", "1490", "2023", "0580", "0604"],
        "year": [2020] * 6,
        "population": [1000, 500, 300, 100, 400, 200],
    }
)
MUNI = ("Kommun", "Kommun", "Kommuner")
FED = ("Kommun", "Kommunalt ägd organisation", "Kommunalförbund")
COMPANY = ("Kommun", "Kommunalt ägd organisation", "Övriga aktiebolag")


def _row(pid, name, orgnr, kind, cpv, contract="Kontrakt", value=None):
    row = {
        pr.COL_NAME: name,
        pr.COL_ORGNR: orgnr,
        pr.COL_SEKTOR: kind[0],
        pr.COL_DELSEKTOR: kind[1],
        pr.COL_FORM: kind[2],
        pr.COL_ID: pid,
        pr.COL_CPV: f"{cpv} synthetic label",
        pr.COL_TYPE: contract,
        pr.COL_TITLE: f"synthetic {pid}",
        pr.COL_DATE: "2021-05-01",
    }
    if value is not None:
        row[pr.COL_VALUE] = float(value)
    return row


def synthetic_tables() -> dict[str, pd.DataFrame]:
    procurements = [
        _row("P1", "STOCKHOLMS KOMMUN", "2120000142", MUNI, "48000000"),
        _row("P2", "STOCKHOLMS KOMMUN", "2120000142", MUNI, "72200000", "Ramavtal"),
        _row("P3", "STOCKHOLMS KOMMUN", "2120000142", MUNI, "45000000"),  # construction: not IT
        _row("P4", "LINKÖPINGS KOMMUN", "2120000449", MUNI, "30200000"),
        _row("P4b", "LINKÖPINGS KOMMUN", "2120000449", MUNI, "79000000"),
        _row("P5", "LINKÖPINGS KOMMUN", "2220000449", MUNI, "64200000"),  # wrong orgnr, name wins
        _row("P6", "MALUNG-SÄLENS KOMMUN", "2120002288", MUNI, "32500000"),
        _row("P6", "MALUNG-SÄLENS KOMMUN", "2120002288", MUNI, "32500000"),  # repeated row
        _row("P12", "MALUNG-SÄLENS KOMMUN", "2120002288", MUNI, "30192000"),  # office supplies: not IT
        _row("P7", "REGION GOTLAND", "2120000803", MUNI, "48000000"),
        _row("P8", "HÖGLANDSFÖRBUNDET", "2220001412", FED, "72000000"),
        _row("P9", "OKÄNT FÖRBUND", "2220009999", FED, "48000000"),
        _row("P10", "STADSHUS AB", "5560000001", COMPANY, "48000000"),
        _row("P11", "BORÅS KOMMUN", "2120001561", MUNI, "90000000"),  # Borås buys, but no IT
    ]
    values = [
        _row("P1", "STOCKHOLMS KOMMUN", "2120000142", MUNI, "48000000", value=1_000_000),
        _row("P2", "STOCKHOLMS KOMMUN", "2120000142", MUNI, "72200000", "Ramavtal", value=0),  # placeholder
        _row("P4", "LINKÖPINGS KOMMUN", "2120000449", MUNI, "30200000", value=500_000),
        _row("P4", "LINKÖPINGS KOMMUN", "2120000449", MUNI, "30200000", value=700_000),  # duplicate: keep max
        _row("P5", "LINKÖPINGS KOMMUN", "2120000449", MUNI, "64200000", value=50_000),  # other orgnr: by id
        _row("P8", "HÖGLANDSFÖRBUNDET", "2220001412", FED, "72000000", value=400_000),
        _row("P9", "OKÄNT FÖRBUND", "2220009999", FED, "48000000", value=90_000),
        _row("P10", "STADSHUS AB", "5560000001", COMPANY, "48000000", value=77_000),
        _row("P12", "MALUNG-SÄLENS KOMMUN", "2120002288", MUNI, "30192000", value=32_500_000),
        _row("PX", "BORÅS KOMMUN", "2120001561", MUNI, "48000000", value=5_000),  # id not in procurements
    ]
    tables = {}
    for key, rows in (("procurements", procurements), ("values", values), ("tenders", []), ("suppliers", [])):
        df = pd.DataFrame(rows, columns=list(pd.DataFrame(procurements + values).columns))
        df["source_row"] = range(2, len(df) + 2)
        tables[key] = df
    return tables


SYNTHETIC_FEDERATIONS = pd.DataFrame(
    {
        "buyer_orgnr": ["2220001412", "2220009999"],
        "buyer_name": ["HÖGLANDSFÖRBUNDET", "OKÄNT FÖRBUND"],
        "cooperation_id": ["C01", None],
        "body_kind": ["kommunalförbund", "kommunalförbund"],
        "member_kommunkoder": ["0604 0580", None],
        "source": ["synthetic", None],
        "note": [None, "members not established"],
    }
)


@pytest.fixture(scope="module")
def synthetic_build():
    return pr.build_procurement_tables(
        synthetic_tables(), SYNTHETIC_MUNICIPALITIES, SYNTHETIC_POPULATION, SYNTHETIC_FEDERATIONS
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("MALUNG-SÄLENS KOMMUN", "2023"),
        ("REGION GOTLAND", "0980"),
        ("BORÅS KOMMUN", "1490"),  # ends in s natively: exact match first
        ("STOCKHOLMS KOMMUN", "0180"),
        ("STOCKHOLMS  STAD", "0180"),
        ("UPPSALA KOMMUN", None),
    ],
)
def test_buyer_name_to_kommunkod(name, expected):
    names = {pr._name_key(n): k for n, k in zip(SYNTHETIC_MUNICIPALITIES["name"], SYNTHETIC_MUNICIPALITIES["kommunkod"])}
    assert pr.kommun_by_buyer_name(name, names) == expected


@pytest.mark.parametrize(
    ("cpv", "category"),
    [
        ("48000000", "software_licences"),
        ("30200000", "hardware"),
        ("30192000", None),  # office supplies (group 301)
        ("30237110", "consumables"),
        ("32500000", "telecom_networks"),
        ("72200000", "it_consulting"),
        ("72500000", "it_services_operations"),
        ("64200000", "telecom_networks"),
        ("64100000", None),  # postal services: division 64 but not group 642
        ("79000000", None),
        ("00000000", None),
    ],
)
def test_cpv_category(cpv, category):
    assert pr.cpv_category(cpv) == category


def test_municipal_rows_values_and_flags(synthetic_build):
    it = synthetic_build["procurement_it"].set_index(["procurement_id", "buyer_orgnr"])
    own = it[it["buyer_kind"] == "municipality"]
    assert sorted(own.index.get_level_values(0)) == ["P1", "P2", "P4", "P5", "P6", "P7"]  # not P12 (office supplies)
    assert own.loc[("P1", "2120000142"), "contracted_value_sek"] == 1_000_000
    p2 = own.loc[("P2", "2120000142")]
    assert not p2["has_value"] and p2["value_state"] == "placeholder" and p2["raw_value_sek"] == 0
    assert pd.isna(p2["contracted_value_sek"]) and p2["is_framework"]
    p4 = own.loc[("P4", "2120000449")]
    assert p4["contracted_value_sek"] == 700_000 and p4["duplicate_value_rows"]
    p5 = own.loc[("P5", "2220000449")]
    assert p5["kommunkod"] == "0580" and p5["buyer_orgnr_mismatch"] and p5["value_buyer_differs"]
    assert p5["contracted_value_sek"] == 50_000
    p6 = own.loc[("P6", "2120002288")]
    assert p6["kommunkod"] == "2023" and p6["duplicate_procurement_rows"] and not p6["has_value"]
    assert p6["value_state"] == "missing"
    assert own.loc[("P7", "2120000803"), "kommunkod"] == "0980"


def test_federation_attribution_by_population_share(synthetic_build):
    it = synthetic_build["procurement_it"]
    p8 = it[it["procurement_id"] == "P8"].set_index("kommunkod")
    # members 0604 (200 inhabitants) and 0580 (400): shares 1/3 and 2/3 of 400,000 SEK
    assert p8.loc["0604", "attribution_share"] == pytest.approx(1 / 3)
    assert p8.loc["0580", "contracted_value_sek"] == pytest.approx(400_000 * 2 / 3)
    assert p8["contracted_value_sek"].sum() == pytest.approx(400_000)
    p9 = it[it["procurement_id"] == "P9"]
    assert len(p9) == 1 and p9["kommunkod"].isna().all() and p9["buyer_kind"].iloc[0] == "cooperation_unattributed"


def test_equal_attribution_switch():
    shares = pr.attribution_shares(SYNTHETIC_FEDERATIONS, SYNTHETIC_POPULATION, method="equal")
    assert shares["attribution_share"].tolist() == [0.5, 0.5]
    with pytest.raises(UserError, match="attribution method"):
        pr.attribution_shares(SYNTHETIC_FEDERATIONS, SYNTHETIC_POPULATION, method="area")


def test_companies_mismatches_and_duplicates_reported(synthetic_build):
    companies = synthetic_build["municipal_companies_it"]
    assert companies["procurement_id"].tolist() == ["P10"] and companies["contracted_value_sek"].tolist() == [77_000]
    assert "P10" not in set(synthetic_build["procurement_it"]["procurement_id"])
    mism = synthetic_build["procurement_buyer_mismatches"]
    assert mism[["buyer_orgnr", "kommunkod_by_name", "resolution"]].values.tolist() == [
        ["2220000449", "0580", "attributed by name"]
    ]
    dup = synthetic_build["procurement_duplicates"]
    issues = set(zip(dup["procurement_id"], dup["issue"]))
    assert ("P4", "duplicate_id_same_buyer") in issues
    assert ("P6", "duplicate_id_same_buyer") in issues
    assert ("P5", "value_buyer_differs") in issues
    assert ("PX", "value_id_not_in_procurements") in issues


def test_municipal_totals_variants(synthetic_build):
    it = synthetic_build["procurement_it"]
    tot = pr.municipal_totals(it, SYNTHETIC_MUNICIPALITIES).set_index("kommunkod")
    assert len(tot) == 6
    # the headline leaves the framework P2 out and keeps its (placeholder) ceiling apart
    assert tot.loc["0180", "it_contract_value_sek"] == 1_000_000 and tot.loc["0180", "it_procurements_count"] == 1
    assert tot.loc["0180", "value_state"] == "reported" and tot.loc["0180", "it_frameworks_count"] == 1
    assert tot.loc["0180", "framework_state"] == "not_reported" and pd.isna(tot.loc["0180", "it_framework_ceiling_sek"])
    assert tot.loc["0580", "it_contract_value_sek"] == pytest.approx(700_000 + 50_000 + 400_000 * 2 / 3)
    assert tot.loc["0580", "it_procurements_count"] == pytest.approx(2 + 2 / 3)
    assert tot.loc["1490", "value_state"] == "none" and pd.isna(tot.loc["1490", "it_contract_value_sek"])
    assert tot.loc["1490", "has_buyer_record"]
    assert tot.loc["2023", "value_state"] == "not_reported" and tot.loc["2023", "unvalued_count"] == 1
    assert not tot.loc["0604", "has_buyer_record"] and tot.loc["0604", "it_procurements_count"] == pytest.approx(1 / 3)

    own = pr.municipal_totals(it, SYNTHETIC_MUNICIPALITIES, attribute_federations=False).set_index("kommunkod")
    assert own.loc["0604", "it_procurements_count"] == 0 and own.loc["0604", "value_state"] == "none"
    assert own.loc["0580", "it_contract_value_sek"] == 750_000

    with_fw = pr.municipal_totals(it, SYNTHETIC_MUNICIPALITIES, include_frameworks=True).set_index("kommunkod")
    assert with_fw.loc["0180", "it_procurements_count"] == 2 and with_fw.loc["0180", "unvalued_count"] == 1

    # 4 valued contracts; the top 50 % is P1 (1,000,000) and P4 (700,000)
    trimmed = pr.municipal_totals(it, SYNTHETIC_MUNICIPALITIES, trim_top_share=0.5).set_index("kommunkod")
    assert trimmed.loc["0180", "value_state"] == "none"
    assert trimmed.loc["0580", "it_contract_value_sek"] == pytest.approx(50_000 + 400_000 * 2 / 3)


def test_placeholder_threshold_is_a_documented_constant():
    values = pd.Series([None, 0.0, 1.0, 1_000.0, 1_000.5, 2e6])
    assert pr.value_state(values).tolist() == ["missing", "placeholder", "placeholder", "placeholder", "reported",
                                               "reported"]
    assert pr.PLACEHOLDER_MAX_SEK == 1_000


def test_municipal_totals_bad_parameters(synthetic_build):
    it = synthetic_build["procurement_it"]
    with pytest.raises(UserError, match="trim_top_share"):
        pr.municipal_totals(it, SYNTHETIC_MUNICIPALITIES, trim_top_share=1.5)
    bare = it.copy()
    bare.attrs = {}
    with pytest.raises(UserError, match="buyer list"):
        pr.municipal_totals(bare, SYNTHETIC_MUNICIPALITIES)
    assert pr.municipal_totals(bare, SYNTHETIC_MUNICIPALITIES, buyer_kommunkoder=["0604"])["has_buyer_record"].sum() == 1


def test_unknown_municipal_buyer_is_a_user_error():
    tables = synthetic_tables()
    tables["procurements"].loc[0, pr.COL_NAME] = "ATLANTIS KOMMUN"
    tables["procurements"].loc[0, pr.COL_ORGNR] = "2120009999"
    with pytest.raises(UserError, match="ATLANTIS KOMMUN"):
        pr.build_procurement_tables(tables, SYNTHETIC_MUNICIPALITIES, SYNTHETIC_POPULATION, SYNTHETIC_FEDERATIONS)


def test_corrupt_or_incomplete_xlsx_is_a_user_error(tmp_path):
    bad = tmp_path / "contracted_value.xlsx"
    bad.write_bytes(b"not a workbook")
    with pytest.raises(UserError, match="contracted_value.xlsx"):
        pr.read_raw_table(bad)
    values = synthetic_tables()["values"].drop(columns=["source_row"])
    with pytest.raises(UserError, match="missing column 'Typ av avtal'"):
        pr.check_raw_table(values.drop(columns=[pr.COL_TYPE]), "contracted_value.xlsx")
    comma = values.astype({pr.COL_VALUE: object})
    comma.loc[2, pr.COL_VALUE] = "1 302,50"
    with pytest.raises(UserError, match="contracted_value.xlsx row 4: contracted value '1 302,50'"):
        pr.check_raw_table(comma, "contracted_value.xlsx")
    no_cpv = values.copy()
    no_cpv.loc[0, pr.COL_CPV] = "Uppgift saknas"
    with pytest.raises(UserError, match="row 2: main CPV"):
        pr.check_raw_table(no_cpv, "contracted_value.xlsx")


def test_federation_mapping_is_valid_and_agrees_with_cooperations():
    fed = pr.read_federations()
    check = pr.crosscheck_federations(fed, pr.cooperations_table())
    assert len(check) > 0
    assert check["agrees"].all(), check[~check["agrees"]].to_dict("records")


def test_real_procurement_tables(processed_dir):
    it = pd.read_parquet(processed_dir / "procurement_it.parquet")
    municipalities = pd.read_parquet(processed_dir / "municipalities.parquet")
    mism = pd.read_parquet(processed_dir / "procurement_buyer_mismatches.parquet")
    assert {"2220000449", "2120001050", "2121850000", "2021008040"} <= set(mism["buyer_orgnr"])
    dup = pd.read_parquet(processed_dir / "procurement_duplicates.parquet")
    assert (dup["issue"] == "value_id_not_in_procurements").sum() == 9
    assert {"MT3409", "MT4321"} <= set(dup["procurement_id"])
    totals = pr.municipal_totals(it, municipalities)
    assert len(totals) == 290 and totals["kommunkod"].is_unique
    assert totals["has_buyer_record"].sum() > 250
    companies = pd.read_parquet(processed_dir / "municipal_companies_it.parquet")
    assert not set(companies["buyer_orgnr"]) & set(it["buyer_orgnr"])
