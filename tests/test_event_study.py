"""Before/after joining: planted effects in SIMULATED panels are recovered inside the interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import event_study as es

YEARS = [*range(2009, 2016), 2021]  # the offline panel's shape: a gap from 2016 to 2020


def simulated(effect: float, *, n: int = 240, n_joiners: int = 40, sd: float = 0.25, pretrend: float = 0.0,
              seed: int = 1, years=YEARS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A SIMULATED panel (measure tenders_all) with a planted effect of `effect` on log(1 + count) after joining."""
    rng = np.random.default_rng(seed)
    codes = [f"{i:04d}" for i in range(1, n + 1)]
    starts = dict(zip(codes[:n_joiners], rng.choice([2011, 2012, 2013, 2014, 2015, 2017, 2019, 2020], n_joiners)))
    level = dict(zip(codes, rng.normal(3.0, 0.8, n)))
    year_fx = dict(zip(years, rng.normal(0, 0.2, len(years))))
    rows = []
    for c in codes:
        for y in years:
            mu = level[c] + year_fx[y] + rng.normal(0, sd)
            s = starts.get(c)
            if s is not None:
                mu += effect * (y >= s) + pretrend * min(y - s, 0)
            rows.append((c, y, float(np.expm1(max(mu, 0.0)))))
    df = pd.DataFrame(rows, columns=["kommunkod", "year", "value"])
    panel = df.assign(measure=np.where(df["year"] <= 2015, "tenders_all", "procurements_all"), source_id="SIMULATED",
                      scope="s", coverage="c")
    joiners = pd.DataFrame({
        "kommunkod": list(starts), "name": "SIMULATED", "status": "joiner",
        "start_year": pd.array(list(starts.values()), dtype="Int64"), "cooperation_ids": "X", "cooperation_names": "X",
        "reason": "simulated",
    })
    return panel, joiners


@pytest.mark.parametrize("effect", [0.4, -0.3])
def test_planted_effect_is_recovered_inside_the_interval(effect):
    panel, joiners = simulated(effect)
    s, est = es.analyse(panel, joiners, "activity_all", n_sim=60)
    assert not s["too_few"] and s["n_joiners_usable"] == 40
    assert s["did_ci_low"] < effect < s["did_ci_high"]
    assert s["did_p_value"] < 0.05
    assert abs(s["did_estimate"] - effect) < 0.15
    ev = est[est["model"] == "event_study"].set_index("term")
    for lead in es.LEADS:
        assert ev.loc[lead, "ci_low"] < 0 < ev.loc[lead, "ci_high"]  # no effect before joining was planted
    assert ev.loc["0 to 2", "ci_low"] < effect < ev.loc["0 to 2", "ci_high"]
    assert s["placebo_p_value"] > 0.05
    assert "changed by" in s["verdict"]


def test_no_effect_gives_an_interval_around_zero_and_an_mde():
    panel, joiners = simulated(0.0, seed=3)
    s, _ = es.analyse(panel, joiners, "activity_all", n_sim=80)
    assert s["did_ci_low"] < 0 < s["did_ci_high"]
    assert s["mde"] is not None and 0.02 < s["mde"] < 0.5
    assert s["placebo_rejection_rate"] < 0.15  # the test's size on fake joiners is near 5 %
    assert "No detectable change" in s["verdict"] and "80 % power" in s["verdict"]


def test_mde_grows_with_noise():
    quiet, j1 = simulated(0.0, sd=0.1, seed=4)
    noisy, j2 = simulated(0.0, sd=0.6, seed=4)
    m1 = es.analyse(quiet, j1, "activity_all", n_sim=60)[0]["mde"]
    m2 = es.analyse(noisy, j2, "activity_all", n_sim=60)[0]["mde"]
    assert m2 > 2 * m1


def test_pretrend_fails_the_placebo_leads():
    panel, joiners = simulated(0.0, pretrend=0.12, sd=0.15, seed=5)
    s, _ = es.analyse(panel, joiners, "activity_all", n_sim=20)
    assert s["placebo_p_value"] < 0.05
    assert "leads are not zero" in s["verdict"]


def test_too_few_joiners_says_so_and_estimates_nothing():
    panel, joiners = simulated(0.5, n_joiners=3)
    s, est = es.analyse(panel, joiners, "activity_all", n_sim=20)
    assert s["too_few"] and est.empty and s["did_estimate"] is None
    assert s["verdict"].startswith("Too few joiners: 3")


def test_simulation_fit_equals_statsmodels():
    panel, joiners = simulated(0.2, seed=6)
    df = es.sample(es.outcome_frame(panel, ("tenders_all", "procurements_all")), joiners)
    f = es.fit_fe(df, es.did_regressor(df))
    groups, uniques = pd.factorize(df["kommunkod"])
    years = pd.get_dummies(df["year"], drop_first=True, dtype=float).to_numpy()
    b, se = es._did_numpy(df["y"].to_numpy(), es.did_regressor(df)["post"].to_numpy(), years, groups, len(uniques))
    assert b == pytest.approx(f.params["post"]) and se == pytest.approx(f.bse["post"])


def test_seeded_results_repeat_exactly():
    panel, joiners = simulated(0.1, seed=7)
    a = es.analyse(panel, joiners, "activity_all", n_sim=30)[0]
    b = es.analyse(panel, joiners, "activity_all", n_sim=30)[0]
    assert a == b


def test_treatment_joiners_ambiguous_and_unknown_starts():
    m = pd.DataFrame({"kommunkod": ["0001", "0002", "0003", "0004"], "name": list("ABCD")})
    coops = pd.DataFrame({
        "cooperation_id": ["C1", "C1", "C2", "C3", "C4"],
        "cooperation_name": ["one", "one", "two", "three", "four"],
        "kommunkod": ["0001", "0002", "0002", "0003", "0004"],
        "valid_from": pd.array([2015, 2016, None, 2012, 2010], dtype="Int64"),
    })
    kinds = pd.DataFrame({"cooperation_id": ["C1", "C2", "C3", "C4"],
                          "kind": ["joint_it_operations", "joint_it_operations", "joint_it_operations", "e_services"],
                          "valid_from_is_start": ["yes", "no", "no", "yes"]})
    t = es.treatment(m, coops, kinds).set_index("kommunkod")
    assert t.loc["0001", "status"] == "joiner" and t.loc["0001", "start_year"] == 2015
    assert t.loc["0002", "status"] == "ambiguous"  # also in C2 from an unknown year
    assert t.loc["0003", "status"] == "start_unknown"
    assert "0004" not in t.index  # e-services only: not a joiner of joint IT operations, and a control


def test_offline_panel_runs_and_says_what_it_can_show(processed_dir):
    s = pd.read_parquet(processed_dir / "before_after_summary.parquet").set_index("outcome")
    act = s.loc["activity_all"]
    assert act["years"] == "2009–2015, 2021" and act["scope"].startswith("all procurement (activity, not IT)")
    assert act["n_joiners_usable"] >= 5 and not act["too_few"]
    assert act["did_ci_low"] < act["did_estimate"] < act["did_ci_high"] and act["mde"] > 0
    assert "activity, not spend" in act["cannot_show"]
    assert s.loc["it_procurements", "too_few"]  # one year of IT data: no before/after
    assert s.loc["it_procurements", "verdict"].startswith("Too few years")
