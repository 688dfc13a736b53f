"""Names from raw data cannot run code in a report: render the ledger deep-dive with hostile supplier names.

A synthetic ledger (real reference tables beside it) holds supplier names carrying a <script> and an
<img onerror> payload. Each payload would mark the page's <html> element if it ran; headless Chromium
loads the rendered report and dumps the DOM, which must show the payloads as literal text and no mark.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pandas as pd
import pytest

from analysis import config, render
from analysis.io import write_parquet
from analysis.ledgers.aggregate import write_ledger

pytestmark = [pytest.mark.notebooks, pytest.mark.browser]

SCRIPT_PAYLOAD = "<script>document.documentElement.setAttribute('data-xss-script','ran')</script>"
IMG_PAYLOAD = "<img src=x onerror=\"document.documentElement.setAttribute('data-xss-img','ran')\">"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("headless chromium is required in CI (apt-get install chromium; .ci/run installs it)")
    pytest.skip("headless chromium not installed (apt-get install chromium); required in CI")


def synthetic_ledger() -> pd.DataFrame:
    """Five postings of Örebro in 2016-03, two of them to suppliers whose names carry HTML payloads."""
    names = ["Atea Sverige AB", SCRIPT_PAYLOAD, IMG_PAYLOAD, "Tieto Sweden AB", SCRIPT_PAYLOAD]
    amounts = [1_250_000, 990_050, 500_000, -20_000, 10_000]
    n = len(names)
    return pd.DataFrame({
        "source_id": ["orebro-ledger-2016-03"] * n,
        "source_file": ["synthetic_ledger.xlsx"] * n,
        "source_row": pd.Series(range(2, n + 2), dtype="int64"),
        "grain": ["posting"] * n,
        "kommunkod": ["1880"] * n,
        "year": pd.Series([2016] * n, dtype="int64"),
        "period": ["2016-03"] * n,
        "date": pd.to_datetime(["2016-03-01"] * n).date,
        "buyer_unit": ["IT-enheten"] * n,
        "supplier_name": names,
        "supplier_orgnr": ["556000-0001", None, None, "556000-0002", None],
        "supplier_key": ["556000-0001", f"name:{SCRIPT_PAYLOAD}", f"name:{IMG_PAYLOAD}", "556000-0002",
                         f"name:{SCRIPT_PAYLOAD}"],
        "account": ["6540"] * n,
        "account_text": ["IT-tjänster"] * n,
        "amount_ore": pd.Series(amounts, dtype="int64"),
        "amount_sek": pd.Series(amounts, dtype="int64") / 100,
        "invoice_id": [f"synthetic-{i}" for i in range(n)],
    })


def test_hostile_supplier_names_stay_text(raw_dir, processed_dir, tmp_path, monkeypatch):
    chromium = _chromium()
    home = tmp_path / "home"
    processed = home / "data" / "processed"
    processed.mkdir(parents=True)
    (home / "data" / "raw").symlink_to(raw_dir)
    for table in ("municipalities", "population"):
        shutil.copy(processed_dir / f"{table}.parquet", processed / f"{table}.parquet")
    write_ledger(synthetic_ledger(), processed)
    monkeypatch.setenv("KOMMUN_IT_HOME", str(home))
    monkeypatch.delenv("KOMMUN_IT_PROVENANCE", raising=False)

    out = home / "reports"
    job = render.Job("02_ledger_deep_dive", "national", "02_ledger_deep_dive", "Ledger", {"kommunkod": "1880", "period": "2016-03"})
    [result] = render.render([job], out_dir=out, timeout=300, site=False)
    assert result.ok, result.error
    page = out / job.html_relpath

    profile = tmp_path / "chromium-profile"
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    html_tag = re.search(r"<html[^>]*>", dom)
    assert html_tag, "chromium returned no DOM"
    assert "data-xss" not in html_tag.group(0), f"a payload ran: {html_tag.group(0)}"
    assert not re.search(r'<img[^>]*src="x"', dom), "the <img> payload became an element"
    assert "&lt;script&gt;document.documentElement.setAttribute(" in dom, "script payload not shown as text"
    assert "&lt;img src=x onerror=" in dom, "img payload not shown as text"
    assert "Atea Sverige AB" in dom
