"""The fast lane of streamed ingest (ledgers/fast.py) gives exactly what clean() gives: the same store,
byte for byte, the same rejects, reconciliation and errors. Synthetic data only (the fuzz harness's
generated ledgers and test_ledger_store's synthetic file)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from analysis import config
from analysis.errors import UserError
from analysis.io import validate
from analysis.ledgers import _LEDGER_COLUMNS_ONLY, fast, ingest_to_store, parse, privacy, store, structure

sys.path.insert(0, str(config.PROJECT_ROOT / "benchmarks"))
sys.path.insert(0, str(Path(__file__).parent))

import fuzz_ledgers  # noqa: E402
from test_ledger_store import KOMMUNER, SYNTHETIC_KEY, synthetic_csv  # noqa: E402


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(privacy.KEY_ENV, SYNTHETIC_KEY)


@pytest.fixture
def fast_chunks(monkeypatch):
    """Counts the chunks the fast lane cleaned."""
    seen = {"fast": 0, "all": 0}
    real = fast.clean_chunk

    def counting(*args, **kwargs):
        out = real(*args, **kwargs)
        seen["all"] += 1
        seen["fast"] += out is not None
        return out

    monkeypatch.setattr(fast, "clean_chunk", counting)
    return seen


def both_lanes(monkeypatch, tmp: Path, paths: list[Path], **kwargs):
    """ingest_to_store with and without the fast lane: (fast result or error text, clean() result or error)."""
    out = []
    for lane, on in (("fast", True), ("clean", False)):
        monkeypatch.setattr(store, "FAST_LANE", on)
        try:
            out.append(ingest_to_store(paths, tmp / lane, **kwargs))
        except UserError as exc:
            out.append(str(exc))
    monkeypatch.setattr(store, "FAST_LANE", True)
    return out


def assert_same(got, want) -> None:
    if isinstance(want, str) or isinstance(got, str):
        assert got == want
        return
    parts = {p.relative_to(got.store): p.read_bytes() for p in store.iter_parts(got.store)}
    expected = {p.relative_to(want.store): p.read_bytes() for p in store.iter_parts(want.store)}
    assert parts.keys() == expected.keys()
    assert parts == expected, "store files differ"
    pd.testing.assert_frame_equal(got.rejects, want.rejects)
    pd.testing.assert_frame_equal(got.reconciliation, want.reconciliation)


def test_fast_lane_writes_the_same_store_as_clean(tmp_path, monkeypatch, fast_chunks):
    path = synthetic_csv(tmp_path / "synthetic_ledger.csv", n=6000)
    got, want = both_lanes(monkeypatch, tmp_path, [path], municipalities=KOMMUNER, block_size=16 << 10,
                           chunk_size=32 << 10)
    assert fast_chunks["fast"] >= 0.5 * fast_chunks["all"] > 0, fast_chunks
    assert fast_chunks["fast"] < fast_chunks["all"], "chunks with blank, ragged or bad rows go to clean()"
    assert_same(got, want)


def test_fast_lane_on_fuzzed_ledgers(tmp_path, monkeypatch, fast_chunks):
    """Generated CSV ledgers (encodings, delimiters, quoting, amount conventions, personnummer in any
    column, faults): both lanes give the same store, rejects, reconciliation or error line."""
    monkeypatch.setenv(privacy.KEY_ENV, fuzz_ledgers.FUZZ_KEY)
    cases = [c for c in (fuzz_ledgers.generate(20261202, i) for i in range(120)) if not c.name.endswith((".xlsx", ".json"))]
    compared = 0
    for case in cases:
        path = tmp_path / case.name
        path.write_bytes(case.data)
        if not store.is_streamable(path):
            continue
        got, want = both_lanes(monkeypatch, tmp_path / case.name.replace(".", "_"), [path],
                               municipalities=fuzz_ledgers.KOMMUNER, block_size=2 << 10, chunk_size=4 << 10,
                               **case.kwargs)
        assert_same(got, want)
        compared += 1
    assert compared >= 70 and fast_chunks["fast"] >= 50, (compared, fast_chunks)


AMOUNT_CHARS = "0123456789 ,.-+\u2212\u00a0\u202f\u2009\t\r\nx"


@given(st.lists(st.text(alphabet=AMOUNT_CHARS, min_size=0, max_size=18), min_size=1, max_size=6))
@example(["1 302,03", "-12,5", "+7", "\u22123,40", "1\u00a0302.03", " 5 "])
@example(["8112289874"])
@example(["198112289874", "1,00"])
@example(["4,5\r"])
def test_plain_amounts_are_parse_amounts(values):
    """Where the fast lane takes a chunk's amounts, they and their decimal counts are parse_amounts' and
    decimal_stats' exactly (and no amount is rejected)."""
    arr = pa.array(values, pa.string())
    plain = fast.amounts(arr)
    if plain is None:
        return
    stats = parse.decimal_stats(arr)
    assert plain.stats == stats
    if stats[2] and stats[3]:
        return  # a chunk mixing separators: the fast lane declines it (clean_chunk), tested above
    want = parse.parse_amounts(arr, stats=stats)
    assert want.reason.isna().all(), list(zip(values, want.reason))
    assert plain.ore.tolist() == want.values.tolist()


@given(st.binary(max_size=200) | st.text(alphabet="ab;\"\n\r\u00e4\u20ac", max_size=80).map(str.encode))
def test_the_fast_utf8_scan_counts_what_the_decoder_counts(data):
    """structure._scan_utf8 gives the decoder's TextScan, or declines (invalid UTF-8, carriage returns)."""
    got = structure._scan_utf8(data, "utf-8")
    if got is None:
        return
    assert got == structure._scan_decoding(data, "utf-8")


def test_a_long_utf8_file_cut_between_pieces(tmp_path, monkeypatch):
    """Pieces are cut before a continuation byte never inside a character: a multi-byte character on the
    cut still validates and counts once."""
    monkeypatch.setattr(structure, "CHUNK", 7)
    data = ("kolumn;värde\n" + "åäö;€\n" * 50).encode()
    assert structure._scan_utf8(data, "utf-8") == structure._scan_decoding(data, "utf-8")
    assert structure._scan_utf8(data[:-2] + b"\xff\n", "utf-8") is None


def test_the_witness_carries_a_bad_value_to_the_schema():
    """The fast lane's rows are validated through the distinct values it saw: a value outside the
    contract fails LEDGER_SCHEMA's column checks as it would in the rows."""
    w = fast.Witness()
    for col, values in {"source_id": ["s"], "source_file": ["f.csv"], "grain": ["posting"], "kommunkod": ["0180"],
                        "year": [2016], "period": ["2016-03"], "supplier_name": ["A AB"],
                        "supplier_key": ["556448-0282"], "supplier_orgnr": ["556448-0282"]}.items():
        w.distinct(col, pa.array(values), False)
    for col, arr in {"source_row": pa.array([2, 9]), "amount_ore": pa.array([-5, 10]),
                     "amount_sek": pa.array([-0.05, 0.1]), "date": pa.array([None], pa.date32()),
                     "invoice_id": pa.array(["F1"])}.items():
        w.span(col, arr)
    w.nulls.update({"buyer_unit", "account", "account_text"})
    validate(w.frame(), _LEDGER_COLUMNS_ONLY, "ledger")
    w.distinct("period", pa.array(["2016-13"]), False)
    with pytest.raises(UserError, match="period"):
        validate(w.frame(), _LEDGER_COLUMNS_ONLY, "ledger")


@given(st.text(alphabet='ab;,"\n\r \u00e4', max_size=60), st.sampled_from([";", ","]))
@example('"a";b\n"";"x"\n', ";")
@example('"a" ;b\n', ";")
@example('"a\nb";c\n', ";")
def test_simple_quoting_means_one_csv_record_per_line(text, delimiter):
    """Where structure.simple_quoting lets the line count stand for the record count, Python's csv module
    (strict) reads exactly one record per line and raises nothing."""
    import csv
    import io

    data = text.encode("utf-8")
    if not structure.simple_quoting(data, delimiter):
        return
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    assert len(records) == lines
