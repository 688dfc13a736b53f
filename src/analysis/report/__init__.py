"""Report content for the notebooks: header, findings, caveats, tables, figures and maps.

Notebooks call only these functions (plus the table views in `report.data`), so every number in a
report is computed here from the processed tables and every raw-data name is HTML-escaped on display.
"""

from . import data, figures, findings, maps
from . import panel
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

__all__ = [
<<<<<<< HEAD
    "answer", "attribution", "cannot_show", "ledger_deep_dives", "caveats", "data", "display", "download", "figures", "findings", "header", "key_findings", "maps",
    "notice", "output_dir", "save_figure", "show_table", "validate_params",
=======
    "answer", "attribution", "cannot_show", "caveats", "data", "display", "download", "figures", "findings", "header", "key_findings", "maps",
    "notice", "output_dir", "panel", "save_figure", "show_table", "validate_params",
>>>>>>> issue-14
]
