"""The site around the reports (landing page, profiles, downloads), computed from the real build."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import config
from analysis.report import data, findings, landing


@pytest.fixture
def site(real_home, monkeypatch):
    monkeypatch.setenv("KOMMUN_IT_HOME", str(real_home))
    monkeypatch.delenv("KOMMUN_IT_PROVENANCE", raising=False)
    return landing.Site()


def test_the_answer_comes_from_the_verdict_table(site):
    for lang in ("sv", "en"):
        sentences = landing.answer_sentences(site, lang)
        assert 2 <= len(sentences) <= 3
        assert sentences[0] == findings.verdict_sentence(site.verdict, landing.ANSWER_KIND, site.year, lang=lang)


def test_country_table_has_every_municipality_with_value_states(site):
    table = landing.country_table(site, "en", "../")
    assert table.count("<tr data-search=") == 290
    counts = site.per_inh["value_state"].value_counts()
    assert table.count("IT procurement advertised, value not reported") == counts["not_reported"]
    assert table.count(">no IT procurement advertised<") == counts["none"]
    assert "href='../en/profile/0581-norrkoping.html'>Norrköpings kommun</a>" in table
    assert ">Göteborgs Stad</a>" in table


def test_norrkoping_profile_lists_procurements_events_and_missing_lenses(site):
    page = landing.profile(site, "0581", "sv", None)
    procurements = data.load("procurement_it")
    n = int((procurements["kommunkod"] == "0581").sum())
    assert n and page.count("<tr><td>") >= n
    assert "ej redovisat" in page, "a procurement without a value says so"
    assert "Norrköpings Tidningar (NT)" in page and "2019-08-15" in page, "context with source and date"
    assert "Inga uppgifter i: leverantörsreskontra, publicerade uppgifter." in page
    assert "<h1>Norrköpings kommun</h1>" in page and "<html lang='sv'>" in page


def test_profiles_escape_text_from_data(site, monkeypatch):
    hostile = "<script>document.title='x'</script>"
    site.by_code["events"]["0581"] = pd.DataFrame([{
        "date": "2020", "kommunkod": "0581", "place": "x", "topic": "x", "fact": hostile, "fact_sv": hostile,
        "amount_sek": "", "source": "<img src=x onerror=alert(1)>", "source_date": "2020", "confidence": "x"}])
    page = landing.profile(site, "0581", "en", None)
    assert "<script>document" not in page and "&lt;script&gt;document" in page
    assert "<img src=x" not in page


def test_downloads_open_in_excel(site, tmp_path):
    files = landing.downloads(site, tmp_path)
    stem = next(iter(files))
    plain = (tmp_path / "downloads" / f"{stem}.csv").read_bytes()
    swedish = (tmp_path / "downloads" / f"{stem}-sv.csv").read_bytes()
    assert plain.startswith(b"\xef\xbb\xbf") and swedish.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(tmp_path / "downloads" / f"{stem}.csv", dtype={"kommunkod": str})
    assert len(table) == 290 and table["kommunkod"].str.len().eq(4).all()
    sv = pd.read_csv(tmp_path / "downloads" / f"{stem}-sv.csv", sep=";", decimal=",", dtype={"kommunkod": str})
    assert sv["kr per invånare"].dropna().round(2).tolist() == table["per_inhabitant"].dropna().round(2).tolist()
    assert "Göteborgs Stad" in swedish.decode("utf-8-sig")


def test_official_names_follow_the_reviewed_exceptions(site):
    names = dict(zip(site.muni["kommunkod"], site.muni["official_name"]))
    assert names["0581"] == "Norrköpings kommun" and names["1480"] == "Göteborgs Stad"
    assert names["0880"] == "Kalmar kommun" and names["2080"] == "Falu kommun"
    exceptions = pd.read_csv(config.MAPPINGS_DIR / "municipality_names.csv", dtype=str)
    assert all(names[c] == n for c, n in zip(exceptions["kommunkod"], exceptions["official_name"]))
