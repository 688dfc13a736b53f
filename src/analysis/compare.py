"""Cooperation stage, part 2: do municipalities that share IT have lower IT value per inhabitant?

For one lens, year, measure, cooperation kind and variant, members are compared with municipalities
where no membership was found (`compare_groups`):
- median_diff / mean_diff: members minus non-members, per inhabitant, with a seeded percentile
  bootstrap 95 % interval (scipy.stats.bootstrap) and a seeded two-sided permutation test
  (scipy.stats.permutation_test) of the same statistic;
- ols_hc3: OLS of log(1 + per-inhabitant value) on membership + log population + kommungrupp_2023,
  HC3 standard errors (statsmodels); the estimate is the membership coefficient in log points;
- min_detectable_difference: by simulation, the smallest shift of the members' values detectable with
  80 % power at the 5 % level, for the observed group sizes and the non-members' spread (`power_mdd`);
- scale_slope (kind "all"): log–log slope of per-inhabitant value on population (economies of scale).
Every row carries n per group and coverage (share of the 290 municipalities with a value); a group
with fewer than MIN_GROUP municipalities gives NaN and the note "too few". Variants (VARIANTS) are the
sensitivity analyses. Units: SEK per inhabitant for it_contract_value_sek (contracts; framework ceilings
only in the "frameworks_included" variant), procurements per 10,000 inhabitants for
it_procurements_count. Municipalities that advertised IT procurement without reporting a value have no
value (left out of the value comparison); those that advertised none have 0. `verdict` turns the
sensitivity table into one sentence's worth: robust, fragile or no evidence. See docs/comparison.md for
what the data cannot show.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from scipy import stats

from . import config
from .cooperation import KINDS
from .errors import UserError
from .io import read_parquet, validate

N_MUNICIPALITIES = 290
MIN_GROUP = 5
SEED = 20210101
N_BOOTSTRAP = 2000
N_PERMUTATIONS = 2000
N_POWER = 2000
POWER = 0.8
ALPHA = 0.05
LENSES = ("procurement", "ledger", "published")
PROCUREMENT_MEASURES = {"it_contract_value_sek": 1.0, "it_procurements_count": 10_000.0}
METHODS = ("median_diff", "mean_diff", "ols_hc3", "scale_slope")
DEFAULT_GRID = {
    "lens": "procurement",
    "year": 2021,
    "measures": tuple(PROCUREMENT_MEASURES),
}


@dataclass(frozen=True)
class Variant:
    """One sensitivity setting: how unknown membership, federations, frameworks, outliers and hosts are treated."""

    unknown_as_nonmember: bool = False
    attribute_federations: bool = True
    include_frameworks: bool = False
    trim_top_share: float | None = None
    exclude_hosts: bool = False

    @property
    def procurement_only(self) -> bool:
        return not self.attribute_federations or self.include_frameworks or self.trim_top_share is not None


VARIANTS: dict[str, Variant] = {
    "main": Variant(),
    "unknown_as_nonmember": Variant(unknown_as_nonmember=True),
    "federations_not_attributed": Variant(attribute_federations=False),
    "frameworks_included": Variant(include_frameworks=True),
    "top1pct_trimmed": Variant(trim_top_share=0.01),
    "hosts_excluded": Variant(exclude_hosts=True),
}

COMPARISON_COLUMNS = [
    "lens", "year", "cooperation_kind", "measure", "variant", "method", "estimate", "ci_low", "ci_high",
    "p_value", "n_members", "n_nonmembers", "coverage", "min_detectable_difference", "note",
]
COMPARISON_SCHEMA = pa.DataFrameSchema(
    {
        "lens": pa.Column(str, pa.Check.isin(LENSES)),
        "year": pa.Column("int64"),
        "cooperation_kind": pa.Column(str, pa.Check.isin((*KINDS, "all"))),
        "measure": pa.Column(str),
        "variant": pa.Column(str, pa.Check.isin(tuple(VARIANTS))),
        "method": pa.Column(str, pa.Check.isin(METHODS)),
        "estimate": pa.Column(float, nullable=True),
        "ci_low": pa.Column(float, nullable=True),
        "ci_high": pa.Column(float, nullable=True),
        "p_value": pa.Column(float, pa.Check.in_range(0, 1), nullable=True),
        "n_members": pa.Column("Int64", pa.Check.ge(0), nullable=True),
        "n_nonmembers": pa.Column("Int64", pa.Check.ge(0), nullable=True),
        "coverage": pa.Column(float, pa.Check.in_range(0, 1)),
        "min_detectable_difference": pa.Column(float, pa.Check.ge(0), nullable=True),
        "note": pa.Column(str),
    },
    checks=[
        pa.Check(lambda df: (df["ci_low"] <= df["ci_high"]) | df["ci_low"].isna(), error="ci_low > ci_high"),
        pa.Check(lambda df: df["estimate"].notna() | (df["note"] != ""), error="a missing estimate needs a note"),
    ],
    unique=["lens", "year", "cooperation_kind", "measure", "variant", "method"],
    strict=True,
    ordered=True,
)


def _seed(*key) -> int:
    """A stable per-comparison seed, so each result is independent of the order the grid is run in."""
    return SEED + zlib.crc32("|".join(map(str, key)).encode())


def _median_diff(x, y, axis=-1):
    return np.median(x, axis=axis) - np.median(y, axis=axis)


def _mean_diff(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


STATISTICS = {"median_diff": _median_diff, "mean_diff": _mean_diff}


def bootstrap_ci(members: np.ndarray, nonmembers: np.ndarray, statistic, *, n: int, seed: int) -> tuple[float, float]:
    """Seeded percentile bootstrap 95 % interval of statistic(members, nonmembers), resampling each group."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(
            (members, nonmembers), statistic, n_resamples=n, vectorized=True, method="percentile",
            confidence_level=0.95, rng=np.random.default_rng(seed),
        )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def permutation_p(members: np.ndarray, nonmembers: np.ndarray, statistic, *, n: int, seed: int) -> float:
    """Seeded two-sided permutation-test p-value of statistic(members, nonmembers) (labels shuffled)."""
    res = stats.permutation_test(
        (members, nonmembers), statistic, permutation_type="independent", vectorized=True,
        n_resamples=n, alternative="two-sided", rng=np.random.default_rng(seed),
    )
    return float(res.pvalue)


def power_mdd(
    nonmembers: np.ndarray, n_members: int, statistic, *, n: int = N_POWER, seed: int = SEED,
    power: float = POWER, alpha: float = ALPHA,
) -> float:
    """Smallest shift d ≥ 0 of the members' values that a two-sided test at `alpha` detects with `power`.

    Simulation: draw n pseudo-member and pseudo-non-member groups of the observed sizes from the
    non-members' values (with replacement), so both share the observed spread; the statistic T0 under
    no effect gives the critical value c (the 1 − alpha quantile of |T0|). Shifting every member value
    by −d shifts a difference of medians or means by exactly −d, so power(d) = P(|T0 − d| > c) is read
    off the same draws; d is the first point of a 2,001-point grid reaching the power. The shift is applied downwards (members spending less),
    the direction the question asks about.
    """
    rng = np.random.default_rng(seed)
    m = rng.choice(nonmembers, size=(n, n_members), replace=True)
    y = rng.choice(nonmembers, size=(n, len(nonmembers)), replace=True)
    t0 = statistic(m, y, axis=-1)
    crit = np.quantile(np.abs(t0), 1 - alpha)
    upper = crit + float(np.max(np.abs(t0))) + 1e-12
    grid = np.linspace(0.0, upper, 2001)
    t0 = np.sort(t0)
    below = np.searchsorted(t0, grid - crit, side="left")
    above = len(t0) - np.searchsorted(t0, grid + crit, side="right")
    achieved = (below + above) / len(t0)
    reached = np.flatnonzero(achieved >= power)
    return float(grid[reached[0]]) if len(reached) else float("nan")


def ols_membership(df: pd.DataFrame) -> dict[str, float]:
    """OLS of log(1 + value) on is_member + log(population) + kommungrupp_2023 with HC3 errors."""
    import statsmodels.api as sm

    groups = pd.get_dummies(df["kommungrupp_2023"].astype(str), prefix="kg", drop_first=True, dtype=float)
    groups = groups.loc[:, groups.sum() > 0]
    x = pd.concat(
        [df["is_member"].astype(float).rename("member"), np.log(df["population"].astype(float)).rename("log_population"), groups],
        axis=1,
    )
    x = sm.add_constant(x, has_constant="add")
    y = np.log1p(df["value"].astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = sm.OLS(y.to_numpy(), x.to_numpy()).fit(cov_type="HC3")
    i = list(x.columns).index("member")
    low, high = fit.conf_int(alpha=ALPHA)[i]
    se = float(fit.bse[i])
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    return {
        "estimate": float(fit.params[i]), "ci_low": float(low), "ci_high": float(high),
        "p_value": float(fit.pvalues[i]), "mdd": float(z * se),
    }


def _row(**kw) -> dict:
    base = {c: np.nan for c in COMPARISON_COLUMNS}
    base.update(note="")
    base.update(kw)
    return base


def compare_groups(
    df: pd.DataFrame,
    *,
    seed: int = SEED,
    n_bootstrap: int = N_BOOTSTRAP,
    n_permutations: int = N_PERMUTATIONS,
    n_power: int = N_POWER,
) -> list[dict]:
    """Rows for median_diff, mean_diff and ols_hc3 from df[value, is_member, population, kommungrupp_2023].

    df holds only municipalities that enter the comparison (members and non-members with a value).
    Keys (lens, year, …) and coverage are added by the caller.
    """
    members = df.loc[df["is_member"], "value"].to_numpy(dtype=float)
    nonmembers = df.loc[~df["is_member"], "value"].to_numpy(dtype=float)
    n = {"n_members": len(members), "n_nonmembers": len(nonmembers)}
    if min(len(members), len(nonmembers)) < MIN_GROUP:
        note = f"too few: {len(members)} members and {len(nonmembers)} non-members with data (need {MIN_GROUP} each)"
        return [_row(method=m, note=note, **n) for m in ("median_diff", "mean_diff", "ols_hc3")]
    rows = []
    for k, (method, statistic) in enumerate(STATISTICS.items()):
        low, high = bootstrap_ci(members, nonmembers, statistic, n=n_bootstrap, seed=seed + 10 * k)
        rows.append(
            _row(
                method=method,
                estimate=float(statistic(members, nonmembers)),
                ci_low=low,
                ci_high=high,
                p_value=permutation_p(members, nonmembers, statistic, n=n_permutations, seed=seed + 10 * k + 1),
                min_detectable_difference=power_mdd(nonmembers, len(members), statistic, n=n_power, seed=seed + 10 * k + 2),
                **n,
            )
        )
    if (df["value"] < 0).any():
        rows.append(_row(method="ols_hc3", note="not estimated: log(1 + value) needs values ≥ 0", **n))
        return rows
    ols = ols_membership(df)
    finite = np.isfinite([ols["estimate"], ols["ci_low"], ols["ci_high"], ols["p_value"]]).all()
    rows.append(
        _row(
            method="ols_hc3",
            **({k: ols[k] for k in ("estimate", "ci_low", "ci_high", "p_value")} if finite else {}),
            min_detectable_difference=ols["mdd"] if finite else np.nan,
            note="log points of 1 + value; min_detectable_difference analytic (2.80 × HC3 SE)"
            if finite
            else "not estimable: HC3 errors undefined (a kommungrupp with a single municipality)",
            **n,
        )
    )
    return rows


def scale_slope(df: pd.DataFrame) -> dict:
    """Log–log slope of per-inhabitant value on population (HC3 95 % interval) over municipalities with a value > 0."""
    import statsmodels.api as sm

    pos = df[df["value"] > 0]
    zeros = len(df) - len(pos)
    if len(pos) < MIN_GROUP:
        return _row(method="scale_slope", n_members=len(pos), note=f"too few: fewer than {MIN_GROUP} positive values")
    x = sm.add_constant(np.log(pos["population"].to_numpy(dtype=float)))
    fit = sm.OLS(np.log(pos["value"].to_numpy(dtype=float)), x).fit(cov_type="HC3")
    low, high = fit.conf_int(alpha=ALPHA)[1]
    return _row(
        method="scale_slope",
        estimate=float(fit.params[1]),
        ci_low=float(low),
        ci_high=float(high),
        p_value=float(fit.pvalues[1]),
        n_members=len(pos),
        note=f"n_members holds n (all municipalities with a value > 0); {zeros} with value 0 left out;"
        " a negative slope means lower value per inhabitant in larger municipalities",
    )


# ---------------------------------------------------------------- per-municipality values


def _population(population: pd.DataFrame, year: int) -> tuple[pd.Series, int]:
    """Population per kommunkod on 31 December of `year`, or of the latest earlier year in the data."""
    years = population.loc[population["year"] <= year, "year"]
    if years.empty:
        raise UserError(f"year={year}: no population figures for that year or earlier")
    used = int(years.max())
    return population[population["year"] == used].set_index("kommunkod")["population"], used


def procurement_values(
    totals: pd.DataFrame, municipalities: pd.DataFrame, population: pd.DataFrame, *, measure: str, year: int
) -> pd.DataFrame:
    """Per-municipality values from `procurement.municipal_totals` output: all 290 rows.

    has_data: the municipality appears as a buyer in the year's tables and, for the value measure, its
    value is known (value_state "reported", or "none" = 0); "not_reported" has no value.
    Columns: kommunkod, value (per inhabitant, or per 10,000 inhabitants for counts), population,
    kommungrupp_2023, has_data, value_state.
    """
    if measure not in PROCUREMENT_MEASURES:
        raise UserError(f"measure={measure!r} is not a procurement measure ({', '.join(PROCUREMENT_MEASURES)})")
    pop, _ = _population(population, year)
    df = municipalities[["kommunkod", "kommungrupp_2023"]].merge(
        totals[["kommunkod", measure, "value_state", "has_buyer_record"]], on="kommunkod", how="left", validate="one_to_one"
    )
    if df["value_state"].isna().any():
        raise UserError(f"municipal_totals lacks kommunkod {df.loc[df['value_state'].isna(), 'kommunkod'].iloc[0]}")
    df["population"] = df["kommunkod"].map(pop)
    raw = df[measure].astype(float).where(df["value_state"] != "none", 0.0)
    df["value"] = raw / df["population"].astype(float) * PROCUREMENT_MEASURES[measure]
    df["has_data"] = df["has_buyer_record"].astype(bool) & df["value"].notna()
    return df[["kommunkod", "value", "population", "kommungrupp_2023", "has_data", "value_state"]]


def it_spend_values(
    it_spend: pd.DataFrame, municipalities: pd.DataFrame, population: pd.DataFrame, *, lens: str, measure: str, year: int
) -> pd.DataFrame:
    """Per-municipality per-inhabitant values of one lens/measure/year from the it_spend table (category all, full year)."""
    sel = it_spend[
        (it_spend["lens"] == lens) & (it_spend["measure"] == measure) & (it_spend["year"] == year)
        & (it_spend["category"] == "all") & (it_spend["period"] == str(year)) & it_spend["per_inhabitant"].notna()
    ]
    dupes = sel["kommunkod"][sel["kommunkod"].duplicated()]
    if len(dupes):
        raise UserError(f"it_spend: several {lens}/{measure} rows for kommunkod {dupes.iloc[0]} in {year} (pick one method)")
    pop, _ = _population(population, year)
    df = municipalities[["kommunkod", "kommungrupp_2023"]].merge(
        sel[["kommunkod", "per_inhabitant"]], on="kommunkod", how="left", validate="one_to_one"
    )
    df["population"] = df["kommunkod"].map(pop)
    df["value"] = df["per_inhabitant"].astype(float)
    df["has_data"] = df["value"].notna()
    return df[["kommunkod", "value", "population", "kommungrupp_2023", "has_data"]]


def with_membership(values: pd.DataFrame, membership: pd.DataFrame, *, kind: str, year: int, variant: Variant) -> pd.DataFrame:
    """Values joined to one kind's membership in `year`, filtered and labelled as the variant says.

    Adds state, is_host and is_member; keeps only municipalities with data that enter the comparison.
    """
    if kind not in KINDS:
        raise UserError(f"cooperation kind {kind!r} is not one of {', '.join(KINDS)}")
    mem = membership[(membership["cooperation_kind"] == kind) & (membership["year"] == year)]
    if mem.empty:
        raise UserError(f"year={year}: no cooperation membership for that year (built years: {sorted(set(membership['year']))})")
    df = values.merge(mem[["kommunkod", "state", "is_host"]], on="kommunkod", how="left", validate="one_to_one")
    df = df[df["has_data"]]
    if not variant.unknown_as_nonmember:
        df = df[df["state"] != "unknown"]
    if variant.exclude_hosts:
        df = df[~df["is_host"]]
    return df.assign(is_member=df["state"] == "member").reset_index(drop=True)


# ---------------------------------------------------------------- the table


def comparison_rows(
    values: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    lens: str,
    year: int,
    measure: str,
    variant: str,
    kinds: tuple[str, ...] = KINDS,
    n_bootstrap: int = N_BOOTSTRAP,
    n_permutations: int = N_PERMUTATIONS,
    n_power: int = N_POWER,
    with_slope: bool = True,
) -> pd.DataFrame:
    """All result rows of one lens/year/measure/variant: one block per kind plus the scale_slope row."""
    spec = VARIANTS[variant]
    coverage = float(values["has_data"].sum()) / N_MUNICIPALITIES
    keys = {"lens": lens, "year": year, "measure": measure, "variant": variant, "coverage": coverage}
    rows = []
    for kind in kinds:
        df = with_membership(values, membership, kind=kind, year=year, variant=spec)
        for row in compare_groups(
            df, seed=_seed(lens, year, measure, variant, kind),
            n_bootstrap=n_bootstrap, n_permutations=n_permutations, n_power=n_power,
        ):
            rows.append({**row, **keys, "cooperation_kind": kind})
    if with_slope:
        rows.append({**scale_slope(values[values["has_data"]]), **keys, "cooperation_kind": "all"})
    return _table(rows)


def _table(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    for col in ("lens", "cooperation_kind", "measure", "variant", "method", "note"):
        df[col] = df[col].astype(str)
    df["year"] = df["year"].astype("int64")
    for col in ("estimate", "ci_low", "ci_high", "p_value", "coverage", "min_detectable_difference"):
        df[col] = df[col].astype(float)
    for col in ("n_members", "n_nonmembers"):
        df[col] = pd.array([None if pd.isna(v) else int(v) for v in df[col]], dtype="Int64")
    return df


def _sort(df: pd.DataFrame) -> pd.DataFrame:
    order = {
        "cooperation_kind": {k: i for i, k in enumerate((*KINDS, "all"))},
        "variant": {k: i for i, k in enumerate(VARIANTS)},
        "method": {k: i for i, k in enumerate(METHODS)},
    }
    return df.sort_values(
        ["lens", "year", "measure", "variant", "cooperation_kind", "method"],
        key=lambda s: s.map(order[s.name]) if s.name in order else s,
        ignore_index=True,
    )


def build_comparison(
    procurement_it: pd.DataFrame,
    membership: pd.DataFrame,
    municipalities: pd.DataFrame,
    population: pd.DataFrame,
    *,
    year: int = DEFAULT_GRID["year"],
    measures: tuple[str, ...] = DEFAULT_GRID["measures"],
    n_bootstrap: int = N_BOOTSTRAP,
    n_permutations: int = N_PERMUTATIONS,
    n_power: int = N_POWER,
) -> pd.DataFrame:
    """The `cooperation_comparison` table: procurement lens, every kind × measure × variant (VARIANTS)."""
    from . import procurement

    parts = []
    for name, spec in VARIANTS.items():
        totals = procurement.municipal_totals(
            procurement_it, municipalities,
            attribute_federations=spec.attribute_federations,
            include_frameworks=spec.include_frameworks,
            trim_top_share=spec.trim_top_share,
        )
        for measure in measures:
            values = procurement_values(totals, municipalities, population, measure=measure, year=year)
            parts.append(
                comparison_rows(
                    values, membership, lens="procurement", year=year, measure=measure, variant=name,
                    n_bootstrap=n_bootstrap, n_permutations=n_permutations, n_power=n_power,
                    with_slope=not spec.unknown_as_nonmember and not spec.exclude_hosts,
                )
            )
    return validate(_sort(pd.concat(parts, ignore_index=True)), COMPARISON_SCHEMA, "cooperation_comparison")


VERDICTS = ("robust", "fragile", "no_evidence")
VERDICT_SCHEMA = pa.DataFrameSchema(
    {
        "lens": pa.Column(str),
        "year": pa.Column("int64"),
        "cooperation_kind": pa.Column(str, pa.Check.isin(KINDS)),
        "measure": pa.Column(str),
        "method": pa.Column(str),
        "verdict": pa.Column(str, pa.Check.isin(VERDICTS)),
        "direction": pa.Column(str, pa.Check.isin(["higher", "lower", "none"])),
        "changed_by": pa.Column(str),
        "variants": pa.Column("int64"),
        "significant_variants": pa.Column("int64"),
        "estimate": pa.Column(float, nullable=True),
        "ci_low": pa.Column(float, nullable=True),
        "ci_high": pa.Column(float, nullable=True),
        "p_value": pa.Column(float, nullable=True),
        "n_members": pa.Column("Int64", nullable=True),
        "n_nonmembers": pa.Column("Int64", nullable=True),
        "coverage": pa.Column(float),
        "reason": pa.Column(str),
    },
    unique=["lens", "year", "cooperation_kind", "measure", "method"],
    strict=True,
    ordered=True,
)


def verdict(sensitivity_rows: pd.DataFrame, alpha: float = ALPHA) -> dict:
    """The answer in words from one comparison's sensitivity table (one row per variant, "main" among them).

    robust: every variant has an estimate of the main one's sign, significant at `alpha`;
    no_evidence: the main variant is not significant and neither is any other (or the groups are too small);
    fragile: anything else; `changed_by` names the variants whose sign or significance differs from main.
    """
    rows = sensitivity_rows.set_index("variant")
    if "main" not in rows.index:
        raise UserError("verdict: the sensitivity table has no 'main' variant")
    main = rows.loc["main"]
    keys = ("estimate", "ci_low", "ci_high", "p_value", "n_members", "n_nonmembers", "coverage")
    base = {k: main[k] for k in keys}
    if pd.isna(main["estimate"]):
        return {**base, "verdict": "no_evidence", "direction": "none", "changed_by": "", "variants": len(rows),
                "significant_variants": 0, "reason": f"main comparison not estimable: {main['note']}"}
    sig = rows["p_value"] < alpha
    sign = np.sign(rows["estimate"])
    main_sig, main_sign = bool(sig["main"]), float(sign["main"])
    direction = "none" if main_sign == 0 else ("higher" if main_sign > 0 else "lower")
    differs = [v for v in rows.index if v != "main" and (pd.isna(rows.loc[v, "estimate"]) or bool(sig[v]) != main_sig
                                                        or (main_sig and float(sign[v]) != main_sign))]
    n_sig = int(sig.sum())
    if main_sig and not differs:
        kind, reason = "robust", f"same sign and p < {alpha} in all {len(rows)} variants"
    elif n_sig == 0:
        kind, reason = "no_evidence", f"p ≥ {alpha} in all {len(rows)} variants"
    else:
        kind, reason = "fragile", f"{n_sig} of {len(rows)} variants significant; changed by: {', '.join(differs)}"
    return {**base, "verdict": kind, "direction": direction, "changed_by": ";".join(differs), "variants": len(rows),
            "significant_variants": n_sig, "reason": reason}


def verdicts(comparison: pd.DataFrame, method: str = "median_diff") -> pd.DataFrame:
    """The `cooperation_verdict` table: one verdict per lens × year × kind × measure from the comparison table."""
    sel = comparison[(comparison["method"] == method) & (comparison["cooperation_kind"] != "all")]
    rows = []
    for (lens, year, kind, measure), g in sel.groupby(["lens", "year", "cooperation_kind", "measure"], sort=True):
        rows.append({"lens": lens, "year": year, "cooperation_kind": kind, "measure": measure, "method": method,
                     **verdict(g)})
    cols = list(VERDICT_SCHEMA.columns)
    df = pd.DataFrame(rows, columns=cols).astype({"year": "int64", "variants": "int64", "significant_variants": "int64"})
    for col in ("n_members", "n_nonmembers"):
        df[col] = pd.array([None if pd.isna(v) else int(v) for v in df[col]], dtype="Int64")
    for col in ("estimate", "ci_low", "ci_high", "p_value", "coverage"):
        df[col] = df[col].astype(float)
    order = {k: i for i, k in enumerate(KINDS)}
    df = df.sort_values(["lens", "year", "measure", "cooperation_kind"], key=lambda s: s.map(order) if s.name ==
                        "cooperation_kind" else s, ignore_index=True)
    return validate(df, VERDICT_SCHEMA, "cooperation_verdict")


def cooperation_stage(raw_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    """Build stage "cooperation" (after it_spend): membership from the mappings, comparison on the procurement lens."""
    from .cooperation import build_membership

    municipalities = read_parquet(out_dir / "municipalities.parquet")
    population = read_parquet(out_dir / "population.parquet")
    membership = build_membership(municipalities, raw_dir)
    comparison = build_comparison(read_parquet(out_dir / "procurement_it.parquet"), membership, municipalities, population)
    return {"cooperation_membership": membership, "cooperation_comparison": comparison,
            "cooperation_verdict": verdicts(comparison)}


# ---------------------------------------------------------------- notebook API


def load(processed_dir: Path | None = None) -> pd.DataFrame:
    """The processed `cooperation_comparison` table (run `kommun-it build` first)."""
    return read_parquet((processed_dir or config.processed_dir()) / "cooperation_comparison.parquet")


def _check(lens: str, year: int, kind: str, measure: str, variant: str) -> Variant:
    if lens not in LENSES:
        raise UserError(f"lens={lens!r} is not one of {', '.join(LENSES)}")
    if kind not in KINDS:
        raise UserError(f"kind={kind!r} is not one of {', '.join(KINDS)}")
    if variant not in VARIANTS:
        raise UserError(f"variant={variant!r} is not one of {', '.join(VARIANTS)}")
    if not isinstance(year, int) or isinstance(year, bool):
        raise UserError(f"year={year!r} must be an integer year")
    spec = VARIANTS[variant]
    if lens != "procurement" and spec.procurement_only:
        raise UserError(f"variant={variant!r} applies to the procurement lens only")
    if lens == "procurement" and measure not in PROCUREMENT_MEASURES:
        raise UserError(f"measure={measure!r} is not a procurement measure ({', '.join(PROCUREMENT_MEASURES)})")
    return spec


def values(
    lens: str = "procurement",
    year: int = 2021,
    kind: str = "joint_it_operations",
    measure: str = "it_contract_value_sek",
    variant: str = "main",
    *,
    processed_dir: Path | None = None,
) -> pd.DataFrame:
    """Per-municipality values with membership for plots: kommunkod, value, population, kommungrupp_2023, state, is_host, is_member."""
    spec = _check(lens, year, kind, measure, variant)
    out = processed_dir or config.processed_dir()
    municipalities = read_parquet(out / "municipalities.parquet")
    population = read_parquet(out / "population.parquet")
    if lens == "procurement":
        from . import procurement

        if year != procurement.YEAR:
            raise UserError(f"year={year}: the procurement lens covers {procurement.YEAR} only")
        totals = procurement.municipal_totals(
            read_parquet(out / "procurement_it.parquet"), municipalities,
            attribute_federations=spec.attribute_federations,
            include_frameworks=spec.include_frameworks,
            trim_top_share=spec.trim_top_share,
        )
        vals = procurement_values(totals, municipalities, population, measure=measure, year=year)
    else:
        vals = it_spend_values(read_parquet(out / "it_spend.parquet"), municipalities, population, lens=lens, measure=measure, year=year)
    membership = read_parquet(out / "cooperation_membership.parquet")
    return with_membership(vals, membership, kind=kind, year=year, variant=spec).assign(coverage=vals["has_data"].mean())


def compare(
    lens: str = "procurement",
    year: int = 2021,
    kind: str = "joint_it_operations",
    measure: str = "it_contract_value_sek",
    variant: str = "main",
    *,
    processed_dir: Path | None = None,
    n_bootstrap: int = N_BOOTSTRAP,
    n_permutations: int = N_PERMUTATIONS,
    n_power: int = N_POWER,
) -> pd.DataFrame:
    """One comparison computed on demand: tidy rows (median_diff, mean_diff, ols_hc3, scale_slope), same columns as the table."""
    df = values(lens, year, kind, measure, variant, processed_dir=processed_dir)
    coverage = float(df["coverage"].iloc[0]) if len(df) else 0.0
    keys = {"lens": lens, "year": year, "measure": measure, "variant": variant, "coverage": coverage}
    rows = [
        {**row, **keys, "cooperation_kind": kind}
        for row in compare_groups(
            df, seed=_seed(lens, year, measure, variant, kind),
            n_bootstrap=n_bootstrap, n_permutations=n_permutations, n_power=n_power,
        )
    ]
    return validate(_table(rows), COMPARISON_SCHEMA, "comparison")


def sensitivity(
    lens: str = "procurement",
    year: int = 2021,
    kind: str = "joint_it_operations",
    measure: str = "it_contract_value_sek",
    method: str = "median_diff",
    processed_dir: Path | None = None,
) -> pd.DataFrame:
    """The built table's rows of one comparison across all variants (the sensitivity table), in VARIANTS order."""
    if method not in METHODS:
        raise UserError(f"method={method!r} is not one of {', '.join(METHODS)}")
    df = load(processed_dir)
    sel = df[(df["lens"] == lens) & (df["year"] == year) & (df["cooperation_kind"] == kind)
             & (df["measure"] == measure) & (df["method"] == method)]
    if sel.empty:
        raise UserError(f"no built comparison for lens={lens!r} year={year} kind={kind!r} measure={measure!r}")
    return sel.reset_index(drop=True)
