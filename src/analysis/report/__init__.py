"""Report content for the notebooks: header, findings, caveats, tables, figures and maps.

Notebooks call only these functions (plus the table views in `report.data`), so every number in a
report is computed here from the processed tables and every raw-data name is HTML-escaped on display.
"""

from . import data, figures, findings, i18n
from .caveats import caveats
from . import display
from .display import (
    answer,
    attribution,
    cannot_show,
    download,
    header,
    key_findings,
    notice,
    output_dir,
    save_figure,
    show_table,
)
from .links import ledger_deep_dives
from .params import validate_params



def __getattr__(name: str):
    """`report.maps` and `report.panel` are imported on first use: geopandas and the panel's statistics are
    only needed by reports that draw a map or a series."""
    if name in ("maps", "panel"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "answer", "attribution", "cannot_show", "caveats", "data", "display", "download", "figures", "findings", "header",
    "i18n", "key_findings", "ledger_deep_dives", "maps", "notice", "output_dir", "panel", "save_figure", "show_table",
    "validate_params",
]
