"""Online refresh of population (SCB BE0101N1, Kolada N01951) and Kolada municipality groups.

The mirrored population file stops at 2020. `kommun-it refresh population` asks SCB's PxWeb API v1
(table BefolkningNy, contents code BE0101N1: population 31 December), SCB's PxWebApi 2.0 (table TAB638,
`--source scb-v2`, see `analysis.sources.scb`) or Kolada's v3 API (KPI N01951 "Invånare totalt, antal";
paging in `analysis.sources.kolada`: `next_url`, else `next_page`) for the later years, and `kommun-it refresh kolada-groups` fetches Kolada's
municipality groups (with SKR's kommungrupp 2023). Each writes the answer, as received or (for paged
Kolada answers) as the concatenation of its pages, into `data/raw/<source id>/` and a manifest record
(id, title, publisher, licence, attribution, query URL, date accessed, size, sha256) into the git-ignored
`data/raw/refreshed_sources.yml`. `reference.build_population` then adds the refreshed years through
`refreshed_population`; without a refresh nothing changes. See docs/refresh.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import requests
import yaml

from . import config
from .errors import UserError
from .io import write_bytes_atomic
from .sources.kolada import member

SCB_API = "https://api.scb.se/OV0104/v1/doris/sv/ssd"
SCB_TABLE_PATH = "BE/BE0101/BE0101A/BefolkningNy"
SCB_CONTENTS_CODE = "BE0101N1"
KOLADA_API = "https://api.kolada.se/v3"
KOLADA_POPULATION_KPI = "N01951"
TIMEOUT = (10, 120)
KOLADA_PER_PAGE = 5000
MAX_PAGES = 200
FIRST_REFRESH_YEAR = 2021
SCB_FIRST_YEAR = 1968

SCB_POPULATION_ID = "scb-be0101n1-refresh"
SCB_POPULATION_FILE = "BE0101N1.json"
SCB_V2_POPULATION_ID = "scb-tab638-refresh"
SCB_V2_POPULATION_FILE = "TAB638_BE0101N1.json"
KOLADA_POPULATION_ID = "kolada-n01951-refresh"
KOLADA_POPULATION_FILE = "N01951.json"
KOLADA_GROUPS_ID = "kolada-groups-refresh"
KOLADA_GROUPS_FILE = "municipality_groups.json"
KOLADA_SKR_FILE = "skr_kommungrupp_2023.csv"
REFRESH_MANIFEST = "refreshed_sources.yml"

# SKR's kommungruppsindelning 2023: the nine official group names as Kolada titles them.
SKR_KOMMUNGRUPP_2023 = (
    "Storstäder",
    "Pendlingskommun nära storstad",
    "Större stad",
    "Pendlingskommun nära större stad",
    "Lågpendlingskommun nära större stad",
    "Mindre stad/tätort",
    "Pendlingskommun nära mindre tätort",
    "Landsbygdskommun, ej nära större stad",
    "Landsbygdskommun med besöksnäring",
)
KOLADA_REGION_OR_RIKET = re.compile(r"^00\d\d$")

REFRESHED_POPULATION_COLUMNS = ["kommunkod", "year", "population", "source_id"]


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh wrote: the source id, the raw files and a one-line summary."""

    source_id: str
    files: tuple[Path, ...]
    summary: str


def scb_api() -> str:
    """SCB PxWeb v1 base URL ($KOMMUN_IT_SCB_API overrides it, e.g. for a local test server)."""
    return os.environ.get("KOMMUN_IT_SCB_API", SCB_API).rstrip("/")


def kolada_api() -> str:
    """Kolada v3 base URL ($KOMMUN_IT_KOLADA_API overrides it)."""
    return os.environ.get("KOMMUN_IT_KOLADA_API", KOLADA_API).rstrip("/")


def _request(session: requests.Session, method: str, url: str, what: str, **kw) -> requests.Response:
    """One HTTP call with timeouts; network and HTTP failures become one UserError line."""
    try:
        resp = session.request(method, url, timeout=TIMEOUT, **kw)
        resp.raise_for_status()
    except requests.HTTPError as exc:
        raise UserError(f"refresh {what}: {url} answered HTTP {exc.response.status_code}") from exc
    except requests.RequestException as exc:
        raise UserError(
            f"refresh {what}: cannot reach {url} ({type(exc).__name__}); refreshing needs network access"
        ) from exc
    return resp


def _json(content: bytes, url: str, what: str):
    try:
        return json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"refresh {what}: {url} did not answer JSON ({exc})") from exc


def _is_whole(value) -> bool:
    """True for a JSON number with no fractional part (not a bool, string or null)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()


def _shape_error(what: str, where: str, problem: str) -> UserError:
    return UserError(f"refresh {what}: unexpected answer from {where}: {problem}")


def _check_years(from_year: int, first: int) -> None:
    this_year = dt.date.today().year
    if not first <= from_year <= this_year:
        raise UserError(f"--from-year {from_year}: must be between {first} and {this_year}")


# ---------------------------------------------------------------- SCB PxWeb v1, json-stat2


def scb_years(metadata: dict, from_year: int, where: str) -> list[str]:
    """Years (strings) >= from_year offered by the table, from its PxWeb v1 metadata."""
    variables = metadata.get("variables") if isinstance(metadata, dict) else None
    if not isinstance(variables, list):
        raise _shape_error("population", where, "no 'variables' list in the table metadata")
    by_code = {v.get("code"): v for v in variables if isinstance(v, dict)}
    for code in ("Region", "ContentsCode", "Tid"):
        if code not in by_code or not isinstance(by_code[code].get("values"), list):
            raise _shape_error("population", where, f"variable {code!r} missing from the table metadata")
    if SCB_CONTENTS_CODE not in by_code["ContentsCode"]["values"]:
        raise _shape_error("population", where, f"contents code {SCB_CONTENTS_CODE} not offered")
    years = [str(y) for y in by_code["Tid"]["values"]]
    if not all(re.fullmatch(r"\d{4}", y) for y in years):
        raise _shape_error("population", where, "Tid values are not four-digit years")
    return [y for y in years if int(y) >= from_year]


def scb_query(kommunkoder: Iterable[str], years: Iterable[str]) -> dict:
    """The PxWeb v1 POST body: population 31 Dec for the given municipalities and years, all ages and sexes."""
    return {
        "query": [
            {"code": "Region", "selection": {"filter": "item", "values": sorted(kommunkoder)}},
            {"code": "ContentsCode", "selection": {"filter": "item", "values": [SCB_CONTENTS_CODE]}},
            {"code": "Tid", "selection": {"filter": "item", "values": list(years)}},
        ],
        "response": {"format": "json-stat2"},
    }


def parse_jsonstat2_population(doc: dict, where: str) -> pd.DataFrame:
    """A json-stat2 dataset with dimensions Region, ContentsCode, Tid → kommunkod, year, population.

    Codes stay strings as SCB sends them; a missing (null) cell or a non-integer count is an error.
    """
    what = "population"
    if not isinstance(doc, dict) or doc.get("class") != "dataset":
        raise _shape_error(what, where, "not a json-stat2 dataset")
    ids, sizes, dims, values = doc.get("id"), doc.get("size"), doc.get("dimension"), doc.get("value")
    if not (isinstance(ids, list) and isinstance(sizes, list) and isinstance(dims, dict) and len(ids) == len(sizes)):
        raise _shape_error(what, where, "json-stat2 'id', 'size' or 'dimension' missing")
    if set(ids) != {"Region", "ContentsCode", "Tid"}:
        raise _shape_error(what, where, f"dimensions {ids}, expected Region, ContentsCode, Tid")
    codes: dict[str, list[str]] = {}
    for dim, size in zip(ids, sizes):
        index = dims.get(dim, {}).get("category", {}).get("index")
        if isinstance(index, list):
            index = {c: i for i, c in enumerate(index)}
        if not isinstance(index, dict) or len(index) != size:
            raise _shape_error(what, where, f"dimension {dim} has no category index of size {size}")
        codes[dim] = [c for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
    if not all(re.fullmatch(r"\d{4}", str(y)) for y in codes["Tid"]):
        raise _shape_error(what, where, f"Tid codes {codes['Tid'][:3]} are not four-digit years")
    if codes["ContentsCode"] != [SCB_CONTENTS_CODE]:
        raise _shape_error(what, where, f"contents {codes['ContentsCode']}, expected [{SCB_CONTENTS_CODE}]")
    if isinstance(values, dict):
        values = [values.get(str(i)) for i in range(math.prod(sizes))]
    if not isinstance(values, list) or len(values) != math.prod(sizes):
        raise _shape_error(what, where, "json-stat2 'value' does not match the dimension sizes")
    strides = [math.prod(sizes[i + 1 :]) for i in range(len(sizes))]
    pos = {dim: i for i, dim in enumerate(ids)}
    rows = []
    for flat, value in enumerate(values):
        cell = {dim: codes[dim][(flat // strides[i]) % sizes[i]] for dim, i in pos.items()}
        if not _is_whole(value):
            raise _shape_error(what, where, f"no integer population for {cell['Region']} {cell['Tid']} ({value!r})")
        rows.append((str(cell["Region"]), int(cell["Tid"]), int(value)))
    return pd.DataFrame(rows, columns=["kommunkod", "year", "population"])


def fetch_scb_population(
    kommunkoder: list[str], from_year: int, session: requests.Session
) -> tuple[bytes, str, dict, list[str]]:
    """GET the table metadata, POST the query; return (response bytes, URL, query, years)."""
    url = f"{scb_api()}/{SCB_TABLE_PATH}"
    metadata = _json(_request(session, "GET", url, "population").content, url, "population")
    years = scb_years(metadata, from_year, url)
    if not years:
        raise UserError(f"refresh population: SCB offers no year >= {from_year} in {url}")
    offered = set(next(v for v in metadata["variables"] if v.get("code") == "Region")["values"])
    missing = sorted(set(kommunkoder) - offered)
    if missing:
        raise _shape_error("population", url, f"kommunkod {missing[0]} not offered ({len(missing)} missing)")
    query = scb_query(kommunkoder, years)
    resp = _request(session, "POST", url, "population", json=query)
    return resp.content, url, query, years


# ---------------------------------------------------------------- Kolada v3


def kolada_pages(session: requests.Session, url: str, what: str, params: dict | None = None) -> list[dict]:
    """GET a Kolada list endpoint and follow `next_url` (v3; else `next_page`) to the end; return all `values`."""
    from .sources.kolada import pages

    def get_json(page_url: str, page_params: dict | None):
        return _json(_request(session, "GET", page_url, what, params=page_params).content, page_url, what)

    return pages(get_json, url, what, params)


def kolada_document(values: list[dict]) -> bytes:
    """All pages as one document in Kolada's list shape, serialised deterministically."""
    doc = {"count": len(values), "values": values}
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def parse_kolada_population(doc: dict, where: str) -> pd.DataFrame:
    """Kolada data values → kommunkod (Kolada's id, a string), year, population (gender T, integer).

    Rows without a total (gender "T") value or with a null value are left out: Kolada lists such
    municipality-years before publication. Non-integer values are an error.
    """
    what = "population"
    values = doc.get("values") if isinstance(doc, dict) else None
    if not isinstance(values, list):
        raise _shape_error(what, where, "no 'values' list")
    rows = []
    for i, rec in enumerate(values):
        if not isinstance(rec, dict) or not {"kpi", "municipality", "period", "values"} <= rec.keys():
            raise _shape_error(what, where, f"value {i} lacks kpi/municipality/period/values")
        if rec["kpi"] != KOLADA_POPULATION_KPI:
            raise _shape_error(what, where, f"value {i} is KPI {rec['kpi']!r}, expected {KOLADA_POPULATION_KPI}")
        code = rec["municipality"]
        if not isinstance(code, str):
            raise _shape_error(what, where, f"value {i}: municipality id {code!r} is not a string")
        totals = [v for v in rec["values"] if isinstance(v, dict) and v.get("gender") == "T"]
        if len(totals) > 1:
            raise _shape_error(what, where, f"value {i}: {len(totals)} totals for {code} {rec['period']}")
        if not totals or totals[0].get("value") is None:
            continue
        value = totals[0]["value"]
        if not _is_whole(value) or not re.fullmatch(r"\d{4}", str(rec["period"])):
            problem = f"value {i}: population {value!r} for {code} {rec['period']!r} is not an integer"
            raise _shape_error(what, where, problem)
        rows.append((code, int(rec["period"]), int(value)))
    return pd.DataFrame(rows, columns=["kommunkod", "year", "population"])


def fetch_kolada_population(from_year: int, session: requests.Session) -> tuple[bytes, str, list[int]]:
    """GET N01951 for every year from from_year to this year, all pages; return (bytes, URL, years)."""
    years = list(range(from_year, dt.date.today().year + 1))
    url = f"{kolada_api()}/data/kpi/{KOLADA_POPULATION_KPI}/year/{','.join(map(str, years))}"
    values = kolada_pages(session, url, "population", params={"per_page": KOLADA_PER_PAGE})
    return kolada_document(values), url, years


def parse_kolada_groups(doc: dict, where: str) -> pd.DataFrame:
    """Kolada municipality groups (members as {member_id, member_title}, or {id, title} in older answers) → one row per group member: group_id, group_title, member_id, member_title."""
    what = "kolada-groups"
    values = doc.get("values") if isinstance(doc, dict) else None
    if not isinstance(values, list):
        raise _shape_error(what, where, "no 'values' list")
    rows = []
    for i, grp in enumerate(values):
        if not isinstance(grp, dict) or not {"id", "title", "members"} <= grp.keys():
            raise _shape_error(what, where, f"group {i} lacks id/title/members")
        for m in grp["members"] or []:
            pair = member(m)
            if pair is None:
                raise _shape_error(what, where, f"group {grp['id']}: member {m!r} is neither {{member_id, member_title}} nor {{id, title}}")
            rows.append((grp["id"], grp["title"], *pair))
    return pd.DataFrame(rows, columns=["group_id", "group_title", "member_id", "member_title"])


def _base_title(title: str) -> str:
    return re.sub(r"\s*\(ovägt medel\)$", "", str(title))


def skr_kommungrupp(
    groups: pd.DataFrame, group_titles: Iterable[str], kommunkoder: list[str], where: str
) -> pd.DataFrame:
    """The members of SKR's nine kommungrupper 2023; all nine must exist, every municipality in exactly one."""
    lacking = sorted(set(SKR_KOMMUNGRUPP_2023) - {_base_title(t) for t in group_titles})
    if lacking:
        raise _shape_error("kolada-groups", where, f"SKR kommungrupp {lacking[0]!r} not among the groups")
    skr = groups[groups["group_title"].map(_base_title).isin(SKR_KOMMUNGRUPP_2023)]
    counts = skr["member_id"].value_counts()
    bad = sorted(set(kommunkoder) - set(counts.index)) or sorted(counts.index[counts > 1])
    bad = bad or sorted(set(counts.index) - set(kommunkoder))
    if bad:
        raise _shape_error("kolada-groups", where, f"kommunkod {bad[0]} is not in exactly one SKR kommungrupp")
    return skr.sort_values(["group_id", "member_id"], ignore_index=True)


# ---------------------------------------------------------------- writing raw files and the manifest


def refresh_manifest_path(raw_dir: Path | None = None) -> Path:
    """The git-ignored manifest of refreshed raw files, `data/raw/refreshed_sources.yml`."""
    return (raw_dir or config.raw_dir()) / REFRESH_MANIFEST


def load_refresh_manifest(raw_dir: Path | None = None) -> list[dict]:
    """The refreshed-source records (empty when nothing was refreshed)."""
    path = refresh_manifest_path(raw_dir)
    if not path.exists():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: cannot read the refresh manifest ({exc})") from exc
    sources = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(sources, list):
        raise UserError(f"{path}: no 'sources' list")
    return sources


def write_source(
    raw_dir: Path,
    record: dict,
    files: dict[str, bytes],
    accessed: dt.date,
) -> tuple[Path, ...]:
    """Write the raw files of one source and upsert its manifest record (with size and sha256)."""
    paths = []
    entries = []
    for name, data in files.items():
        path = raw_dir / record["id"] / name
        write_bytes_atomic(path, data)
        paths.append(path)
        entries.append({"name": name, "url": None, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    full = {**record, "date_accessed": accessed.isoformat(), "files": entries}
    sources = [s for s in load_refresh_manifest(raw_dir) if s.get("id") != record["id"]] + [full]
    sources.sort(key=lambda s: s["id"])
    header = (
        "# Raw files written by `kommun-it refresh` (git-ignored). To keep one for good, copy its record\n"
        "# into data/sources.yml and its files into the mirror (see docs/refresh.md).\n"
    )
    text = header + yaml.safe_dump({"sources": sources}, sort_keys=False, allow_unicode=True, width=110)
    write_bytes_atomic(refresh_manifest_path(raw_dir), text.encode("utf-8"))
    return tuple(paths)


def _kommunkoder(raw_dir: Path) -> list[str]:
    """The 290 codes, as strings, from the fetched SCB code list."""
    path = raw_dir / "kommuner-lan" / "municipality_county.csv"
    if not path.exists():
        raise UserError(f"{path} is missing: run `kommun-it fetch kommuner-lan` first")
    codes = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["municipality_code"])
    return sorted(codes["municipality_code"])


def refresh_population(
    source: str = "scb",
    from_year: int = FIRST_REFRESH_YEAR,
    raw_dir: Path | None = None,
    session: requests.Session | None = None,
    today: Callable[[], dt.date] = dt.date.today,
) -> RefreshResult:
    """Fetch population 31 December for from_year onward from SCB or Kolada into data/raw/."""
    if source not in ("scb", "scb-v2", "kolada"):
        raise UserError(f"--source {source!r}: must be 'scb', 'scb-v2' or 'kolada'")
    _check_years(from_year, SCB_FIRST_YEAR)
    raw = raw_dir or config.raw_dir()
    codes = _kommunkoder(raw)
    session = session or requests.Session()
    if source == "scb-v2":
        from .sources import scb as scb2

        meta_url = scb2.metadata_url()
        offered = scb2.years_offered(_json(_request(session, "GET", meta_url, "population").content, meta_url, "population"), meta_url)
        years = [y for y in offered if y >= from_year]
        if not years:
            raise UserError(f"refresh population: SCB offers no year >= {from_year} in {meta_url}")
        url = scb2.data_url(years)
        body = _request(session, "GET", url, "population").content
        pop = scb2.parse_population(_json(body, url, "population"), url)
        sid, name = SCB_V2_POPULATION_ID, SCB_V2_POPULATION_FILE
        record = {
            "id": sid,
            "title": "Population by municipality 31 December {span} (TAB638, BE0101N1)",
            "publisher": "Statistics Sweden (SCB)",
            "licence": "CC0 1.0 (SCB open data)",
            "attribution": "Källa: SCB, TAB638 Folkmängden efter region, civilstånd, ålder och kön (BE0101N1)",
            "url": "https://www.statistikdatabasen.scb.se/pxweb/sv/ssd/START__BE__BE0101__BE0101A/BefolkningNy/",
            "query_url": url,
            "query_method": "GET",
            "notes": "PxWebApi 2.0 json-stat2 answer as received; civilstånd, ålder and kön eliminated (totals).",
        }
    elif source == "scb":
        body, url, query, _ = fetch_scb_population(codes, from_year, session)
        pop = parse_jsonstat2_population(_json(body, url, "population"), url)
        sid, name = SCB_POPULATION_ID, SCB_POPULATION_FILE
        record = {
            "id": sid,
            "title": "Population by municipality 31 December {span} (BE0101N1)",
            "publisher": "Statistics Sweden (SCB)",
            "licence": "CC0 1.0 (SCB open data)",
            "attribution": "Källa: SCB, BE0101 Folkmängden efter region och år (BE0101N1)",
            "url": "https://www.statistikdatabasen.scb.se/pxweb/sv/ssd/START__BE__BE0101__BE0101A/BefolkningNy/",
            "query_url": url,
            "query_method": "POST",
            "query": json.dumps(query, ensure_ascii=False, separators=(",", ":")),
            "notes": "PxWeb v1 json-stat2 answer as received; Alder, Kon and Civilstand eliminated (totals).",
        }
    else:
        body, url, _ = fetch_kolada_population(from_year, session)
        pop = parse_kolada_population(_json(body, url, "population"), url)
        sid, name = KOLADA_POPULATION_ID, KOLADA_POPULATION_FILE
        record = {
            "id": sid,
            "title": "Kolada N01951 Invånare totalt, antal, {span}",
            "publisher": "RKA (Rådet för främjande av kommunala analyser), Kolada API v3; data from SCB",
            "licence": "Kolada open data (CC BY 4.0)",
            "attribution": "Källa: Kolada (RKA), N01951; SCB",
            "url": "https://www.kolada.se/",
            "query_url": f"{url}?per_page={KOLADA_PER_PAGE}",
            "query_method": "GET",
            "notes": "All pages (next_page) concatenated into one document in Kolada's list shape.",
        }
    kommun = municipality_rows(pop, codes, url, source)
    if kommun.empty:
        raise UserError(f"refresh population: {url} has no municipality values for {from_year} or later")
    span = f"{kommun['year'].min()}-{kommun['year'].max()}"
    record["title"] = record["title"].format(span=span)
    written = write_source(raw, record, {name: body}, today())
    left_out = f"; {len(pop) - len(kommun)} Riket/region rows left out" if len(pop) > len(kommun) else ""
    return RefreshResult(
        sid,
        written,
        f"refresh population ({source}): {len(kommun):,} municipality-years ({span}){left_out} -> data/raw/{sid}/;"
        " run `kommun-it build` to use them",
    )


def refresh_kolada_groups(
    raw_dir: Path | None = None,
    session: requests.Session | None = None,
    today: Callable[[], dt.date] = dt.date.today,
) -> RefreshResult:
    """Fetch all Kolada municipality groups (paged) and extract SKR's kommungrupp 2023 into data/raw/."""
    raw = raw_dir or config.raw_dir()
    codes = _kommunkoder(raw)
    session = session or requests.Session()
    url = f"{kolada_api()}/municipality_group"
    values = kolada_pages(session, url, "kolada-groups", params={"per_page": KOLADA_PER_PAGE})
    body = kolada_document(values)
    groups = parse_kolada_groups(_json(body, url, "kolada-groups"), url)
    skr = skr_kommungrupp(groups, [g["title"] for g in values], codes, url)
    record = {
        "id": KOLADA_GROUPS_ID,
        "title": "Kolada municipality groups, with SKR kommungrupp 2023",
        "publisher": "RKA (Rådet för främjande av kommunala analyser), Kolada API v3",
        "licence": "Kolada open data (CC BY 4.0)",
        "attribution": "Källa: Kolada (RKA); SKR kommungruppsindelning 2023",
        "url": "https://www.kolada.se/",
        "query_url": f"{url}?per_page={KOLADA_PER_PAGE}",
        "query_method": "GET",
        "notes": (
            f"{KOLADA_GROUPS_FILE}: all pages concatenated in Kolada's list shape; {KOLADA_SKR_FILE}: the members"
            " of SKR's nine kommungrupper 2023 (same columns as kolada-catalogue-2026-03)."
        ),
    }
    files = {KOLADA_GROUPS_FILE: body, KOLADA_SKR_FILE: skr.to_csv(index=False, lineterminator="\n").encode("utf-8")}
    written = write_source(raw, record, files, today())
    return RefreshResult(
        KOLADA_GROUPS_ID,
        written,
        f"refresh kolada-groups: {len(values):,} groups, {skr['member_id'].nunique()} municipalities in"
        f" {skr['group_id'].nunique()} SKR kommungrupper -> data/raw/{KOLADA_GROUPS_ID}/",
    )


# ---------------------------------------------------------------- reading a refresh in the build


def municipality_rows(pop: pd.DataFrame, kommunkoder: list[str], where: str, source: str) -> pd.DataFrame:
    """Keep the municipalities' rows and check every year present is complete (each code exactly once).

    Kolada also reports Riket and the regions (ids 00NN): they are not municipalities and are left out by
    rule. Any other unknown code, a duplicate or a year lacking a municipality is an error, never a gap.
    """
    known = pop["kommunkod"].isin(kommunkoder)
    other = ~known
    if source == "kolada":
        other &= ~pop["kommunkod"].str.fullmatch(KOLADA_REGION_OR_RIKET.pattern)
    unknown = sorted(set(pop.loc[other, "kommunkod"]))
    if unknown:
        raise UserError(f"{where}: unknown kommunkod {unknown[0]!r} ({len(unknown)} unknown)")
    pop = pop[known]
    dup = pop[pop.duplicated(["kommunkod", "year"], keep=False)]
    if not dup.empty:
        row = dup.iloc[0]
        raise UserError(f"{where}: kommunkod {row['kommunkod']} year {row['year']} appears more than once")
    for year, grp in pop.groupby("year"):
        missing = sorted(set(kommunkoder) - set(grp["kommunkod"]))
        if missing:
            raise UserError(f"{where}: year {year} lacks kommunkod {missing[0]} ({len(missing)} missing)")
    return pop.reset_index(drop=True)


def refreshed_population(kommunkoder: list[str], raw_dir: Path, after_year: int) -> pd.DataFrame:
    """Population for years after after_year from refreshed raw files, SCB (v1, then v2) preferred over Kolada per year.

    Columns kommunkod, year, population, source_id; empty when no refresh exists.
    """
    frames = []
    scb_path = raw_dir / SCB_POPULATION_ID / SCB_POPULATION_FILE
    if scb_path.exists():
        scb = parse_jsonstat2_population(_read_json(scb_path), str(scb_path))
        scb = municipality_rows(scb, kommunkoder, str(scb_path), "scb")
        frames.append(scb.assign(source_id=SCB_POPULATION_ID))
    v2_path = raw_dir / SCB_V2_POPULATION_ID / SCB_V2_POPULATION_FILE
    if v2_path.exists():
        from .sources import scb as scb2

        v2 = scb2.parse_population(_read_json(v2_path), str(v2_path))
        v2 = municipality_rows(v2, kommunkoder, str(v2_path), "scb")
        taken = {y for f in frames for y in f["year"]}
        frames.append(v2[~v2["year"].isin(taken)].assign(source_id=SCB_V2_POPULATION_ID))
    kolada_path = raw_dir / KOLADA_POPULATION_ID / KOLADA_POPULATION_FILE
    if kolada_path.exists():
        kol = parse_kolada_population(_read_json(kolada_path), str(kolada_path))
        kol = municipality_rows(kol, kommunkoder, str(kolada_path), "kolada")
        taken = {y for f in frames for y in f["year"]}
        frames.append(kol[~kol["year"].isin(taken)].assign(source_id=KOLADA_POPULATION_ID))
    if not frames:
        return pd.DataFrame(
            {c: pd.Series(dtype="int64" if c in ("year", "population") else str) for c in REFRESHED_POPULATION_COLUMNS}
        )
    out = pd.concat(frames, ignore_index=True)
    out = out[out["year"] > after_year].astype({"year": "int64", "population": "int64"})
    return out.sort_values(["kommunkod", "year"], ignore_index=True)[REFRESHED_POPULATION_COLUMNS]


def _read_json(path: Path):
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: cannot read as UTF-8 JSON ({exc})") from exc
