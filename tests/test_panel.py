"""The multi-year procurement lens: BDF 2009–2015, UHM years, and SYNTHETIC TED award rows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import panel, procurement
from analysis.errors import UserError
from analysis.sources import ted
from analysis.sources.synthetic import TED_COLUMNS


@pytest.fixture(scope="module")
def reference(processed_dir):
    return pd.read_parquet(processed_dir / "municipalities.parquet"), pd.read_parquet(processed_dir / "population.parquet")


def test_bdf_panel_is_a_full_grid_with_missing_cells_kept_missing(raw_dir):
    codes = sorted(pd.read_csv(raw_dir / "kommuner-lan" / "municipality_county.csv", dtype=str)["municipality_code"])
    long, unmatched = panel.bdf_panel(raw_dir, codes)
    assert set(long["year"]) == set(range(2009, 2016)) and len(long) == 290 * 7
    assert long["value"].isna().sum() == 129  # empty cells (131, two of them code 1229): unknown, not zero
    assert (long["value"].dropna() > 0).all()
    assert long["scope"].eq(panel.SCOPE_ACTIVITY).all()
    assert unmatched["buyer_id"].tolist() == ["1229", "1229"]  # not a kommunkod: listed, not lost
    got = long[(long["kommunkod"] == "1480") & (long["year"] == 2012)]["value"].item()
    assert got == 568.0


def test_uhm_2021_agrees_with_the_2021_lens(raw_dir, reference, processed_dir):
    municipalities, population = reference
    long, orgnrs, suppliers = panel.uhm_year_panel(raw_dir, 2021, municipalities, population, procurement.read_federations())
    wide = long.pivot(index="kommunkod", columns="measure", values="value")
    totals = procurement.municipal_totals(pd.read_parquet(processed_dir / "procurement_it.parquet"), municipalities,
                                          buyer_kommunkoder=[]).set_index("kommunkod")
    assert wide["it_contracts"].to_numpy() == pytest.approx(totals["it_procurements_count"].to_numpy())
    assert wide["it_frameworks"].to_numpy() == pytest.approx(totals["it_frameworks_count"].to_numpy())
    assert wide["it_procurements"].sum() == pytest.approx(totals["it_procurements_count"].sum() + totals["it_frameworks_count"].sum())
    reported = totals["value_state"] == "reported"
    assert wide.loc[reported, "it_contracted_value_sek"].to_numpy() == pytest.approx(totals.loc[reported, "it_contract_value_sek"].to_numpy())
    assert wide.loc[totals["value_state"] == "not_reported", "it_contracted_value_sek"].isna().all()
    assert (wide.loc[totals["value_state"] == "none", "it_contracted_value_sek"] == 0).all()
    assert orgnrs["2120001355"] == "1480"
    assert (wide["procurements_all"] >= wide["it_procurements"] - 1e-9).sum() > 250  # all kinds ⊇ IT, bar shares
    # supplier values: each contract's reported value split among its suppliers, so per municipality the
    # supplier sum never exceeds the contract value, and equals it when every contract names its suppliers
    by_kommun = suppliers.groupby("kommunkod")["it_value_sek"].sum()
    assert (by_kommun <= wide["it_contracted_value_sek"].reindex(by_kommun.index) * (1 + 1e-9)).all()
    assert by_kommun.sum() > 0.5 * wide["it_contracted_value_sek"].sum()
    assert suppliers["year"].eq(2021).all() and suppliers["supplier"].str.len().gt(0).all()


def _ted_rows(rows: list[dict], year: int) -> pd.DataFrame:
    df = pd.DataFrame([{c: "" for c in TED_COLUMNS} | r for r in rows])
    df["YEAR"] = str(year)
    df["ISO_COUNTRY_CODE"] = "SE"
    return df[TED_COLUMNS]


@pytest.fixture
def ted_raw(raw_dir, tmp_path) -> Path:
    """A scratch data/raw: the real UHM 2021 and BDF files (symlinked) plus two SYNTHETIC TED years."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for sid in ("uhm-procurement-2021", "bdf-procurement-panel-2009-2015"):
        os.symlink(raw_dir / sid, raw / sid)
    base = dict(CPV="72000000", B_FRA_AGREEMENT="N", CANCELLED="0", TITLE="SYNTHETIC")
    y2018 = _ted_rows(
        [
            # Göteborg by orgnr (dashes dropped), two lots of one award: counted once
            base | dict(ID_NOTICE_CAN="N1", ID_AWARD="A1", ID_LOT="1", CAE_NAME="Göteborgs Stad", CAE_NATIONALID="212000-1355",
                        AWARD_VALUE_EURO="1000", AWARD_EST_VALUE_EURO="1000"),
            base | dict(ID_NOTICE_CAN="N1", ID_AWARD="A1", ID_LOT="2", CAE_NAME="Göteborgs Stad", CAE_NATIONALID="212000-1355",
                        AWARD_VALUE_EURO="1000", AWARD_EST_VALUE_EURO="1000"),
            # Tierp by name only; a framework
            base | dict(ID_NOTICE_CAN="N2", ID_AWARD="A2", CAE_NAME="Kommunstyrelsen i Tierp", CAE_NATIONALID="",
                        B_FRA_AGREEMENT="Y", AWARD_VALUE_EURO="500", AWARD_EST_VALUE_EURO="400"),
            # Göliska IT (a mapped federation): attributed to its six members
            base | dict(ID_NOTICE_CAN="N3", ID_AWARD="A3", CAE_NAME="Göliska IT", CAE_NATIONALID="222000-1602",
                        AWARD_VALUE_EURO="600", AWARD_EST_VALUE_EURO=""),
            # not IT (construction): in the award table, not in the IT measures
            base | dict(ID_NOTICE_CAN="N4", ID_AWARD="A4", CPV="45000000", CAE_NAME="Göteborgs Stad",
                        CAE_NATIONALID="2120001355", AWARD_VALUE_EURO="9999"),
            # an unmatched Swedish public buyer
            base | dict(ID_NOTICE_CAN="N5", ID_AWARD="A5", CAE_NAME="SYNTHETIC REGIONFÖRBUND", CAE_NATIONALID="2321000000",
                        AWARD_VALUE_EURO="10"),
            # cancelled: flagged, not counted
            base | dict(ID_NOTICE_CAN="N6", ID_AWARD="A6", CAE_NAME="Göteborgs Stad", CAE_NATIONALID="2120001355",
                        CANCELLED="1", AWARD_VALUE_EURO="10"),
        ],
        2018,
    )
    # the same award N1/A1 again in the next year's file: counted once (earliest file)
    y2019 = _ted_rows([base | dict(ID_NOTICE_CAN="N1", ID_AWARD="A1", ID_LOT="1", CAE_NAME="Göteborgs Stad",
                                   CAE_NATIONALID="2120001355", AWARD_VALUE_EURO="1000")], 2019)
    d = raw / ted.SOURCE_ID
    d.mkdir()
    y2018.to_csv(d / ted.se_name(2018), index=False)
    y2019.to_csv(d / ted.se_name(2019), index=False)
    return raw


def test_ted_awards_resolve_buyers_count_once_convert_and_flag(ted_raw, reference):
    municipalities, population = reference
    out = panel.build_panel(ted_raw, municipalities, population, procurement.read_federations())
    awards = out["ted_awards_se"]
    n1 = awards[awards["notice_id"] == "N1"]
    assert len(n1) == 1 and n1["n_rows"].item() == 3 and n1["year"].item() == 2018
    assert n1["kommunkod"].item() == "1480" and n1["matched_by"].item() == "orgnr"
    assert n1["award_equals_estimate"].item()
    rates = panel.read_rates()
    assert n1["value_sek"].item() == pytest.approx(1000 * rates[2018])
    tierp = awards[awards["notice_id"] == "N2"]
    assert tierp["kommunkod"].item() == "0360" and tierp["matched_by"].item() == "name" and tierp["is_framework"].item()
    goliska = awards[awards["notice_id"] == "N3"]
    assert sorted(goliska["kommunkod"]) == ["1444", "1445", "1470", "1471", "1494", "1495"]
    assert goliska["attribution_share"].sum() == pytest.approx(1.0)
    assert awards.loc[awards["notice_id"] == "N6", "is_cancelled"].item()

    p = out["procurement_panel"].set_index(["measure", "kommunkod", "year"])["value"]
    assert p[("ted_it_procurements", "1480", 2018)] == 1.0  # N1 once; N4 not IT; N6 cancelled
    assert p[("ted_it_contracts", "1480", 2019)] == 0.0  # the repeat in 2019's file is not counted again
    assert p[("ted_it_value_sek", "1480", 2018)] == pytest.approx(1000 * rates[2018])
    assert p[("ted_it_framework_ceiling_sek", "0360", 2018)] == pytest.approx(500 * rates[2018])
    assert p[("ted_it_procurements", "1444", 2018)] == pytest.approx(goliska.set_index("kommunkod")["attribution_share"]["1444"])
    assert out["procurement_panel"]["coverage"].str.contains("above-threshold").any()
    um = out["procurement_panel_unmatched"]
    assert um.loc[um["source_id"] == ted.SOURCE_ID, "buyer_id"].tolist() == ["2321000000"]
    # measures are complete grids: every municipality in every TED year
    grid = out["procurement_panel"][out["procurement_panel"]["measure"] == "ted_it_procurements"]
    assert len(grid) == 290 * 2


def test_ted_bad_value_names_file_row_and_column(ted_raw, reference):
    municipalities, population = reference
    path = ted_raw / ted.SOURCE_ID / ted.se_name(2019)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[0, "AWARD_VALUE_EURO"] = "12,5 EUR"
    df.to_csv(path, index=False)
    with pytest.raises(UserError, match=r"ted-se-award-notices-2019\.csv row 2: column 'AWARD_VALUE_EURO' '12,5 EUR'"):
        panel.build_panel(ted_raw, municipalities, population, procurement.read_federations())


def test_panel_is_deterministic(ted_raw, reference, tmp_path):
    from analysis.io import write_parquet

    municipalities, population = reference
    a = panel.build_panel(ted_raw, municipalities, population, procurement.read_federations())
    b = panel.build_panel(ted_raw, municipalities, population, procurement.read_federations())
    for name in a:
        pa_ = write_parquet(a[name], tmp_path / f"a_{name}.parquet").read_bytes()
        pb_ = write_parquet(b[name], tmp_path / f"b_{name}.parquet").read_bytes()
        assert pa_ == pb_, name


def test_rates_cover_every_ted_year():
    rates = panel.read_rates()
    assert set(range(2006, 2025)) <= set(rates.index)
    assert rates.between(8, 13).all()
    assert np.isfinite(rates).all()
