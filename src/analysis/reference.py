"""Reference stage: the 290 municipalities and their population (SCB, 31 December), codes as strings.

Outputs
- municipalities: kommunkod (str "0180"), name (short name, "Stockholm"), lan_kod (str "01"),
  lan_name ("Stockholms län"), kommungrupp_2023 (SKR's 9 groups), land_area_km2 (float, 2016).
- population: kommunkod, year (int), population (int), 31 December of `year`, current boundaries,
  source_id (the raw source of that year: SCB's 1950–2020 file, then an online refresh, then Kolada's
  mirrored N01951 series for 2021–2022).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from . import config
from .errors import UserError
from .io import validate

KOMMUNKOD = r"^\d{4}$"
LAN_KOD = r"^\d{2}$"

MUNICIPALITIES_SCHEMA = pa.DataFrameSchema(
    {
        "kommunkod": pa.Column(str, pa.Check.str_matches(KOMMUNKOD), unique=True),
        "name": pa.Column(str, pa.Check.str_length(min_value=2), unique=True),
        "lan_kod": pa.Column(str, pa.Check.str_matches(LAN_KOD)),
        "lan_name": pa.Column(str, pa.Check.str_endswith("län")),
        "kommungrupp_2023": pa.Column(str),
        "land_area_km2": pa.Column(float, pa.Check.gt(0)),
    },
    checks=pa.Check(lambda df: len(df) == 290, error="expected 290 municipalities"),
    strict=True,
    ordered=True,
)

POPULATION_SCHEMA = pa.DataFrameSchema(
    {
        "kommunkod": pa.Column(str, pa.Check.str_matches(KOMMUNKOD)),
        "year": pa.Column("int64", pa.Check.in_range(1950, 2100)),
        "population": pa.Column("int64", pa.Check.gt(0)),
        "source_id": pa.Column(str),
    },
    unique=["kommunkod", "year"],
    strict=True,
    ordered=True,
)


def _read_csv(path: Path, **kw) -> pd.DataFrame:
    try:
        return pd.read_csv(path, encoding="utf-8", **kw)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"{path}: cannot parse as UTF-8 CSV ({exc})") from exc


def build_municipalities(raw_dir: Path | None = None) -> pd.DataFrame:
    """Join SCB codes/names, SKR kommungrupp 2023 (Kolada) and 2016 land area into one row per municipality."""
    raw = raw_dir or config.raw_dir()
    codes = _read_csv(raw / "kommuner-lan" / "municipality_county.csv", dtype=str, keep_default_na=False)
    groups = _read_csv(raw / "kolada-catalogue-2026-03" / "skr_kommungrupp_2023.csv", dtype=str, keep_default_na=False)
    area = _read_csv(raw / "kommun-area-2016" / "kommuner.csv", dtype={"code": str})

    groups = groups.assign(kommungrupp_2023=groups["group_title"].str.replace(r"\s*\(ovägt medel\)$", "", regex=True))
    df = pd.DataFrame(
        {
            "kommunkod": codes["municipality_code"],
            # municipality_name carries genitive errors ("Kalmars kommun"); the short name is right.
            "name": codes["municipality_name_short"],
            "lan_kod": codes["county_code"],
            "lan_name": codes["county_name"],
        }
    )
    df = df.merge(
        groups[["member_id", "kommungrupp_2023"]].rename(columns={"member_id": "kommunkod"}),
        on="kommunkod",
        how="left",
        validate="one_to_one",
    )
    df = df.merge(
        area[["code", "land"]].rename(columns={"code": "kommunkod", "land": "land_area_km2"}),
        on="kommunkod",
        how="left",
        validate="one_to_one",
    )
    for col in ("kommungrupp_2023", "land_area_km2"):
        missing = df.loc[df[col].isna(), "kommunkod"].tolist()
        if missing:
            raise UserError(f"reference: no {col} for kommunkod {missing[0]} ({len(missing)} missing)")
    df["land_area_km2"] = df["land_area_km2"].astype(float)
    df = df.sort_values("kommunkod", ignore_index=True)
    return validate(df, MUNICIPALITIES_SCHEMA, "municipalities")


SCB_POPULATION_SOURCE = "scb-population-1950-2020"
KOLADA_POPULATION_SOURCE = "kolada-population-1994-2022"
KOLADA_POPULATION_FILE = "ddf--datapoints--n01951--by--geo--year.csv"


def read_kolada_population(kommunkoder: list[str], raw_dir: Path) -> pd.DataFrame:
    """Kolada N01951 (SCB's 31 December population) for the 290 kommun codes: kommunkod, year, population.

    The file also holds Riket ("0"), län ("01") and regions ("0001"–"0025"); only kommun codes are kept.
    Values come as floats ("975551.0"); a non-integral or missing value is a one-line error.
    """
    path = raw_dir / KOLADA_POPULATION_SOURCE / KOLADA_POPULATION_FILE
    if not path.exists():
        raise UserError(f"{path}: missing; run `kommun-it fetch {KOLADA_POPULATION_SOURCE}`")
    df = _read_csv(path, dtype={"geo": str, "year": "int64"})
    if list(df.columns) != ["geo", "year", "n01951"]:
        raise UserError(f"{path.name}: columns {list(df.columns)} are not geo, year, n01951")
    df = df[df["geo"].isin(set(kommunkoder))]
    values = pd.to_numeric(df["n01951"], errors="coerce")
    bad = df.index[values.isna() | (values != values.round())]
    if len(bad):
        raise UserError(f"{path.name} row {bad[0] + 2}: population {df.at[bad[0], 'n01951']!r} is not a whole number")
    return pd.DataFrame({"kommunkod": df["geo"], "year": df["year"], "population": values.astype("int64")})


def build_population(municipalities: pd.DataFrame, raw_dir: Path | None = None) -> pd.DataFrame:
    """Population by municipality and year, kommunkod joined by short name (all 290 must match).

    1950–2020 from SCB's file; later years from an online refresh (`kommun-it refresh population`, SCB
    before Kolada) and, for years no refresh covers, from Kolada's mirrored N01951 series (2021–2022).
    A later year is added only when it covers all 290 municipalities.
    """
    from .refresh import refreshed_population

    raw = raw_dir or config.raw_dir()
    path = raw / SCB_POPULATION_SOURCE / "Data-Population-by-municipality.csv"
    pop = _read_csv(path, dtype={"Kommun": str, "År": "int64", "Befolkning": "int64"})
    codes = dict(zip(municipalities["name"], municipalities["kommunkod"]))
    unknown = sorted(set(pop["Kommun"]) - set(codes))
    if unknown:
        raise UserError(f"{path.name}: municipality name {unknown[0]!r} matches no kommunkod ({len(unknown)} unknown)")
    df = pd.DataFrame(
        {"kommunkod": pop["Kommun"].map(codes), "year": pop["År"], "population": pop["Befolkning"],
         "source_id": SCB_POPULATION_SOURCE}
    )
    kommunkoder = municipalities["kommunkod"].tolist()
    last = int(df["year"].max())
    refreshed = refreshed_population(kommunkoder, raw, after_year=last)
    kolada = read_kolada_population(kommunkoder, raw).assign(source_id=KOLADA_POPULATION_SOURCE)
    kolada = kolada[(kolada["year"] > last) & ~kolada["year"].isin(set(refreshed["year"]))]
    later = pd.concat([refreshed[["kommunkod", "year", "population", "source_id"]], kolada], ignore_index=True)
    complete = later.groupby("year")["kommunkod"].nunique()
    later = later[later["year"].isin(complete[complete == len(kommunkoder)].index)]
    df = pd.concat([df, later], ignore_index=True).astype({"year": "int64", "population": "int64"})
    df = df.sort_values(["kommunkod", "year"], ignore_index=True)
    return validate(df, POPULATION_SCHEMA, "population")


def population_sources(population: pd.DataFrame) -> dict[int, str]:
    """The source id of each year's population figures ({2020: "scb-population-1950-2020", 2021: …})."""
    if "source_id" not in population.columns:
        return {}
    return dict(population.groupby("year")["source_id"].first().astype(str).items())


def load_municipalities() -> pd.DataFrame:
    """The processed municipality table (run `kommun-it build` first)."""
    from .io import read_parquet

    return read_parquet(config.processed_dir() / "municipalities.parquet")


def load_population() -> pd.DataFrame:
    from .io import read_parquet

    return read_parquet(config.processed_dir() / "population.parquet")
