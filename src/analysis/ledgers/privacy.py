"""Personal data protection: sole traders' personnummer become keyed pseudonyms before anything is written.

The HMAC-SHA256 key is project-level: $KOMMUN_IT_PSEUDONYM_KEY, else the git-ignored file
data/pseudonym.key (created with `secrets` on first use). Pseudonyms are therefore stable within one
installation (the same sole trader gets the same "pn:…" key in every build) but differ between
installations; all totals are identical everywhere because only the key text changes.
The pseudonym is base32 (letters and digits 2–7), so it can never look like a personnummer itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from .. import config
from ..errors import UserError
from .parse import find_personnummer

SOLE_TRADER_NAME = "Enskild näringsidkare"
KEY_ENV = "KOMMUN_IT_PSEUDONYM_KEY"


def key_path() -> Path:
    return config.home() / "data" / "pseudonym.key"


def pseudonym_key() -> bytes:
    """The installation's HMAC key: from the environment, else the key file (created on first use)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode("utf-8")
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    key = path.read_text().strip()
    if len(key) < 32:
        raise UserError(f"{path}: pseudonym key is too short (need at least 32 characters)")
    return key.encode("utf-8")


def pseudonym(personnummer: str, key: bytes | None = None) -> str:
    """'pn:' + base32 HMAC-SHA256 of the 10-digit personnummer (no separator)."""
    digits = re.sub(r"\D", "", personnummer)[-10:]
    mac = hmac.new(key or pseudonym_key(), digits.encode("ascii"), hashlib.sha256).digest()[:20]
    return "pn:" + base64.b32encode(mac).decode("ascii").lower()


def pseudonymise_series(personnummer: pd.Series, key: bytes | None = None) -> pd.Series:
    """pseudonym() over the unique values of a Series of 10-digit personnummer (NA stays NA)."""
    key = key or pseudonym_key()
    uniques = personnummer.dropna().unique()
    mapping = {u: pseudonym(u, key) for u in uniques}
    return personnummer.map(mapping).astype("str")


def scrub_text(text: str | None, key: bytes | None = None) -> str | None:
    """Replace every valid personnummer in free text (e.g. a rejected raw line) with its pseudonym."""
    if not text:
        return text
    for pnr in find_personnummer(text):
        pattern = rf"(?:(?:18|19|20)?{pnr[:6]})[-+ ]?{pnr[6:]}"
        text = re.sub(pattern, pseudonym(pnr, key), text)
    return text


def scan_for_personnummer(root: Path) -> list[str]:
    """Every valid personnummer found in the text of files under root (parquet: its string columns).

    Returns "file: column: value" findings; used by the tests on a built data/processed and reports/.
    """
    findings: list[str] = []
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for name in table.column_names:
                col = table[name]
                if not (str(col.type).startswith("string") or str(col.type).startswith("large_string")):
                    continue
                for value in set(col.to_pylist()) - {None}:
                    if find_personnummer(value):
                        findings.append(f"{path}: {name}: {value}")
        elif path.suffix in (".csv", ".html", ".md", ".json", ".txt", ".ipynb", ".svg"):
            for hit in find_personnummer(path.read_text(encoding="utf-8", errors="replace")):
                findings.append(f"{path}: {hit[:6]}…")
    return findings
