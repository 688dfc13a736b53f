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
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import config
from ..errors import UserError
from .parse import PNR_CANDIDATE, find_personnummer, personnummer_spans

SOLE_TRADER_NAME = "Enskild näringsidkare"
KEY_ENV = "KOMMUN_IT_PSEUDONYM_KEY"


def key_path() -> Path:
    return config.home() / "data" / "pseudonym.key"


MIN_KEY_HEX = 64  # 32 random bytes, hex-encoded


def check_key(text: str, where: str) -> bytes:
    """The key as HMAC bytes, or UserError when it is weaker than 32 random bytes (64 hex digits).

    A short or low-variety key would let anyone recompute the pseudonyms of all ~10^7 plausible
    personnummer in seconds, so it is refused rather than used.
    """
    text = text.strip()
    hex_ok = len(text) >= MIN_KEY_HEX and all(c in "0123456789abcdefABCDEF" for c in text)
    if not hex_ok or len(set(text.lower())) < 12:
        raise UserError(
            f"{where}: pseudonym key is too weak (need at least {MIN_KEY_HEX} random hex digits = 32 bytes);"
            " generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return text.encode("ascii")


def pseudonym_key() -> bytes:
    """The installation's HMAC key: from the environment, else the key file (created on first use)."""
    env = os.environ.get(KEY_ENV)
    if env is not None:
        return check_key(env, f"${KEY_ENV}")
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            fd = None  # another process created it meanwhile
        if fd is not None:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    return check_key(path.read_text(encoding="ascii", errors="replace"), str(path))


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
    """Replace every personnummer or samordningsnummer in free text (any separator) with its pseudonym."""
    if not text:
        return text
    spans = personnummer_spans(text)
    if not spans:
        return text
    key = key or pseudonym_key()
    out, pos = [], 0
    for start, end, digits in spans:
        out += [text[pos:start], pseudonym(digits, key)]
        pos = end
    return "".join(out) + text[pos:]


def scrub_array(arr: pa.Array, key: bytes | None = None) -> pa.Array:
    """scrub_text over an arrow string array, vectorised: only values of ten bytes or more that look like
    they hold ten digits are searched."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pc.any(pc.greater_equal(pc.binary_length(arr), 10)).as_py():
        return arr
    candidate = pc.fill_null(pc.match_substring_regex(arr, PNR_CANDIDATE), False)
    if not pc.any(candidate).as_py():
        return arr
    scrubbed = [scrub_text(v, key) for v in arr.filter(candidate).to_pylist()]
    return pc.replace_with_mask(arr, candidate, pa.array(scrubbed, type=arr.type))


def scrub_series(values: pd.Series, key: bytes | None = None) -> pd.Series:
    """scrub_array over a str (or object) Series."""
    if not len(values):
        return values
    try:
        arr = pa.array(values, type=pa.large_string() if values.dtype == "str" else pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array(values.astype(object).where(values.notna(), None), type=pa.string())
    out = scrub_array(arr, key)
    if out is arr:
        return values
    return pd.Series(out.to_pylist(), index=values.index, dtype=object).astype(values.dtype)


def scrub_frame(df: pd.DataFrame, columns=None, key: bytes | None = None) -> pd.DataFrame:
    """scrub_series on the given (default: every text) column of df, in place; returns df."""
    for name in columns if columns is not None else df.columns:
        if pd.api.types.is_string_dtype(df[name]) or df[name].dtype == object:
            df[name] = scrub_series(df[name], key)
    return df


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
