"""Kolada v3 and SCB PxWebApi 2.0 clients against REAL recorded responses (../shared/data/recorded/)."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest
import requests

from analysis import config, refresh
from analysis.errors import UserError
from analysis.sources import kolada, scb
from loopback import Handler, serve

REAL = config.PROJECT_ROOT.parent / "shared" / "data" / "recorded"  # real responses, beside the project like the mirror


def real(name: str):
    return json.loads((REAL / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def codes(raw_dir) -> list[str]:
    return sorted(pd.read_csv(raw_dir / "kommuner-lan" / "municipality_county.csv", dtype=str)["municipality_code"])


# ---------------------------------------------------------------- Kolada


def test_real_groups_parse_with_member_id_and_member_title(codes):
    values = real("kolada_v2_municipality_groups_values.json")
    groups = refresh.parse_kolada_groups({"values": values}, "real")
    assert len(groups) == sum(len(g["members"]) for g in values)
    first = values[0]
    assert groups.iloc[0].tolist() == [first["id"], first["title"], first["members"][0]["member_id"], first["members"][0]["member_title"]]
    skr = refresh.skr_kommungrupp(groups, [g["title"] for g in values], codes, "real")
    assert skr["member_id"].nunique() == 290 and skr["group_id"].nunique() == 9


def test_real_municipality_list_has_the_290_kommuner(codes):
    values = real("kolada_v2_municipality_values.json")
    kommuner = sorted(v["id"] for v in values if v["type"] == "K")
    assert kommuner == codes
    assert all(isinstance(v["id"], str) for v in values)


class Pages(Handler):
    """Kolada v3 envelopes (built here) around the REAL group values, split in three pages."""

    values: list = []
    style = "next_url"

    def do_GET(self):  # noqa: N802
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        page = int(q.get("page", ["1"])[0])
        chunk = len(Pages.values) // 3 + 1
        part = Pages.values[(page - 1) * chunk : page * chunk]
        base = f"http://127.0.0.1:{self.server.server_address[1]}/municipality_group"
        nxt = f"{base}?page={page + 1}&per_page={chunk}" if page < 3 else None
        doc = {"values": part, "count": len(part), Pages.style: nxt,
               "previous_url" if Pages.style == "next_url" else "previous_page": None}
        out = json.dumps(doc).encode()
        self.reply(200, out)


@pytest.fixture(scope="module")
def kolada_server():
    Pages.values = real("kolada_v2_municipality_groups_values.json")
    with serve(Pages) as url:
        yield url


@pytest.mark.parametrize("style", ["next_url", "next_page"])
def test_kolada_pages_follow_next_url_and_fall_back_to_next_page(kolada_server, style):
    Pages.style = style
    values = refresh.kolada_pages(requests.Session(), f"{kolada_server}/municipality_group", "kolada-groups", {"per_page": 5000})
    assert values == Pages.values


def test_kolada_next_link_prefers_next_url():
    assert kolada.next_link({"next_url": "a", "next_page": "b"}) == "a"
    assert kolada.next_link({"next_page": "b"}) == "b"
    assert kolada.next_link({"next_url": None}) is None


def test_kolada_member_shapes():
    assert kolada.member({"member_id": "0180", "member_title": "Stockholm"}) == ("0180", "Stockholm")
    assert kolada.member({"id": "0180", "title": "Stockholm"}) == ("0180", "Stockholm")
    assert kolada.member({"code": "0180"}) is None
    with pytest.raises(UserError, match="neither"):
        refresh.parse_kolada_groups({"values": [{"id": "G1", "title": "t", "members": [{"code": "0180"}]}]}, "x")


# ---------------------------------------------------------------- SCB PxWebApi 2.0


def test_real_tab638_metadata_offers_population_and_the_municipality_list():
    years = scb.years_offered(real("scb_v2_TAB638_metadata_sv.RECONSTRUCTED.json"), "real")
    assert years[0] == 1968 and years[-1] == 2024 and len(years) == 57


def test_real_one_cell_answer_is_refused_as_not_a_total():
    """The real POST answer selects one sex, age and civil status: not the population of a municipality."""
    doc = real("scb_v2_TAB638_data_one_cell.RECONSTRUCTED.json")
    rows = scb.jsonstat2_rows(doc, "real")
    assert rows.iloc[0].to_dict() == {"Region": "00", "Civilstand": "OG", "Alder": "0", "Kon": "1",
                                      "ContentsCode": "BE0101N1", "Tid": "2024", "value": 50937}
    with pytest.raises(UserError, match="dimension 'Civilstand' is in the answer"):
        scb.parse_population(doc, "real")


def test_real_jsonstat2_is_row_major():
    doc = real("scb_v2_TAB6471_data.json")
    rows = scb.jsonstat2_rows(doc, "real")
    assert len(rows) == 21 * 11 * 3 * 1 * 4 and rows["value"].tolist() == doc["value"]
    cell = rows.set_index(["Region", "Alder", "Kon", "Tid"])["value"]
    total = cell[("01", "0-9", "TotSa", "2026M01")]
    men, women = cell[("01", "0-9", "1", "2026M01")], cell[("01", "0-9", "2", "2026M01")]
    assert total == 245284 and abs(men + women - total) < 50  # SCB adds small noise (CKM) to every cell
    assert rows["Region"].map(type).eq(str).all()


def test_v2_data_url_never_repeats_a_value_codes_key():
    url = scb.data_url([2023, 2024], "https://example.invalid/api/v2")
    query = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)
    keys = [k for k, _ in query]
    assert len(keys) == len(set(keys))
    assert dict(query)["valueCodes[Tid]"] == "2023,2024" and dict(query)["codelist[Region]"] == "vs_RegionKommun07"


def test_real_config_limits():
    cfg = real("scb_v2_config.json")
    assert cfg["maxDataCells"] == 150000 and "json-stat2" in cfg["dataFormats"]


def test_v2_population_from_a_totals_answer_in_the_real_shape():
    """The real metadata's envelope with Region × ContentsCode × Tid only (values: SCB's published totals)."""
    doc = real("scb_v2_TAB638_data_one_cell.RECONSTRUCTED.json")
    for dim in ("Civilstand", "Alder", "Kon"):
        doc["dimension"].pop(dim)
    doc["id"] = ["Region", "ContentsCode", "Tid"]
    doc["dimension"]["Region"]["category"] = {"index": {"0180": 0, "1480": 1}, "label": {"0180": "Stockholm", "1480": "Göteborg"}}
    doc["dimension"]["Tid"]["category"] = {"index": {"2022": 0, "2023": 1}, "label": {"2022": "2022", "2023": "2023"}}
    doc["size"] = [2, 1, 2]
    doc["value"] = [984748, 988943, 588841, 593245]
    pop = scb.parse_population(doc, "shape")
    assert pop.to_dict("records")[1] == {"kommunkod": "0180", "year": 2023, "population": 988943}
    assert pop["kommunkod"].tolist() == ["0180", "0180", "1480", "1480"]


class V2(Handler):
    """PxWebApi 2.0 on loopback: the REAL TAB638 metadata, and a totals answer in the real envelope."""

    data: bytes = b""
    log: list = []

    def do_GET(self):  # noqa: N802
        V2.log.append(self.path)
        path = urllib.parse.urlsplit(self.path).path
        if path.endswith("/tables/TAB638/metadata"):
            out = (REAL / "scb_v2_TAB638_metadata_sv.RECONSTRUCTED.json").read_bytes()
        elif path.endswith("/tables/TAB638/data"):
            out = V2.data
        else:
            return self.reply(404, b"")
        self.reply(200, out)


def test_refresh_population_scb_v2_end_to_end(raw_dir, tmp_path, monkeypatch):
    from analysis import refresh as rf

    doc = real("scb_v2_TAB638_data_one_cell.RECONSTRUCTED.json")
    for dim in ("Civilstand", "Alder", "Kon"):
        doc["dimension"].pop(dim)
    doc["id"], doc["size"] = ["Region", "ContentsCode", "Tid"], [2, 1, 1]
    doc["dimension"]["Region"]["category"] = {"index": {"0180": 0, "1480": 1}}
    doc["dimension"]["Tid"]["category"] = {"index": {"2024": 0}}
    doc["value"] = [995574, 600000]
    V2.data, V2.log = json.dumps(doc).encode(), []
    with serve(V2) as url:
        monkeypatch.setenv("KOMMUN_IT_SCB_V2_API", f"{url}/api/v2")
        raw = tmp_path / "raw"
        (raw / "kommuner-lan").mkdir(parents=True)
        full = pd.read_csv(raw_dir / "kommuner-lan" / "municipality_county.csv", dtype=str, keep_default_na=False)
        full[full["municipality_code"].isin(["0180", "1480"])].to_csv(raw / "kommuner-lan" / "municipality_county.csv", index=False)
        result = rf.refresh_population(source="scb-v2", from_year=2024, raw_dir=raw)
    assert "2 municipality-years (2024-2024)" in result.summary
    assert "valueCodes[Tid]=2024" in urllib.parse.unquote(V2.log[-1])
    pop = rf.refreshed_population(["0180", "1480"], raw, after_year=2020)
    assert pop.to_dict("records") == [
        {"kommunkod": "0180", "year": 2024, "population": 995574, "source_id": "scb-tab638-refresh"},
        {"kommunkod": "1480", "year": 2024, "population": 600000, "source_id": "scb-tab638-refresh"},
    ]
