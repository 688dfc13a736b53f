"""Online refresh of SCB/Kolada population and Kolada groups, against recorded answers on a loopback server.

No test touches the network: the recorded, abridged answers in tests/fixtures/recorded/ are served by a
local http.server, and the API base URLs point at it through KOMMUN_IT_SCB_API / KOMMUN_IT_KOLADA_API.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest
import requests
import yaml

from analysis import build, refresh
from analysis.errors import UserError
from analysis.reference import build_municipalities, build_population
from loopback import Handler, closed_port, serve

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
FOUR = ["0114", "0180", "1480", "2584"]


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


class RecordedAPI(Handler):
    """Serves the recorded answers at /scb/... and /kolada/..., logging every request."""

    log: list[tuple[str, str, bytes]] = []
    overrides: dict[tuple[str, str], tuple[int, bytes]] = {}

    def _answer(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        RecordedAPI.log.append((method, self.path, body))
        url = urllib.parse.urlsplit(self.path)
        page = urllib.parse.parse_qs(url.query).get("page", ["1"])[0]
        status, out = RecordedAPI.overrides.get((method, url.path), (200, None))
        if out is None:
            out = self._recorded(method, url.path, page)
        if out is None:
            status, out = 404, b'{"error": "not found"}'
        kolada = f"http://127.0.0.1:{self.server.server_address[1]}/kolada".encode()
        out = out.replace(b"https://api.kolada.se/v3", kolada)
        self.reply(status, out, {"Content-Type": "application/json; charset=utf-8"})

    @staticmethod
    def _recorded(method: str, path: str, page: str) -> bytes | None:
        if path == "/scb/BE/BE0101/BE0101A/BefolkningNy":
            name = "metadata" if method == "GET" else "BE0101N1_2021-2023"
            return recorded(f"scb_befolkningny_{name}.json")
        if path.startswith("/kolada/data/kpi/N01951/year/"):
            return recorded(f"kolada_data_N01951_page{page}.json")
        if path == "/kolada/municipality_group":
            return recorded(f"kolada_municipality_group_page{page}.json")
        return None

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._answer("GET")

    def do_POST(self):  # noqa: N802
        self._answer("POST")



@pytest.fixture(scope="module")
def api_server():
    with serve(RecordedAPI) as url:
        yield url


@pytest.fixture
def api(api_server, monkeypatch):
    """The loopback API, with a fresh request log; returns the log."""
    monkeypatch.setenv("KOMMUN_IT_SCB_API", f"{api_server}/scb")
    monkeypatch.setenv("KOMMUN_IT_KOLADA_API", f"{api_server}/kolada")
    RecordedAPI.log = []
    RecordedAPI.overrides = {}
    return RecordedAPI.log


def synthetic_code_list(raw_dir: Path, tmp_path: Path, codes: list[str]) -> Path:
    """A scratch data/raw whose kommuner-lan file holds only the given municipalities (rows of the real file)."""
    real = pd.read_csv(raw_dir / "kommuner-lan" / "municipality_county.csv", dtype=str, keep_default_na=False)
    out = tmp_path / "raw"
    (out / "kommuner-lan").mkdir(parents=True)
    real[real["municipality_code"].isin(codes)].to_csv(out / "kommuner-lan" / "municipality_county.csv", index=False)
    return out


@pytest.fixture
def four_raw(raw_dir, tmp_path):
    return synthetic_code_list(raw_dir, tmp_path, FOUR)


def fixed_day():
    import datetime as dt

    return dt.date(2026, 11, 23)


# ---------------------------------------------------------------- parsing


def test_jsonstat2_parsing_keeps_codes_as_strings():
    pop = refresh.parse_jsonstat2_population(json.loads(recorded("scb_befolkningny_BE0101N1_2021-2023.json")), "rec")
    assert len(pop) == 12
    assert sorted(set(pop["kommunkod"])) == FOUR
    assert "114" not in set(pop["kommunkod"])
    assert pop["kommunkod"].map(type).eq(str).all()
    row = pop[(pop["kommunkod"] == "0180") & (pop["year"] == 2022)]
    assert row["population"].tolist() == [984_748]
    assert pop["population"].dtype == "int64"


def test_jsonstat2_row_major_order_follows_size():
    doc = json.loads(recorded("scb_befolkningny_BE0101N1_2021-2023.json"))
    pop = refresh.parse_jsonstat2_population(doc, "rec")
    assert pop.iloc[:3]["kommunkod"].tolist() == ["0114"] * 3
    assert pop.iloc[:3]["year"].tolist() == [2021, 2022, 2023]
    assert pop["population"].tolist() == doc["value"]


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda d: d.update(value=[None] + d["value"][1:]), "no integer population for 0114 2021"),
        (lambda d: d.update(value=[47820.5] + d["value"][1:]), "no integer population"),
        (lambda d: d.update(value=d["value"][:-1]), "does not match the dimension sizes"),
        (lambda d: d.update(id=["Region", "Kon", "Tid"]), "expected Region, ContentsCode, Tid"),
        (lambda d: d.update({"class": "collection"}), "not a json-stat2 dataset"),
    ],
)
def test_jsonstat2_unexpected_shapes_are_one_line_errors(mutate, message):
    doc = json.loads(recorded("scb_befolkningny_BE0101N1_2021-2023.json"))
    mutate(doc)
    with pytest.raises(UserError, match=message) as exc:
        refresh.parse_jsonstat2_population(doc, "rec")
    assert "\n" not in str(exc.value)


def test_kolada_parsing_takes_totals_and_keeps_string_ids():
    doc = {"values": json.loads(recorded("kolada_data_N01951_page1.json"))["values"]}
    doc["values"] += json.loads(recorded("kolada_data_N01951_page2.json"))["values"]
    pop = refresh.parse_kolada_population(doc, "rec")
    assert len(pop) == 18  # 4 municipalities + Riket + Region Stockholm, 3 years
    assert {"0000", "0001", "0114"} <= set(pop["kommunkod"])
    kiruna = pop[(pop["kommunkod"] == "2584") & (pop["year"] == 2023)]
    assert kiruna["population"].tolist() == [22_194]  # the "T" value, not K or M
    kommun = refresh.municipality_rows(pop, FOUR, "rec", "kolada")
    assert sorted(set(kommun["kommunkod"])) == FOUR and len(kommun) == 12


def test_kolada_unknown_id_and_partial_year_are_errors():
    pop = pd.DataFrame({"kommunkod": ["0114", "9999"], "year": [2021, 2021], "population": [1, 2]})
    with pytest.raises(UserError, match="unknown kommunkod '9999'"):
        refresh.municipality_rows(pop, ["0114"], "rec", "kolada")
    pop = pd.DataFrame({"kommunkod": ["0114"], "year": [2021], "population": [1]})
    with pytest.raises(UserError, match="year 2021 lacks kommunkod 0180"):
        refresh.municipality_rows(pop, ["0114", "0180"], "rec", "scb")


def test_kolada_non_integer_population_is_an_error():
    value = {"kpi": "N01951", "municipality": "0114", "period": 2021, "values": [{"gender": "T", "value": 1.5}]}
    doc = {"values": [value]}
    with pytest.raises(UserError, match="not an integer"):
        refresh.parse_kolada_population(doc, "rec")


# ---------------------------------------------------------------- HTTP: paging, writing, errors


def test_kolada_paging_follows_next_page(api):
    url = f"{refresh.kolada_api()}/data/kpi/N01951/year/2021,2022,2023"
    values = refresh.kolada_pages(requests.Session(), url, "population", params={"per_page": 5000})
    assert len(values) == 18
    assert [p for m, p, _ in api] == [
        "/kolada/data/kpi/N01951/year/2021,2022,2023?per_page=5000",
        "/kolada/data/kpi/N01951/year/2021,2022,2023?page=2&per_page=9",
    ]


def test_refresh_scb_writes_raw_file_and_manifest(api, four_raw):
    result = refresh.refresh_population("scb", 2021, raw_dir=four_raw, today=fixed_day)
    path = four_raw / refresh.SCB_POPULATION_ID / refresh.SCB_POPULATION_FILE
    assert result.files == (path,)
    assert path.read_bytes() == recorded("scb_befolkningny_BE0101N1_2021-2023.json")
    assert "12 municipality-years (2021-2023)" in result.summary
    (get, post) = api
    assert get[0] == "GET" and post[0] == "POST"
    query = json.loads(post[2])
    assert query["query"][0] == {"code": "Region", "selection": {"filter": "item", "values": FOUR}}
    assert query["query"][2]["selection"]["values"] == [str(y) for y in range(2021, 2024)]
    assert query["response"] == {"format": "json-stat2"}
    doc = yaml.safe_load((four_raw / "refreshed_sources.yml").read_text(encoding="utf-8"))
    (rec,) = doc["sources"]
    assert rec["id"] == refresh.SCB_POPULATION_ID and rec["date_accessed"] == "2026-11-23"
    assert rec["title"] == "Population by municipality 31 December 2021-2023 (BE0101N1)"
    assert rec["query_url"].endswith("/scb/BE/BE0101/BE0101A/BefolkningNy") and rec["query_method"] == "POST"
    for key in ("title", "publisher", "licence", "attribution", "url"):
        assert rec[key]
    (f,) = rec["files"]
    assert f["name"] == refresh.SCB_POPULATION_FILE
    assert f["size"] == path.stat().st_size
    assert f["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_refresh_kolada_then_scb_keeps_both_records(api, four_raw):
    refresh.refresh_population("kolada", 2021, raw_dir=four_raw, today=fixed_day)
    refresh.refresh_population("scb", 2021, raw_dir=four_raw, today=fixed_day)
    refresh.refresh_population("scb", 2021, raw_dir=four_raw, today=fixed_day)
    records = refresh.load_refresh_manifest(four_raw)
    assert [r["id"] for r in records] == [refresh.KOLADA_POPULATION_ID, refresh.SCB_POPULATION_ID]
    kolada = four_raw / refresh.KOLADA_POPULATION_ID / refresh.KOLADA_POPULATION_FILE
    assert json.loads(kolada.read_bytes())["count"] == 18
    result = refresh.refresh_population("kolada", 2021, raw_dir=four_raw, today=fixed_day)
    assert "12 municipality-years (2021-2023); 6 Riket/region rows left out" in result.summary
    assert records[0]["title"].endswith(", 2021-2023")  # the years found, not the years asked for
    assert records[0]["files"][0]["sha256"] == hashlib.sha256(kolada.read_bytes()).hexdigest()


def test_refresh_kolada_groups_extracts_skr_kommungrupp(api, four_raw):
    result = refresh.refresh_kolada_groups(raw_dir=four_raw, today=fixed_day)
    assert "4 municipalities in 3 SKR kommungrupper" in result.summary
    skr = pd.read_csv(four_raw / refresh.KOLADA_GROUPS_ID / refresh.KOLADA_SKR_FILE, dtype=str)
    assert list(skr.columns) == ["group_id", "group_title", "member_id", "member_title"]
    assert dict(zip(skr["member_id"], skr["group_id"])) == {
        "0114": "G92793", "0180": "G92787", "1480": "G92787", "2584": "G92788"
    }
    groups = json.loads((four_raw / refresh.KOLADA_GROUPS_ID / refresh.KOLADA_GROUPS_FILE).read_bytes())
    assert groups["count"] == 10 and groups["values"][0]["id"] == "G114798"
    (rec,) = refresh.load_refresh_manifest(four_raw)
    assert [f["name"] for f in rec["files"]] == [refresh.KOLADA_GROUPS_FILE, refresh.KOLADA_SKR_FILE]


def test_skr_extraction_matches_the_mirrored_catalogue(raw_dir):
    """On the real Kolada catalogue (members renamed to the API's id/title) the extraction finds all 290."""
    catalogue = raw_dir / "kolada-catalogue-2026-03"
    groups = json.loads((catalogue / "municipality_groups.json").read_bytes())
    def api_shape(g):
        members = [{"id": m["member_id"], "title": m["member_title"]} for m in g["members"]]
        return {"id": g["id"], "title": g["title"], "members": members}

    doc = {"values": [api_shape(g) for g in groups]}
    codes = pd.read_csv(raw_dir / "kommuner-lan" / "municipality_county.csv", dtype=str)["municipality_code"].tolist()
    parsed = refresh.parse_kolada_groups(doc, "mirror")
    skr = refresh.skr_kommungrupp(parsed, [g["title"] for g in groups], codes, "mirror")
    expected = pd.read_csv(catalogue / "skr_kommungrupp_2023.csv", dtype=str, keep_default_na=False)
    assert len(skr) == 290
    pairs = sorted(zip(skr["group_id"], skr["member_id"]))
    assert pairs == sorted(zip(expected["group_id"], expected["member_id"]))


def test_groups_missing_a_municipality_is_an_error(api, raw_dir, tmp_path):
    raw = synthetic_code_list(raw_dir, tmp_path, FOUR + ["0115"])
    with pytest.raises(UserError, match="kommunkod 0115 is not in exactly one SKR kommungrupp"):
        refresh.refresh_kolada_groups(raw_dir=raw, today=fixed_day)
    assert not (raw / refresh.KOLADA_GROUPS_ID).exists()


@pytest.mark.parametrize(
    "override,message",
    [
        ((500, b"oops"), "answered HTTP 500"),
        ((200, b"<html>maintenance</html>"), "did not answer JSON"),
        ((200, b'{"title": "x"}'), "no 'variables' list"),
    ],
)
def test_unexpected_scb_answers_are_one_line_errors(api, four_raw, override, message):
    RecordedAPI.overrides[("GET", "/scb/BE/BE0101/BE0101A/BefolkningNy")] = override
    with pytest.raises(UserError, match=message) as exc:
        refresh.refresh_population("scb", 2021, raw_dir=four_raw, today=fixed_day)
    assert "\n" not in str(exc.value)
    assert not (four_raw / "refreshed_sources.yml").exists()


def test_connection_error_is_one_user_error(four_raw):
    class Offline(requests.Session):
        def request(self, *args, **kwargs):
            raise requests.ConnectionError("no route to host")

    with pytest.raises(UserError, match=r"cannot reach .* \(ConnectionError\); refreshing needs network access"):
        refresh.refresh_population("kolada", 2021, raw_dir=four_raw, session=Offline())


def test_cli_offline_one_line_exit_2(raw_dir, tmp_path, cli_env):
    synthetic_code_list(raw_dir, tmp_path / "data", FOUR)
    env = {**cli_env, "KOMMUN_IT_SCB_API": f"http://127.0.0.1:{closed_port()}/scb"}
    proc = subprocess.run(
        [sys.executable, "-m", "analysis.cli", "refresh", "population"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("kommun-it: error: refresh population: cannot reach")


def test_cli_bad_source_exit_2(cli_env):
    proc = subprocess.run(
        [sys.executable, "-m", "analysis.cli", "refresh", "population", "--source", "wiki"],
        capture_output=True, text=True, env=cli_env,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "kommun-it: error: --source 'wiki': must be 'scb', 'scb-v2' or 'kolada'"


def test_cli_refresh_end_to_end(api, api_server, raw_dir, tmp_path, cli_env):
    raw = synthetic_code_list(raw_dir, tmp_path / "data", FOUR)
    env = {**cli_env, "KOMMUN_IT_SCB_API": f"{api_server}/scb", "KOMMUN_IT_KOLADA_API": f"{api_server}/kolada"}
    for args in (["population", "--from-year", "2021"], ["population", "--source", "kolada"], ["kolada-groups"]):
        proc = subprocess.run(
            [sys.executable, "-m", "analysis.cli", "refresh", *args], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 0, proc.stderr
    ids = [r["id"] for r in refresh.load_refresh_manifest(raw)]
    assert ids == sorted([refresh.SCB_POPULATION_ID, refresh.KOLADA_POPULATION_ID, refresh.KOLADA_GROUPS_ID])


def test_cli_base_url_replaces_the_api_base(api, api_server, raw_dir, tmp_path, cli_env):
    synthetic_code_list(raw_dir, tmp_path / "data", FOUR)
    env = {k: v for k, v in cli_env.items() if k not in ("KOMMUN_IT_SCB_API", "KOMMUN_IT_KOLADA_API")}
    for args in (["population", "--base-url", f"{api_server}/scb"],
                 ["population", "--source", "kolada", "--base-url", f"{api_server}/kolada"],
                 ["kolada-groups", "--base-url", f"{api_server}/kolada"]):
        proc = subprocess.run(
            [sys.executable, "-m", "analysis.cli", "refresh", *args], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 0, proc.stderr
    assert {p.split("?")[0].split("/")[1] for m, p, _ in api} == {"scb", "kolada"}


# ---------------------------------------------------------------- merge into the population table


def synthetic_refresh_raw(raw_dir: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A scratch data/raw linking the real sources, plus a synthetic SCB refresh (2021–2022, all 290)
    and a synthetic Kolada refresh (2020–2023, all 290 plus Riket) in the official shapes."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for sub in raw_dir.iterdir():
        if sub.is_dir():
            (raw / sub.name).symlink_to(sub)
    codes = build_municipalities(raw)["kommunkod"].tolist()
    scb_years = ["2021", "2022"]
    doc = json.loads(recorded("scb_befolkningny_BE0101N1_2021-2023.json"))
    doc["size"] = [len(codes), 1, len(scb_years)]
    doc["dimension"]["Region"]["category"] = {"index": {c: i for i, c in enumerate(codes)}}
    doc["dimension"]["Tid"]["category"] = {"index": {y: i for i, y in enumerate(scb_years)}}
    doc["value"] = [10_000 + int(c) + j for c in codes for j in range(len(scb_years))]
    (raw / refresh.SCB_POPULATION_ID).mkdir()
    (raw / refresh.SCB_POPULATION_ID / refresh.SCB_POPULATION_FILE).write_text(json.dumps(doc), encoding="utf-8")
    kolada = [
        {
            "kpi": "N01951",
            "municipality": c,
            "period": y,
            "values": [{"gender": "T", "count": 1, "status": None, "value": float(20_000 + int(c) + y)}],
        }
        for y in (2020, 2021, 2022, 2023)
        for c in ["0000", *codes]
    ]
    (raw / refresh.KOLADA_POPULATION_ID).mkdir()
    (raw / refresh.KOLADA_POPULATION_ID / refresh.KOLADA_POPULATION_FILE).write_bytes(refresh.kolada_document(kolada))
    return raw, codes


def test_no_refresh_means_no_change(raw_dir, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("kommuner-lan", "kolada-catalogue-2026-03", "kommun-area-2016", "scb-population-1950-2020",
                 "kolada-population-1994-2022"):
        (raw / name).symlink_to(raw_dir / name)
    assert refresh.refreshed_population(["0114"], raw, after_year=2020).empty
    pop = build_population(build_municipalities(raw), raw)
    assert len(pop) == 290 * 73 and pop["year"].max() == 2022
    assert set(pop.loc[pop["year"] > 2020, "source_id"]) == {"kolada-population-1994-2022"}
    csv = pd.read_csv(raw / "scb-population-1950-2020" / "Data-Population-by-municipality.csv")
    assert pop.loc[pop["year"] <= 2020, "population"].sum() == csv["Befolkning"].sum()


def test_refresh_merges_scb_before_kolada(raw_dir, tmp_path):
    raw, codes = synthetic_refresh_raw(raw_dir, tmp_path)
    municipalities = build_municipalities(raw)
    pop = build_population(municipalities, raw)
    assert pop["year"].min() == 1950 and pop["year"].max() == 2023
    assert len(pop) == 290 * (71 + 3)
    base = pop[pop["year"] <= 2020]
    assert base.loc[base["year"] == 2020, "population"].sum() == 10_379_295  # 2020 from the mirror, not Kolada
    by = pop.set_index(["kommunkod", "year"])["population"]
    assert by[("0114", 2021)] == 10_000 + 114  # SCB
    assert by[("0114", 2022)] == 10_000 + 114 + 1  # SCB preferred over Kolada
    assert by[("0114", 2023)] == 20_000 + 114 + 2023  # only Kolada has 2023
    assert "0000" not in set(pop["kommunkod"])
    assert pop["kommunkod"].str.fullmatch(r"\d{4}").all()


def test_refreshed_build_is_byte_identical(raw_dir, tmp_path):
    raw, _ = synthetic_refresh_raw(raw_dir, tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    build.build(["reference"], raw_dir=raw, out_dir=a)
    build.build(["reference"], raw_dir=raw, out_dir=b)
    assert (a / "population.parquet").read_bytes() == (b / "population.parquet").read_bytes()


def test_partial_refreshed_year_stops_the_build(raw_dir, tmp_path):
    raw, codes = synthetic_refresh_raw(raw_dir, tmp_path)
    path = raw / refresh.SCB_POPULATION_ID / refresh.SCB_POPULATION_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["dimension"]["Region"]["category"] = {"index": {c: i for i, c in enumerate(codes[1:])}}
    doc["size"][0] = len(codes) - 1
    doc["value"] = doc["value"][2:]
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(UserError, match=f"year 2021 lacks kommunkod {codes[0]}"):
        build_population(build_municipalities(raw), raw)


def test_refreshed_files_appear_in_report_provenance(tmp_path, monkeypatch):
    """A report made after a refresh lists the refreshed raw files with their current hashes."""
    import datetime as dt
    import hashlib

    from analysis import provenance, refresh

    monkeypatch.setenv("KOMMUN_IT_HOME", str(tmp_path))
    raw = tmp_path / "data" / "raw"
    payload = b'{"synthetic": "refresh"}'
    record = {"id": "synthetic-refresh", "title": "synthetic", "publisher": "test", "licence": "CC0",
              "attribution": "test", "url": "http://127.0.0.1/"}
    refresh.write_source(raw, record, {"data.json": payload}, dt.date(2026, 1, 1))
    hashes = {h["file"]: h["sha256"] for h in provenance.raw_data_hashes()}
    assert hashes["synthetic-refresh/data.json"] == hashlib.sha256(payload).hexdigest()
