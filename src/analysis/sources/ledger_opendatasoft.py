"""Opendatasoft portals (Umeå, opendata.umea.se): whole datasets through the exports endpoint.

    GET {base}/api/explore/v2.1/catalog/datasets/{id}/exports/csv   -> ';'-separated CSV of every record

The records endpoint is capped, so only the export is used. Dataset ids come from the catalogue
(`leverantorsfakturor-2017` … `-2020`); the year is read from the id.
"""

from __future__ import annotations

from .http import join
from .ledger_common import Found, slug, years_in
from .publishers import Publisher

EXPORT_PATH = "api/explore/v2.1/catalog/datasets/{id}/exports/csv"


def files(pub: Publisher, base: str) -> list[Found]:
    """One CSV export per dataset id (no request needed to list them)."""
    out = []
    for dataset in pub.datasets:
        years, period = years_in(dataset)
        out.append(Found(
            dataset_id=dataset,
            url=join(base, EXPORT_PATH.format(id=dataset)),
            name=f"{slug(dataset)}.csv",
            title=dataset,
            years=years,
            period=period,
            format="csv",
        ))
    return out
