"""Analyst-supplied ledgers (data/local/): the refusals and checks of `ingest --add`, in process, on synthetic files."""

from __future__ import annotations

import pytest

from analysis import local_sources
from analysis.errors import UserError
from analysis.ledgers import ingest_file, known_municipalities

from synthetic_ledger import write_synthetic_ledger


@pytest.fixture
def home(processed_dir, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "processed").symlink_to(processed_dir)
    monkeypatch.setenv("KOMMUN_IT_HOME", str(tmp_path))
    monkeypatch.setenv("KOMMUN_IT_PSEUDONYM_KEY", "synthetic-local-key-" + "3" * 32)
    return tmp_path


def _add(path, replace=False, **kwargs):
    return local_sources.add(path, ingest_file(path, municipalities=known_municipalities(), **kwargs), replace=replace)


def test_add_keeps_reconciled_rows_and_a_manifest_record(home, tmp_path):
    path = write_synthetic_ledger(tmp_path / "synthetic-norrkoping-2016-03.csv")
    result = _add(path)
    rec = result.record
    assert result.action == "added" and rec["id"] == "analyst-supplied-0581-2016-03"
    assert rec["rows_in"] == rec["rows_clean"] + rec["rows_rejected"] == 6
    assert rec["ore_in"] == rec["ore_clean"] + rec["ore_rejected"] == 191_346_650
    assert rec["shape"] == "spec-v1.1" and rec["periods"] == ["2016-03"] and len(rec["sha256"]) == 64
    [(ledger, rejects, recon)] = local_sources.local_parts()
    assert (ledger["source_id"] == rec["id"]).all() and ledger["amount_ore"].sum() == rec["ore_clean"]
    assert "supplied by the analyst" in recon["note"]
    assert _add(path).action == "unchanged"
    assert "supplied by the analyst" in local_sources.coverage_notes()[rec["id"]].lower()


def test_a_month_the_mirrored_data_holds_is_refused(home, tmp_path):
    path = tmp_path / "synthetic-orebro-2016-03.csv"
    write_synthetic_ledger(path)
    path.write_text(path.read_text(encoding="utf-8").replace(";0581\n", ";1880\n"), encoding="utf-8")
    with pytest.raises(UserError, match=r"1880 2016-03 \(orebro-ledger-2016-03\) is already in the public mirrored data"):
        _add(path)
    assert local_sources.load() == []


def test_rows_without_a_month_or_for_two_municipalities_are_refused(home, tmp_path):
    undated = tmp_path / "synthetic-undated.csv"
    write_synthetic_ledger(undated)
    lines = undated.read_text(encoding="utf-8").splitlines()
    header = lines[0].replace("bokforingsdatum;", "")
    rows = [";".join(r.split(";")[:7] + r.split(";")[8:]) for r in lines[1:]]
    undated.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="pass --period YYYY-MM"):
        _add(undated)
    assert _add(undated, period="2016-05").record["periods"] == ["2016-05"]

    two = tmp_path / "synthetic-two-municipalities.csv"
    write_synthetic_ledger(two)
    text = two.read_text(encoding="utf-8")
    two.write_text(text.replace(";0581\n", ";0580\n", 1), encoding="utf-8")
    with pytest.raises(UserError, match="holds rows for 2 municipalities"):
        _add(two)


def test_replace_remove_and_a_tampered_table(home, tmp_path):
    first = write_synthetic_ledger(tmp_path / "synthetic-a.csv")
    second = write_synthetic_ledger(tmp_path / "synthetic-b.csv", scale=3)
    _add(first)
    with pytest.raises(UserError, match="already has an analyst-supplied ledger .*--replace"):
        _add(second)
    replaced = _add(second, replace=True)
    assert replaced.action == "replaced" and replaced.record["file"] == "synthetic-b.csv"
    assert [r["file"] for r in local_sources.load()] == ["synthetic-b.csv"]

    stored = local_sources.local_dir() / replaced.record["id"] / "ledger.parquet"
    stored.write_bytes(stored.read_bytes() + b"x")
    with pytest.raises(UserError, match="changed since it was added"):
        local_sources.local_parts()

    with pytest.raises(UserError, match="no analyst-supplied ledger matches"):
        local_sources.remove(kommun="0180")
    assert local_sources.remove(second) == [replaced.record["id"]]
    assert local_sources.load() == [] and not (local_sources.local_dir() / replaced.record["id"]).exists()
