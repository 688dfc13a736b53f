"""Charts for the reports (matplotlib). Each returns (figure, data) for save_figure; figure None when empty.

Labels are given in English; `localize` turns a drawn figure's text into Swedish (i18n catalogue) and
number axes are formatted at draw time in the current language, never in scientific notation.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, NullFormatter

from . import i18n


def plain_numbers(axis) -> None:
    """Tick labels as plain numbers with thousands separators in the current language (no 1e6)."""
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: i18n.number(x, i18n.current_lang(), 0 if abs(x) >= 10 or x == int(x) else 1)))
    axis.set_minor_formatter(NullFormatter())


def scale_curve(per_inh: pd.DataFrame, bands: pd.DataFrame, highlight: set[str] | None = None):
    """Per-inhabitant value against population (log scale), with band medians: do small municipalities pay more?"""
    pos = per_inh[per_inh["per_inhabitant"] > 0]
    data = pos[["kommunkod", "name", "population", "per_inhabitant"]].sort_values("kommunkod", ignore_index=True)
    if pos.empty:
        return None, data
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(pos["population"], pos["per_inhabitant"], s=10, alpha=0.5, color="#1f77b4",
               label="municipality with IT procurement")
    if highlight:
        h = pos[pos["kommunkod"].isin(highlight)]
        ax.scatter(h["population"], h["per_inhabitant"], s=30, color="#d62728", label="highlighted")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_numbers(ax.xaxis)
    plain_numbers(ax.yaxis)
    ax.set_xlabel("Population (log scale)")
    ax.set_ylabel("Advertised IT procurement, SEK per inhabitant")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig, data


def bar_by_name(data: pd.DataFrame, label: str, value: str, xlabel: str, highlight: str | None = None,
                reference: float | None = None, reference_label: str = ""):
    """Horizontal bars, one per row of data (already sorted); optional highlighted bar and reference line.

    With a `value_state` column, rows without a reported value get no bar but words where the bar would be
    ("IT procurement advertised, value not reported" / "no IT procurement advertised"), never a zero bar.
    """
    columns = [label, value] + (["value_state"] if "value_state" in data.columns else [])
    if data.empty:
        return None, data[columns]
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.28 * len(data) + 1)))
    colors = ["#d62728" if highlight is not None and n == highlight else "#1f77b4" for n in data[label]]
    state = data["value_state"] if "value_state" in data.columns else pd.Series("reported", index=data.index)
    shown = data[value].where(state == "reported")
    names = [i18n.value(label, v, "en") for v in data[label].astype(str)]
    ax.barh(names, shown.fillna(0), color=colors)
    words = {"not_reported": "IT procurement advertised, value not reported", "none": "no IT procurement advertised"}
    for i, st in enumerate(state):
        if st in words:
            ax.text(0, i, " " + words[st], va="center", ha="left", fontsize=8, color="#555555", style="italic")
    ax.invert_yaxis()
    if reference is not None:
        ax.axvline(reference, color="#333333", linestyle="--", linewidth=1, label=reference_label)
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    plain_numbers(ax.xaxis)
    ax.grid(axis="x", alpha=0.3)
    return fig, data[columns].reset_index(drop=True)


def estimate_interval(table: pd.DataFrame, label: str):
    """Point estimates with confidence intervals (the cooperation comparison and its sensitivity variants)."""
    table = table.dropna(subset=["estimate", "ci_low", "ci_high"])
    if table.empty:
        return None, table
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.4 * len(table) + 1)))
    y = range(len(table))
    ax.errorbar(table["estimate"], list(y), xerr=[table["estimate"] - table["ci_low"],
                                                  table["ci_high"] - table["estimate"]],
                fmt="o", color="#1f77b4", capsize=3)
    ax.axvline(0, color="#333333", linewidth=1)
    ax.set_yticks(list(y), [i18n.value(label, v, "en") for v in table[label].astype(str)])
    plain_numbers(ax.xaxis)
    ax.invert_yaxis()
    ax.set_xlabel("Difference members − non-members (SEK per inhabitant), 95% interval")
    ax.grid(axis="x", alpha=0.3)
    return fig, table[[label, "estimate", "ci_low", "ci_high"]].reset_index(drop=True)


_NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w,])|(?<![\w.,])\d+\.\d+(?![\w.])")


def localize_label(english: str, lang: str) -> str:
    """A chart text in `lang`: the catalogue's translation, else known phrases and numbers converted."""
    if lang == "en" or not english:
        return english
    if i18n.has_text(english) or i18n.text(english, lang) != english:
        return i18n.text(english, lang)
    if i18n.text(english + ".", lang) != english + ".":  # a title made from a caption, its full stop dropped
        return i18n.text(english + ".", lang).rstrip(".")
    for kind in ("value_state", "framework_state", "variant", "cooperation_kind", "lens", "category"):
        for code, entry in i18n.catalogue()["values"].get(kind, {}).items():
            if entry["en"] == english:
                return entry[lang]
    out = english
    for phrase in ("IT procurement advertised, value not reported", "no IT procurement advertised", "no value",
                   "up to", "cooperation member"):
        out = out.replace(phrase, i18n.text(phrase, lang))

    def number(m: re.Match) -> str:
        raw = m.group(0)
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        return i18n.number(float(raw.replace(",", "")), lang, decimals)

    return _NUMBER.sub(number, out)


def localize(fig, lang: str) -> None:
    """Set every text of the figure to `lang` (the English original is kept on the artist) and the tick language."""
    i18n.set_lang(lang)
    for artist in fig.findobj(Text):
        original = getattr(artist, "_kommun_it_en", None)
        if original is None:
            original = artist.get_text()
            artist._kommun_it_en = original
        artist.set_text(localize_label(original, lang))


def add_title_and_source(fig, caption: str | None, source: str | None) -> None:
    """The caption as the chart's title when it has none; the source as a line under the chart."""
    axes = fig.get_axes()
    if caption and axes and not axes[0].get_title() and not fig._suptitle:
        axes[0].set_title(caption.rstrip("."), fontsize=11, loc="left", wrap=True)
    if source and axes:
        axes[0].annotate(source, xy=(0, 0), xycoords="axes fraction", xytext=(0, -38), textcoords="offset points",
                         fontsize=7, color="#444444", ha="left", va="top")
