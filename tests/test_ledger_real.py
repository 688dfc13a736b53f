"""The real ledgers in the mirror, end to end: Örebro March 2016, Göteborg's aggregates, Västerås' sample;
the build stage's tables; no personnummer anywhere in processed data or reports."""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
import python_calamine

from analysis import config
from analysis.ledgers import LEDGER_SOURCES, _finish, ingest_source, privacy
from analysis.ledgers import store

# Computed from the file by this suite (sum of UTFALL, exact decimals): 450,187,283.39 SEK.
OREBRO_TOTAL_ORE = 45_018_728_339


@pytest.fixture(scope="module")
def municipalities(processed_dir):
    return frozenset(pd.read_parquet(processed_dir / "municipalities.parquet")["kommunkod"])


@pytest.fixture(scope="module")
def orebro(raw_dir, municipalities):
    return _finish(ingest_source("orebro-ledger-2016-03", raw_dir, municipalities), {})


@pytest.fixture(scope="module")
def goteborg(raw_dir, municipalities):
    return _finish(ingest_source("goteborg-ledger-aggregates-2016-2019", raw_dir, municipalities), {})


def orebro_raw_rows(raw_dir):
    book = python_calamine.CalamineWorkbook.from_path(str(raw_dir / "orebro-ledger-2016-03" / "Orebro.2016-03.xlsx"))
    return book.get_sheet_by_name("Blad2").to_python()[1:]


def test_orebro_end_to_end_reconciles_to_the_ore(orebro, raw_dir):
    rows = orebro_raw_rows(raw_dir)
    independent = int(sum(Decimal(repr(r[5])) * 100 for r in rows))
    rec = orebro.reconciliation.iloc[0]
    assert rec["rows_in"] == len(rows) == 68_021
    assert rec["rows_clean"] + rec["rows_rejected"] == 68_021 and rec["balanced"]
    assert rec["ore_in"] == independent == OREBRO_TOTAL_ORE
    assert rec["ore_clean"] + rec["ore_rejected"] == rec["ore_in"]
    assert orebro.ledger["amount_ore"].sum() == rec["ore_clean"]
    assert (orebro.ledger["amount_ore"] < 0).sum() == sum(r[5] < 0 for r in rows) == 2_696


def test_orebro_fields(orebro, raw_dir):
    led = orebro.ledger
    assert (led["kommunkod"] == "1880").all() and (led["period"] == "2016-03").all() and (led["year"] == 2016).all()
    assert led["date"].isna().all() and (led["grain"] == "posting").all()
    assert led["account"].str.fullmatch(r"\d{5}").all()
    it = led[led["account"] == "74311"]
    assert len(it) and it["account_text"].str.startswith("IT-tj").all()
    assert not led["supplier_name"].str.endswith(" ").any()
    assert led["buyer_unit"].nunique() == 31
    raw = orebro_raw_rows(raw_dir)
    null_rows = [i + 2 for i, r in enumerate(raw) if r[2] == "NULL"]
    assert len(null_rows) == 16
    assert led.set_index("source_row").loc[null_rows, "supplier_orgnr"].isna().all()
    orgnr = led["supplier_orgnr"].dropna()
    assert orgnr.str.fullmatch(r"\d{6}-\d{4}").all() and (orgnr.str[2] >= "2").all()


def test_orebro_sole_traders_are_pseudonymised(orebro, raw_dir):
    led = orebro.ledger
    raw = orebro_raw_rows(raw_dir)
    persons = {r[2].replace("-", "") for r in raw if privacy.find_personnummer(r[2])}
    assert persons, "the real file names sole traders by personnummer"
    pn = led[led["supplier_key"].str.startswith("pn:")]
    assert pn["supplier_key"].nunique() == len(persons)
    assert (pn["supplier_name"] == privacy.SOLE_TRADER_NAME).all() and pn["supplier_orgnr"].isna().all()


def test_goteborg_aggregates_reconcile_and_join_orgnr(goteborg, raw_dir):
    folder = raw_dir / "goteborg-ledger-aggregates-2016-2019"
    with (folder / "spend_per_supplier_per_year.csv").open(encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    independent = int(sum((Decimal(r["belopp"]) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP) for r in raw))
    rec = goteborg.reconciliation.iloc[0]
    assert rec["rows_in"] == len(raw) == 50_803 and rec["balanced"]
    assert rec["ore_in"] == independent == rec["ore_clean"] + rec["ore_rejected"]
    led = goteborg.ledger
    assert (led["grain"] == "supplier_year").all() and (led["kommunkod"] == "1480").all()
    assert set(led["year"]) == {2016, 2017, 2018, 2019} and led["period"].isna().all()
    monthly = pd.read_csv(folder / "monthly_totals.csv")
    assert abs(led["amount_ore"].sum() / 100 - monthly["sum"].sum()) < 1.0
    assert "cross-check with monthly_totals.csv" in rec["note"]
    hj = led[led["supplier_name"] == "HJÄLLBOLAGET AB"]
    assert len(hj) and (hj["supplier_orgnr"] == "556391-3358").all()
    assert not led["supplier_name"].str.startswith("'").any()
    assert led["supplier_orgnr"].notna().mean() > 0.8
    pn = led[led["supplier_key"].str.startswith("pn:")]
    assert len(pn) > 0 and (pn["supplier_name"] == privacy.SOLE_TRADER_NAME).all()


def test_vasteras_sample(raw_dir, municipalities):
    result = _finish(ingest_source("vasteras-ledger-sample-2025-01", raw_dir, municipalities), {})
    led = result.ledger
    assert led["amount_ore"].tolist() == [-130203, -40068]
    assert (led["kommunkod"] == "1980").all() and led["supplier_orgnr"].isna().all()
    assert led["date"].astype(str).tolist() == ["2025-01-01", "2025-01-01"]
    assert led["supplier_key"].tolist() == ["name:ONEMED SVERIGE AB"] * 2
    assert result.reconciliation.iloc[0]["ore_in"] == -170271


def test_build_stage_tables(processed_dir):
    ledger = store.read_store(store.store_dir(processed_dir))
    recon = pd.read_parquet(processed_dir / "ledger_reconciliation.parquet")
    rejects = pd.read_parquet(processed_dir / "ledger_rejects.parquet")
    assert set(recon["source_id"]) == set(LEDGER_SOURCES) and recon["balanced"].all()
    assert recon["rows_in"].sum() == len(ledger) + len(rejects)
    assert recon["ore_clean"].sum() == ledger["amount_ore"].sum()
    assert ledger["kommunkod"].map(type).eq(str).all()
    assert (ledger["amount_sek"] * 100).round().astype("int64").equals(ledger["amount_ore"])


def test_build_is_byte_identical(processed_dir, raw_dir, tmp_path):
    from analysis.ledgers import ledgers_stage
    from analysis.io import write_parquet

    tables = ledgers_stage(raw_dir, processed_dir)
    for name, df in tables.items():
        again = write_parquet(df, tmp_path / f"{name}.parquet")
        assert again.read_bytes() == (processed_dir / f"{name}.parquet").read_bytes(), name


def test_no_personnummer_in_processed_data_or_reports(processed_dir):
    findings = privacy.scan_for_personnummer(processed_dir)
    reports = config.reports_dir()
    if reports.is_dir():
        findings += privacy.scan_for_personnummer(reports)
    assert findings == []


def test_scanner_finds_a_planted_personnummer(tmp_path):
    from analysis.io import write_parquet

    write_parquet(pd.DataFrame({"name": ["Anna 811228-9874"], "n": [1]}), tmp_path / "synthetic_leak.parquet")
    (tmp_path / "synthetic_leak.html").write_text("<p>198112289874</p>", encoding="utf-8")
    assert len(privacy.scan_for_personnummer(tmp_path)) == 2
