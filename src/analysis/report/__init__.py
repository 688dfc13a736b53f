"""Report content for the notebooks: header, findings, caveats, tables, figures and maps.

Notebooks call only these functions (plus the table views in `report.data`), so every number in a
report is computed here from the processed tables and every raw-data name is HTML-escaped on display.
"""

from . import data, figures, findings, maps
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
from .params import validate_params

__all__ = [
    "answer", "attribution", "cannot_show", "caveats", "data", "display", "download", "figures", "findings", "header", "key_findings", "maps",
    "notice", "output_dir", "save_figure", "show_table", "validate_params",
]
