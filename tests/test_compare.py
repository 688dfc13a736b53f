"""The comparison statistics on synthetic data with known truth, plus the real cooperation stage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import compare
from analysis.errors import UserError
from analysis.io import write_parquet


def synthetic_groups(seed: int, *, n_members: int = 40, n_nonmembers: int = 200, shift: float = 0.0) -> pd.DataFrame:
    """Skewed per-inhabitant values (lognormal, 20 % zeros) for both groups; members shifted by `shift`."""
    rng = np.random.default_rng(seed)
    n = n_members + n_nonmembers
    value = rng.lognormal(5.0, 0.6, n) * (rng.random(n) > 0.2)
    is_member = np.arange(n) < n_members
    value = value + np.where(is_member, shift, 0.0)
    return pd.DataFrame(
        {
            "value": value,
            "is_member": is_member,
            "population": rng.lognormal(10, 1, n).round() + 1000,
            "kommungrupp_2023": rng.choice(["A", "B", "C"], n),
        }
    )


def by_method(rows: list[dict]) -> dict[str, dict]:
    return {r["method"]: r for r in rows}


def test_planted_difference_is_recovered_inside_the_intervals():
    """Across 30 seeds the 95 % bootstrap intervals of both differences cover the planted shift ≥ 80 % of the time."""
    shift = -60.0
    covered = {"median_diff": 0, "mean_diff": 0}
    significant = 0
    for seed in range(30):
        rows = by_method(compare.compare_groups(synthetic_groups(seed, shift=shift), seed=seed, n_bootstrap=999, n_permutations=499, n_power=200))
        for m in covered:
            covered[m] += rows[m]["ci_low"] <= shift <= rows[m]["ci_high"]
        significant += rows["mean_diff"]["p_value"] < 0.05
        assert rows["mean_diff"]["n_members"] == 40 and rows["mean_diff"]["n_nonmembers"] == 200
    assert covered["mean_diff"] >= 24 and covered["median_diff"] >= 24
    assert significant >= 15  # a real effect of about half a standard deviation is usually detected


def test_ols_recovers_a_planted_log_effect():
    rng = np.random.default_rng(7)
    n, effect = 260, -0.4
    df = pd.DataFrame(
        {
            "is_member": np.arange(n) < 60,
            "population": np.exp(rng.uniform(8, 13, n)).round(),
            "kommungrupp_2023": rng.choice(["A", "B", "C", "D"], n),
        }
    )
    y = 3 + effect * df["is_member"] - 0.2 * np.log(df["population"]) + df["kommungrupp_2023"].map({"A": 0, "B": 0.3, "C": -0.2, "D": 0.1}) + rng.normal(0, 0.5, n)
    df["value"] = np.expm1(y)
    ols = compare.ols_membership(df)
    assert ols["ci_low"] <= effect <= ols["ci_high"]
    assert ols["p_value"] < 0.05


def test_no_effect_gives_roughly_uniform_p_values():
    """Under no difference the permutation p-values are about uniform: ~5 % below 0.05, KS not extreme."""
    p = {"median_diff": [], "mean_diff": []}
    for seed in range(200):
        df = synthetic_groups(1000 + seed, n_members=30, n_nonmembers=120)
        members, nonmembers = df.loc[df["is_member"], "value"].to_numpy(), df.loc[~df["is_member"], "value"].to_numpy()
        for m, statistic in compare.STATISTICS.items():
            p[m].append(compare.permutation_p(members, nonmembers, statistic, n=499, seed=seed))
    for m, values in p.items():
        values = np.array(values)
        assert 0.01 <= (values < 0.05).mean() <= 0.11, m
        assert stats.kstest(values, "uniform").pvalue > 0.001, m


def test_min_detectable_difference_has_about_the_promised_power():
    """A shift equal to the minimum detectable difference is detected in roughly 80 % of simulated samples."""
    base = synthetic_groups(3, n_members=40, n_nonmembers=200)
    nonmembers = base.loc[~base["is_member"], "value"].to_numpy()
    mdd = compare.power_mdd(nonmembers, 40, compare._mean_diff, n=2000, seed=1)
    assert 0 < mdd < 10 * nonmembers.std()
    rng = np.random.default_rng(11)
    hits = 0
    for seed in range(100):
        m = rng.choice(nonmembers, 40) - mdd
        y = rng.choice(nonmembers, 200)
        hits += compare.permutation_p(m, y, compare._mean_diff, n=299, seed=seed) < 0.05
    assert 60 <= hits <= 95
    assert compare.power_mdd(nonmembers, 120, compare._mean_diff, n=2000, seed=1) < mdd  # more members, smaller MDD


def test_tiny_groups_give_too_few_not_a_number():
    rows = compare.compare_groups(synthetic_groups(1, n_members=4, n_nonmembers=100))
    assert [r["method"] for r in rows] == ["median_diff", "mean_diff", "ols_hc3"]
    for r in rows:
        assert np.isnan(r["estimate"]) and np.isnan(r["p_value"]) and np.isnan(r["min_detectable_difference"])
        assert r["note"].startswith("too few") and r["n_members"] == 4 and r["n_nonmembers"] == 100
    assert not np.isnan(by_method(compare.compare_groups(synthetic_groups(1, n_members=5, n_nonmembers=100)))["mean_diff"]["estimate"])


def synthetic_values_and_membership(seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    codes = [f"{i:04d}" for i in range(1, 291)]
    values = pd.DataFrame(
        {
            "kommunkod": codes,
            "value": rng.lognormal(5, 1, 290),
            "population": rng.lognormal(10, 1, 290).round() + 1000,
            "kommungrupp_2023": rng.choice(["A", "B", "C"], 290),
            "has_data": rng.random(290) > 0.05,
        }
    )
    state = rng.choice(["member", "no_membership_found", "unknown"], 290, p=[0.2, 0.7, 0.1])
    rows = []
    for kind in compare.KINDS:
        rows.append(
            pd.DataFrame(
                {
                    "kommunkod": codes, "year": 2021, "cooperation_kind": kind,
                    "state": state if kind != "e_archive" else np.where(state == "member", "unknown", state),
                    "is_host": (state == "member") & (rng.random(290) < 0.1),
                }
            )
        )
    return values, pd.concat(rows, ignore_index=True)


def test_comparison_rows_schema_variants_and_determinism(tmp_path):
    values, membership = synthetic_values_and_membership()
    kw = dict(lens="procurement", year=2021, measure="it_contract_value_sek", n_bootstrap=499, n_permutations=499, n_power=499)
    main = compare.comparison_rows(values, membership, variant="main", **kw)
    again = compare.comparison_rows(values, membership, variant="main", **kw)
    a = write_parquet(compare.validate(main, compare.COMPARISON_SCHEMA, "t"), tmp_path / "a.parquet")
    b = write_parquet(again, tmp_path / "b.parquet")
    assert a.read_bytes() == b.read_bytes()
    assert list(main.columns) == compare.COMPARISON_COLUMNS
    assert main["coverage"].eq(values["has_data"].mean()).all()
    row = main[(main["cooperation_kind"] == "joint_it_operations") & (main["method"] == "median_diff")].iloc[0]
    with_data = values["has_data"]
    st = membership[membership["cooperation_kind"] == "joint_it_operations"]["state"]
    assert row["n_members"] == ((st == "member") & with_data).sum()
    assert row["n_nonmembers"] == ((st == "no_membership_found") & with_data).sum()
    assert main.loc[main["cooperation_kind"] == "e_archive", "note"].str.startswith("too few").all()
    unknown = compare.comparison_rows(values, membership, variant="unknown_as_nonmember", **kw)
    u = unknown[(unknown["cooperation_kind"] == "joint_it_operations") & (unknown["method"] == "median_diff")].iloc[0]
    assert u["n_nonmembers"] == ((st != "member") & with_data).sum()
    hosts = compare.comparison_rows(values, membership, variant="hosts_excluded", **kw)
    h = hosts[(hosts["cooperation_kind"] == "joint_it_operations") & (hosts["method"] == "median_diff")].iloc[0]
    assert h["n_members"] < row["n_members"]
    slope = main[main["method"] == "scale_slope"].iloc[0]
    assert slope["cooperation_kind"] == "all" and slope["ci_low"] <= slope["estimate"] <= slope["ci_high"]


def test_scale_slope_recovers_a_planted_elasticity():
    rng = np.random.default_rng(2)
    pop = np.exp(rng.uniform(8, 13, 290))
    df = pd.DataFrame({"population": pop, "value": np.exp(6 - 0.3 * np.log(pop) + rng.normal(0, 0.4, 290))})
    row = compare.scale_slope(df)
    assert row["ci_low"] <= -0.3 <= row["ci_high"] and row["n_members"] == 290


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lens": "budget"}, "lens='budget'"),
        ({"kind": "inera"}, "kind='inera'"),
        ({"variant": "nothing"}, "variant='nothing'"),
        ({"lens": "ledger", "variant": "frameworks_included"}, "procurement lens only"),
        ({"measure": "it_spend_sek"}, "not a procurement measure"),
        ({"year": "2021"}, "must be an integer"),
    ],
)
def test_bad_parameters_are_user_errors(kwargs, message, tmp_path):
    with pytest.raises(UserError, match=message):
        compare.compare(**kwargs, processed_dir=tmp_path)


def test_real_cooperation_stage(processed_dir, raw_dir, tmp_path):
    """The built comparison on the real 2021 procurement lens: all variants, honest n and coverage, same bytes twice."""
    table = compare.load(processed_dir)
    assert set(table["variant"]) == set(compare.VARIANTS)
    main = table[(table["variant"] == "main") & (table["measure"] == "it_contract_value_sek")]
    joint = main[(main["cooperation_kind"] == "joint_it_operations") & (main["method"] == "median_diff")].iloc[0]
    assert joint["n_members"] >= 30 and joint["n_nonmembers"] >= 150
    assert 0.8 < joint["coverage"] <= 1 and joint["min_detectable_difference"] > 0
    assert np.isfinite([joint["estimate"], joint["ci_low"], joint["ci_high"], joint["p_value"]]).all()
    assert table.loc[table["estimate"].isna(), "note"].str.len().gt(0).all()
    on_demand = compare.compare("procurement", 2021, "joint_it_operations", "it_contract_value_sek", "main", processed_dir=processed_dir)
    pd.testing.assert_frame_equal(
        on_demand.reset_index(drop=True),
        main[main["cooperation_kind"] == "joint_it_operations"].query("method != 'scale_slope'").reset_index(drop=True),
    )
    (tmp_path / "out").mkdir()
    for name in ("municipalities", "population", "procurement_it"):
        (tmp_path / "out" / f"{name}.parquet").write_bytes((processed_dir / f"{name}.parquet").read_bytes())
    rebuilt = compare.cooperation_stage(raw_dir, tmp_path / "out")
    for name, df in rebuilt.items():
        assert write_parquet(df, tmp_path / f"{name}.parquet").read_bytes() == (processed_dir / f"{name}.parquet").read_bytes()
