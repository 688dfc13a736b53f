"""it_spend: long-format rows per lens, per-inhabitant rules, determinism and the reviewed golden summary."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis import build, classify, it_spend

GOLDEN = Path(__file__).parent / "golden" / "it_spend_summary.json"

SYNTHETIC_POPULATION = pd.DataFrame(
    {"kommunkod": ["1880", "1880", "1480"], "year": [2016, 2017, 2016], "population": [1000, 1100, 2000]}
)


def synthetic_classified() -> pd.DataFrame:
    rows = [
        # source, grain, kommun, year, period, amount_ore, account category, vendor category, vendor share, account
        ("orebro-ledger-2016-03", "posting", "1880", 2016, "2016-03", 10_000, "hardware", "hardware", 1.0, "40233"),
        ("orebro-ledger-2016-03", "posting", "1880", 2016, "2016-03", 5_000, "software_licences", "not_it", 0.0, "74311"),
        ("orebro-ledger-2016-03", "posting", "1880", 2016, "2016-03", 85_000, "not_it", "not_it", 0.0, "50000"),
        ("goteborg-ledger-aggregates-2016-2019", "supplier_year", "1480", 2016, None, 40_000, "not_it", "telecom_networks", 1.0, None),
        ("goteborg-ledger-aggregates-2016-2019", "supplier_year", "1480", 2016, None, 160_000, "not_it", "hardware", 0.25, None),
        ("goteborg-ledger-aggregates-2016-2019", "supplier_year", "1480", 2016, None, 100_000, "not_it", "not_it", 0.0, None),
        ("vasteras-ledger-sample-2025-01", "posting", "1980", 2025, "2025-01", 999, "not_it", "not_it", 0.0, "1"),
    ]
    df = pd.DataFrame(
        rows,
        columns=[
            "source_id", "grain", "kommunkod", "year", "period", "amount_ore",
            "account_category", "vendor_category", "vendor_it_share", "account",
        ],
    )
    df["amount_sek"] = df["amount_ore"] / 100
    return df


def test_ledger_rows_hand_computed():
    rows = it_spend.ledger_rows(synthetic_classified(), SYNTHETIC_POPULATION)
    assert set(rows["kommunkod"]) == {"1880", "1480"}  # the Västerås sample is not a ledger
    ore = rows[(rows["kommunkod"] == "1880") & (rows["category"] == "all")].set_index(["method", "measure"])
    assert ore.loc[("accounts", "it_spend_sek"), "value"] == 150.0  # 100 + 50 SEK
    assert ore.loc[("vendors", "it_spend_sek"), "value"] == 100.0
    assert ore.loc[("accounts", "it_share_of_ledger_pct"), "value"] == pytest.approx(15.0)
    acc = ore.loc[("accounts", "it_spend_sek")]
    assert acc["period"] == "2016-03" and acc["months_covered"] == 1  # one month, never annualised
    assert acc["per_inhabitant"] == pytest.approx(0.15) and acc["population_year"] == 2016
    gbg = rows[rows["kommunkod"] == "1480"]
    assert set(gbg["method"]) == {"vendors"}  # no accounts in the aggregates
    g = gbg[(gbg["measure"] == "it_spend_sek")].set_index("category")
    # the mixed vendor (share 0.25) counts 400 of its 1,600 SEK, not all of it
    assert g.loc["all", "value"] == 800.0 and g.loc["telecom_networks", "value"] == 400.0 and g.loc["hardware", "value"] == 400.0
    assert g.loc["software_licences", "value"] == 0
    assert g.loc["all", "period"] == "2016" and g.loc["all", "months_covered"] == 12
    assert g.loc["all", "per_inhabitant"] == pytest.approx(0.4)


def test_it_spend_contract_on_real_build(processed_dir):
    df = pd.read_parquet(processed_dir / "it_spend.parquet")
    it_spend.IT_SPEND_SCHEMA.validate(df)
    proc = df[(df["lens"] == "procurement") & (df["category"] == "all")]
    assert proc.groupby("measure")["kommunkod"].nunique().eq(290).all()
    assert (proc["population_year"] == 2020).all() or (proc["population_year"] == 2021).all()
    assert proc["coverage_note"].str.contains("Activity, not spend").all()
    ore = df[(df["kommunkod"] == "1880") & (df["lens"] == "ledger")]
    assert set(ore["period"]) == {"2016-03"} and set(ore["months_covered"]) == {1}
    for name in ("procurement_it", "classifier_agreement", "vendor_match_review", "published_it_costs", "vendor_it_shares"):
        assert (processed_dir / f"{name}.parquet").exists()


def test_golden_summary_matches_real_build(processed_dir):
    """A mapping or rule change shows here; regenerate with tests/golden/update_it_spend_summary.py and review."""
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert it_spend.summary(processed_dir) == expected


def test_stage_is_byte_reproducible(processed_dir, tmp_path):
    for name in ("municipalities", "population", "ledger_lens"):
        (tmp_path / f"{name}.parquet").write_bytes((processed_dir / f"{name}.parquet").read_bytes())
    build.build(["it_spend"], out_dir=tmp_path)
    for name in ("it_spend", "procurement_it", "classifier_agreement", "vendor_match_review", "vendor_it_shares"):
        assert (tmp_path / f"{name}.parquet").read_bytes() == (processed_dir / f"{name}.parquet").read_bytes(), name


def test_loaders_read_processed_dir(processed_dir, monkeypatch, tmp_path):
    target = tmp_path / "data" / "processed"
    target.mkdir(parents=True)
    for name in ("it_spend", "classifier_agreement"):
        (target / f"{name}.parquet").write_bytes((processed_dir / f"{name}.parquet").read_bytes())
    monkeypatch.setenv("KOMMUN_IT_HOME", str(tmp_path))
    assert set(it_spend.load("ledger")["lens"]) == {"ledger"}
    assert len(it_spend.load_table("classifier_agreement")) >= 1


def test_categories_shared_between_lenses():
    from analysis import cpv

    assert set(cpv.IT_CATEGORIES) == set(classify.IT_CATEGORIES)
    assert set(cpv.read_mapping()["category"]) - {"not_it", "review"} <= set(classify.IT_CATEGORIES)


def test_vendor_shares_on_real_build(processed_dir):
    """Mixed vendors are proportional, every share states its evidence, and the Örebro figure has an honest twin."""
    from analysis import vendor_shares

    shares = pd.read_parquet(processed_dir / "vendor_it_shares.parquet")
    vendor_shares.SHARES_SCHEMA.validate(shares)
    by_name = shares.set_index("canonical_name")
    for mixed in ("ATEA SVERIGE AB", "TELIA SVERIGE AB", "TELE2 SVERIGE AB", "TIETO SWEDEN AB"):
        assert 0.5 < by_name.loc[mixed, "it_share"] < 1, mixed
    learned = shares[shares["decision"].isin(["ledger", "procurement"])]
    assert learned["share_source"].str.match(r"^(ledger accounts \d{4} .*SEK|procurement 2021: \d+ of \d+ lots IT)$").all()
    assert (learned["it_share"] >= vendor_shares.MIN_SHARE).all()
    a = pd.read_parquet(processed_dir / "classifier_agreement.parquet").set_index("kommunkod").loc["1880"]
    assert a["it_sek_vendors_out_of_sample"] < a["it_sek_vendors"]  # in-sample shares fit Örebro's own accounts
