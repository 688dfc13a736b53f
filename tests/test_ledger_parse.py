"""Property and example tests of the ledger parsers: amounts to exact öre, dates, identifiers, names."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.se import personnummer as stdnum_pnr

from analysis.ledgers import parse, privacy

ORE = st.integers(min_value=-(10**14), max_value=10**14)


def format_ore(ore: int, decimal: str, thousands: str, decimals: int) -> str:
    """Write öre the way a publisher might: sign, grouped kronor, decimal separator, 0–2 decimals."""
    sign = "-" if ore < 0 else ""
    kr, rest = divmod(abs(ore), 100)
    grouped = f"{kr:,}".replace(",", thousands)
    if decimals == 0:
        return f"{sign}{grouped}" if rest == 0 else f"{sign}{grouped}{decimal}{rest:02d}"
    frac = f"{rest:02d}" if decimals == 2 or rest % 10 else f"{rest // 10}"
    return f"{sign}{grouped}{decimal}{frac}"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(ORE, min_size=1, max_size=40),
    st.sampled_from([(",", " "), (",", "\u00a0"), (",", ""), (".", ""), (".", ","), (",", ".")]),
    st.sampled_from([0, 1, 2]),
)
def test_amount_text_round_trips_to_exact_ore(values, style, decimals):
    decimal, thousands = style
    texts = [format_ore(v, decimal, thousands, decimals) for v in values]
    parsed = parse.parse_amounts(texts, decimal=decimal)
    assert parsed.reason.isna().all(), list(zip(texts, parsed.reason))
    assert parsed.values.tolist() == values


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789,.- abc\u00a0", max_size=12), min_size=1, max_size=30))
@example(["0,010", "1,0000", "1.302,50"])
def test_amounts_are_exact_or_rejected_never_silently_wrong(texts):
    parsed = parse.parse_amounts(texts, decimal=",")
    for text, ore, reason in zip(texts, parsed.values.tolist(), parsed.reason.tolist()):
        if isinstance(reason, str):
            assert ore == 0
            continue
        canonical = text.replace(" ", "").replace("\u00a0", "").strip()
        negative = canonical.startswith("-") or canonical.endswith("-")
        digits = canonical.strip("+-")
        # whatever was accepted must equal the digits read as kronor with the recognised decimal part
        if "," in digits:  # the given decimal separator; extra decimals are accepted only when they are zeros
            kr, frac = digits.rsplit(",", 1)
            frac = frac[:2]
        elif "." in digits and len(digits.rsplit(".", 1)[1]) <= 2:
            kr, frac = digits.rsplit(".", 1)
        else:
            kr, frac = digits, ""
        expected = int(kr.replace(".", "").replace(",", "") or "0") * 100 + int(frac.ljust(2, "0") or "0")
        assert ore == (-expected if negative else expected), (text, ore)


@pytest.mark.parametrize(
    ("text", "ore"),
    [("-1 302,03", -130203), ("1\u00a0302,03", 130203), ("1302.03", 130203), ("-1302,03", -130203),
     ("1.302.555,5", 130255550), ("7-", -700), ("\u2212400,68", -40068), ("0,1", 10), ("+12", 1200)],
)
def test_amount_examples(text, ore):
    parsed = parse.parse_amounts([text], decimal=",")
    assert parsed.reason.isna().all() and parsed.values.tolist() == [ore]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("abc", "unparsable amount"), ("", "missing amount"), (None, "missing amount"),
     ("1,234", None), ("12,345", None), ("1,005", None), ("1.005", "more than two decimals"), ("--5", "unparsable amount")],
)
def test_amount_rejects_with_reason(text, reason):
    parsed = parse.parse_amounts([text], decimal=".")
    got = parsed.reason.iloc[0]
    assert (got if isinstance(got, str) else None) == reason


def test_excess_decimals_round_half_away_from_zero_only_when_asked():
    texts = ["100076.51999999995", "-0.005", "2.004999"]
    assert parse.parse_amounts(texts, decimal=".", excess="round").values.tolist() == [10007652, -1, 200]
    assert parse.parse_amounts(texts, decimal=".").reason.notna().all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-(10**12), max_value=10**12), min_size=1, max_size=50))
def test_excel_floats_to_ore(values):
    floats = np.array([v / 100 for v in values])
    parsed = parse.float_amounts_to_ore(floats)
    assert parsed.reason.isna().all()
    assert parsed.values.tolist() == values


def test_excel_float_with_fraction_of_ore_is_rejected():
    assert parse.float_amounts_to_ore(np.array([0.001, np.nan])).reason.notna().all()


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31)), st.sampled_from(["%Y-%m-%d", "%Y%m%d"]))
def test_date_round_trip(day, fmt):
    parsed = parse.parse_dates([day.strftime(fmt), day.strftime("%Y%m")])
    dates, periods = parsed.values
    assert dates.to_pylist() == [day, None]
    assert periods.to_pylist() == [day.strftime("%Y-%m")] * 2
    assert parsed.reason.isna().all()


@pytest.mark.parametrize("text", ["2019-13-01", "20190230", "x", "2019-1", "1899-01-01"])
def test_bad_dates_have_a_reason(text):
    parsed = parse.parse_dates([text])
    assert parsed.reason.iloc[0] == "unparsable date"
    assert parsed.values[0].to_pylist() == [None]


def luhn_complete(nine: str) -> str:
    return nine + luhn.calc_check_digit(nine)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=2, max_value=9), st.integers(min_value=0, max_value=99_999_999))
def test_legal_person_orgnr_round_trip(third, rest):
    digits = luhn_complete(f"{rest // 10**6 % 100:02d}{third}{rest % 10**6:06d}"[:9])
    for written in (digits, f"{digits[:6]}-{digits[6:]}", f"16{digits}"):
        assert parse.classify_id(written) == (parse.ORGNR, f"{digits[:6]}-{digits[6:]}")
    broken = digits[:9] + str((int(digits[9]) + 1) % 10)
    assert parse.classify_id(broken)[0] == parse.INVALID


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2005, 12, 31)), st.integers(0, 999))
def test_personnummer_is_recognised_never_an_orgnr(born, serial):
    digits = luhn_complete(born.strftime("%y%m%d") + f"{serial:03d}")
    assert stdnum_pnr.is_valid(digits)
    for written in (digits, f"{digits[:6]}-{digits[6:]}", born.strftime("%Y") [:2] + digits):
        kind, value = parse.classify_id(written)
        assert kind == parse.PERSONNUMMER and value == digits
    assert parse.find_personnummer(f"Firma {digits[:6]}-{digits[6:]} AB") == [digits]
    key = privacy.pseudonym(digits, b"k" * 32)
    assert key.startswith("pn:") and not parse.find_personnummer(key)
    assert privacy.pseudonym(f"{digits[:6]}-{digits[6:]}", b"k" * 32) == key


@pytest.mark.parametrize("raw", [None, "", "NULL", "'NULL'", "SAKNAS", "10004007", "12345", "abc", "556391-335"])
def test_missing_and_invalid_identifiers_never_survive(raw):
    assert parse.classify_id(raw)[0] in (parse.MISSING, parse.INVALID)
    assert parse.classify_id(raw)[1] is None


def test_anonymised_identifier():
    assert parse.classify_id("******")[0] == parse.ANONYMISED


@pytest.mark.parametrize(
    ("raw", "name"),
    [("REGION ÖREBRO LÄN ", "REGION ÖREBRO LÄN"), ("'MITTHEM I BERGSLAGEN AB (FB)", "MITTHEM I BERGSLAGEN AB (FB)"),
     ("061796 - HJÄLLBOLAGET AB", "HJÄLLBOLAGET AB"), ("  A  B ", "A B"), ("3M SVENSKA AB", "3M SVENSKA AB")],
)
def test_name_normalisation(raw, name):
    assert parse.normalise_name(raw) == name


def test_account_split():
    number, text = parse.split_account(["74311 IT-tj standpr licenser pc-pr", "Övrigt", "6541"])
    assert number.to_pylist() == ["74311", None, "6541"]
    assert text.to_pylist() == ["IT-tj standpr licenser pc-pr", "Övrigt", None]


def test_period_from_file_name():
    assert parse.period_from_name("Orebro.2016-03.xlsx") == "2016-03"
    assert parse.period_from_name("leverantorsfakturor-201803.csv") == "2018-03"
    assert parse.period_from_name("Leverantörsfakturor 2019.xlsx") is None
