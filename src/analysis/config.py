"""Project paths, resolved from the repository root (overridable by environment variables).

`KOMMUN_IT_HOME` moves the whole data/reports tree (tests use it for isolation);
`KOMMUN_IT_MIRROR` points at an offline mirror of the raw files.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent.parent


def home() -> Path:
    """Root of the data/ and reports/ tree (the repository unless KOMMUN_IT_HOME is set)."""
    return Path(os.environ.get("KOMMUN_IT_HOME", PROJECT_ROOT))


def raw_dir() -> Path:
    return home() / "data" / "raw"


def processed_dir() -> Path:
    return home() / "data" / "processed"


def reports_dir() -> Path:
    return home() / "reports"


MANIFEST = PROJECT_ROOT / "data" / "sources.yml"
MAPPINGS_DIR = PROJECT_ROOT / "data" / "mappings"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


def default_mirror() -> Path | None:
    """The offline mirror: $KOMMUN_IT_MIRROR, else ../shared/data/mirror beside the project if it exists."""
    env = os.environ.get("KOMMUN_IT_MIRROR")
    if env:
        return Path(env)
    candidate = PROJECT_ROOT.parent / "shared" / "data" / "mirror"
    return candidate if candidate.is_dir() else None
