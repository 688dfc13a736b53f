"""Report helpers: escaping, tables and figures with CSVs beside them, computed findings, parameter checks.

Lens tables (it_spend, ledger, memberships, comparison) are synthetic here, generated with a seeded
generator and named synthetic_*, so the helpers are tested whether or not those stages are built.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis import report
from analysis.errors import UserError
from analysis.io import write_parquet
from analysis.ledgers.aggregate import write_ledger


def synthetic_it_spend(municipalities: pd.DataFrame, population: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """Synthetic procurement-lens rows for 2021: 200 municipalities with a value, 30 that advertised IT contracts
    without a value, 60 that advertised none; framework ceilings for 50 of those with a value."""
    rng = np.random.default_rng(seed)
    pop = population[population["year"] == 2021].set_index("kommunkod")["population"]
    codes = municipalities["kommunkod"].sample(frac=1, random_state=seed).tolist()
    states = ["reported"] * 200 + ["not_reported"] * 30 + ["none"] * 60
    values = rng.lognormal(15, 1.2, len(codes)).round(0)
    counts = rng.integers(1, 20, len(codes)).astype(float)
    rows = []
    for i, (code, state, value, count) in enumerate(zip(codes, states, values, counts)):
        fw_state = "reported" if i < 50 else "none"
        measures = (
            ("it_contract_value_sek", {"reported": value, "not_reported": None, "none": 0.0}[state], state, "SEK"),
            ("it_framework_ceiling_sek", 10 * value if fw_state == "reported" else 0.0, fw_state, "SEK"),
            ("it_contracts_count", 0.0 if state == "none" else count, "none" if state == "none" else "reported", "count"),
            ("it_frameworks_count", 1.0 if fw_state == "reported" else 0.0, fw_state, "count"),
            ("it_unvalued_count", count if state == "not_reported" else 0.0,
             "reported" if state == "not_reported" else "none", "count"),
        )
        for measure, v, st, unit in measures:
            rows.append({"kommunkod": code, "year": 2021, "period": "2021", "months_covered": 12,
                         "lens": "procurement", "method": "cpv", "measure": measure, "category": "all",
                         "value": None if v is None else float(v), "value_state": st, "unit": unit,
                         "per_inhabitant": None if v is None or unit != "SEK" else float(v) / pop[code],
                         "population": int(pop[code]), "population_year": 2021, "coverage_note": "synthetic",
                         "source_ids": "uhm-procurement-2021"})
    return pd.DataFrame(rows).astype({"value": float, "per_inhabitant": float})


def synthetic_ledger(seed: int = 3) -> pd.DataFrame:
    """Synthetic postings for 1880 in 2016-03, with a credit note and a name that needs escaping."""
    rng = np.random.default_rng(seed)
    names = ["Atea Sverige AB", "<b>Bad & Co</b>", "Tieto Sverige AB"]
    amounts = (rng.integers(1_000, 5_000_000, 12) * np.array([1] * 11 + [-1])).astype("int64")
    return pd.DataFrame({
        "source_id": "orebro-ledger-2016-03", "source_file": "synthetic.xlsx", "source_row": range(2, 14),
        "grain": "posting", "kommunkod": "1880", "year": 2016, "period": "2016-03", "date": None,
        "buyer_unit": None, "supplier_name": [names[i % 3] for i in range(12)], "supplier_orgnr": None,
        "supplier_key": [f"name:{names[i % 3]}" for i in range(12)], "account": "6540", "account_text": "IT",
        "amount_ore": amounts, "amount_sek": amounts / 100, "invoice_id": None,
    })


@pytest.fixture(scope="module")
def synthetic_home(processed_dir, raw_dir, tmp_path_factory):
    """A KOMMUN_IT_HOME with the real reference tables and synthetic lens tables."""
    home = tmp_path_factory.mktemp("synthetic_home")
    out = home / "data" / "processed"
    out.mkdir(parents=True)
    (home / "data" / "raw").symlink_to(raw_dir)
    muni = pd.read_parquet(processed_dir / "municipalities.parquet")
    pop = pd.read_parquet(processed_dir / "population.parquet")
    write_parquet(muni, out / "municipalities.parquet")
    write_parquet(pop, out / "population.parquet")
    write_parquet(synthetic_it_spend(muni, pop), out / "it_spend.parquet")
    write_ledger(synthetic_ledger(), out)
    return home


@pytest.fixture
def env(synthetic_home, tmp_path, monkeypatch):
    monkeypatch.setenv("KOMMUN_IT_HOME", str(synthetic_home))
    monkeypatch.setenv("KOMMUN_IT_REPORT_DIR", str(tmp_path / "out"))
    monkeypatch.delenv("KOMMUN_IT_PROVENANCE", raising=False)
    return tmp_path / "out"


def test_show_table_escapes_caps_and_writes_the_full_csv(env):
    df = pd.DataFrame({"name": ["<script>alert(1)</script>"] + [f"Kommun {i}" for i in range(29)], "v": range(30)})
    html = report.show_table(df, "names", max_rows=25).data
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Showing 25 of 30 rows" in html
    csv = next(env.glob("*names.csv"))
    assert f"href='{csv.name}'" in html
    assert pd.read_csv(csv)["name"].tolist() == df["name"].tolist()


def test_save_figure_writes_png_and_csv_of_the_plotted_data(env):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    data = pd.DataFrame({"x": [1, 2, 3], "y": [3.5, 1.0, 2.0]})
    ax.plot(data["x"], data["y"])
    html = report.save_figure(fig, data, "line", caption="A <line>").data
    csv = next(env.glob("*line.csv"))
    for lang in ("sv", "en"):
        png = next(env.glob(f"*line-{lang}.png"))
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(png.read_bytes()[16:20], "big")
        assert f"src='{png.name}' alt='A &lt;line&gt;' width='{width // 2}'" in html, "PNG at 2x, alt text from the caption"
    pd.testing.assert_frame_equal(pd.read_csv(csv), data)
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM for Excel"
    assert csv.name in html and "A &lt;line&gt;" in html


def test_save_figure_without_a_figure_says_so(env):
    assert "No data to plot" in report.save_figure(None, pd.DataFrame(), "empty").data


def test_header_shows_parameters_code_version_and_hashes(env, synthetic_home):
    from analysis.provenance import sha256_file

    html = report.header("Municipality profile", {"kommunkod": "0180"}).data
    assert "Municipality profile" in html and "kommunkod" in html and "<td>0180</td>" in html
    assert "<h2>Reproduce this</h2>" in html and "<h2>Gör om det här</h2>" in html
    assert re.search(r"Code version: <code>0\.1\.0", html)
    assert sha256_file(synthetic_home / "data" / "processed" / "municipalities.parquet") in html
    assert "orebro-ledger-2016-03/Orebro.2016-03.xlsx" in html


@pytest.mark.parametrize(
    "params,message",
    [
        ({"kommunkod": 180}, "kommunkod=180"),
        ({"kommunkod": "9999"}, "no municipality"),
        ({"lan_kod": "1"}, "lan_kod='1'"),
        ({"lan_kod": "99"}, "no län"),
        ({"year": "2021"}, "year='2021'"),
        ({"period": "2016-13"}, "period"),
        ({"lens": "budget"}, "lens='budget'"),
        ({"cooperation_kind": "inera"}, "cooperation_kind"),
        ({"include_frameworks": "yes"}, "include_frameworks"),
        ({"kommun": "0180"}, "unknown report parameter 'kommun'"),
    ],
)
def test_bad_parameters_give_one_line_naming_them(env, params, message):
    with pytest.raises(UserError, match=re.escape(message)) as exc:
        report.header("x", params)
    assert "\n" not in str(exc.value)


def test_procurement_per_inhabitant_covers_all_290_with_zeros(env):
    d = report.data.procurement_per_inhabitant(2021)
    assert len(d) == 290 and d["kommunkod"].is_unique
    assert (d["value_state"] == "reported").sum() == 200 and (d["value_sek"] > 0).sum() == 200
    assert (d["value_state"] == "none").sum() == 60 and (d.loc[d["value_state"] == "none", "value_sek"] == 0).all()
    assert (d["value_state"] == "not_reported").sum() == 30 and d.loc[d["value_state"] == "not_reported", "value_sek"].isna().all()
    np.testing.assert_allclose(d["per_inhabitant"], d["value_sek"] / d["population"])
    assert (d["framework_state"] == "reported").sum() == 50
    assert report.data.procurement_per_inhabitant(2019).empty


def test_national_findings_are_computed_from_the_data(env):
    d = report.data.procurement_per_inhabitant(2021)
    bands, flags = report.data.scale_bands(d), report.data.red_flags(d)
    before = report.findings.national(d, bands, flags, 2021)
    assert 3 <= len(before) <= 5
    assert "200 of 290 municipalities" in before[0] and "30 advertised IT contracts without" in before[0]
    assert "60 advertised none" in before[0]
    top = report.data.reported(d).sort_values("per_inhabitant").iloc[-1]
    assert top["name"] in before[1]
    changed = d.copy()
    first = changed.index[changed["value_state"] == "none"][0]
    changed.loc[first, ["value_sek", "value_state"]] = [1e10, "reported"]
    changed["per_inhabitant"] = changed["value_sek"] / changed["population"]
    after = report.findings.national(changed, report.data.scale_bands(changed), report.data.red_flags(changed), 2021)
    assert "201 of 290 municipalities" in after[0]
    assert changed.loc[first, "name"] in after[1]
    assert after != before


def test_key_findings_escape_names(env):
    html = report.key_findings(["<img src=x onerror=alert(1)> spent 5 SEK"]).data
    assert "<h2>Key findings</h2>" in html and "<img" not in html


def test_ledger_views_net_credit_notes_and_findings(env):
    postings = report.data.ledger_slice("1880", "2016-03")
    assert len(postings) == 12
    sup = report.data.top_suppliers(postings)
    assert sup["net_sek"].sum() == pytest.approx(postings["amount_ore"].sum() / 100)
    assert sup["credit_notes"].sum() == 1
    credit = report.data.credit_notes(postings)
    assert len(credit) == 1 and credit["amount_sek"].iloc[0] < 0
    sentences = report.findings.ledger(postings, report.data.ledger_it_by_category("1880", "2016-03"), sup,
                                       "Örebro", "2016-03")
    assert "1 postings are credit notes" in sentences[1]
    assert report.data.ledger_slice("1880", "2016-04").empty


def test_region_table_and_findings(env):
    d = report.data.procurement_per_inhabitant(2021)
    region = report.data.region_table(d, "18")
    assert set(region["kommunkod"].str[:2]) == {"18"} and len(region) == 12
    assert region["national_median"].iloc[0] == pytest.approx(report.data.national_median(d))
    sentences = report.findings.region(d, "18", 2021)
    assert "Örebro län" in sentences[0]


def test_maps_colour_every_municipality(env):
    d = report.data.procurement_per_inhabitant(2021)
    fig, plotted = report.maps.choropleth(d, "per_inhabitant", "t", "SEK", outline={"0180"}, state="value_state")
    assert len(plotted) == 290 and plotted["class"].notna().all()
    classes = plotted.groupby("value_state")["class"].agg(set)
    assert classes["not_reported"] == {"IT procurement advertised, value not reported"}
    assert classes["none"] == {"no IT procurement advertised"}
    assert not classes["reported"] & (classes["none"] | classes["not_reported"])
    fig2, plotted2 = report.maps.choropleth(d, "per_inhabitant", "t", "SEK", lan_kod="01")
    assert len(plotted2) == 26
    import matplotlib.pyplot as plt

    plt.close("all")


def test_attribution_names_sources_and_rejects_unknown(env):
    html = report.attribution(["orebro-ledger-2016-03"]).data
    assert "Källa: SCB, Kolada (RKA), Upphandlingsmyndigheten, and the municipalities named" in html
    assert "Örebro" in html
    with pytest.raises(UserError, match="nosuch"):
        report.attribution(["nosuch"])
    with pytest.raises(UserError, match="unknown"):
        report.caveats("unknown")


def test_missing_lens_tables_give_empty_tables_not_errors(tmp_path, processed_dir, monkeypatch):
    home = tmp_path / "home"
    (home / "data" / "processed").mkdir(parents=True)
    for t in ("municipalities", "population"):
        (home / "data" / "processed" / f"{t}.parquet").write_bytes((processed_dir / f"{t}.parquet").read_bytes())
    monkeypatch.setenv("KOMMUN_IT_HOME", str(home))
    assert report.data.procurement_per_inhabitant(2021).empty
    assert report.data.membership(2021, "any_it").empty
    sentences = report.findings.national(report.data.procurement_per_inhabitant(2021), pd.DataFrame(),
                                         pd.DataFrame(), 2021)
    assert sentences == ["No advertised IT procurement figures are available for 2021: the procurement lens has"
                         " no data for that year in the processed tables."]


def test_value_classes_cover_every_value_including_the_maximum():
    values = pd.Series([0.0, 0.0, 1e-5, 3.0, 50.0, 120.0, 400.0, 23925.3, np.nan])
    labels, order = report.maps.value_classes(values)
    assert labels[values.notna()].notna().all() and pd.isna(labels.iloc[-1])
    assert order[0] == "0" and (labels[values == 0] == "0").all()
    assert labels.iloc[7] == order[-1] and order[-1].endswith("23,926")


def test_variant_name_follows_the_switches():
    assert report.data.variant_name() == "main"
    assert report.data.variant_name(include_frameworks=True) == "frameworks_included"
    assert report.data.variant_name(trim_top_share=True) == "top1pct_trimmed"
    with pytest.raises(UserError, match="one switch"):
        report.data.variant_name(include_frameworks=True, exclude_hosts=True)


def synthetic_comparison(estimate: float) -> pd.DataFrame:
    """Synthetic comparison rows: the main variant and one alternative, median difference only."""
    return pd.DataFrame({
        "method": ["median_diff", "median_diff"], "variant": ["main", "frameworks_included"],
        "estimate": [estimate, estimate / 2], "ci_low": [estimate - 50, -10.0], "ci_high": [estimate + 50, 90.0],
        "p_value": [0.01, 0.3], "n_members": [40, 40], "n_nonmembers": [231, 231],
        "min_detectable_difference": [107.0, 110.0], "note": ["", ""],
    })


def test_cooperation_findings_follow_the_estimate():
    members = pd.DataFrame({"kommunkod": ["0114", "0115", "0117"], "state": ["member", "unknown", "no_membership_found"]})
    rows = synthetic_comparison(-120.0)
    text = report.findings.cooperation(rows[rows["variant"] == "main"], rows, members, "e_archive", "procurement", 2021)
    assert "1 municipalities are members" in text[0]
    assert "120 SEK per inhabitant lower" in text[1] and "statistically clear (p = 0.010)" in text[1]
    rows = synthetic_comparison(300.0)
    text = report.findings.cooperation(rows[rows["variant"] == "main"], rows, members, "e_archive", "procurement", 2021)
    assert "300 SEK per inhabitant higher" in text[1]
    too_few = rows.assign(estimate=np.nan, note="too few: 2 members")
    text = report.findings.cooperation(too_few.head(1), too_few, members, "e_archive", "procurement", 2021)
    assert "too small to compare (too few: 2 members)" in text[1]


def test_file_prefixes_stay_distinct_for_long_parameter_sets():
    a = report.display.file_prefix("Do municipalities that share IT spend less?", {"kind": "e_archive", "x": True})
    b = report.display.file_prefix("Do municipalities that share IT spend less?", {"kind": "e_services", "x": True})
    assert a != b and len(a) <= 61
    assert report.display.file_prefix("Region report", {"lan_kod": "01"}) == "region-report-01-"


def test_attribution_credits_mapping_tables(env):
    html = report.attribution(["published_it_costs"]).data
    assert "data/mappings/published_it_costs.csv" in html


def test_bars_say_not_reported_and_none_in_words_instead_of_zero_bars():
    import matplotlib.pyplot as plt
    import pandas as pd

    from analysis.report import figures

    synthetic = pd.DataFrame({"name": ["A", "B", "C"], "per_inhabitant": [120.0, None, 0.0],
                              "value_state": ["reported", "not_reported", "none"]})
    fig, plotted = figures.bar_by_name(synthetic, "name", "per_inhabitant", "SEK per inhabitant")
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    texts = [t.get_text().strip() for t in ax.texts]
    assert widths == [120.0, 0.0, 0.0]
    assert texts == ["IT procurement advertised, value not reported", "no IT procurement advertised"]
    assert plotted["value_state"].tolist() == ["reported", "not_reported", "none"]
    plt.close(fig)
