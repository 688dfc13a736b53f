"""Detection of a ledger file's container, encoding, delimiter and shape (publisher family).

Shapes are recognised from the header names after normalisation (lowercase, å/ä→a, ö→o, no BOM,
spaces→_), and each shape maps its columns onto the canonical raw fields through ALIASES.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from pathlib import Path

from ..errors import UserError

# canonical raw field -> accepted normalised header names, in order of preference
ALIASES: dict[str, tuple[str, ...]] = {
    "buyer_unit": ("forvaltning", "rn1/forvaltning", "kopare", "namnd"),
    "supplier_name": ("leverantor", "leverantorsnamn"),
    "supplier_id": ("leverantor_id", "organisationsnummer", "organisatio", "orgnr", "leverantor_orgnr"),
    "account": ("konto_nr", "konto", "kontonummer"),
    "account_text": ("konto_text", "kontotext", "kontobenamning"),
    "amount": ("belopp", "nettobelopp", "utfall", "belopp_sek"),
    "date": ("datum", "bokforingsdatum", "fakturadatum", "verifikationsdatum", "betaldatum"),
    "invoice_id": ("fakturanummer", "faktura_nr", "fakt_nr", "verifikationsnummer", "verifikationsnr"),
    "kommunkod": ("kommun_id", "kommunkod"),
}

SHAPES = (
    "spec-v1.0",
    "spec-v1.1",
    "spec-json",
    "orebro-2016",
    "orebro-dated",
    "goteborg-xlsx",
    "goteborg-csv",
    "umea",
    "goteborg-aggregates",
)

_SPEC_V11_ONLY = {"kopare_id", "verifikationsnummer", "s_kod_nr"}


def norm_header(name: object) -> str:
    """'Leverantör_id' -> 'leverantor_id'; '\\ufeffdatum' -> 'datum'; 'FAKT NR' -> 'fakt_nr'."""
    s = str(name if name is not None else "").replace("\ufeff", "").strip().lower()
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return re.sub(r"\s+", "_", s)


def column_map(headers: list[str]) -> dict[str, str]:
    """canonical field -> original header, for the headers a file has."""
    by_norm = {}
    for h in headers:
        by_norm.setdefault(norm_header(h), h)
    out = {}
    for field, names in ALIASES.items():
        for n in names:
            if n in by_norm:
                out[field] = by_norm[n]
                break
    if "date" not in out:
        dated = [h for n, h in by_norm.items() if "datum" in n]
        if dated:
            out["date"] = dated[0]
    return out


def detect_shape(headers: list[str], container: str) -> str:
    """The shape name for a header row, or UserError when it is not a ledger we know."""
    norm = {norm_header(h) for h in headers}
    if {"leverantor", "year", "belopp"} <= norm and len(norm) == 3:
        return "goteborg-aggregates"
    if "utfall" in norm and "leverantor" in norm and "konto" in norm:
        return "orebro-dated" if any("datum" in n for n in norm) else "orebro-2016"
    if {"leverantor", "organisationsnummer", "kontotext", "belopp"} <= norm:
        return "goteborg-xlsx" if container == "xlsx" else "goteborg-csv"
    cmap = column_map(headers)
    if "supplier_name" in cmap and "amount" in cmap:
        if container == "json":
            return "spec-json"
        raw = [str(h).replace("\ufeff", "").strip().lower() for h in headers]
        if any(ch in "åäö" for h in raw for ch in h):
            return "umea"
        return "spec-v1.1" if norm & _SPEC_V11_ONLY else "spec-v1.0"
    shown = ", ".join(str(h) for h in headers[:8])
    raise UserError(f"unknown ledger shape: header row 1 is [{shown}]; expected a supplier and an amount column")


def container_of(path: Path, head: bytes) -> str:
    """'xlsx', 'json' or 'csv' from the file's first bytes (and its extension as a tie-breaker)."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    text = head.lstrip(codecs.BOM_UTF8).lstrip()
    if text[:1] in (b"{", b"[") or path.suffix.lower() == ".json":
        return "json"
    return "csv"


def detect_encoding(head: bytes) -> str:
    """Encoding from the byte-order mark, else UTF-8 if the head decodes, else Windows-1252."""
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a multi-byte character cut by the sample boundary
            return "utf-8"
        return "cp1252"


def detect_delimiter(header_line: str) -> str:
    """The most frequent of ; , tab | in the header line."""
    counts = {d: header_line.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise UserError("cannot detect the delimiter: header row 1 has no ; , tab or |")
    return best


def first_bad_byte(path: Path, encoding: str) -> tuple[int, int, bytes] | None:
    """(line, byte offset, bytes) of the first byte that does not decode, or None when the file decodes."""
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1, exc.start, data[exc.start : exc.start + 4]
    return None
