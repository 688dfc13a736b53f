"""`kommun-it ingest` through a subprocess: shape and reconciliation printed, cleaned rows written,
bad input one line on stderr with exit code 2 and never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import pytest

CLI = [sys.executable, "-m", "analysis.cli"]


@pytest.fixture
def home_env(cli_env, processed_dir, tmp_path):
    """A scratch KOMMUN_IT_HOME holding the processed reference table (the 290 kommunkoder)."""
    target = tmp_path / "data" / "processed"
    target.mkdir(parents=True)
    shutil.copy(processed_dir / "municipalities.parquet", target)
    cli_env["KOMMUN_IT_PSEUDONYM_KEY"] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # synthetic 32-byte key
    return cli_env


def run(args, env):
    return subprocess.run(CLI + [str(a) for a in args], env=env, capture_output=True, text=True, timeout=300)


def test_ingest_real_orebro_to_parquet(home_env, raw_dir, tmp_path):
    out = tmp_path / "orebro.parquet"
    res = run(["ingest", raw_dir / "orebro-ledger-2016-03" / "Orebro.2016-03.xlsx", "--kommun", "1880", "--out", out], home_env)
    assert res.returncode == 0, res.stderr
    assert "shape orebro-2016" in res.stdout and "balanced: yes" in res.stdout and "68,021" in res.stdout
    df = pd.read_parquet(out)
    assert len(df) == 68_021 and (df["kommunkod"] == "1880").all()


def test_ingest_synthetic_csv_to_csv_with_explicit_options(home_env, tmp_path):
    path = tmp_path / "synthetic_export.txt"
    path.write_text("leverantor|belopp|konto_nr\nATEA SVERIGE AB|1 302,03|74311\nX AB|-5|65400\n", encoding="cp1252")
    out = tmp_path / "synthetic_out.csv"
    res = run(["ingest", path, "--kommun", "0180", "--period", "2024-02", "--delimiter", "|", "--encoding", "cp1252",
               "--format", "spec-v1.0", "--out", out], home_env)
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(out, dtype={"kommunkod": str})
    assert df["amount_ore"].tolist() == [130203, -500] and (df["kommunkod"] == "0180").all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kommun", "180"], "--kommun '180'"),
        (["--kommun", "9999"], "--kommun '9999'"),
        (["--kommun", "1880", "--period", "2016-13"], "--period '2016-13'"),
        (["--kommun", "1880", "--format", "nonsense"], "--format 'nonsense'"),
        (["--kommun", "1880", "--out", "x.txt"], "--out"),
    ],
)
def test_bad_parameters_exit_2_with_one_line(home_env, raw_dir, tmp_path, args, message):
    args = [a if a != "x.txt" else tmp_path / "x.txt" for a in args]
    res = run(["ingest", raw_dir / "orebro-ledger-2016-03" / "Orebro.2016-03.xlsx", *args], home_env)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert message in res.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a;b;c\n1;2;3\n", "unknown ledger shape"),
        (b"leverantor;belopp;kommun_id\nA;1,00;0180\nB \x81\x8d;2,00;0180\n", "row 3: bytes"),
        (b"leverantor;belopp;kommun_id\nA;x;0180\nB;y;0180\nC;3;0180\n", "row 2: 'x'"),
        (b"leverantor;belopp;kommun_id;datum\nA;1,00;0000;2020-01-31\n", "row 2: unknown kommunkod '0000'"),
        (b"", "file is empty"),
    ],
)
def test_bad_files_exit_2_naming_file_and_row(home_env, tmp_path, content, message):
    path = tmp_path / "synthetic_bad.csv"
    path.write_bytes(content)
    res = run(["ingest", path], home_env)
    assert res.returncode == 2, res.stdout
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "synthetic_bad.csv" in res.stderr and message in res.stderr
