"""Swedish and English: the catalogue covers what readers see, Babel formats numbers, one output carries both."""

from __future__ import annotations

import re

import nbformat
import pandas as pd
import pytest

from analysis import config
from analysis.report import display, findings, i18n
from analysis.report.caveats import CAVEATS, caveats

SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")


def test_numbers_follow_each_language():
    assert i18n.number(1234.5, "sv", 1) == "1\xa0234,5"
    assert i18n.number(1234.5, "en", 1) == "1,234.5"
    assert i18n.p_value(0.0004, "sv") == "p < 0,001" and i18n.p_value(0.0004, "en") == "p < 0.001"
    assert i18n.p_value(0.0342, "sv") == "p = 0,034"
    assert i18n.per_inh(862.4, "sv") == "862 kr per invånare"
    assert i18n.sek(1.49e9, "en") == "1.5 billion SEK" and i18n.sek(32.8e6, "sv") == "32,8 mnkr"
    assert i18n.number(float("nan"), "sv") == "–"


def test_every_message_has_both_languages_and_the_same_fields():
    for key, entry in i18n.catalogue()["messages"].items():
        assert set(entry) == {"sv", "en"}, key
        fields = {lang: set(re.findall(r"{(\w+)}", entry[lang])) for lang in ("sv", "en")}
        assert fields["sv"] == fields["en"], key
    for section in ("columns",):
        for key, entry in i18n.catalogue()[section].items():
            assert entry["sv"] and entry["en"], key
            assert not SNAKE.search(entry["sv"]) and not SNAKE.search(entry["en"]), key


def test_notebook_prose_and_caveats_have_swedish():
    """Every markdown cell of every notebook and every caveat has its Swedish in the catalogue."""
    missing = []
    for path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown" and not i18n.has_text(cell.source):
                missing.append(f"{path.name}: {cell.source[:60]!r}")
    missing += [c[:60] for c in caveats(*CAVEATS) if not i18n.has_text(c)]
    assert not missing, missing


def test_bilingual_findings_carry_both_languages():
    row = pd.Series({"measure": "it_contract_value_sek", "verdict": "robust", "direction": "lower", "estimate": -120.4,
                     "ci_low": -200.0, "ci_high": -40.0, "p_value": 0.0002, "n_members": 31, "n_nonmembers": 207,
                     "variants": 6, "changed_by": "", "reason": ""})
    sentence = findings.verdict_sentence(row, "joint_it_operations", 2021)
    assert sentence.startswith("Municipalities in joint IT operations had a lower median") and "p < 0.001" in sentence
    sv = sentence.by_lang["sv"]
    assert sv.startswith("Kommuner i gemensam IT-drift hade lägre median") and "p < 0,001" in sv and "robust" in sv


def test_one_output_splits_into_two_pages():
    out = display.key_findings(["A finding"]).data
    assert i18n.split(out, "sv").startswith("<h2>Viktigaste resultaten</h2>") and "Key findings" not in i18n.split(out, "sv")
    assert "Key findings" in i18n.split(out, "en") and "Viktigaste" not in i18n.split(out, "en")


def test_readable_tables_have_no_codes_or_booleans():
    df = pd.DataFrame({"kommunkod": ["0581"], "name": ["Norrköping"], "value_state": ["not_reported"],
                       "is_host": [True], "per_inhabitant": [1234.56], "p_value": [0.0001], "year": [2021],
                       "cooperation_kind": ["joint_it_operations"]})
    for lang in ("sv", "en"):
        shown = display.readable(df, lang)
        text = shown.to_html()
        assert not SNAKE.search(text) and "True" not in text, text
        assert list(shown.columns)[0] == i18n.column("name", lang), "key column first"
    sv = display.readable(df, "sv").iloc[0].tolist()
    assert "1\xa0235" in sv and "<\xa00,001" in sv and "2021" in sv and "ja" in sv


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_chart_text_is_localized(lang):
    from analysis.report import figures

    assert figures.localize_label("up to 1,234 (45)", "sv") == "upp till 1\xa0234 (45)"
    assert figures.localize_label("SEK per inhabitant", lang) == i18n.text("SEK per inhabitant", lang)


def test_the_most_specific_catalogue_pattern_wins():
    assert i18n.text("Advertised IT contracts per inhabitant, municipalities of the län, 2021.", "sv") == (
        "Annonserade IT-kontrakt per invånare, länets kommuner, 2021.")
    assert i18n.text("Advertised IT contracts per inhabitant, 2021", "sv") == "Annonserade IT-kontrakt per invånare, 2021"


def test_notebook_captions_titles_and_sources_have_swedish():
    """Every caption, chart title and source line a notebook passes has its Swedish (f-string fields filled in)."""
    literal = re.compile(r'(?:caption=|source=|report\.download\([^,]+, [^,]+, |report\.maps\.choropleth\([^,]+, [^,]+, )'
                         r'(f?)"([^"]+)"')
    missing = []
    for path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for is_f, text in literal.findall(cell.source) if cell.cell_type == "code" else []:
                sample = re.sub(r"{[^}]+}", "Stockholms län" if "lan_name" in text else "2021", text) if is_f else text
                if not i18n.has_text(sample):
                    missing.append(f"{path.name}: {text}")
    assert not missing, missing


def test_every_coverage_note_the_build_writes_reads_in_swedish(processed_dir):
    import pandas as pd

    from analysis.report import data

    spend = pd.read_parquet(processed_dir / "it_spend.parquet")
    for note in sorted(set(spend["coverage_note"])):
        assert i18n.data_text(note, "sv") != note, note[:80]
    swedish = i18n.in_lang(data.coverage_notes(spend), "sv")
    assert swedish.startswith("Täckning: ") and "1,000" not in swedish


def test_ledger_sources_and_shapes_have_names_for_readers():
    from analysis.ledgers import LEDGER_SOURCES, detect

    for shape in detect.SHAPES:
        assert i18n.value("shape", shape, "sv") != shape, shape
    for source_id in LEDGER_SOURCES:
        assert i18n.value("source_id", source_id, "sv") != source_id, source_id


def test_every_processed_table_has_a_name_for_readers(processed_dir):
    for path in sorted(processed_dir.glob("*.parquet")):
        assert i18n.value("table", path.stem, "sv") != path.stem, path.stem


def test_published_figures_notes_read_in_swedish():
    """The curated published figures' scope and confidence notes (data/mappings/published_it_costs.csv)
    each have a Swedish version: a new row fails here until it is translated in the catalogue."""
    import pandas as pd

    from analysis import config

    table = pd.read_csv(config.PROJECT_ROOT / "data" / "mappings" / "published_it_costs.csv", dtype=str)
    for text in sorted(set(table["scope"]) | set(table["confidence"])):
        assert i18n.data_text(text, "sv") != text, text[:80]
    row = table.iloc[0]
    note = i18n.data_text(f"As published: {row['scope']} Confidence: {row['confidence']}", "sv")
    assert note.startswith("Som kommunen eller källan publicerade uppgiften: ") and "is not visible" not in note


def test_before_after_and_red_flag_texts_read_in_swedish(processed_dir, monkeypatch):
    """Report 07's findings and caveats and report 03's red-flag notes are written in both languages (they
    were English on the Swedish pages)."""
    from analysis import config
    from analysis.report import panel

    monkeypatch.setattr(config, "processed_dir", lambda: processed_dir)
    english = re.compile(r"\b(the|and|of|with|joined|joiners|municipalities|years|before|after)\b")
    for outcome in ("activity_all", "it_procurements"):
        sv = panel.findings(outcome).by_lang["sv"] + panel.cannot_show(outcome).by_lang["sv"]
        assert sv and not [s for s in sv if len(english.findall(s)) >= 2], sv
    sv = panel.red_flag_notes().by_lang["sv"]
    assert sv[0].startswith("En röd flagga") and "3,5" in sv[0]
    verdict = panel.findings("activity_all").by_lang["sv"][0]
    assert verdict.startswith(("Ingen påvisbar förändring", "Efter anslutningen")) and "konfidensintervall" in verdict


def test_sources_titles_and_licences_read_in_swedish():
    """Report 01's table of sources names each source and its licence in Swedish on Swedish pages."""
    from analysis.report import data

    table = data.sources_table()
    for col in ("title", "licence"):
        sv = [v.by_lang["sv"] for v in table[col]]
        same = [s for s, v in zip(sv, table[col]) if s == str(v) and not s.startswith("CC0 1.0")]
        assert not same, same


def test_a_chart_title_made_from_a_caption_is_translated():
    """add_title_and_source drops the caption's full stop; the title still finds the caption's Swedish."""
    from analysis.report import figures

    caption = "Difference by years since joining, 95 % interval (clustered by municipality)."
    assert figures.localize_label(caption.rstrip("."), "sv") == i18n.text(caption, "sv").rstrip(".")
    assert figures.localize_label(caption.rstrip("."), "sv").startswith("Skillnad")
