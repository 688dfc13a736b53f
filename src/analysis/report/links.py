"""Links between reports: a municipality profile points to the ledger deep dives of that municipality.

`kommun-it render` renders those deep dives with the profile (group 'ledger', see render.plan), so the
links resolve beside the rendered profile; run by hand, the profile names the command that renders them.
"""

from __future__ import annotations

import html
import os

from IPython.display import HTML

from .. import local_sources
from .validate import ledger_months


def ledger_deep_dives(kommunkod: str) -> HTML:
    """A list of the months the ledger lens holds for the municipality, each linked to its deep dive;
    months from an analyst-supplied ledger are marked so."""
    from ..render import ledger_report_name
    from .data import municipality_name

    months = ledger_months().get(kommunkod, [])
    if not months:
        return HTML("<p class='notice'><em>No supplier ledger with monthly postings is held for this municipality,"
                    " so there is no ledger deep dive.</em></p>")
    supplied = {p for r in local_sources.in_report({"kommunkod": kommunkod}) for p in r["periods"]}
    name = municipality_name(kommunkod)
    rendered = bool(os.environ.get("KOMMUN_IT_REPORT_DIR"))
    items = []
    for period in months:
        mark = f" ({local_sources.SUPPLIED})" if period in supplied else ""
        label = f"{name}, {period}{mark}"
        if rendered:
            href = f"../ledger/{ledger_report_name(kommunkod, name, period)}.html"
            items.append(f"<li><a href='{html.escape(href)}'>{html.escape(label)}</a></li>")
        else:
            items.append(f"<li>{html.escape(label)}: <code>kommun-it render --ledger {kommunkod}:{period}</code></li>")
    return HTML(f"<h2>Supplier ledger deep dives</h2><ul class='ledger-deep-dives'>{''.join(items)}</ul>")
