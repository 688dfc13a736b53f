"""Rendering machinery: provenance records, parameter validation, index page (no kernels here)."""

from __future__ import annotations

import json

from analysis import config, provenance


def test_provenance_has_version_parameters_and_hashes(raw_dir, monkeypatch):
    monkeypatch.delenv(provenance.ENV_VAR, raising=False)
    rec = provenance.provenance({"kommunkod": "0114"})
    assert rec["code_version"].startswith(__import__("analysis").__version__)
    assert rec["parameters"] == {"kommunkod": "0114"}
    assert isinstance(rec["raw_data"], list) and isinstance(rec["processed"], list)


def test_provenance_hashes_processed_tables_and_reads_cache(processed_dir, monkeypatch, tmp_path):
    monkeypatch.delenv(provenance.ENV_VAR, raising=False)
    hashes = provenance.processed_hashes(processed_dir)
    names = [h["table"] for h in hashes]
    assert "municipalities" in names and names == sorted(names)
    muni = next(h for h in hashes if h["table"] == "municipalities")
    assert muni["sha256"] == provenance.sha256_file(processed_dir / "municipalities.parquet")

    snap = tmp_path / "prov.json"
    snap.write_text(json.dumps({"code_version": "x+y", "raw_data": [], "processed": [{"table": "t", "sha256": "0" * 64}]}))
    monkeypatch.setenv(provenance.ENV_VAR, str(snap))
    rec = provenance.provenance({"year": 2021})
    assert rec == {"code_version": "x+y", "parameters": {"year": 2021}, "raw_data": [], "processed": [{"table": "t", "sha256": "0" * 64}]}


def test_raw_hashes_come_from_manifest(raw_dir, monkeypatch):
    monkeypatch.delenv("KOMMUN_IT_HOME", raising=False)
    from analysis import manifest

    expected = {f.relpath: f.sha256 for s in manifest.load().values() for f in s.files}
    rows = provenance.raw_data_hashes()
    assert rows, "fetched raw files should be listed"
    assert all(expected[r["file"]] == r["sha256"] for r in rows)
    assert config.raw_dir().joinpath(rows[0]["file"]).is_file()
