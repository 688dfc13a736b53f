"""Before/after joining an IT cooperation: event study and difference-in-differences on the panel.

Design (docs/before-after.md):
- Joiners: municipalities listed in a cooperation of `JOIN_KINDS` whose `valid_from` is a real start year
  (`cooperation_kinds.csv` valid_from_is_start = yes); the earliest such start counts. A joiner also
  listed in another cooperation of those kinds without a real start is *ambiguous* and left out, as are
  members whose start is unknown. Controls: never-members (not listed in any cooperation of those kinds)
  and joiners before they join (not-yet-members).
- Outcome: log(1 + count) per municipality and year from `procurement_panel` (offline: tenders of all
  kinds 2009–2015 from the BDF data plus 2021's advertised procurements from Upphandlingsmyndigheten —
  activity, not IT; the year fixed effects absorb the break between the two sources).
- Models (statsmodels OLS, municipality fixed effects absorbed by the within transformation, year fixed
  effects as dummies, standard errors clustered by municipality):
  DiD  y = a_i + g_t + b·post_it;  event study  y = a_i + g_t + Σ_k b_k·1{event time in bin k}, reference
  bin −2…−1 (the panel has gaps, so bins rather than single years); the lead bins are placebo tests
  (joint Wald test that they are zero).
- Minimum detectable effect by simulation on the observed panel: fake joiners drawn from the controls
  with the real joiners' start years (seeded), the DiD re-estimated; power(δ) = share of draws where
  |b + δ| / se > 1.96 (adding δ to treated post cells shifts b by exactly δ and leaves se unchanged);
  MDE = smallest δ with power ≥ 80 %.
- "Too few": fewer than `MIN_JOINERS` joiners with observations both before and after joining.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import statsmodels.api as sm
from scipy import stats

from . import cooperation
from .errors import UserError
from .io import read_parquet, validate

JOIN_KINDS = ("joint_it_operations",)
MIN_JOINERS = 5
N_SIMULATIONS = 200
SEED = 20260301
ALPHA = 0.05
POWER = 0.80
# event-time bins (inclusive lower bound, inclusive upper bound, label); the reference bin is REFERENCE
BINS = (
    (-99, -6, "≤ −6"),
    (-5, -3, "−5 to −3"),
    (-2, -1, "−2 to −1"),
    (0, 2, "0 to 2"),
    (3, 5, "3 to 5"),
    (6, 99, "≥ 6"),
)
REFERENCE = "−2 to −1"
OUTCOMES = {
    "activity_all": (("tenders_all", "procurements_all"), "all procurement (activity, not IT)"),
    "it_procurements": (("it_procurements",), "advertised IT procurements (Upphandlingsmyndigheten)"),
    "ted_it_procurements": (("ted_it_procurements",), "IT procurement above EU thresholds (TED)"),
}

ESTIMATES_SCHEMA = pa.DataFrameSchema(
    {
        "outcome": pa.Column(str),
        "model": pa.Column(str, pa.Check.isin(["did", "event_study"])),
        "term": pa.Column(str),
        "is_lead": pa.Column(bool),
        "estimate": pa.Column(float, nullable=True),
        "std_error": pa.Column(float, nullable=True),
        "ci_low": pa.Column(float, nullable=True),
        "ci_high": pa.Column(float, nullable=True),
        "p_value": pa.Column(float, nullable=True),
        "n_obs": pa.Column("int64"),
        "n_municipalities": pa.Column("int64"),
    },
    unique=["outcome", "model", "term"],
    strict=True,
    ordered=True,
)

SUMMARY_SCHEMA = pa.DataFrameSchema(
    {
        "outcome": pa.Column(str),
        "scope": pa.Column(str),
        "years": pa.Column(str),
        "n_years": pa.Column("int64"),
        "n_obs": pa.Column("int64"),
        "n_municipalities": pa.Column("int64"),
        "n_joiners": pa.Column("int64"),
        "n_joiners_usable": pa.Column("int64"),
        "n_controls": pa.Column("int64"),
        "too_few": pa.Column(bool),
        "did_estimate": pa.Column(float, nullable=True),
        "did_ci_low": pa.Column(float, nullable=True),
        "did_ci_high": pa.Column(float, nullable=True),
        "did_p_value": pa.Column(float, nullable=True),
        "placebo_p_value": pa.Column(float, nullable=True),
        "mde": pa.Column(float, nullable=True),
        "placebo_rejection_rate": pa.Column(float, nullable=True),
        "n_simulations": pa.Column("int64"),
        "verdict": pa.Column(str),
        "cannot_show": pa.Column(str),
    },
    unique=["outcome"],
    strict=True,
    ordered=True,
)

JOINERS_SCHEMA = pa.DataFrameSchema(
    {
        "kommunkod": pa.Column(str, pa.Check.str_matches(r"^\d{4}$")),
        "name": pa.Column(str),
        "status": pa.Column(str, pa.Check.isin(["joiner", "ambiguous", "start_unknown"])),
        "start_year": pa.Column("Int64", nullable=True),
        "cooperation_ids": pa.Column(str),
        "cooperation_names": pa.Column(str),
        "reason": pa.Column(str),
    },
    unique=["kommunkod"],
    strict=True,
    ordered=True,
)


# ---------------------------------------------------------------- who joined when


def treatment(municipalities: pd.DataFrame, cooperations: pd.DataFrame, kinds: pd.DataFrame,
              join_kinds: tuple[str, ...] = JOIN_KINDS) -> pd.DataFrame:
    """One row per municipality listed in a cooperation of join_kinds: joiner / ambiguous / start_unknown."""
    k = kinds.set_index("cooperation_id")
    c = cooperations[cooperations["cooperation_id"].map(k["kind"]).isin(join_kinds)].copy()
    c["real_start"] = c["cooperation_id"].map(k["valid_from_is_start"]).eq("yes") & c["valid_from"].notna()
    names = dict(zip(municipalities["kommunkod"], municipalities["name"]))
    rows = []
    for code, g in c.groupby("kommunkod", sort=True):
        real = g[g["real_start"]]
        ids = " ".join(sorted(g["cooperation_id"]))
        coop_names = "; ".join(sorted(set(g["cooperation_name"])))
        if real.empty:
            status, start, reason = "start_unknown", None, "listed, but no cooperation gives a real start year"
        else:
            start = int(real["valid_from"].min())
            other = g[~g["real_start"]]
            earlier = other[other["valid_from"].isna() | (other["valid_from"].fillna(0) < start)]
            if len(earlier):
                status = "ambiguous"
                reason = f"also in {', '.join(sorted(earlier['cooperation_id']))} from an unknown or earlier year"
            else:
                status, reason = "joiner", "real start year"
        rows.append((code, names.get(code, ""), status, start, ids, coop_names, reason))
    out = pd.DataFrame(rows, columns=list(JOINERS_SCHEMA.columns))
    out["start_year"] = pd.array(out["start_year"], dtype="Int64")
    return validate(out, JOINERS_SCHEMA, "before_after_joiners")


def outcome_frame(panel: pd.DataFrame, measures: tuple[str, ...]) -> pd.DataFrame:
    """kommunkod, year, y = log(1 + value) for the measures (one per year), observed cells only."""
    p = panel[panel["measure"].isin(measures) & panel["value"].notna()]
    dup = p.duplicated(["kommunkod", "year"])
    if dup.any():
        raise UserError(f"procurement_panel: measures {measures} overlap in year {p.loc[dup, 'year'].iloc[0]}")
    return p.assign(y=np.log1p(p["value"]))[["kommunkod", "year", "y"]].reset_index(drop=True)


def sample(outcome: pd.DataFrame, joiners: pd.DataFrame) -> pd.DataFrame:
    """Observations of joiners and never-members; `start` is the join year (NaN for controls)."""
    listed = set(joiners["kommunkod"])
    real = joiners[joiners["status"] == "joiner"].set_index("kommunkod")["start_year"]
    keep = outcome[~outcome["kommunkod"].isin(listed) | outcome["kommunkod"].isin(real.index)].copy()
    keep["start"] = keep["kommunkod"].map(real).astype(float)
    return keep.reset_index(drop=True)


# ---------------------------------------------------------------- estimation


@dataclass
class Fit:
    params: pd.Series
    bse: pd.Series
    pvalues: pd.Series
    ci: pd.DataFrame
    n_obs: int
    n_groups: int
    wald_p: float | None = None


def _within(frame: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    return frame - frame.groupby(groups.values).transform("mean")


def fit_fe(df: pd.DataFrame, regressors: pd.DataFrame, leads: list[str] | None = None) -> Fit:
    """OLS of y on regressors with municipality (within) and year (dummies) fixed effects, clustered SEs."""
    years = pd.get_dummies(df["year"].astype(int), prefix="year", drop_first=True, dtype=float)
    X = pd.concat([regressors.reset_index(drop=True), years.reset_index(drop=True)], axis=1)
    Xd = _within(X, df["kommunkod"])
    yd = _within(df[["y"]], df["kommunkod"])["y"]
    Xd = Xd.loc[:, Xd.abs().sum() > 1e-12]
    groups = pd.factorize(df["kommunkod"])[0]
    res = sm.OLS(yd.to_numpy(), Xd, hasconst=False).fit(cov_type="cluster", cov_kwds={"groups": groups})
    terms = [c for c in regressors.columns if c in Xd.columns]
    wald = None
    if leads:
        present = [t for t in leads if t in Xd.columns]
        if present:
            R = np.zeros((len(present), Xd.shape[1]))
            for i, t in enumerate(present):
                R[i, list(Xd.columns).index(t)] = 1.0
            wald = float(np.asarray(res.wald_test(R, scalar=True).pvalue))
    ci = res.conf_int(alpha=ALPHA)
    return Fit(res.params[terms], res.bse[terms], res.pvalues[terms], ci.loc[terms], int(len(df)),
               int(df["kommunkod"].nunique()), wald)


def did_regressor(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"post": (df["start"].notna() & (df["year"] >= df["start"])).astype(float)})


def event_regressors(df: pd.DataFrame) -> pd.DataFrame:
    e = df["year"] - df["start"]
    cols = {}
    for lo, hi, label in BINS:
        if label == REFERENCE:
            continue
        cols[label] = (e.between(lo, hi) & df["start"].notna()).astype(float)
    return pd.DataFrame(cols)


LEADS = [label for lo, hi, label in BINS if hi < -2]


def usable_joiners(df: pd.DataFrame) -> int:
    j = df[df["start"].notna()]
    pre = j[j["year"] < j["start"]].groupby("kommunkod").size()
    post = j[j["year"] >= j["start"]].groupby("kommunkod").size()
    return int(len(set(pre.index) & set(post.index)))


def _did_numpy(y: np.ndarray, post: np.ndarray, years: np.ndarray, groups: np.ndarray, n_groups: int) -> tuple[float, float]:
    """Fast DiD (same model and cluster correction as `fit_fe`/statsmodels) for the simulations."""
    X = np.column_stack([post, years])
    counts = np.bincount(groups, minlength=n_groups)[:, None]

    def within(a: np.ndarray) -> np.ndarray:
        sums = np.zeros((n_groups, a.shape[1]))
        np.add.at(sums, groups, a)
        return a - (sums / counts)[groups]

    Xd = within(X)
    keep = np.abs(Xd).sum(axis=0) > 1e-12
    Xd = Xd[:, keep]
    yd = within(y[:, None])[:, 0]
    if not keep[0]:
        return float("nan"), float("nan")
    xtx_inv = np.linalg.pinv(Xd.T @ Xd)
    beta = xtx_inv @ Xd.T @ yd
    u = yd - Xd @ beta
    scores = np.zeros((n_groups, Xd.shape[1]))
    np.add.at(scores, groups, Xd * u[:, None])
    n, k = Xd.shape
    corr = n_groups / (n_groups - 1) * (n - 1) / (n - k)
    cov = corr * xtx_inv @ (scores.T @ scores) @ xtx_inv
    return float(beta[0]), float(np.sqrt(cov[0, 0]))


def mde_by_simulation(df: pd.DataFrame, n_sim: int = N_SIMULATIONS, seed: int = SEED) -> tuple[float | None, float | None]:
    """(MDE at 80 % power, rejection rate of the placebo at δ = 0) from fake joiners among the controls."""
    starts = df.loc[df["start"].notna()].drop_duplicates("kommunkod")["start"].to_numpy()
    controls = np.sort(df.loc[df["start"].isna(), "kommunkod"].unique())
    if len(starts) == 0 or len(controls) <= len(starts):
        return None, None
    base = df[df["start"].isna()].reset_index(drop=True)
    groups, uniques = pd.factorize(base["kommunkod"])
    year_dummies = pd.get_dummies(base["year"].astype(int), drop_first=True, dtype=float).to_numpy()
    y = base["y"].to_numpy(float)
    yr = base["year"].to_numpy(float)
    position = {k: i for i, k in enumerate(uniques)}
    rng = np.random.default_rng(seed)
    z = stats.norm.ppf(1 - ALPHA / 2)
    b, se = [], []
    for _ in range(n_sim):
        fake = rng.choice(controls, size=len(starts), replace=False)
        start_of = np.full(len(uniques), np.inf)
        start_of[[position[k] for k in fake]] = rng.permutation(starts)
        post = (yr >= start_of[groups]).astype(float)
        est, err = _did_numpy(y, post, year_dummies, groups, len(uniques))
        if np.isfinite(est) and err > 0:
            b.append(est)
            se.append(err)
    if not b:
        return None, None
    b, se = np.array(b), np.array(se)
    grid = np.linspace(0, 3, 601)
    power = np.array([np.mean(np.abs(b + d) / se > z) for d in grid])
    hit = np.flatnonzero(power >= POWER)
    return (float(grid[hit[0]]) if len(hit) else None), float(np.mean(np.abs(b) / se > z))


def _change(x: float, lang: str) -> str:
    """A log-point difference as a signed percentage change ('+5 %', '−23 %')."""
    from .report import i18n

    v = (np.exp(x) - 1) * 100
    return ("+" if round(v) >= 0 else "\u2212") + i18n.t("fmt.pct", lang, n=i18n.number(abs(v), lang, 0))


def verdict(s, lang: str = "en") -> str:
    """The before/after verdict in words, in `lang` (report catalogue messages `before_after.*`); `s` is a
    summary row (outcome, n_years, too_few, did_*, mde, placebo_p_value, sample counts)."""
    from .report import i18n

    t = i18n.t
    scope = i18n.value("before_after_outcome", s["outcome"], lang)
    if s["too_few"] and s["n_years"] < 3:
        return t("before_after.too_few_years", lang, scope=scope, years=s["years"])
    if s["too_few"]:
        return t("before_after.too_few_joiners", lang, n=int(s["n_joiners_usable"]), need=MIN_JOINERS)
    fields = dict(scope=scope, change=_change(s["did_estimate"], lang), low=_change(s["did_ci_low"], lang),
                  high=_change(s["did_ci_high"], lang), p=i18n.p_value(s["did_p_value"], lang))
    head = t("before_after.changed" if s["did_p_value"] < ALPHA else "before_after.no_change", lang, **fields)
    sample = t("before_after.sample", lang, joiners=int(s["n_joiners_usable"]), controls=int(s["n_controls"]),
               obs=i18n.integer(s["n_obs"], lang), years=s["years"])
    mde = (t("before_after.mde", lang, up=i18n.number((np.exp(s["mde"]) - 1) * 100, lang, 0),
             down=i18n.number((1 - np.exp(-s["mde"])) * 100, lang, 0), mde=i18n.number(s["mde"], lang, 2))
           if s["mde"] is not None and pd.notna(s["mde"]) else t("before_after.no_mde", lang))
    careful = (t("before_after.leads", lang, p=i18n.p_value(s["placebo_p_value"], lang))
               if s["placebo_p_value"] is not None and pd.notna(s["placebo_p_value"]) and s["placebo_p_value"] < ALPHA
               else "")
    return head + sample + mde + "." + careful


def analyse(panel: pd.DataFrame, joiners: pd.DataFrame, outcome: str, *, n_sim: int = N_SIMULATIONS,
            seed: int = SEED, min_joiners: int = MIN_JOINERS) -> tuple[dict, pd.DataFrame]:
    """Summary row and estimate rows for one outcome."""
    measures, scope = OUTCOMES[outcome]
    df = sample(outcome_frame(panel, measures), joiners)
    years = sorted(df["year"].unique())
    span = ", ".join(_spans(years)) if years else "none"
    usable = usable_joiners(df) if len(df) else 0
    from .report import i18n

    s = {
        "outcome": outcome, "scope": scope, "years": span, "n_obs": int(len(df)),
        "n_municipalities": int(df["kommunkod"].nunique()),
        "n_joiners": int((joiners["status"] == "joiner").sum()), "n_joiners_usable": usable,
        "n_controls": int(df.loc[df["start"].isna(), "kommunkod"].nunique()),
        "too_few": usable < min_joiners or len(years) < 3,
        "did_estimate": None, "did_ci_low": None, "did_ci_high": None, "did_p_value": None,
        "placebo_p_value": None, "mde": None, "placebo_rejection_rate": None, "n_simulations": 0,
        "cannot_show": i18n.t("before_after.cannot_show", "en"), "n_years": len(years),
    }
    rows = []
    if not s["too_few"]:
        did = fit_fe(df, did_regressor(df))
        ev = fit_fe(df, event_regressors(df), leads=LEADS)
        s.update(
            did_estimate=float(did.params["post"]), did_ci_low=float(did.ci.loc["post", 0]),
            did_ci_high=float(did.ci.loc["post", 1]), did_p_value=float(did.pvalues["post"]),
            placebo_p_value=ev.wald_p,
        )
        s["mde"], s["placebo_rejection_rate"] = mde_by_simulation(df, n_sim=n_sim, seed=seed)
        s["n_simulations"] = n_sim
        for model, f in (("did", did), ("event_study", ev)):
            for term in f.params.index:
                rows.append((outcome, model, term, term in LEADS, float(f.params[term]), float(f.bse[term]),
                             float(f.ci.loc[term, 0]), float(f.ci.loc[term, 1]), float(f.pvalues[term]), f.n_obs, f.n_groups))
            if model == "event_study":
                rows.append((outcome, model, REFERENCE, False, 0.0, 0.0, 0.0, 0.0, None, f.n_obs, f.n_groups))
    s["verdict"] = verdict(s)
    est = pd.DataFrame(rows, columns=list(ESTIMATES_SCHEMA.columns))
    return s, est


def _spans(years: list[int]) -> list[str]:
    out, start = [], None
    for i, y in enumerate(years):
        if start is None:
            start = y
        if i == len(years) - 1 or years[i + 1] != y + 1:
            out.append(str(start) if start == y else f"{start}–{y}")
            start = None
    return out


def before_after(panel: pd.DataFrame, joiners: pd.DataFrame, *, n_sim: int = N_SIMULATIONS,
                 seed: int = SEED) -> dict[str, pd.DataFrame]:
    summaries, estimates = [], []
    for outcome, (measures, _) in OUTCOMES.items():
        if not panel["measure"].isin(measures).any():
            continue
        s, est = analyse(panel, joiners, outcome, n_sim=n_sim, seed=seed)
        summaries.append(s)
        estimates.append(est)
    summary = pd.DataFrame(summaries, columns=list(SUMMARY_SCHEMA.columns))
    summary = summary.astype({c: float for c in ("did_estimate", "did_ci_low", "did_ci_high", "did_p_value",
                                                   "placebo_p_value", "mde", "placebo_rejection_rate")})
    est = pd.concat(estimates, ignore_index=True) if estimates else pd.DataFrame(columns=list(ESTIMATES_SCHEMA.columns))
    est = est.astype({"estimate": float, "std_error": float, "ci_low": float, "ci_high": float, "p_value": float,
                      "n_obs": "int64", "n_municipalities": "int64", "is_lead": bool})
    return {
        "before_after_summary": validate(summary, SUMMARY_SCHEMA, "before_after_summary"),
        "before_after_estimates": validate(est, ESTIMATES_SCHEMA, "before_after_estimates"),
        "before_after_joiners": joiners,
    }


def before_after_stage(panel: pd.DataFrame, out_dir: Path) -> dict[str, pd.DataFrame]:
    municipalities = read_parquet(out_dir / "municipalities.parquet")
    coops = cooperation.read_cooperations(municipalities)
    kinds = cooperation.read_kinds(coops, municipalities)
    return before_after(panel, treatment(municipalities, coops, kinds))
