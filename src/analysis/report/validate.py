"""Report parameters against the data now built: what is valid, and a refusal before any kernel starts.

`report.params` checks a value's form (a four-digit string, a month "YYYY-MM"); this module checks that
the processed data holds something for it, so no near-empty report is rendered or enters the index:

- 02 ledger deep dive: `kommunkod` and `period` a month the ledger lens holds for that municipality;
- 03 national picture: `year` a year of the procurement lens;
- 04 cooperation comparison: `lens` and `year` a comparison that was computed, `cooperation_kind` a kind with
  at least compare.MIN_GROUP members and non-members with data under the chosen switches, and the switches
  one precomputed variant.

`describe(stem)` lists a notebook's parameters (type, default, meaning from the parameters cell's
comments, valid values on this data) for `kommun-it params`; `check(stem, parameters)` raises one
UserError line naming the parameter and the valid values.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from .. import config
from ..errors import UserError
from . import data

LEDGER_NOTEBOOK = "02_ledger_deep_dive"
NATIONAL_PICTURE = "03_national_it_picture"
COMPARISON = "04_cooperation_comparison"
SWITCHES = ("attribute_federations", "include_frameworks", "trim_top_share", "unknown_as_nonmember", "exclude_hosts")


def _short(values, limit: int = 12) -> str:
    values = [str(v) for v in values]
    if not values:
        return "none in the data built now"
    return ", ".join(values) if len(values) <= limit else f"{', '.join(values[:limit])}, … ({len(values)} in all)"


# ---- what the data holds -----------------------------------------------------------------------------


def ledger_months() -> dict[str, list[str]]:
    """{kommunkod: sorted months} the ledger store holds postings for (the deep dive's valid periods)."""
    path = config.processed_dir() / "ledger_periods.parquet"
    if not path.exists():
        return {}
    led = pd.read_parquet(path, columns=["kommunkod", "period"]).dropna().drop_duplicates()
    return {k: sorted(g["period"]) for k, g in led.groupby("kommunkod")}


def lens_years() -> dict[str, list[int]]:
    """{lens: sorted years} of it_spend."""
    spend = data.load_optional("it_spend")
    return {lens: sorted({int(y) for y in g["year"]}) for lens, g in spend.groupby("lens")}


def comparison_years() -> dict[str, list[int]]:
    """{lens: years} the cooperation comparison was computed for."""
    comp = data.load_optional("cooperation_comparison")
    return {lens: sorted({int(y) for y in g["year"]}) for lens, g in comp.groupby("lens")}


def comparable_kinds(lens: str, year: int, variant: str = "main") -> dict[str, tuple[int, int]]:
    """{cooperation kind: (members, non-members)} with enough of both to compare, for one variant."""
    from ..compare import MIN_GROUP

    comp = data.load_optional("cooperation_comparison")
    sel = comp[(comp["lens"] == lens) & (comp["year"] == year) & (comp["variant"] == variant)
               & (comp["method"] == "median_diff") & (comp["measure"] == data.COMPARISON_MEASURE)]
    return {
        str(r.cooperation_kind): (int(r.n_members), int(r.n_nonmembers))
        for r in sel.itertuples()
        if pd.notna(r.n_members) and pd.notna(r.n_nonmembers)
        and r.n_members >= MIN_GROUP and r.n_nonmembers >= MIN_GROUP
    }


def _group_sizes(lens: str, year: int, variant: str) -> dict[str, tuple[int, int]]:
    comp = data.load_optional("cooperation_comparison")
    sel = comp[(comp["lens"] == lens) & (comp["year"] == year) & (comp["variant"] == variant)
               & (comp["method"] == "median_diff") & (comp["measure"] == data.COMPARISON_MEASURE)]
    return {str(r.cooperation_kind): (int(r.n_members) if pd.notna(r.n_members) else 0,
                                      int(r.n_nonmembers) if pd.notna(r.n_nonmembers) else 0)
            for r in sel.itertuples()}


# ---- checks ------------------------------------------------------------------------------------------


def _refuse(name: str, value, reason: str, valid: str, flag: str | None = None) -> UserError:
    shown = flag or f"--param {name}={value!r}"
    return UserError(f"{shown}: {reason} (valid: {valid})")


def check_ledger(kommunkod: str, period: str, flag: str | None = None) -> None:
    months = ledger_months()
    if kommunkod not in months:
        held = _short(f"{k}:{p}" for k in sorted(months) for p in months[k])
        raise _refuse("kommunkod", kommunkod, "the ledger lens holds no monthly postings for this municipality",
                      held, flag)
    if period not in months[kommunkod]:
        raise _refuse("period", period, f"municipality {kommunkod} published no ledger for this month",
                      _short(months[kommunkod]), flag)


def _variant(params: dict) -> str:
    return data.variant_name(**{k: params[k] for k in SWITCHES if k in params})


def check(stem: str, parameters: dict) -> None:
    """Refuse, in one line, parameters for which the built data holds nothing to report."""
    p = parameters
    if stem == LEDGER_NOTEBOOK and "kommunkod" in p and "period" in p:
        check_ledger(p["kommunkod"], p["period"])
    elif stem == NATIONAL_PICTURE and "year" in p:
        years = lens_years().get("procurement", [])
        if p["year"] not in years:
            raise _refuse("year", p["year"], "the procurement lens holds no such year", _short(years))
    elif stem == COMPARISON and {"lens", "year", "cooperation_kind"} <= set(p):
        compared = comparison_years()
        if p["lens"] not in compared:
            raise _refuse("lens", p["lens"], "no cooperation comparison is computed for this lens", _short(compared))
        if p["year"] not in compared[p["lens"]]:
            raise _refuse("year", p["year"], f"the {p['lens']} comparison holds no such year",
                          _short(compared[p["lens"]]))
        variant = _variant(p)
        kinds = comparable_kinds(p["lens"], p["year"], variant)
        if p["cooperation_kind"] not in kinds:
            members, non = _group_sizes(p["lens"], p["year"], variant).get(p["cooperation_kind"], (0, 0))
            from ..compare import MIN_GROUP

            raise _refuse("cooperation_kind", p["cooperation_kind"],
                          f"{members} members and {non} non-members with data ({p['lens']} {p['year']}, variant"
                          f" {variant}); a comparison needs {MIN_GROUP} of each", _short(sorted(kinds)))


def defaults(stem: str, notebooks_dir: Path | None = None) -> dict:
    """The notebook's parameter defaults as Python values."""
    from ..render import notebook_parameters

    declared = notebook_parameters((notebooks_dir or config.NOTEBOOKS_DIR) / f"{stem}.ipynb")
    out = {}
    for name, d in declared.items():
        try:
            out[name] = ast.literal_eval(d.get("default") or "None")
        except (ValueError, SyntaxError):
            out[name] = d.get("default")
    return out


def check_job(stem: str, parameters: dict, notebooks_dir: Path | None = None) -> None:
    """check() on the parameters a report will run with: the notebook's defaults overridden by the job's."""
    check(stem, {**defaults(stem, notebooks_dir), **parameters})


# ---- kommun-it params ----------------------------------------------------------------------------------


def valid_values(stem: str, name: str) -> str:
    """The values of one parameter valid on the data built now, as text."""
    from .params import COOPERATION_KINDS

    if name == "kommunkod" and stem == LEDGER_NOTEBOOK:
        months = ledger_months()
        return "municipalities with ledger months: " + _short(f"{k} ({data.municipality_name(k)})" for k in months)
    if name == "period" and stem == LEDGER_NOTEBOOK:
        months = ledger_months()
        return "per municipality: " + ("; ".join(f"{k}: {_short(v)}" for k, v in months.items()) or "none")
    if name == "kommunkod":
        codes = sorted(data.municipalities()["kommunkod"])
        return f"any of the {len(codes)} kommunkoder ({codes[0]} … {codes[-1]}), as a string"
    if name == "lan_kod":
        return "any of the 21 län codes: " + _short(sorted(set(data.municipalities()["lan_kod"])), 21)
    if name == "year" and stem == NATIONAL_PICTURE:
        return "procurement lens: " + _short(lens_years().get("procurement", []))
    if name == "year" and stem == COMPARISON:
        return "; ".join(f"{lens}: {_short(y)}" for lens, y in comparison_years().items()) or "none"
    if name == "lens" and stem == COMPARISON:
        years = lens_years()
        return ("compared: " + _short(comparison_years()) + "; lenses in the data (years): "
                + "; ".join(f"{lens} {_short(y, 4)}" for lens, y in years.items()))
    if name == "cooperation_kind":
        parts = []
        for lens, years in comparison_years().items():
            for year in years:
                main = comparable_kinds(lens, year)
                alt = sorted(set(comparable_kinds(lens, year, "unknown_as_nonmember")) - set(main))
                parts.append(f"{lens} {year}: {_short(sorted(main))}"
                             + (f" (with unknown_as_nonmember=True also {_short(alt)})" if alt else ""))
        left_out = sorted(set(COOPERATION_KINDS) - {k for lens, ys in comparison_years().items() for y in ys
                                                     for k in comparable_kinds(lens, y)})
        return "; ".join(parts) + (f"; too few members or non-members: {_short(left_out)}" if left_out else "")
    if name in SWITCHES:
        return "True or False; change one switch at a time from the defaults"
    return ""


def describe(stem: str, notebooks_dir: Path | None = None) -> list[dict]:
    """[{name, type, default, meaning, valid}] for one notebook, in parameters-cell order."""
    from ..render import notebook_parameters

    declared = notebook_parameters((notebooks_dir or config.NOTEBOOKS_DIR) / f"{stem}.ipynb")
    return [
        {"name": name, "type": d.get("inferred_type_name") or "", "default": d.get("default") or "",
         "meaning": (d.get("help") or "").strip(), "valid": valid_values(stem, name)}
        for name, d in declared.items()
    ]


def params_text(stems: list[str], notebooks_dir: Path | None = None) -> str:
    """`kommun-it params` output: per notebook, each parameter with type, default, meaning and valid values."""
    blocks = []
    for stem in stems:
        rows = describe(stem, notebooks_dir)
        lines = [f"{stem}" + ("" if rows else ": no parameters")]
        for r in rows:
            lines.append(f"  {r['name']}: {r['type']} = {r['default']}" + (f"  # {r['meaning']}" if r["meaning"] else ""))
            if r["valid"]:
                lines.append(f"      valid now: {r['valid']}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
