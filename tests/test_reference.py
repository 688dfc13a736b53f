"""Reference tables against SCB's published figures; codes stay strings; the build is deterministic."""

import pandas as pd
import pytest

from analysis import build


@pytest.fixture(scope="module")
def municipalities(processed_dir):
    return pd.read_parquet(processed_dir / "municipalities.parquet")


@pytest.fixture(scope="module")
def population(processed_dir):
    return pd.read_parquet(processed_dir / "population.parquet")


def test_290_municipalities_with_string_codes(municipalities):
    assert len(municipalities) == 290
    assert municipalities["kommunkod"].str.fullmatch(r"\d{4}").all()
    assert municipalities["lan_kod"].str.fullmatch(r"\d{2}").all()
    assert municipalities["lan_kod"].nunique() == 21
    assert municipalities["kommungrupp_2023"].nunique() == 9
    row = municipalities.set_index("kommunkod").loc["0114"]
    assert row["name"] == "Upplands Väsby"
    assert "0180" in set(municipalities["kommunkod"]) and "180" not in set(municipalities["kommunkod"])


def test_short_names_fix_genitive_errors(municipalities):
    names = set(municipalities["name"])
    assert {"Kalmar", "Falun", "Kalix", "Överkalix", "Malung-Sälen", "Upplands-Bro"} <= names
    assert not {"Kalmars", "Faluns", "Kalixs"} & names


def test_gotland_and_stockholm(municipalities):
    m = municipalities.set_index("kommunkod")
    assert m.loc["0980", "lan_kod"] == "09"
    assert m.loc["0180", "kommungrupp_2023"] == "Storstäder"
    assert m.loc["0180", "lan_name"] == "Stockholms län"


@pytest.mark.parametrize(
    "year,total", [(2016, 9_995_153), (2019, 10_327_589), (2020, 10_379_295), (2021, 10_452_326), (2022, 10_521_556)]
)
def test_scb_national_totals(population, year, total):
    assert population.loc[population["year"] == year, "population"].sum() == total


def test_stockholm_2020(population):
    row = population[(population["kommunkod"] == "0180") & (population["year"] == 2020)]
    assert row["population"].tolist() == [975_551]


def test_stockholm_2021_2022_from_kolada(population):
    rows = population[(population["kommunkod"] == "0180") & (population["year"] >= 2021)]
    assert rows["population"].tolist() == [978_770, 984_748]
    assert set(rows["source_id"]) == {"kolada-population-1994-2022"}


def test_population_grid_complete(population):
    assert len(population) == 290 * 73
    assert population["year"].min() == 1950 and population["year"].max() == 2022
    assert set(population.loc[population["year"] <= 2020, "source_id"]) == {"scb-population-1950-2020"}


def test_kolada_series_agrees_with_scb(raw_dir, municipalities, population):
    """Kolada's N01951 and SCB's file agree for every municipality in every year since the last boundary change.

    Before 2003 Kolada keeps the boundaries of the time (Nykvarn 1999, Knivsta 2003), SCB's file today's.
    """
    from analysis.reference import read_kolada_population

    kolada = read_kolada_population(municipalities["kommunkod"].tolist(), raw_dir)
    scb = population[population["year"].between(2003, 2020)]
    both = kolada.merge(scb, on=["kommunkod", "year"], suffixes=("_kolada", "_scb"))
    assert len(both) == 290 * 18
    assert (both["population_kolada"] == both["population_scb"]).all()


def test_build_is_byte_identical(raw_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build.build(["reference"], raw_dir=raw_dir, out_dir=a)
    build.build(["reference"], raw_dir=raw_dir, out_dir=b)
    for name in ("municipalities.parquet", "population.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
