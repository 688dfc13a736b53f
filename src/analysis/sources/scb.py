"""SCB PxWebApi 2.0 (table TAB638, population 31 December) beside PxWeb v1 (table BefolkningNy).

v2: `GET {base}/tables/TAB638/data?lang=sv&outputFormat=json-stat2&valueCodes[ContentsCode]=BE0101N1
&valueCodes[Tid]=2023,2024&codelist[Region]=vs_RegionKommun07&valueCodes[Region]=*` — base
`https://statistikdatabasen.scb.se/api/v2` (older `https://api.scb.se/OV0104/v2beta/api/v2`;
`$KOMMUN_IT_SCB_V2_API` overrides). Civilstånd, ålder and kön are not selected, so the API eliminates
them (their totals). Never repeat a `valueCodes[X]` key (extra values are silently dropped): values are
comma-separated. At most 150,000 cells and 30 calls per 10 s (see the real `/config` answer).

The table metadata (json-stat2 with `extension.codelists` per dimension) says which years and code
lists exist; a data answer with a dimension other than Region, ContentsCode and Tid is refused: its
cells would be one sex or one age, not the population.
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse

import pandas as pd

from ..errors import UserError

DEFAULT_BASE = "https://statistikdatabasen.scb.se/api/v2"
TABLE = "TAB638"
CONTENTS = "BE0101N1"
MUNICIPALITY_CODELIST = "vs_RegionKommun07"
WANTED = ("Region", "ContentsCode", "Tid")


def base() -> str:
    return os.environ.get("KOMMUN_IT_SCB_V2_API", DEFAULT_BASE).rstrip("/")


def data_url(years: list[int], base_url: str | None = None) -> str:
    query = [
        ("lang", "sv"), ("outputFormat", "json-stat2"), ("valueCodes[ContentsCode]", CONTENTS),
        ("valueCodes[Tid]", ",".join(str(y) for y in years)), ("codelist[Region]", MUNICIPALITY_CODELIST),
        ("valueCodes[Region]", "*"),
    ]
    return f"{(base_url or base()).rstrip('/')}/tables/{TABLE}/data?" + urllib.parse.urlencode(query, safe="[],*")


def metadata_url(base_url: str | None = None) -> str:
    return f"{(base_url or base()).rstrip('/')}/tables/{TABLE}/metadata?lang=sv"


def _categories(doc: dict, dim: str, where: str) -> list[str]:
    index = doc.get("dimension", {}).get(dim, {}).get("category", {}).get("index")
    if isinstance(index, list):
        return [str(c) for c in index]
    if isinstance(index, dict):
        return [str(c) for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
    raise UserError(f"{where}: dimension {dim!r} has no category index")


def years_offered(metadata: dict, where: str) -> list[int]:
    """Years of TAB638 that have BE0101N1, from the v2 metadata; checks the municipality code list exists."""
    if not isinstance(metadata, dict) or metadata.get("class") != "dataset":
        raise UserError(f"{where}: not a PxWebApi 2.0 json-stat2 metadata answer")
    if CONTENTS not in _categories(metadata, "ContentsCode", where):
        raise UserError(f"{where}: ContentsCode {CONTENTS} not offered")
    lists = metadata["dimension"].get("Region", {}).get("extension", {}).get("codelists", [])
    if MUNICIPALITY_CODELIST not in {c.get("id") for c in lists if isinstance(c, dict)}:
        raise UserError(f"{where}: Region has no code list {MUNICIPALITY_CODELIST}")
    years = _categories(metadata, "Tid", where)
    if not all(re.fullmatch(r"\d{4}", y) for y in years):
        raise UserError(f"{where}: Tid values are not four-digit years")
    return [int(y) for y in years]


def jsonstat2_rows(doc: dict, where: str) -> pd.DataFrame:
    """Any json-stat2 dataset → one row per cell (a column per dimension, codes as strings) and `value`.

    Values are row-major over `id` (the last dimension varies fastest); `value` may be a list or a sparse
    {index: value} object.
    """
    if not isinstance(doc, dict) or doc.get("class") != "dataset":
        raise UserError(f"{where}: not a json-stat2 dataset")
    ids, sizes, values = doc.get("id"), doc.get("size"), doc.get("value")
    if not (isinstance(ids, list) and isinstance(sizes, list) and len(ids) == len(sizes)):
        raise UserError(f"{where}: json-stat2 'id' and 'size' missing or of different length")
    codes = {d: _categories(doc, d, where) for d in ids}
    for d, n in zip(ids, sizes):
        if len(codes[d]) != n:
            raise UserError(f"{where}: dimension {d} has {len(codes[d])} categories, size says {n}")
    total = math.prod(sizes)
    if isinstance(values, dict):
        values = [values.get(str(i)) for i in range(total)]
    if not isinstance(values, list) or len(values) != total:
        raise UserError(f"{where}: json-stat2 'value' has {len(values) if isinstance(values, list) else '?'} cells, expected {total}")
    index = pd.MultiIndex.from_product([codes[d] for d in ids], names=ids)
    return index.to_frame(index=False).assign(value=values)


def parse_population(doc: dict, where: str) -> pd.DataFrame:
    """A TAB638 data answer → kommunkod, year, population; refuses answers that are not totals."""
    rows = jsonstat2_rows(doc, where)
    extra = [d for d in doc["id"] if d not in WANTED]
    if extra:
        raise UserError(
            f"{where}: dimension {extra[0]!r} is in the answer, so its cells are one {extra[0]} category, not the"
            " population; leave it out of the query so the API eliminates it"
        )
    if set(rows["ContentsCode"]) != {CONTENTS}:
        raise UserError(f"{where}: contents {sorted(set(rows['ContentsCode']))}, expected [{CONTENTS}]")
    bad = rows[~rows["value"].map(lambda v: isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer())]
    if len(bad):
        r = bad.iloc[0]
        raise UserError(f"{where}: no integer population for {r['Region']} {r['Tid']} ({r['value']!r})")
    return pd.DataFrame({
        "kommunkod": rows["Region"].astype(str), "year": rows["Tid"].astype(int), "population": rows["value"].astype("int64"),
    })
