"""CKAN portals (Malmö's): a package's resources through the action API.

    GET {base}/api/3/action/package_show?id={name}  -> {success, result: {resources: [{id, name, url, format}]}}

Every resource of the catalogue's packages is a ledger file; its year is read from its name or URL.
"""

from __future__ import annotations

import urllib.parse

from ..errors import UserError
from .http import Client, join
from .ledger_common import Found, format_of, rehost, slug, suffix_for, years_in
from .publishers import Publisher

SHOW_PATH = "api/3/action/package_show"


def files(client: Client, pub: Publisher, base: str, rehost_to: str | None) -> list[Found]:
    out = []
    url = join(base, SHOW_PATH)
    for package in pub.datasets:
        doc = client.get_json(url, params={"id": package})
        resources = doc.get("result", {}).get("resources") if isinstance(doc, dict) and doc.get("success", True) else None
        if not isinstance(resources, list):
            raise UserError(f"{client.what}: {url}?id={package} answered without result.resources (not CKAN package_show)")
        for res in resources:
            link = res.get("url") if isinstance(res, dict) else None
            if not link:
                continue
            base_name = urllib.parse.unquote(urllib.parse.urlsplit(link).path.rsplit("/", 1)[-1])
            label = str(res.get("name") or base_name)
            suffix = suffix_for(res.get("format"), link)
            stem = slug(label[: -len(suffix)] if suffix and label.lower().endswith(suffix) else label)
            years, period = years_in(f"{label} {base_name}")
            out.append(Found(
                dataset_id=f"{package}/{res.get('id') or base_name}",
                url=rehost(link, rehost_to),
                name=f"{stem}{suffix}",
                title=label,
                years=years,
                period=period,
                format=format_of(suffix),
            ))
    return out
