"""Vectorised parsers for ledger fields: amounts to exact öre, dates/periods, identifiers, names.

Every parser returns its values together with a per-row `reason` (null where the value is good), so
callers can route bad rows into the rejects table instead of dropping or guessing them.
Amounts never pass through binary floating point when they arrive as text: the digits are split by a
regular expression and combined as integers.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from stdnum import luhn as stdnum_luhn
from stdnum.se import orgnr as stdnum_orgnr
from stdnum.se import personnummer as stdnum_personnummer

# Thousands separators seen in real files: space, no-break space, narrow no-break space, thin space.
_SPACES = "[ \t\u00a0\u202f\u2009]"
_FAST = r"^(?P<sign>[+-]?)(?P<int>\d{1,15})(?:[.,](?P<frac>\d{1,2}))?$"
_MAX_INT_DIGITS = 15


@dataclass
class Parsed:
    """Parsed values (numpy or arrow array) and a str Series of reasons (NA where the value is good)."""

    values: object
    reason: pd.Series


def _as_string_array(values) -> pa.Array:
    if isinstance(values, pd.Series):
        values = pa.array(values.astype(object).where(values.notna(), None), type=pa.string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(values, type=pa.string())
    if values.type != pa.string():
        values = values.cast(pa.string())
    return values


def _reasons(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def reason_series(reason: np.ndarray) -> pd.Series:
    """An object array of reasons (None = good) as a str Series, cheaply when all are good."""
    if not pd.notna(reason).any():
        return pd.Series(pa.nulls(len(reason), pa.string()), dtype="str")
    return pd.Series(pa.array(reason, type=pa.string()), dtype="str")


def const_series(value: str | None, n: int) -> pd.Series:
    """n copies of one string (or NA) as a str Series, without a Python list."""
    if value is None:
        return pd.Series(pa.nulls(n, pa.string()), dtype="str")
    return pd.Series(pa.repeat(pa.scalar(value, pa.string()), n), dtype="str")


def _detect_counts(arr: pa.Array) -> tuple[int, int]:
    arr = pc.replace_substring_regex(arr, _SPACES, "")
    comma = pc.sum(pc.match_substring_regex(arr, r",\d{1,2}$")).as_py() or 0
    dot = pc.sum(pc.match_substring_regex(arr, r"\.\d{1,2}$")).as_py() or 0
    return int(comma), int(dot)


def _detected(comma: int, dot: int) -> str | None:
    if comma == dot == 0:
        return None
    return "," if comma > dot else "."


def detect_decimal(values) -> str | None:
    """The file's decimal separator from its amounts ("," or "."), or None when no value shows one."""
    return _detected(*_detect_counts(_as_string_array(values)))


def _clean_amounts(arr: pa.Array) -> pa.Array:
    clean = pc.utf8_trim_whitespace(arr)
    for old, new in (("\u2212", "-"), (" ", ""), ("\t", ""), ("\u00a0", ""), ("\u202f", ""), ("\u2009", "")):
        if pc.any(pc.match_substring(clean, old)).as_py():
            clean = pc.replace_substring(clean, old, new)
    return clean


def _separator_masks(clean: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    comma = pc.fill_null(pc.match_substring_regex(clean, r",\d{1,2}-?$"), False).to_numpy(zero_copy_only=False)
    dot = pc.fill_null(pc.match_substring_regex(clean, r"\.\d{1,2}-?$"), False).to_numpy(zero_copy_only=False)
    return comma, dot


def decimal_stats(values) -> tuple[int, int, int, int]:
    """Counts behind the file-level decimal decisions of parse_amounts: (comma, dot) as detect_decimal
    counts them and (comma, dot) as the mixed-separator check counts them. A streamed file adds these up
    over its chunks so that every chunk is parsed with the decisions of the whole file."""
    arr = _as_string_array(values)
    comma, dot = _separator_masks(_clean_amounts(arr))
    return (*_detect_counts(arr), int(comma.sum()), int(dot.sum()))


def parse_amounts(
    values, decimal: str | None = None, excess: str = "reject", stats: tuple[int, int, int, int] | None = None
) -> Parsed:
    """Parse amount text ("-1 302,03", "1\u00a0302,03", "1302.03") to int64 öre, exactly.

    `decimal` is the file's decimal separator ("," / "." / None = detect); it only decides values where a
    separator is followed by exactly three digits ("1.302"). A separator followed by one or two digits is
    always the decimal separator. `excess` says what to do with more than two decimals: "reject" (posting
    files) or "round" (half away from zero on the exact decimal digits; for published float aggregates).
    `stats` (decimal_stats of the whole file) replaces the column's own counts in the file-level decisions.
    """
    if excess not in ("reject", "round"):
        raise ValueError(f"excess must be 'reject' or 'round', not {excess!r}")
    arr = _as_string_array(values)
    n = len(arr)
    clean = _clean_amounts(arr)
    ore = np.zeros(n, dtype=np.int64)
    reason = _reasons(n)
    matched_arr = pc.fill_null(pc.match_substring_regex(clean, _FAST), False)
    matched = matched_arr.to_numpy(zero_copy_only=False)
    if matched.any():
        # validated digits with at most two decimals: exact as decimal128, then scaled to whole öre
        text = pc.if_else(matched_arr, pc.replace_substring(clean, ",", "."), pa.scalar("0", pa.string()))
        dec = pc.multiply(pc.cast(text, pa.decimal128(18, 2)), pa.scalar(100, pa.decimal128(3, 0)))
        ore[matched] = pc.cast(dec, pa.int64()).to_numpy(zero_copy_only=False)[matched]
    rest = np.flatnonzero(~matched)
    if len(rest):
        text = pd.Series(clean.take(pa.array(rest)).to_pylist(), dtype=object)
        detected = _detected(*stats[:2]) if stats is not None else detect_decimal(arr)
        sub_ore, sub_reason = _parse_slow(text, decimal or detected, excess)
        ore[rest] = sub_ore
        reason[rest] = sub_reason
    wrong, why = _mixed_decimals(clean, decimal, None if stats is None else stats[2:])
    if wrong is not None:
        ore[wrong] = 0
        reason[wrong] = why
    personal = _personnummer_amounts(clean)
    ore[personal] = 0
    reason[personal] = "amount is a personnummer, not kronor"
    return Parsed(ore, reason_series(reason))


BARE_PNR = r"^(?:18|19|20)?\d{10}$"  # an "amount" that may be a personnummer (checked by is_personal_number)


def _personnummer_amounts(clean: pa.Array) -> np.ndarray:
    """(`clean`: trimmed, spaces removed.) Rows whose "amount" is a bare personnummer (10 or 12 digits):
    read as kronor it would put a person's number into the amount columns, so the row is rejected instead."""
    bare = pc.fill_null(pc.match_substring_regex(clean, BARE_PNR), False).to_numpy(zero_copy_only=False)
    hits = np.zeros(len(clean), dtype=bool)
    for i in np.flatnonzero(bare):
        hits[i] = is_personal_number(clean[int(i)].as_py()[-10:])
    return hits


def _mixed_decimals(clean: pa.Array, decimal: str | None, counts: tuple[int, int] | None = None) -> tuple[np.ndarray | None, str]:
    """(`clean`: trimmed, spaces removed.) Rows whose decimal separator is not the file's: "1.234,50" beside "1,234.50" is ambiguous, never guessed.

    The file's separator is `decimal` when given, else the one most rows use; on a tie both kinds are rejected.
    `counts` are the whole file's (comma, dot) counts when `clean` is one chunk of it.
    """
    if counts is not None and not (counts[0] and counts[1]):
        return None, ""
    comma, dot = _separator_masks(clean)
    n_comma, n_dot = counts if counts is not None else (int(comma.sum()), int(dot.sum()))
    if not (n_comma and n_dot):
        return None, ""
    file_dec = decimal or ("," if n_comma > n_dot else "." if n_dot > n_comma else None)
    wrong = dot if file_dec == "," else comma if file_dec == "." else comma | dot
    return wrong, f"mixed decimal separators ({n_comma:,} amounts use ',', {n_dot:,} use '.')"


def exact_sum(values) -> int:
    """The exact sum of int64 values as a Python int (no wrap-around however large)."""
    a = np.asarray(values, dtype=np.int64)
    return int((a >> 32).sum(dtype=np.int64)) * 2**32 + int((a & 0xFFFFFFFF).sum(dtype=np.int64))


_SLOW = re.compile(r"^(?P<sign>[+-]?)(?P<int>\d+)(?:(?P<sep>[.,])(?P<frac>\d+))?(?P<trail>-?)$")


def _parse_slow(text: pd.Series, decimal: str | None, excess: str) -> tuple[np.ndarray, np.ndarray]:
    """The rare forms: missing values, grouped thousands, trailing minus, three or more decimals."""
    ore = np.zeros(len(text), dtype=np.int64)
    reason = _reasons(len(text))
    for i, raw in enumerate(text.tolist()):
        ore[i], reason[i] = _parse_one(raw, decimal, excess)
    return ore, reason


def _parse_one(raw: str | None, decimal: str | None, excess: str) -> tuple[int, str | None]:
    if raw is None or raw == "":
        return 0, "missing amount"
    s = raw
    thousands = {",": ".", ".": ","}.get(decimal or "")
    if thousands and re.fullmatch(rf"[+-]?\d{{1,3}}(\{thousands}\d{{3}})+(\{decimal}\d+)?-?", s):
        s = s.replace(thousands, "")
    m = _SLOW.match(s)
    if not m:
        return 0, "unparsable amount"
    if m["sign"] and m["trail"]:
        return 0, "unparsable amount (two signs)"
    negative = (m["sign"] == "-") or bool(m["trail"])
    intpart, frac, sep = m["int"], m["frac"] or "", m["sep"]
    if sep and len(frac) == 3 and decimal is None:
        return 0, "ambiguous separator (pass the decimal separator)"
    if sep and len(frac) == 3 and sep != decimal:
        intpart, frac = intpart + frac, ""
    if len(intpart) > _MAX_INT_DIGITS:
        return 0, "amount too large"
    value = int(intpart) * 100 + int((frac[:2] or "0").ljust(2, "0"))
    if len(frac) > 2 and frac[2:].strip("0"):
        if excess == "reject":
            return 0, "more than two decimals"
        if frac[2] >= "5":
            value += 1
    return (-value if negative else value), None


def float_amounts_to_ore(values: np.ndarray) -> Parsed:
    """Excel numbers (float64 SEK) to öre: exact when the float is the nearest double to whole öre."""
    x = np.asarray(values, dtype=np.float64) * 100.0
    finite = np.isfinite(x)
    exact = finite & (np.abs(x) < 2.0**53)  # beyond 2**53 a double cannot hold every whole öre
    ore = np.where(exact, np.rint(np.where(exact, x, 0.0)), 0.0)
    whole = exact & (np.abs(x - ore) <= np.maximum(1e-6, 8 * np.spacing(np.abs(x))))
    reason = _reasons(len(x))
    reason[~finite] = "missing or non-finite amount"
    reason[finite & ~exact] = "amount too large to be exact as a spreadsheet number"
    reason[exact & ~whole] = "not a whole number of öre"
    return Parsed(ore.astype(np.int64), reason_series(reason))


_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d.%m.%Y")


def parse_dates(values) -> Parsed:
    """Dates ("2025-01-01", "20250101") or months ("201903", "2019-03") to (date32 array, period array).

    `values` of the result is a tuple (date32 arrow array, period string arrow array); a month-only value
    gives a null date and its period. Empty values give nulls without a reason; unparsable ones a reason.
    """
    enc = pc.utf8_trim_whitespace(_as_string_array(values)).dictionary_encode()
    uniq = _parse_unique_dates(enc.dictionary)
    (dates, period), reason = uniq.values, uniq.reason.to_numpy(dtype=object, na_value=None)
    idx = enc.indices
    valid = pc.is_valid(idx).to_numpy(zero_copy_only=False)
    out_reason = _reasons(len(idx))
    if len(reason):
        out_reason[valid] = reason[idx.fill_null(0).to_numpy(zero_copy_only=False)[valid]]
    return Parsed((dates.take(idx), period.take(idx)), reason_series(out_reason))


def _parse_unique_dates(arr: pa.Array) -> Parsed:
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    stamps = []
    for f in _DATE_FORMATS:
        ts = pc.strptime(arr, format=f, unit="s", error_is_null=True)
        # arrow rolls impossible days over ("2019-02-30" -> 2019-03-02): keep only exact round trips
        exact = pc.equal(pc.strftime(ts, format=f), arr)
        stamps.append(pc.if_else(exact, ts, pa.scalar(None, ts.type)))
    ts = pc.coalesce(*stamps)
    dates = ts.cast(pa.date32())
    month = pc.extract_regex(arr, r"^(?P<y>\d{4})-?(?P<m>0[1-9]|1[0-2])$")
    month_period = pc.if_else(
        pc.is_valid(month),
        pc.binary_join_element_wise(month.field("y"), month.field("m"), "-"),
        pa.scalar(None, pa.string()),
    )
    period = pc.coalesce(pc.strftime(ts, format="%Y-%m"), month_period)
    year_ok = pc.and_kleene(
        pc.greater_equal(pc.year(ts), 1990), pc.less_equal(pc.year(ts), 2100)
    ).fill_null(True)
    bad = pc.or_(pc.and_(pc.is_valid(arr), pc.is_null(period)), pc.invert(year_ok)).to_numpy(zero_copy_only=False)
    reason = _reasons(len(arr))
    reason[bad] = "unparsable date"
    dates = pc.if_else(pa.array(bad), pa.scalar(None, pa.date32()), dates)
    period = pc.if_else(pa.array(bad), pa.scalar(None, pa.string()), period)
    return Parsed((dates, period), reason_series(reason))


PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def period_from_name(name: str) -> str | None:
    """A 'YYYY-MM' or 'YYYYMM' month in a file name (Orebro.2016-03.xlsx, leverantorsfakturor-201803.csv)."""
    m = re.search(r"(?<!\d)((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])(?!\d)", name)
    return f"{m.group(1)}-{m.group(2)}" if m else None


# ---- identifiers -------------------------------------------------------------------------------

ORGNR = "orgnr"
PERSONNUMMER = "personnummer"
ANONYMISED = "anonymised"
INVALID = "invalid"
MISSING = "missing"
_MISSING_IDS = {"", "NULL", "'NULL'", "SAKNAS", "NAN", "NONE", "-", "0"}


def classify_id(raw: str | None) -> tuple[str, str | None]:
    """One identifier to (kind, value): a legal person's orgnr "NNNNNN-NNNN", a personnummer as 10 digits
    (sole trader: to be pseudonymised), "anonymised" ("*"), "missing" or "invalid" (value dropped).

    A Luhn-valid 10-digit number whose third digit is 0 or 1 is treated as personal even when its date
    is impossible: privacy errs on the side of hiding.
    """
    if raw is None:
        return MISSING, None
    s = str(raw).strip()
    if s.upper() in _MISSING_IDS:
        return MISSING, None
    if "*" in s:
        return ANONYMISED, None
    digits = re.sub(r"[\s\-+\u2010-\u2014\u2212]", "", s)
    if not digits.isdigit():
        hidden = find_personnummer(s)  # "811228-9874/556811-9357": a person inside a list of ids
        return (PERSONNUMMER, hidden[0]) if hidden else (INVALID, None)
    if len(digits) == 12 and digits.startswith("16"):
        digits = digits[2:]
    elif len(digits) == 12 and digits[:2] in ("18", "19", "20"):
        if stdnum_personnummer.is_valid(digits) or is_personal_number(digits[2:]):
            return PERSONNUMMER, digits[2:]
        return INVALID, None
    if len(digits) != 10 or not stdnum_orgnr.is_valid(digits):
        return INVALID, None
    if digits[2] >= "2":
        return ORGNR, stdnum_orgnr.format(digits)
    return PERSONNUMMER, digits


# The chunks of a streamed file repeat the same suppliers: each identifier is checked once per process.
_classify_id_cached = functools.lru_cache(maxsize=1 << 18)(classify_id)


def classify_ids(values) -> tuple[pd.Series, pd.Series]:
    """Vectorised classify_id over unique values: (kind Series, value Series), aligned with `values`."""
    enc = _as_string_array(values).dictionary_encode()
    results = [_classify_id_cached(u) for u in enc.dictionary.to_pylist()] + [(MISSING, None)]
    idx = enc.indices.fill_null(len(results) - 1)
    kind = pa.array([k for k, _ in results], type=pa.string()).take(idx)
    value = pa.array([v for _, v in results], type=pa.string()).take(idx)
    return pd.Series(kind, dtype="str"), pd.Series(value, dtype="str")


# A personnummer or samordningsnummer as people write it: optional century, YYMMDD with optional spaces
# between the pairs, then a hyphen, en/em dash, plus, spaces or nothing, then the four last digits.
_PNR_IN_TEXT = re.compile(
    r"(?<!\d)(?:(?P<cent>18|19|20)[ \u00a0]?)?(?P<yy>\d\d)[ \u00a0]?(?P<mm>\d\d)[ \u00a0]?(?P<dd>\d\d)"
    r"[ \u00a0]{0,3}(?:[-\u2010\u2011\u2012\u2013\u2014\u2212+][ \u00a0]{0,3})?(?P<serial>\d{3})[ \u00a0]?(?P<check>\d)(?!\d)"
)
# A cheap pre-filter (RE2, vectorised) for values that might hold one: ten digits with only separators between.
PNR_CANDIDATE = r"\d(?:[ \x{00a0}\x{2010}-\x{2014}\x{2212}+-]{0,7}\d){9}"


def is_personal_number(digits: str) -> bool:
    """10 digits YYMMDDNNNC that can be a personnummer or samordningsnummer (day + 60): Luhn-valid,
    month 01–12, day 01–31 or 61–91. Impossible calendar days still count: privacy errs on hiding."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    month, day = int(digits[2:4]), int(digits[4:6])
    if not (1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91)):
        return False
    return stdnum_luhn.is_valid(digits)


def personnummer_spans(text: str | None) -> list[tuple[int, int, str]]:
    """(start, end, 10 digits) of every personnummer or samordningsnummer written in text, any separator."""
    if not text:
        return []
    out = []
    for m in _PNR_IN_TEXT.finditer(str(text)):
        digits = m["yy"] + m["mm"] + m["dd"] + m["serial"] + m["check"]
        if is_personal_number(digits):
            out.append((m.start(), m.end(), digits))
    return out


def mask_personnummer(text: str) -> str:
    """Text with every personnummer replaced by "<personnummer>" (for messages, where a pseudonym means nothing)."""
    for start, end, _ in reversed(personnummer_spans(text)):
        text = text[:start] + "<personnummer>" + text[end:]
    return text


def find_personnummer(text: str | None) -> list[str]:
    """Personnummer and samordningsnummer (as 10 digits) written anywhere in a piece of text."""
    return [digits for _, _, digits in personnummer_spans(text)]


# ---- names and accounts ------------------------------------------------------------------------

_NAME_PREFIX = re.compile(r"^\d{3,8}\s*-\s+")


def normalise_name(raw: str | None) -> str:
    """Trim, collapse whitespace, drop a leading apostrophe/quote and a numeric ledger prefix ("061796 - ")."""
    if raw is None:
        return ""
    s = " ".join(str(raw).split())
    s = s.lstrip("'\"`´ ").strip()
    s = _NAME_PREFIX.sub("", s)
    return s


# The chunks of a streamed file repeat the same supplier names: each is normalised and searched once.
_normalise_name_cached = functools.lru_cache(maxsize=1 << 18)(normalise_name)


@functools.lru_cache(maxsize=1 << 18)
def find_personnummer_cached(text: str | None) -> tuple[str, ...]:
    """find_personnummer, remembered per distinct text (names repeat across the chunks of a file)."""
    return tuple(find_personnummer(text))


def normalise_names(values) -> pd.Series:
    """normalise_name over unique values, aligned with `values`."""
    enc = _as_string_array(values).dictionary_encode()
    uniques = [_normalise_name_cached(u) for u in enc.dictionary.to_pylist()] + [""]
    idx = enc.indices.fill_null(len(uniques) - 1)
    return pd.Series(pa.array(uniques, type=pa.string()).take(idx), dtype="str")


def split_account(values) -> tuple[pa.Array, pa.Array]:
    """Split "74311 IT-tj standpr licenser pc-pr" into ("74311", "IT-tj standpr licenser pc-pr")."""
    arr = pc.utf8_trim_whitespace(_as_string_array(values))
    parts = pc.extract_regex(arr, r"^(?P<num>\d{3,8})(?:\s+(?P<text>.*))?$")
    number = parts.field("num")
    text = pc.utf8_trim_whitespace(parts.field("text"))
    matched = pc.is_valid(parts)
    text = pc.if_else(matched, text, arr)
    number = pc.if_else(matched, number, pa.scalar(None, pa.string()))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    return number, text
