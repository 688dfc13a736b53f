"""Cleaning: canonical raw columns of one file -> ledger rows, reject rows and one reconciliation row.

Every raw row ends in exactly one of the two tables; the reconciliation recomputes rows and öre on
both sides and raises UserError naming the file when they do not balance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import UserError
from . import parse, privacy
from .readers import RawLedger

UNKNOWN_SUPPLIER = "(okänd leverantör)"
# Columns holding text copied from the raw file: scanned for personnummer before anything is written.
LEDGER_TEXT = ("buyer_unit", "supplier_name", "account", "account_text", "invoice_id")
REJECT_COLUMNS = ("source_id", "source_file", "source_row", "reason", "raw_amount", "amount_ore", "raw_supplier_name",
                  "raw_supplier_id", "raw_date", "raw_text")
REJECT_TEXT = ("reason", "raw_amount", "raw_supplier_name", "raw_supplier_id", "raw_date", "raw_text")


@dataclass
class Context:
    """What the caller knows about a file that the file itself may not say."""

    source_id: str
    source_file: str
    kommunkod: str | None = None
    period: str | None = None
    decimal: str | None = None
    municipalities: frozenset[str] = frozenset()
    max_bad_share: float = 0.01
    duplicate_of: str | None = None
    amount_stats: tuple[int, int, int, int] | None = None  # parse.decimal_stats of the whole file, when streamed


@dataclass
class Tally:
    """Whole-file checks of a file cleaned chunk by chunk: the chunks add up here instead of raising."""

    bad_amounts: int = 0
    filled: int = 0
    first_bad: tuple[int, object] | None = None

    def check(self, where: str, ctx: Context) -> None:
        """The 1 % rule on unparsable amounts, over the whole file (as clean() applies it to one file)."""
        if self.filled and self.bad_amounts > ctx.max_bad_share * self.filled:
            row, value = self.first_bad
            raise UserError(
                f"{where}: {self.bad_amounts:,} of {self.filled:,} amounts unparsable (more than"
                f" {ctx.max_bad_share:.0%}); first at row {row}: {value!r}"
            )


def text_values(arr: pa.Array) -> pa.Array:
    """Text as the ledger keeps it: trimmed, empty -> null (applied to rows, or once per distinct value)."""
    arr = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def collapsed_values(arr: pa.Array) -> pa.Array:
    """text_values with runs of whitespace turned into one space."""
    return pc.replace_substring_regex(text_values(arr), r"\s+", " ")


def _text(arr: pa.Array | None, n: int) -> pd.Series:
    """A canonical text column as a str Series (text_values)."""
    if arr is None:
        return parse.const_series(None, n)
    return pd.Series(text_values(arr), dtype="str")


def _collapse(s: pd.Series) -> pd.Series:
    """Runs of whitespace to one space (on the unique values)."""
    codes, uniques = pd.factorize(s)
    if not len(uniques):
        return s
    arr = pc.replace_substring_regex(pa.array(uniques, type=pa.string()), r"\s+", " ")
    return pd.Series(arr.take(pa.array(codes, mask=codes < 0)), dtype="str")


def _first_bad(raw_values: pa.Array, reason: pd.Series, rows: np.ndarray) -> tuple[int, object]:
    i = int(np.flatnonzero(reason.notna().to_numpy())[0])
    value = raw_values[i].as_py()
    return int(rows[i]), parse.mask_personnummer(value) if isinstance(value, str) else value


def _empty_rows(raw: RawLedger, n: int) -> pd.Series:
    """Rows whose every field is empty (blank lines in a CSV, empty rows inside a sheet)."""
    empty = np.ones(n, dtype=bool)
    for arr in raw.columns.values():
        text = pc.utf8_trim_whitespace(arr.cast(pa.string()))
        filled = pc.fill_null(pc.not_equal(text, ""), False)
        empty &= ~filled.to_numpy(zero_copy_only=False)
    return pd.Series(empty)


def _check_ragged(raw: RawLedger, ctx: Context) -> None:
    """Many rows that do not split into the header's fields mean a structural fault, not a few bad rows:
    most often the header and the body use different delimiters."""
    ragged = [b for b in raw.bad_rows if b["reason"].startswith("ragged")]
    if not ragged or len(ragged) <= ctx.max_bad_share * raw.rows_in:
        return
    first = ragged[0]
    text = first.get("raw_text") or ""
    hint = ""
    if raw.delimiter:
        other = max((";", ",", "\t", "|"), key=text.count)
        if other != raw.delimiter and text.count(other):
            hint = f"; the header is split by {raw.delimiter!r} but that row by {other!r}"
    raise UserError(
        f"{raw.path}: {len(ragged):,} of {raw.rows_in:,} rows do not split into the header's fields (more than"
        f" {ctx.max_bad_share:.0%}); first at row {first['source_row']}: {first['reason']}{hint}"
    )


def clean(raw: RawLedger, ctx: Context, tally: Tally | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Parse, validate and protect one file's rows; return (ledger rows, rejects, reconciliation row).

    Consumes raw.columns (each raw column is dropped once cleaned, to keep memory flat). With a `tally`,
    `raw` is one chunk of a file: the whole-file checks (ragged rows, the 1 % of bad amounts) are left to
    the caller, who adds the chunks up in the tally; the reconciliation row is the chunk's.
    """
    n = len(raw.source_row)
    rows = raw.source_row
    where = f"{raw.path}"

    if tally is None:
        _check_ragged(raw, ctx)

    # amounts
    if raw.amount_is_float:
        amount_text = pc.cast(raw.columns["amount"], pa.string())
        amounts = parse.float_amounts_to_ore(raw.columns["amount"].to_numpy(zero_copy_only=False))
    else:
        amount_text = raw.columns.get("amount", pa.nulls(n, pa.string()))
        excess = "round" if raw.grain == "supplier_year" else "reject"
        amounts = parse.parse_amounts(
            raw.columns.get("amount", pa.nulls(n, pa.string())), ctx.decimal, excess, stats=ctx.amount_stats
        )
    ore = amounts.values
    bad_amount = amounts.reason.notna()
    empty = _empty_rows(raw, n)
    counted = amounts.reason.where(~empty)
    filled = n - int(empty.sum())  # empty rows are rejected as such and do not dilute the share
    if tally is not None:
        tally.filled += filled
        n_bad = int(counted.notna().sum())
        if n_bad and tally.first_bad is None:
            tally.first_bad = _first_bad(amount_text, counted, rows)
        tally.bad_amounts += n_bad
    elif filled and counted.notna().sum() > ctx.max_bad_share * filled:
        row, value = _first_bad(amount_text, counted, rows)
        raise UserError(
            f"{where}: {int(counted.notna().sum()):,} of {filled:,} amounts unparsable (more than"
            f" {ctx.max_bad_share:.0%}); first at row {row}: {value!r}"
        )
    reason = amounts.reason.mask(empty, "empty row")

    # period, date, year
    if raw.grain == "supplier_year":
        years = pd.Series(raw.columns["year"], dtype="str").str.strip()
        ok_year = years.str.fullmatch(r"(19|20)\d{2}").fillna(False)
        reason = reason.where(reason.notna() | ok_year, "bad year")
        year = pd.to_numeric(years.where(ok_year), errors="coerce").fillna(0).astype("int64")
        date = pa.nulls(n, pa.date32())
        period = parse.const_series(None, n)
    else:
        file_period = ctx.period or parse.period_from_name(raw.path.name)
        if "date" in raw.columns:
            dates = parse.parse_dates(raw.columns["date"])
            date, period_arr = dates.values
            period = pd.Series(period_arr, dtype="str")
            reason = reason.where(reason.notna(), dates.reason)
            if file_period:
                period = period.fillna(file_period)
            reason = reason.where(reason.notna() | period.notna(), "missing date")
        else:
            if not file_period:
                raise UserError(f"{where}: no date column and no YYYY-MM in the file name; pass --period YYYY-MM")
            date = pa.nulls(n, pa.date32())
            period = parse.const_series(file_period, n)
        codes, uniques = pd.factorize(period)
        years = np.array([int(p[:4]) for p in uniques] + [0], dtype="int64")
        year = pd.Series(years[np.where(codes < 0, len(uniques), codes)])

    # municipality
    has_kommun = "kommunkod" in raw.columns
    kommun = _text(raw.columns.pop("kommunkod", None), n)
    if ctx.kommunkod:
        kommun = kommun.fillna(ctx.kommunkod)
    elif not has_kommun:
        raise UserError(f"{where}: the file has no kommun_id column; pass --kommun KOD")
    reason = reason.where(reason.notna() | kommun.notna(), "missing kommun_id")
    known = kommun.isin(ctx.municipalities) | kommun.isna()
    if not known.all():
        i = int(np.flatnonzero(~known.to_numpy())[0])
        raise UserError(f"{where}: row {int(rows[i])}: unknown kommunkod {kommun.iloc[i]!r} (not one of the 290)")

    # suppliers: identifiers, names, privacy
    kind, value = parse.classify_ids(raw.columns.get("supplier_id", pa.nulls(n, pa.string())))
    name = parse.normalise_names(raw.columns.pop("supplier_name", pa.nulls(n, pa.string())))
    uniq = pd.Series(name.unique())
    pnr_in_name = {u: hits[0] for u in uniq if (hits := parse.find_personnummer_cached(u))}
    if pnr_in_name:
        from_name = name.map(pnr_in_name)
        swap = from_name.notna() & (kind != parse.PERSONNUMMER)
        kind = kind.mask(swap, parse.PERSONNUMMER)
        value = value.mask(swap, from_name)
    is_pnr = (kind == parse.PERSONNUMMER).to_numpy()
    masked = is_pnr | (kind == parse.ANONYMISED).to_numpy()
    name = name.mask(masked, privacy.SOLE_TRADER_NAME)
    name = name.mask(name == "", UNKNOWN_SUPPLIER)
    orgnr = value.where(kind == parse.ORGNR)
    key = ("name:" + name.str.upper()).astype("str")
    key = key.mask(orgnr.notna(), orgnr)
    if is_pnr.any():
        key = key.mask(is_pnr, privacy.pseudonymise_series(value.where(is_pnr)))

    # accounts, units, invoices
    if "account_text" in raw.columns:
        account = _text(raw.columns.pop("account", None), n)
        account_text = _collapse(_text(raw.columns.pop("account_text"), n))
    elif "account" in raw.columns:
        num, txt = parse.split_account(raw.columns.pop("account"))
        account, account_text = _text(num, n), _collapse(_text(txt, n))
    else:
        account = account_text = parse.const_series(None, n)
    buyer = _collapse(_text(raw.columns.pop("buyer_unit", None), n))
    invoice = _text(raw.columns.pop("invoice_id", None), n)

    if ctx.duplicate_of:
        reason = parse.const_series(f"duplicate publication of {ctx.duplicate_of}", n)

    full = pd.DataFrame(
        {
            "source_id": parse.const_series(ctx.source_id, n),
            "source_file": parse.const_series(ctx.source_file, n),
            "source_row": rows.astype("int64"),
            "grain": parse.const_series(raw.grain, n),
            "kommunkod": kommun,
            "year": year,
            "period": period,
            "date": pd.Series(date, dtype=pd.ArrowDtype(pa.date32())),
            "buyer_unit": buyer,
            "supplier_name": name,
            "supplier_orgnr": orgnr,
            "supplier_key": key,
            "account": account,
            "account_text": account_text,
            "amount_ore": ore.astype("int64"),
            "amount_sek": ore / 100.0,
            "invoice_id": invoice,
        }
    )
    good = reason.isna().to_numpy()
    ledger = full if good.all() else full[good].reset_index(drop=True)

    bad = ~good
    raw_id = _text(raw.columns.get("supplier_id"), n)[bad]
    raw_id = raw_id.mask(is_pnr[bad], key[bad]).map(privacy.scrub_text, na_action="ignore").astype("str")
    parsed_ore = pd.array(np.where(bad_amount[bad].to_numpy(), pd.NA, ore[bad]), dtype="Int64") if bad.any() else (
        pd.array([], dtype="Int64")
    )
    rejects = pd.DataFrame(
        {
            "source_id": parse.const_series(ctx.source_id, int(bad.sum())),
            "source_file": parse.const_series(ctx.source_file, int(bad.sum())),
            "source_row": rows[bad].astype("int64"),
            "reason": reason[bad].reset_index(drop=True),
            "raw_amount": pd.Series(amount_text.filter(pa.array(bad)), dtype="str"),
            "amount_ore": parsed_ore,
            "raw_supplier_name": name[bad].reset_index(drop=True),
            "raw_supplier_id": raw_id.reset_index(drop=True),
            "raw_date": _text(raw.columns.get("date"), n)[bad].reset_index(drop=True),
            "raw_text": parse.const_series(None, int(bad.sum())),
        }
    )
    if raw.bad_rows:
        extra = pd.DataFrame(
            {
                "source_id": pd.Series([ctx.source_id] * len(raw.bad_rows), dtype="str"),
                "source_file": pd.Series([ctx.source_file] * len(raw.bad_rows), dtype="str"),
                "source_row": np.array([b["source_row"] for b in raw.bad_rows], dtype="int64"),
                "reason": pd.Series([b["reason"] for b in raw.bad_rows], dtype="str"),
                "raw_amount": pd.Series([pd.NA] * len(raw.bad_rows), dtype="str"),
                "amount_ore": pd.array([pd.NA] * len(raw.bad_rows), dtype="Int64"),
                "raw_supplier_name": pd.Series([pd.NA] * len(raw.bad_rows), dtype="str"),
                "raw_supplier_id": pd.Series([pd.NA] * len(raw.bad_rows), dtype="str"),
                "raw_date": pd.Series([pd.NA] * len(raw.bad_rows), dtype="str"),
                "raw_text": pd.Series([privacy.scrub_text(b["raw_text"]) for b in raw.bad_rows], dtype="str"),
            }
        )
        rejects = pd.concat([rejects, extra], ignore_index=True).sort_values("source_row", kind="stable")
        rejects = rejects.reset_index(drop=True)

    privacy.scrub_frame(ledger, LEDGER_TEXT)
    privacy.scrub_frame(rejects, REJECT_TEXT)
    reconciliation = reconcile(raw, ctx, parse.exact_sum(ore[~bad_amount.to_numpy()]), ledger, rejects)
    return ledger, rejects, reconciliation


def reconcile(raw: RawLedger, ctx: Context, ore_in: int, ledger: pd.DataFrame, rejects: pd.DataFrame) -> dict:
    """One reconciliation row; UserError when rows or öre do not add up."""
    ore_clean = parse.exact_sum(ledger["amount_ore"].to_numpy())
    ore_rejected = parse.exact_sum(rejects["amount_ore"].fillna(0).to_numpy(dtype="int64"))
    return reconciliation_row(raw, ctx, ore_in, (len(ledger), ore_clean), (len(rejects), ore_rejected))


def reconciliation_row(raw: RawLedger, ctx: Context, ore_in: int, clean_side: tuple[int, int],
                       rejected_side: tuple[int, int] = (0, 0)) -> dict:
    """The reconciliation row of counted (rows, öre) on each side; UserError when they do not add up."""
    (rows_clean, ore_clean), (rows_rejected, ore_rejected) = clean_side, rejected_side
    limit = 2**63 - 1
    if any(abs(x) > limit for x in (ore_in, ore_clean, ore_rejected)):
        raise UserError(
            f"{raw.path}: amounts total {ore_in:,} öre, beyond what the tables can hold exactly (±{limit:,});"
            " such amounts are not plausible in a municipal ledger"
        )
    balanced = raw.rows_in == rows_clean + rows_rejected and ore_in == ore_clean + ore_rejected
    if not balanced:
        raise UserError(
            f"{raw.path}: does not reconcile: rows {raw.rows_in} in vs {rows_clean} + {rows_rejected};"
            f" öre {ore_in} in vs {ore_clean} + {ore_rejected}"
        )
    notes = list(raw.notes)
    if ctx.duplicate_of:
        notes.append(f"same content as {ctx.duplicate_of}: all rows rejected as a duplicate publication")
    return {
        "source_id": ctx.source_id,
        "source_file": ctx.source_file,
        "shape": raw.shape,
        "grain": raw.grain,
        "rows_in": raw.rows_in,
        "rows_clean": rows_clean,
        "rows_rejected": rows_rejected,
        "ore_in": ore_in,
        "ore_clean": ore_clean,
        "ore_rejected": ore_rejected,
        "balanced": balanced,
        "note": privacy.scrub_text("; ".join(notes)),  # notes quote sheet names and headers from the file
    }


def empty_rejects() -> pd.DataFrame:
    """The rejects of a chunk without rejects, with the columns and dtypes clean() gives them."""
    text = {c: parse.const_series(None, 0) for c in REJECT_COLUMNS}
    return pd.DataFrame(text | {"source_row": np.empty(0, dtype="int64"), "amount_ore": pd.array([], dtype="Int64")})[
        list(REJECT_COLUMNS)]
