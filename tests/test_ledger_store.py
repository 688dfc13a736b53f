"""The partitioned ledger store (issue 13): a file streamed in many small chunks gives exactly what the
whole-file path gives, lands in kommunkod=/year= partitions, keeps personnummer out, reconciles to the öre,
aggregates in DuckDB like pandas does, and is byte-identical when built twice. Synthetic data only."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis.errors import UserError
from analysis.ledgers import aggregate, ingest_file, ingest_files, ingest_to_store, privacy, store

KOMMUNER = frozenset({"0180", "1880"})
SYNTHETIC_KEY = "220e1cd2adcf9188b61fa7affbce8480120fd4a97222091ca6110d55a3e7d7c9"  # a 32-byte test key
SOLE_TRADER = "811228-9874"  # a valid personnummer (synthetic)
HEADER = ("kopare_id;kopare;verifikationsnummer;leverantor;leverantor_id;konto_nr;konto_text;bokforingsdatum;"
          "forvaltning;fakturanummer;belopp;kommun_id")
SUPPLIERS = [("556448-0282", "SYNTHETIC ATEA AB"), ("556337-2191", "SYNTHETIC CGI AB"), ("556052-7466", "SYNTHETIC TIETO AB"),
             ("", "SYNTHETIC NO ID AB")]
BLOCK = 16 << 10  # 16 KB chunks: about 140 rows each


@pytest.fixture(autouse=True, scope="module")
def _key():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(privacy.KEY_ENV, SYNTHETIC_KEY)
        yield


def synthetic_csv(path: Path, n: int = 1500, *, bad_amounts: int = 3, dot_rows: int = 0, seed: int = 13) -> Path:
    """A synthetic spec-v1.1 ledger of two municipalities and three months, with blank and ragged lines,
    a few unparsable amounts, credit notes and a sole trader's personnummer near the end."""
    rng = np.random.default_rng(seed)
    lines = [HEADER]
    for i in range(n):
        orgnr, name = SUPPLIERS[int(rng.integers(len(SUPPLIERS)))]
        if i == n - 40:
            orgnr, name = SOLE_TRADER, "Anna Synthetic"
        ore = int(rng.integers(-50_000, 5_000_000))
        kr, rest = divmod(abs(ore), 100)
        amount = f"{'-' if ore < 0 else ''}{kr:,}".replace(",", " ") + f",{rest:02d}"
        if i >= n - dot_rows:
            amount = f"{ore / 100:.2f}"
        if i in range(n // 2, n // 2 + bad_amounts):
            amount = "synthetic bad amount"
        kommun = "0180" if rng.random() < 0.6 else "1880"
        account = ["5460", "6540", "7432", "7010"][int(rng.integers(4))]
        lines.append(f"2120002080;Synthetic kommun;V{i};{name};{orgnr};{account};Konto {account};"
                     f"2016-0{1 + i * 3 // n}-{1 + i % 28:02d};Synthetic unit {i % 5};F{i};{amount};{kommun}")
        if i in (100, 1000):
            lines.append("")
        if i == 700:
            lines.append("synthetic;ragged;row")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def by_row(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["source_file", "source_row"], ignore_index=True)


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("store")
    path = synthetic_csv(tmp / "synthetic_ledger.csv")
    whole = ingest_file(path, municipalities=KOMMUNER)
    stored = ingest_to_store([path], tmp / "ledger", municipalities=KOMMUNER, block_size=BLOCK, chunk_size=BLOCK)
    return path, whole, stored


def test_streamed_chunks_equal_the_whole_file(streamed):
    _, whole, stored = streamed
    assert len(list(store.iter_parts(stored.store))) > 10, "the file was read in many chunks"
    pd.testing.assert_frame_equal(by_row(store.read_store(stored.store)), by_row(whole.ledger))
    pd.testing.assert_frame_equal(stored.rejects, whole.rejects)
    pd.testing.assert_frame_equal(stored.reconciliation, whole.reconciliation)
    assert set(stored.rejects["reason"]) >= {"empty row", "ragged row: 3 fields, expected 12"}


def test_partition_layout(streamed):
    _, whole, stored = streamed
    dirs = sorted(str(p.relative_to(stored.store)) for p in stored.store.glob("kommunkod=*/year=*"))
    assert dirs == ["kommunkod=0180/year=2016", "kommunkod=1880/year=2016"]
    part = next(store.iter_parts(stored.store))
    assert part.name.startswith("part-0001-") and "kommunkod" not in pq.read_schema(part).names
    one = store.read_store(stored.store, "1880", "2016-02")
    want = whole.ledger[(whole.ledger["kommunkod"] == "1880") & (whole.ledger["period"] == "2016-02")]
    pd.testing.assert_frame_equal(one, want.reset_index(drop=True))


def test_personnummer_in_a_late_chunk_never_reaches_the_store(streamed):
    _, _, stored = streamed
    raw = b"".join(p.read_bytes() for p in store.iter_parts(stored.store))
    text = store.read_store(stored.store).astype(str).to_csv()
    for form in (SOLE_TRADER, SOLE_TRADER.replace("-", ""), "Anna Synthetic"):
        assert form not in text and form.encode() not in raw
    assert store.read_store(stored.store)["supplier_key"].str.startswith("pn:").sum() == 1


def test_reconciliation_across_chunks_balances_to_the_ore(streamed):
    _, _, stored = streamed
    rec = stored.reconciliation.iloc[0]
    assert rec["rows_in"] == 1500 + 3 == rec["rows_clean"] + rec["rows_rejected"]
    assert rec["ore_in"] == rec["ore_clean"] + rec["ore_rejected"]
    rows, ore = duckdb.connect().execute(f"SELECT count(*), sum(amount_ore) FROM {store.duckdb_source(stored.store)}").fetchone()
    assert (rows, int(ore)) == (rec["rows_clean"], rec["ore_clean"])


def test_aggregation_equals_a_pandas_groupby(streamed):
    _, whole, stored = streamed
    got = aggregate.lens_groups(stored.store)
    keys = [k for k in aggregate.LENS_KEYS if k != "source_row"]
    led = whole.ledger.assign(abs_ore=whole.ledger["amount_ore"].abs())
    want = led.groupby(keys, dropna=False).agg(rows=("amount_ore", "size"), amount_ore=("amount_ore", "sum"),
                                               abs_ore=("abs_ore", "sum")).reset_index()
    got = got.drop(columns=["source_row", "amount_sek"]).sort_values(keys, ignore_index=True)
    want = want.sort_values(keys, ignore_index=True)
    assert got.astype(str).equals(want[list(got.columns)].astype(str))
    periods = aggregate.periods(stored.store)
    assert periods["rows"].sum() == len(whole.ledger) and periods["amount_ore"].sum() == whole.ledger["amount_ore"].sum()


def test_two_builds_are_byte_identical(tmp_path, streamed):
    path, _, stored = streamed
    again = ingest_to_store([path], tmp_path / "again", municipalities=KOMMUNER, block_size=BLOCK, chunk_size=BLOCK)
    first = {p.relative_to(stored.store): p.read_bytes() for p in store.iter_parts(stored.store)}
    second = {p.relative_to(again.store): p.read_bytes() for p in store.iter_parts(again.store)}
    assert first == second


def test_decimal_decisions_are_the_whole_files(tmp_path):
    """Dot decimals only after the first chunk: the whole file decides (mixed separators), so the file is
    streamed again with the whole file's counts and rejects exactly what the whole-file path rejects."""
    path = synthetic_csv(tmp_path / "synthetic_mixed.csv", bad_amounts=0, dot_rows=10)
    whole = ingest_file(path, municipalities=KOMMUNER)
    stored = ingest_to_store([path], tmp_path / "ledger", municipalities=KOMMUNER, block_size=BLOCK, chunk_size=BLOCK)
    assert whole.rejects["reason"].str.startswith("mixed decimal separators").sum() > 0
    pd.testing.assert_frame_equal(stored.rejects, whole.rejects)
    pd.testing.assert_frame_equal(by_row(store.read_store(stored.store)), by_row(whole.ledger))


def test_one_percent_rule_counts_the_whole_file(tmp_path):
    """20 bad amounts sit in one 140-row chunk (far over 1 % of it) and are 1.3 % of the file: refused,
    with the whole-file message; 10 (0.7 %) pass, though one chunk holds 7 % bad amounts."""
    bad = synthetic_csv(tmp_path / "synthetic_bad.csv", bad_amounts=20)
    with pytest.raises(UserError) as whole_err:
        ingest_file(bad, municipalities=KOMMUNER)
    with pytest.raises(UserError) as stream_err:
        ingest_to_store([bad], tmp_path / "ledger", municipalities=KOMMUNER, block_size=BLOCK, chunk_size=BLOCK)
    assert str(stream_err.value) == str(whole_err.value)
    assert not (tmp_path / "ledger").exists(), "a refused file leaves no store behind"
    fine = synthetic_csv(tmp_path / "synthetic_fine.csv", bad_amounts=10)
    stored = ingest_to_store([fine], tmp_path / "ledger", municipalities=KOMMUNER, block_size=BLOCK, chunk_size=BLOCK)
    assert stored.reconciliation.iloc[0]["rows_rejected"] == 10 + 3


def test_a_month_published_twice_is_rejected_whole(tmp_path):
    path = synthetic_csv(tmp_path / "synthetic_a.csv", n=500)
    copy = tmp_path / "synthetic_b.csv"
    copy.write_bytes(path.read_bytes())
    whole = ingest_files([path, copy], municipalities=KOMMUNER)
    stored = ingest_to_store([path, copy], tmp_path / "ledger", municipalities=KOMMUNER, block_size=BLOCK, chunk_size=BLOCK)
    pd.testing.assert_frame_equal(stored.reconciliation, whole.reconciliation)
    pd.testing.assert_frame_equal(stored.rejects, whole.rejects)
    assert stored.reconciliation.iloc[1]["rows_clean"] == 0


def test_parallel_structure_scan_and_a_wrong_encoding_guess(tmp_path, monkeypatch):
    """With the structure scan in its own process (forced for a small file): a Windows-1252 file whose
    first 64 KB are ASCII is first parsed as UTF-8, then read again as the scan says; a file mixing
    encodings is refused with the whole-file path's message."""
    monkeypatch.setattr(store, "PARALLEL_SCAN_BYTES", 0)
    path = synthetic_csv(tmp_path / "synthetic_cp1252.csv", n=800)
    text = path.read_text(encoding="utf-8")
    path.write_bytes((text + text.splitlines()[1].replace("Synthetic unit", "Synthetisk förvaltning") + "\n")
                     .encode("cp1252"))
    whole = ingest_file(path, municipalities=KOMMUNER)
    stored = ingest_to_store([path], tmp_path / "ledger", municipalities=KOMMUNER, block_size=BLOCK, chunk_size=BLOCK)
    assert "decoded as cp1252" in whole.reconciliation.iloc[0]["note"]
    pd.testing.assert_frame_equal(stored.reconciliation, whole.reconciliation)
    pd.testing.assert_frame_equal(by_row(store.read_store(stored.store)), by_row(whole.ledger))
    mixed = tmp_path / "synthetic_mixed_encodings.csv"
    row = text.splitlines()[1].replace("Synthetic unit", "Synthetisk förvaltning") + "\n"
    mixed.write_bytes(text.encode("utf-8") + row.encode("utf-8") + row.encode("cp1252"))
    with pytest.raises(UserError) as whole_err:
        ingest_file(mixed, municipalities=KOMMUNER)
    with pytest.raises(UserError) as stream_err:
        ingest_to_store([mixed], tmp_path / "ledger2", municipalities=KOMMUNER, block_size=BLOCK, chunk_size=BLOCK)
    assert str(stream_err.value) == str(whole_err.value)


def test_ledger_stage_twice_gives_a_byte_identical_store(processed_dir, raw_dir, tmp_path):
    """The real ledger stage, built twice into two directories (same pseudonym key): the same bytes."""
    from analysis import build

    outs = [tmp_path / "first", tmp_path / "again"]
    for out in outs:
        out.mkdir()
        (out / "municipalities.parquet").write_bytes((processed_dir / "municipalities.parquet").read_bytes())
        build.build(["ledgers"], raw_dir=raw_dir, out_dir=out)
    first, again = (store.store_dir(out) for out in outs)
    names = [p.relative_to(first) for p in store.iter_parts(first)]
    assert names and names == [p.relative_to(again) for p in store.iter_parts(again)]
    assert all((first / n).read_bytes() == (again / n).read_bytes() for n in names)
    for table in ("ledger_lens", "ledger_periods", "ledger_reconciliation", "ledger_rejects"):
        assert (outs[0] / f"{table}.parquet").read_bytes() == (outs[1] / f"{table}.parquet").read_bytes()
    assert not (outs[1] / "ledger.parquet").exists()


def test_provenance_hashes_the_store_as_one_table(processed_dir):
    from analysis import provenance

    tables = {r["table"]: r["sha256"] for r in provenance.processed_hashes(processed_dir)}
    assert {"ledger", "ledger_lens", "ledger_periods"} <= set(tables) and len(tables["ledger"]) == 64
