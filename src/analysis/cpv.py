"""Which CPV codes are IT: a reviewable prefix table instead of a whole-division rule.

`data/mappings/cpv_it.csv` maps CPV prefixes (2–8 digits) to an IT category, `not_it` or `review`,
with a reason per row; the longest matching prefix wins. Division-level codes that mix IT with office
or audio-visual goods ("30000000", "32000000", …) are `review`: they are decided per procurement in
`data/mappings/cpv_review_decisions.csv` (procurement id, buyer orgnr, category, reason), else left
out of the IT lens and listed for review. A code inside a division where IT lives (CANDIDATE_DIVISIONS)
that no prefix matches is `unmapped`: listed for review, never silently counted.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from . import config
from .errors import UserError
from .io import validate

IT_CATEGORIES = (
    "hardware",
    "consumables",
    "telecom_networks",
    "software_licences",
    "it_services_operations",
    "it_consulting",
)
NOT_IT = "not_it"
REVIEW = "review"
UNMAPPED = "unmapped"
CANDIDATE_DIVISIONS = ("30", "32", "48", "50", "51", "64", "72")
MAPPING_FILE = "cpv_it.csv"
DECISIONS_FILE = "cpv_review_decisions.csv"

MAPPING_SCHEMA = pa.DataFrameSchema(
    {
        "cpv_prefix": pa.Column(str, pa.Check.str_matches(r"^\d{2,8}$"), unique=True),
        "category": pa.Column(str, pa.Check.isin([*IT_CATEGORIES, NOT_IT, REVIEW])),
        "reason": pa.Column(str, pa.Check.str_length(min_value=3)),
    },
    strict=True,
    ordered=True,
)

DECISIONS_SCHEMA = pa.DataFrameSchema(
    {
        "procurement_id": pa.Column(str),
        "buyer_orgnr": pa.Column(str, pa.Check.str_matches(r"^\d{10}$")),
        "cpv_code": pa.Column(str, pa.Check.str_matches(r"^\d{8}$")),
        "title": pa.Column(str),
        "category": pa.Column(str, pa.Check.isin([*IT_CATEGORIES, NOT_IT])),
        "reason": pa.Column(str, pa.Check.str_length(min_value=3)),
    },
    unique=["procurement_id", "buyer_orgnr"],
    strict=True,
    ordered=True,
)


def _read(path: Path, schema, what: str) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError as exc:
        raise UserError(f"{path}: {what} not found") from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"{path}: cannot read {what} as UTF-8 CSV ({exc})") from exc
    return validate(df, schema, path.name)


@lru_cache(maxsize=4)
def _mapping(path: Path) -> tuple[tuple[str, str, str], ...]:
    df = _read(path, MAPPING_SCHEMA, "CPV mapping")
    rows = sorted(zip(df["cpv_prefix"], df["category"], df["reason"]), key=lambda r: -len(r[0]))
    return tuple(rows)


def read_mapping(path: Path | None = None) -> pd.DataFrame:
    """The CPV prefix table: cpv_prefix, category, reason (longest prefix first)."""
    rows = _mapping(path or config.MAPPINGS_DIR / MAPPING_FILE)
    return pd.DataFrame(rows, columns=["cpv_prefix", "category", "reason"])


def read_decisions(path: Path | None = None) -> pd.DataFrame:
    """Per-procurement decisions for `review` codes: procurement_id, buyer_orgnr, cpv_code, title, category, reason."""
    return _read(path or config.MAPPINGS_DIR / DECISIONS_FILE, DECISIONS_SCHEMA, "CPV review decisions")


def rule(cpv_code: str, path: Path | None = None) -> tuple[str, str]:
    """(category, matched prefix) of one 8-digit code: an IT category, not_it, review or unmapped."""
    for prefix, category, _ in _mapping(path or config.MAPPINGS_DIR / MAPPING_FILE):
        if cpv_code.startswith(prefix):
            return category, prefix
    return (UNMAPPED, "") if cpv_code[:2] in CANDIDATE_DIVISIONS else (NOT_IT, "")


def category(cpv_code: str, path: Path | None = None) -> str | None:
    """IT category of an 8-digit CPV code, or None when it is not IT, needs review or is unmapped."""
    cat, _ = rule(cpv_code, path)
    return cat if cat in IT_CATEGORIES else None


def classify(codes: pd.Series, path: Path | None = None) -> pd.DataFrame:
    """cpv_rule (IT category, not_it, review, unmapped) and cpv_prefix for each code (index kept)."""
    decided = {c: rule(c, path) for c in pd.unique(codes)}
    return pd.DataFrame(
        {"cpv_rule": codes.map(lambda c: decided[c][0]), "cpv_prefix": codes.map(lambda c: decided[c][1])},
        index=codes.index,
    )
