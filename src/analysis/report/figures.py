"""Charts for the reports (matplotlib). Each returns (figure, data) for save_figure; figure None when empty."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


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
    ax.set_xlabel("Population (log scale)")
    ax.set_ylabel("Advertised IT procurement, SEK per inhabitant")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig, data


def bar_by_name(data: pd.DataFrame, label: str, value: str, xlabel: str, highlight: str | None = None,
                reference: float | None = None, reference_label: str = ""):
    """Horizontal bars, one per row of data (already sorted); optional highlighted bar and reference line."""
    if data.empty:
        return None, data[[label, value]]
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.28 * len(data) + 1)))
    colors = ["#d62728" if highlight is not None and n == highlight else "#1f77b4" for n in data[label]]
    ax.barh(data[label].astype(str), data[value], color=colors)
    ax.invert_yaxis()
    if reference is not None:
        ax.axvline(reference, color="#333333", linestyle="--", linewidth=1, label=reference_label)
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    return fig, data[[label, value]].reset_index(drop=True)


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
    ax.set_yticks(list(y), table[label].astype(str))
    ax.invert_yaxis()
    ax.set_xlabel("Difference members − non-members (SEK per inhabitant), 95% interval")
    ax.grid(axis="x", alpha=0.3)
    return fig, table[[label, "estimate", "ci_low", "ci_high"]].reset_index(drop=True)
