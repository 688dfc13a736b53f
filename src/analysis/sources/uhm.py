"""Upphandlingsmyndigheten (UHM): statistics-database exports per year, and the award file with supplier orgnr.

The mirrored 2021 tables (`uhm-procurement-2021`) were made by the statistics service's export, one call
per table (verified in the exporter's code):

    GET {base}/api/sv/statisticsservice/bridgeapi/statistics/export/excel
        ?year=YYYY&resultFormat=table&timefragment=Tidsperiod.År&area=upphandlingsstatistik
        &product=annonserade-upphandlingar-i-sverige&unit=<unit>&distributedUnit=<distributedUnit>
        &measurement=SUM&param=<property>&param=…&orderBy=<first param>

with one `param` per property listed for the unit (its "Bas" distributed unit) in the mirrored
`all_parameters.json`, sent verbatim (typos included). `refresh_uhm` asks exactly that for each year and
writes `data/raw/uhm-procurement-{YYYY}/` with the 2021 file names, so the panel reads every year alike.
The award file with supplier orgnr (2021–2024 in one file, `;`, UTF-8 BOM) comes from
`{catalog}/store/12/resource/239`. Default bases `https://www.upphandlingsmyndigheten.se` and
`https://catalog.upphandlingsmyndigheten.se`; `--base-url` replaces both.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from . import record
from .http import Client, join

DEFAULT_BASE = "https://www.upphandlingsmyndigheten.se"
DEFAULT_CATALOG = "https://catalog.upphandlingsmyndigheten.se"
EXPORT_PATH = "api/sv/statisticsservice/bridgeapi/statistics/export/excel"
AWARDS_PATH = "store/12/resource/239"
AREA, PRODUCT = "upphandlingsstatistik", "annonserade-upphandlingar-i-sverige"
FIRST_YEAR = 2021
PARAMETERS_SOURCE = "uhm-procurement-2021"
PARAMETERS_FILE = "all_parameters.json"
AWARDS_ID = "uhm-awards-2021-2024"
AWARDS_FILE = "awards_with_suppliers.csv"
# file name (as in the 2021 mirror) → unit in all_parameters.json
TABLES = {
    "number_of_procurements.xlsx": "Antal upphandlingar",
    "contracted_value.xlsx": "Kontrakterat värde",
    "number_of_tenders.xlsx": "Antal anbud",
    "number_of_contracted_tenders_with_suppliers.xlsx": "Antal kontrakterade anbud*",
}


def source_id(year: int) -> str:
    return f"uhm-procurement-{year}"


def record_for(year: int) -> dict:
    return {
        "id": source_id(year),
        "title": f"Advertised procurement {year}, Upphandlingsmyndigheten statistics database (4 tables)",
        "publisher": "Upphandlingsmyndigheten",
        "licence": "CC BY 4.0 (Upphandlingsmyndigheten open data)",
        "attribution": "Källa: Upphandlingsmyndigheten, statistikdatabasen",
        "url": "https://www.upphandlingsmyndigheten.se/statistik/",
        "notes": "Exported as the mirrored 2021 tables were (same units, same parameters from all_parameters.json).",
    }


def load_parameters(raw_dir: Path) -> list:
    path = raw_dir / PARAMETERS_SOURCE / PARAMETERS_FILE
    if not path.exists():
        raise UserError(f"{path}: missing; run `kommun-it fetch {PARAMETERS_SOURCE}` first")
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read as JSON ({exc})") from exc


def unit_query(parameters: list, unit: str, year: int) -> list[tuple[str, str]]:
    """The export query of one unit and year: (name, value) pairs in order, `param` repeated per property."""
    where = f"{PARAMETERS_FILE}"
    try:
        area = next(a for a in parameters if a.get("area") == AREA)
        product = next(p for p in area["products"] if p.get("product") == PRODUCT)
        u = next(x for x in product["units"] if x.get("unit") == unit)
    except (StopIteration, KeyError, TypeError) as exc:
        raise UserError(f"{where}: no unit {unit!r} under {AREA}/{PRODUCT}") from exc
    bases = [d for d in u.get("distributedUnits", []) if ", Bas." in d.get("distributedUnit", "")]
    if len(bases) != 1:
        raise UserError(f"{where}: unit {unit!r} has {len(bases)} 'Bas' distributed units, expected 1")
    du = bases[0]
    props = [
        prop["value"]
        for par in du.get("parameters", [])
        for dim in par.get("dimensions", [])
        for prop in dim.get("properties", [])
    ]
    if not props:
        raise UserError(f"{where}: unit {unit!r} lists no properties")
    query = [
        ("year", str(year)), ("resultFormat", "table"), ("timefragment", "Tidsperiod.År"), ("area", AREA),
        ("product", PRODUCT), ("unit", unit), ("distributedUnit", du["distributedUnit"]), ("measurement", "SUM"),
    ]
    return query + [("param", p) for p in props] + [("orderBy", props[0])]


def refresh_uhm(
    years: list[int], raw_dir: Path, base_url: str | None = None, client: Client | None = None, awards: bool = True
) -> str:
    bad = [y for y in years if y < FIRST_YEAR]
    if bad:
        raise UserError(f"--years: Upphandlingsmyndigheten's statistics start in {FIRST_YEAR}, not {bad[0]}")
    client = client or Client(what="refresh procurement (uhm)", rate_per_host=1.0)
    parameters = load_parameters(raw_dir)
    export = join(base_url or DEFAULT_BASE, EXPORT_PATH)
    written = 0
    for year in years:
        entries = []
        for name, unit in TABLES.items():
            query = unit_query(parameters, unit, year)
            got = client.download(export, raw_dir / source_id(year) / name, params=query)
            _check_xlsx(got.path)
            qs = "&".join(f"{k}={v}" for k, v in query)
            entries.append(record.file_entry(got, query=f"GET {export}?{qs}", client="analysis.sources.uhm"))
            written += 1
        record.upsert(raw_dir, record_for(year), entries)
    if awards:
        url = join(base_url or DEFAULT_CATALOG, AWARDS_PATH)
        got = client.download(url, raw_dir / AWARDS_ID / AWARDS_FILE)
        record.upsert(
            raw_dir,
            {
                "id": AWARDS_ID,
                "title": "Awarded contracts 2021–2024 with supplier orgnr (Upphandlingsmyndigheten)",
                "publisher": "Upphandlingsmyndigheten",
                "licence": "CC BY 4.0 (Upphandlingsmyndigheten open data)",
                "attribution": "Källa: Upphandlingsmyndigheten",
                "url": "https://catalog.upphandlingsmyndigheten.se/",
                "notes": "';'-separated UTF-8 with BOM as published; no contract value.",
            },
            [record.file_entry(got, query=f"GET {url}", client="analysis.sources.uhm")],
        )
        written += 1
    return (
        f"refresh procurement (uhm): {written} file(s) for {', '.join(map(str, years))} -> data/raw/uhm-procurement-<year>/;"
        " run `kommun-it build` to use them"
    )


def _check_xlsx(path: Path) -> None:
    """An export must be an xlsx (a zip): an HTML error page saved under that name stops here."""
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        path.unlink()
        raise UserError(f"{path.name}: the export is not an xlsx workbook (starts {magic!r}); nothing kept")

