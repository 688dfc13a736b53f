"""docs/analysts-guide.md followed end to end, with a synthetic ledger for Norrköping (0581) standing in for
the analyst's file: every `kommun-it` command of the guide runs in order through the CLI in a scratch home
(`make reports` and `make lab` are covered by the session build, test_documented_examples and test_lab).

The synthetic ledger must reach Norrköping's profile and its own deep dive, marked "supplied by the
analyst"; the same file added twice is a no-op; a different file is refused until --replace; --remove and
a build take it out again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys

import pandas as pd

from analysis import config

from synthetic_ledger import write_synthetic_ledger

GUIDE = config.PROJECT_ROOT / "docs" / "analysts-guide.md"
FILES = {
    "norrkoping-leverantorsfakturor-2016-03.csv": "synthetic-norrkoping-2016-03.csv",
    "norrkoping-leverantorsfakturor-2016-03-corrected.csv": "synthetic-norrkoping-2016-03-corrected.csv",
}


def guide_commands() -> list[tuple[str, bool]]:
    """(command, expected to be refused) for every command line in the guide's bash blocks."""
    text = GUIDE.read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.strip().splitlines():
            command, _, comment = line.partition("#")
            out.append((command.strip(), "refused (exit 2)" in comment))
    return out


def test_the_analysts_guide_end_to_end(raw_dir, processed_dir, tmp_path):
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    (home / "data" / "raw").symlink_to(raw_dir)
    shutil.copytree(processed_dir, home / "data" / "processed")
    work = tmp_path / "work"
    work.mkdir()
    write_synthetic_ledger(work / FILES["norrkoping-leverantorsfakturor-2016-03.csv"])
    write_synthetic_ledger(work / FILES["norrkoping-leverantorsfakturor-2016-03-corrected.csv"], scale=2)
    env = {**os.environ, "KOMMUN_IT_HOME": str(home), "KOMMUN_IT_PSEUDONYM_KEY": hashlib.sha256(b"synthetic guide key").hexdigest()}
    env.pop("KOMMUN_IT_PROVENANCE", None)

    commands = guide_commands()
    assert [c for c, _ in commands if c.startswith("make")] == ["make reports", "make lab"]
    outputs = []
    for command, refused in commands:
        if command.startswith("make"):
            continue
        for guide_name, synthetic in FILES.items():
            command = command.replace(guide_name, synthetic)
        argv = shlex.split(command)
        assert argv[0] == ".venv/bin/kommun-it", command
        proc = subprocess.run([sys.executable, "-m", "analysis.cli", *argv[1:]], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600)
        if refused:
            assert proc.returncode == 2, f"{command} should be refused: {proc.stdout}{proc.stderr}"
            assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
        else:
            assert proc.returncode == 0, f"{command}: {proc.stderr[-1500:]}"
        outputs.append((command, proc.stdout, proc.stderr))

    said = {c: (o, e) for c, o, e in outputs}
    first_add = next(o for c, o, _ in outputs if c.endswith("synthetic-norrkoping-2016-03.csv --kommun 0581 --add"))
    assert "added analyst-supplied-0581-2016-03" in first_add and "balanced: yes" in first_add
    adds = [o for c, o, _ in outputs if c.endswith("synthetic-norrkoping-2016-03.csv --kommun 0581 --add")]
    assert "nothing to do" in adds[1], "the same file added twice is a no-op"
    refusal = next(e for c, _, e in outputs if c.endswith("corrected.csv --kommun 0581 --add"))
    assert "already has an analyst-supplied ledger" in refusal and "--replace" in refusal
    assert "replaced analyst-supplied-0581-2016-03" in said[
        ".venv/bin/kommun-it ingest synthetic-norrkoping-2016-03-corrected.csv --kommun 0581 --add --replace"][0]
    sources_out = said[".venv/bin/kommun-it sources"][0]
    assert re.search(r"local\s+analyst-supplied-0581-2016-03\s+1\s+in the build", sources_out), sources_out
    assert "supplied by the analyst" in sources_out and "mirrored" in sources_out
    assert "0581: 2016-03" in said[".venv/bin/kommun-it params 02"][0]
    assert "cooperation_kind='e_archive'" in said[
        ".venv/bin/kommun-it render --notebook 04 --param cooperation_kind=e_archive"][1]

    reports = home / "reports"
    profile = (reports / "en" / "municipality" / "0581-norrkoping.html").read_text(encoding="utf-8")
    deep_dive = (reports / "en" / "ledger" / "0581-norrkoping-2016-03.html").read_text(encoding="utf-8")
    assert (reports / "sv" / "ledger" / "0581-norrkoping-2016-03.html").is_file()
    assert "href='../ledger/0581-norrkoping-2016-03.html'" in profile.replace('"', "'")
    for page in (profile, deep_dive):
        assert "uses a supplier ledger supplied by the analyst" in page
        assert "synthetic-norrkoping-2016-03-corrected.csv" in page, "the replacing file is named"
    assert "Supplied by the analyst" in deep_dive, "the coverage note of the ledger figures says so"
    figures = pd.read_csv(next((reports / "municipality").rglob("*0581*it-figures.csv")), dtype=str, encoding="utf-8-sig")
    ledger_rows = figures[figures["lens"] == "ledger"]
    assert len(ledger_rows) and (ledger_rows["source_ids"].str.startswith("analyst-supplied-0581-2016-03")).all()
    total = ledger_rows[(ledger_rows["measure"] == "ledger_total_sek") & (ledger_rows["method"] == "accounts")]
    assert float(total["value"].iloc[0]) == 2 * 1_913_465.0, "figures come from the replacing (corrected) file"
    periods = pd.read_csv(next((reports / "ledger").rglob("*0581*ledger-periods.csv")), dtype=str, encoding="utf-8-sig")
    assert periods.loc[periods["kommunkod"] == "0581", "source_id"].tolist() == ["analyst-supplied-0581-2016-03"]
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert "ledger/0581-norrkoping-2016-03.html" in index and "municipality/0581-norrkoping.html" in index

    # taken out again: removed from data/local and, after the build, from the ledger lens
    assert "removed analyst-supplied-0581-2016-03" in said[".venv/bin/kommun-it ingest --remove --kommun 0581"][0]
    assert not list((home / "data" / "local").glob("analyst-supplied-*"))
    ledger = pd.read_parquet(home / "data" / "processed" / "ledger_periods.parquet", columns=["source_id"])
    assert not ledger["source_id"].str.startswith("analyst-supplied-").any()
