"""A seeded 300-file slice of the ledger fuzz harness (benchmarks/fuzz_ledgers.py; `make fuzz` runs 10,000):
generated CSV/xlsx/JSON ledgers, each ingested and checked against its own ground truth."""

from __future__ import annotations

import sys

from analysis import config

sys.path.insert(0, str(config.PROJECT_ROOT / "benchmarks"))

import fuzz_ledgers  # noqa: E402


def test_seeded_fuzz_slice_meets_its_ground_truth():
    failures = fuzz_ledgers.run(300, seed=20261201, workers=1)
    assert not failures, "\n".join(failures[:10])


def test_the_harness_catches_a_wrong_answer(monkeypatch, tmp_path):
    monkeypatch.setenv("KOMMUN_IT_PSEUDONYM_KEY", fuzz_ledgers.FUZZ_KEY)
    cases = (fuzz_ledgers.generate(20261201, i) for i in range(100))
    case = next(c for c in cases if c.clean_rows and not (c.expect_error or c.may_error))
    assert fuzz_ledgers.check(case, tmp_path) is None
    case.clean_ore += 1  # a ground truth one öre off must be reported
    assert "!= ground truth" in (fuzz_ledgers.check(case, tmp_path) or "")
