"""The fast lane of streamed ingest: a chunk whose every row is regular is cleaned in arrow, per unique value.

Why: a national ledger is hundreds of millions of postings, and almost every chunk of a published file is
regular. clean() decides row by row in pandas (about 2 s per million rows); this lane computes each
field once per distinct raw value (suppliers, names, accounts, units, dates repeat) and the rest with
vectorised arrow kernels, and gives exactly clean()'s rows.

A chunk takes this lane only when clean() would reject none of its rows and raise no error:
- every line split into the header's fields (no ragged or blank lines);
- every amount is plain (`parse._FAST` after spaces are removed) and none is a bare personnummer, and the
  file's decimal-separator counts so far do not mix "," and ".";
- every date parses (or the file name gives the month), every kommunkod is given and one of the 290;
- the rows are postings and the file is not a duplicate publication.
Any other chunk goes through clean() unchanged, so rejects and error messages are always clean()'s.
tests/test_ledger_fast.py compares the two lanes store file by store file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import parse, privacy
from .clean import UNKNOWN_SUPPLIER, Context, Tally, collapsed_values, empty_rejects, reconciliation_row, text_values
from .readers import RawLedger

_SPACE_CHARS = (" ", "\t", "\u00a0", "\u202f", "\u2009")  # parse._SPACES, as literal characters


@dataclass
class Amounts:
    """A chunk's plain amounts in öre and its parse.decimal_stats."""

    ore: np.ndarray
    stats: tuple[int, int, int, int]


def amounts(column: pa.Array | pa.ChunkedArray | None) -> Amounts | None:
    """Plain amounts ("-1 302,03", "1302.03") to öre with the chunk's decimal_stats; None when any amount
    is not plain, so that parse_amounts (and decimal_stats) decide the chunk instead.

    Exactness: parse_amounts trims, turns "−" into "-" and removes the space characters; here the same
    characters are removed first and the result must then match parse._FAST whole, so it holds no other
    whitespace and trimming would change nothing (trimming and removing commute). Such a text matches
    decimal_stats' patterns exactly when it holds the separator: all four counts are the separator counts.
    """
    if column is None or column.null_count:
        return None
    arr = parse._as_string_array(column)
    if not len(arr):
        return None
    s = arr
    if not pc.all(pc.string_is_ascii(s)).as_py():  # a tab left in ASCII text fails parse._FAST: clean() decides
        for ch in ("\u2212",) + _SPACE_CHARS[1:]:
            if pc.any(pc.match_substring(s, ch)).as_py():
                s = pc.replace_substring(s, ch, "-" if ch == "\u2212" else "")
    if pc.any(pc.match_substring(s, " ")).as_py():
        s = pc.replace_substring(s, " ", "")
    if not pc.all(pc.match_substring_regex(s, parse._FAST)).as_py():
        return None
    # sign, digits and at most one separator followed by one or two digits: the integer of the digits,
    # scaled by the number of decimals
    length = pc.binary_length(s).to_numpy(zero_copy_only=False).astype(np.int64)
    digits, pos = s, np.full(len(s), -1, dtype=np.int64)
    counts = {}
    for sep in (",", "."):
        found = pc.find_substring(s, sep).to_numpy(zero_copy_only=False)
        counts[sep] = int((found >= 0).sum())
        if counts[sep]:
            pos = np.maximum(pos, found)
            digits = pc.replace_substring(digits, sep, "")
    long_bare = (pos < 0) & (length >= 10)
    if long_bare.any() and pc.any(pc.match_substring_regex(s.filter(pa.array(long_bare)), parse.BARE_PNR)).as_py():
        return None  # maybe a bare personnummer (parse._personnummer_amounts)
    if pc.any(pc.match_substring(digits, "+")).as_py():
        digits = pc.replace_substring(digits, "+", "")
    decimals = np.where(pos >= 0, length - 1 - pos, 0)
    ore = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False) * np.array([100, 10, 1])[decimals]
    comma, dot = counts[","], counts["."]
    return Amounts(ore, (comma, dot, comma, dot))


@dataclass
class Witness:
    """What LEDGER_SCHEMA's column checks need to see of a file's fast chunks: each checked column's
    distinct values, and the range of the others (their checks are per value, so this is the same verdict
    as validating every row)."""

    values: dict[str, set] = field(default_factory=dict)
    ranges: dict[str, list] = field(default_factory=dict)
    nulls: set[str] = field(default_factory=set)

    def distinct(self, name: str, uniques: pa.Array, has_null: bool) -> None:
        self.values.setdefault(name, set()).update(v for v in uniques.to_pylist() if v is not None)
        if has_null or uniques.null_count:
            self.nulls.add(name)

    def span(self, name: str, arr: pa.Array) -> None:
        if arr.null_count:
            self.nulls.add(name)
        lo_hi = pc.min_max(arr)
        for v in (lo_hi["min"].as_py(), lo_hi["max"].as_py()):
            if v is not None:
                self.ranges.setdefault(name, []).append(v)

    def frame(self) -> pd.DataFrame:
        """One pandas frame holding every witnessed value, each column cycled to the longest."""
        from . import LEDGER_COLUMNS
        from .store import _type

        cols = {}
        for name in LEDGER_COLUMNS:
            vals = sorted(self.values.get(name, ())) or sorted(self.ranges.get(name, ()))
            cols[name] = vals + ([None] if name in self.nulls else [])
        length = max(1, *(len(v) for v in cols.values()))
        out = {}
        for name, vals in cols.items():
            vals = (vals * (length // max(len(vals), 1) + 1))[:length] if vals else [None] * length
            t = _type(name)
            arr = pa.array(vals, type=t)
            if pa.types.is_string(t):
                out[name] = pd.Series(arr, dtype="str")
            elif pa.types.is_date32(t):
                out[name] = pd.Series(arr, dtype=pd.ArrowDtype(t))
            else:
                out[name] = pd.Series(arr.to_numpy(zero_copy_only=False), dtype=t.to_pandas_dtype())
        return pd.DataFrame(out)


def canonical(indices: pa.Array | np.ndarray, values: pa.Array, first_use: bool = False) -> pa.DictionaryArray:
    """Rows given as `indices` into per-distinct-value results `values`, as the dictionary array that
    pc.dictionary_encode makes of the plain rows: results deduplicated in order of first use by the rows,
    nulls as null indices. Both lanes write such arrays, so equal rows make byte-equal parquet files.
    `first_use`: the rows use `values` in their order already (dictionary_encode, pandas.factorize)."""
    if isinstance(indices, np.ndarray):
        idx = indices.astype(np.int64, copy=False)
    else:
        idx = indices.fill_null(len(values)).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    if first_use and not (idx == len(values)).any():
        order = np.arange(len(values))
    else:
        order = pd.unique(idx[idx < len(values)])  # distinct results' positions, in order of first use
    enc = values.take(pa.array(order, pa.int64())).dictionary_encode()
    remap = np.full(len(values) + 1, -1, dtype=np.int32)
    remap[order] = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    rows = remap[idx]
    return pa.DictionaryArray.from_arrays(pa.array(rows, pa.int32(), mask=rows < 0), enc.dictionary)


def constant(value: str, n: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string()))


def _per_unique(arr: pa.Array, fn, witness: Witness, col: str) -> pa.DictionaryArray:
    """fn (arrow array -> arrow array, elementwise) applied once per distinct value of arr."""
    enc = arr.dictionary_encode()
    out = canonical(enc.indices, fn(enc.dictionary), first_use=True)
    witness.distinct(col, out.dictionary, bool(out.null_count))
    return out


def _column(raw: RawLedger, name: str, n: int) -> pa.Array:
    arr = raw.columns.get(name)
    if arr is None:
        return pa.nulls(n, pa.string())
    return parse._as_string_array(arr)


def _suppliers(raw: RawLedger, n: int, witness: Witness) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(supplier_name, supplier_orgnr, supplier_key) as clean() derives them, computed once per distinct
    (identifier, name) pair."""
    ids = _column(raw, "supplier_id", n).dictionary_encode()
    names = _column(raw, "supplier_name", n).dictionary_encode()
    id_res = [parse._classify_id_cached(u) for u in ids.dictionary.to_pylist()] + [(parse.MISSING, None)]
    name_res = [parse._normalise_name_cached(u) for u in names.dictionary.to_pylist()] + [""]
    i = ids.indices.fill_null(len(id_res) - 1).to_numpy(zero_copy_only=False).astype(np.int64)
    j = names.indices.fill_null(len(name_res) - 1).to_numpy(zero_copy_only=False).astype(np.int64)
    row_pair, pairs = pd.factorize(i * len(name_res) + j)
    out_name, out_orgnr, pnr = [], [], []
    for code in pairs.tolist():
        kind, value = id_res[code // len(name_res)]
        name = name_res[code % len(name_res)]
        hits = parse.find_personnummer_cached(name)
        if hits and kind != parse.PERSONNUMMER:
            kind, value = parse.PERSONNUMMER, hits[0]
        if kind in (parse.PERSONNUMMER, parse.ANONYMISED):
            name = privacy.SOLE_TRADER_NAME
        out_name.append(UNKNOWN_SUPPLIER if name == "" else name)
        out_orgnr.append(value if kind == parse.ORGNR else None)
        pnr.append(value if kind == parse.PERSONNUMMER else None)
    name_arr = pa.array(out_name, type=pa.string())
    orgnr_arr = pa.array(out_orgnr, type=pa.string())
    # as clean(): "name:" + the name upper-cased by the same kernel pandas' str.upper uses
    key = pc.binary_join_element_wise("name:", pc.utf8_upper(name_arr), "")
    key = pc.coalesce(orgnr_arr, key)
    if any(pnr):
        key_py = key.to_pylist()
        k = privacy.pseudonym_key()
        key = pa.array([privacy.pseudonym(p, k) if p else old for p, old in zip(pnr, key_py)], type=pa.string())
    name_arr = privacy.scrub_array(name_arr)
    out = []
    for col, arr in (("supplier_name", name_arr), ("supplier_orgnr", orgnr_arr), ("supplier_key", key)):
        out.append(canonical(row_pair, arr, first_use=True))
        witness.distinct(col, out[-1].dictionary, bool(out[-1].null_count))
    return tuple(out)


def clean_chunk(raw: RawLedger, ctx: Context, tally: Tally, plain: Amounts | None,
                witness: Witness) -> tuple[pa.Table, pa.Array, np.ndarray, pd.DataFrame, dict] | None:
    """clean() of a regular chunk: (stored columns as an arrow table, kommunkod per row, year per row,
    rejects (none), reconciliation row), or None when the chunk is not regular (clean() decides it).

    The file's decimal counts in ctx.amount_stats must not mix separators: then parse_amounts would
    reject the minority's rows, also in a chunk of plain amounts.
    """
    n = len(raw.source_row)
    stats = ctx.amount_stats
    if (plain is None or raw.bad_rows or raw.grain != "posting" or raw.amount_is_float or ctx.duplicate_of
            or n == 0 or (stats is not None and stats[2] and stats[3])):
        return None

    # period, date, year
    file_period = ctx.period or parse.period_from_name(raw.path.name)
    if "date" in raw.columns:
        enc = pc.utf8_trim_whitespace(parse._as_string_array(raw.columns["date"])).dictionary_encode()
        parsed = parse._parse_unique_dates(enc.dictionary)
        if parsed.reason.notna().any():
            return None
        dates, periods = parsed.values
        if file_period:
            periods = pc.fill_null(periods, file_period)
        if periods.null_count or (enc.indices.null_count and not file_period):
            return None
        if enc.indices.null_count:  # empty dates: the file name's month
            periods = pa.concat_arrays([periods, pa.array([file_period], pa.string())])
            dates = pa.concat_arrays([dates, pa.nulls(1, pa.date32())])
        idx = enc.indices.fill_null(len(enc.dictionary))
        date = dates.take(idx)
        period = canonical(idx, periods)
    elif file_period:
        date, period = pa.nulls(n, pa.date32()), constant(file_period, n)
    else:
        return None
    year = np.array([int(p[:4]) for p in period.dictionary.to_pylist()], dtype=np.int64)[
        period.indices.to_numpy(zero_copy_only=False)]

    # municipality
    if "kommunkod" in raw.columns:
        enc = _column(raw, "kommunkod", n).dictionary_encode()
        codes = text_values(enc.dictionary)
        if ctx.kommunkod:
            codes = pc.fill_null(codes, ctx.kommunkod)
        kommun = canonical(enc.indices, codes, first_use=True)
    elif ctx.kommunkod:
        kommun = constant(ctx.kommunkod, n)
    else:
        return None
    if kommun.null_count or not set(kommun.dictionary.to_pylist()) <= ctx.municipalities:
        return None

    name, orgnr, key = _suppliers(raw, n, witness)

    # accounts, units, invoices (text copied from the file: searched for personnummer)
    if "account_text" in raw.columns:
        account = _per_unique(_column(raw, "account", n), lambda d: privacy.scrub_array(text_values(d)), witness, "account")
        account_text = _per_unique(_column(raw, "account_text", n), lambda d: privacy.scrub_array(collapsed_values(d)),
                                   witness, "account_text")
    elif "account" in raw.columns:
        enc = _column(raw, "account", n).dictionary_encode()
        num, txt = parse.split_account(enc.dictionary)
        account = canonical(enc.indices, privacy.scrub_array(text_values(num)), first_use=True)
        account_text = canonical(enc.indices, privacy.scrub_array(collapsed_values(txt)), first_use=True)
        for col, arr in (("account", account), ("account_text", account_text)):
            witness.distinct(col, arr.dictionary, bool(arr.null_count))
    else:
        account = account_text = constant_null(n)
        witness.nulls.update({"account", "account_text"})
    buyer = _per_unique(_column(raw, "buyer_unit", n), lambda d: privacy.scrub_array(collapsed_values(d)), witness, "buyer_unit")
    invoice = privacy.scrub_array(text_values(_column(raw, "invoice_id", n)))

    ore = plain.ore
    tally.filled += n
    table = pa.Table.from_arrays(
        [
            constant(ctx.source_id, n),
            constant(ctx.source_file, n),
            pa.array(raw.source_row.astype(np.int64)),
            constant("posting", n),
            period,
            date,
            buyer,
            name,
            orgnr,
            key,
            account,
            account_text,
            pa.array(ore, pa.int64()),
            pa.array(ore / 100.0, pa.float64()),
            invoice,
        ],
        schema=_schema(),
    )
    for col, value in (("source_id", ctx.source_id), ("source_file", ctx.source_file), ("grain", "posting")):
        witness.values.setdefault(col, set()).add(value)
    witness.distinct("period", period.dictionary, False)
    witness.distinct("kommunkod", kommun.dictionary, False)
    witness.values.setdefault("year", set()).update(np.unique(year).tolist())
    for col in ("source_row", "date", "amount_ore", "amount_sek", "invoice_id"):
        witness.span(col, table[col].combine_chunks())
    total = parse.exact_sum(ore)
    rec = reconciliation_row(raw, ctx, total, (n, total))
    return table, kommun, year, empty_rejects(), rec


def constant_null(n: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int32()), pa.array([], pa.string()))


def _schema() -> pa.Schema:
    from .store import WRITE_SCHEMA

    return WRITE_SCHEMA
