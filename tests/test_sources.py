"""Online clients against a loopback HTTP server: never the internet.

Served: SYNTHETIC TED yearly zips (the 75-column header, made-up rows), the real recorded TED Search API
answer, and the mirrored 2021 UHM workbooks standing in for another year's export.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis import config
from analysis.errors import UserError
from analysis.sources import http as shttp
from analysis.sources import ted, ted_api, uhm
from analysis.sources.cli import parse_years
from analysis.sources.synthetic import TED_COLUMNS, synthetic_ted_table, write_synthetic_zip
from loopback import Handler, serve

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
SE_BUYERS = [("Göteborgs Stad", "212000-1355"), ("Kommunstyrelsen i Tierp", "2120000000"), ("SYNTHETIC AB", "5560000000")]


class Routes(Handler):
    """Answers from Routes.table: path → callable(handler, body) -> (status, headers, bytes)."""

    table: dict = {}
    log: list = []

    def _serve(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urllib.parse.urlsplit(self.path)
        Routes.log.append((method, url.path, url.query, body, dict(self.headers)))
        route = Routes.table.get(url.path)
        status, headers, out = route(self, body) if route else (404, {}, b"not found")
        self.reply(status, out, headers)

    def do_GET(self):  # noqa: N802
        self._serve("GET")

    def do_POST(self):  # noqa: N802
        self._serve("POST")



@pytest.fixture(scope="module")
def server():
    with serve(Routes) as url:
        yield url


@pytest.fixture
def routes(server):
    Routes.table = {}
    Routes.log = []
    return Routes.table


def fast_client(**kw) -> shttp.Client:
    return shttp.Client(what="test", backoff=0.0, sleep=lambda s: None, **kw)


def static(data: bytes, status: int = 200, ranges: bool = False):
    def answer(handler, body):
        rng = handler.headers.get("Range")
        if ranges and rng:
            start = int(rng.split("=")[1].split("-")[0])
            return 206, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}, data[start:]
        return status, {}, data

    return answer


@pytest.fixture(scope="module")
def ted_zip(tmp_path_factory) -> Path:
    table = synthetic_ted_table(3000, 2019, seed=7, se_buyers=SE_BUYERS, se_share=0.2)
    return write_synthetic_zip(tmp_path_factory.mktemp("ted") / ted.zip_name(2019), table, year=2019)


# ---------------------------------------------------------------- the HTTP layer


def test_retries_on_503_and_429_honouring_retry_after(routes, server):
    answers = iter([(503, {"Retry-After": "7"}, b""), (429, {"Retry-After": "120"}, b""), (200, {}, b'{"ok": 1}')])
    routes["/flaky"] = lambda h, b: next(answers)
    waits = []
    client = shttp.Client(what="test", sleep=waits.append, max_wait=60)
    assert client.get_json(f"{server}/flaky") == {"ok": 1}
    assert waits == [7.0, 60.0]  # Retry-After honoured, capped at max_wait


def test_404_stops_at_once_with_one_line(routes, server):
    with pytest.raises(UserError, match=r"answered HTTP 404") as exc:
        fast_client().get_json(f"{server}/missing")
    assert "\n" not in str(exc.value)
    assert len(Routes.log) == 1


def test_gives_up_after_retries(routes, server):
    routes["/down"] = lambda h, b: (502, {}, b"")
    with pytest.raises(UserError, match="HTTP 502 after 3 attempts"):
        fast_client(retries=2).get_json(f"{server}/down")


def test_download_is_hashed_renamed_and_resumes(routes, server, tmp_path):
    data = os.urandom(300_000)
    routes["/f.bin"] = static(data, ranges=True)
    dest = tmp_path / "f.bin"
    part = tmp_path / "f.bin.part"
    part.write_bytes(data[:100_000])  # an interrupted earlier download
    got = fast_client().download(f"{server}/f.bin", dest)
    assert got.resumed and dest.read_bytes() == data and not part.exists()
    assert got.sha256 == hashlib.sha256(data).hexdigest() and got.size == len(data)
    assert Routes.log[-1][4].get("Range") == "bytes=100000-"


def test_download_restarts_when_range_is_ignored(routes, server, tmp_path):
    data = b"x" * 5000
    routes["/g.bin"] = static(data, ranges=False)
    (tmp_path / "g.bin.part").write_bytes(b"garbage")
    got = fast_client().download(f"{server}/g.bin", tmp_path / "g.bin")
    assert not got.resumed and (tmp_path / "g.bin").read_bytes() == data


def test_rate_limit_spaces_requests_per_host(routes, server):
    routes["/r"] = lambda h, b: (200, {}, b"{}")
    waits = []
    client = shttp.Client(what="test", rate_per_host=5.0, sleep=waits.append)
    client.get_json(f"{server}/r")
    client.get_json(f"{server}/r")
    assert len(waits) == 1 and 4.0 < waits[0] <= 5.0


def test_offline_is_one_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    with pytest.raises(shttp.OfflineError, match=r"cannot reach .*offline"):
        fast_client(retries=1).get_json(f"http://127.0.0.1:{port}/x")


def test_parse_years():
    import datetime as dt

    today = dt.date(2026, 5, 1)
    assert parse_years("2006-2008", today) == [2006, 2007, 2008]
    assert parse_years("2024-", today) == [2024, 2025, 2026]
    assert parse_years("2019", today) == [2019]
    for bad in ("19", "2010-2009", "2030"):
        with pytest.raises(UserError):
            parse_years(bad, today)


# ---------------------------------------------------------------- TED bulk


def test_ted_filter_keeps_swedish_rows_with_original_header(ted_zip, tmp_path):
    read, kept = ted.filter_country(ted_zip, tmp_path / "se.csv")
    se = pd.read_csv(tmp_path / "se.csv", dtype=str, keep_default_na=False)
    assert read == 3000 and kept == len(se) > 0
    assert list(se.columns) == TED_COLUMNS and len(TED_COLUMNS) == 75
    assert (se["ISO_COUNTRY_CODE"] == "SE").all()
    full = pd.read_csv(ted_zip, dtype=str, keep_default_na=False)
    assert kept == (full["ISO_COUNTRY_CODE"] == "SE").sum()
    assert se["TITLE"].str.contains("SYNTHETIC").all()


def test_ted_filter_small_blocks_give_the_same_rows(ted_zip, tmp_path):
    ted.filter_country(ted_zip, tmp_path / "a.csv")
    ted.filter_country(ted_zip, tmp_path / "b.csv", block_size=64 << 10)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_ted_missing_column_names_file_row_and_column(tmp_path):
    table = synthetic_ted_table(50, 2019).drop_columns(["ISO_COUNTRY_CODE"])
    z = write_synthetic_zip(tmp_path / "x.zip", table, year=2019)
    with pytest.raises(UserError, match=r"x\.zip:TED_AWARD_SYNTHETIC_2019\.csv row 1 \(header\): no column 'ISO_COUNTRY_CODE'"):
        ted.filter_country(z, tmp_path / "se.csv")
    assert not (tmp_path / "se.csv").exists()


def test_ted_ragged_row_is_one_line(tmp_path):
    import zipfile

    z = tmp_path / "r.zip"
    header = ",".join(TED_COLUMNS)
    good = ",".join(["1"] * 75)
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("r.csv", f"{header}\n{good}\n1,2,3\n")
    with pytest.raises(UserError, match=r"r\.zip:r\.csv: cannot read as the TED CSV shape \(.*Expected 75 columns") as exc:
        ted.filter_country(z, tmp_path / "se.csv")
    assert "\n" not in str(exc.value)


def test_refresh_ted_fills_raw_with_hashed_files(routes, server, ted_zip, tmp_path):
    routes["/store/ted-contract-award-notices-2019.zip"] = static(ted_zip.read_bytes())
    raw = tmp_path / "raw"
    summary = ted.refresh_ted([2019], raw, f"{server}/store", fast_client())
    assert "Swedish award rows" in summary
    manifest = yaml.safe_load((raw / "refreshed_sources.yml").read_text())
    rec = next(s for s in manifest["sources"] if s["id"] == ted.SOURCE_ID)
    names = {f["name"]: f for f in rec["files"]}
    assert set(names) == {ted.zip_name(2019), ted.se_name(2019)}
    for name, entry in names.items():
        path = raw / ted.SOURCE_ID / name
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and entry["size"] == path.stat().st_size
        assert entry["client"].startswith("analysis.sources.ted") and entry["retrieved_at"] and entry["query"]
    assert names[ted.se_name(2019)]["derived_from"] == ted.zip_name(2019)


def test_ted_years_outside_bulk_range_point_to_the_api(tmp_path):
    with pytest.raises(UserError, match="use --source ted-api"):
        ted.refresh_ted([2024], tmp_path)


# ---------------------------------------------------------------- TED Search API v3


def test_ted_api_follows_iteration_tokens_on_the_recorded_answer(routes, server, tmp_path):
    shared = config.PROJECT_ROOT.parent / "shared" / "data" / "recorded"
    real = json.loads((shared / "ted_api_v3_search_response.json").read_text(encoding="utf-8"))
    first = dict(real, iterationNextToken="tok-1")
    pages = iter([first, dict(real, notices=[], iterationNextToken=None)])
    routes["/v3/notices/search"] = lambda h, b: (200, {"Content-Type": "application/json"}, json.dumps(next(pages)).encode())
    raw = tmp_path / "raw"
    summary = ted_api.refresh_ted_api([2024], raw, server, fast_client())
    assert "5 notices" in summary
    bodies = [json.loads(b) for m, p, q, b, h in Routes.log]
    assert [b.get("iterationNextToken") for b in bodies] == [None, "tok-1"]
    assert bodies[0]["paginationMode"] == "ITERATION" and bodies[0]["limit"] <= 250
    assert "buyer-country=SWE" in bodies[0]["query"]
    doc = json.loads((raw / ted_api.SOURCE_ID / ted_api.file_name(2024)).read_text(encoding="utf-8"))
    frame = ted_api.notices_frame(doc, "rec")
    assert len(frame) == 5 and frame["notice_id"].iloc[0] == "543796-2026"
    assert frame["cpv"].iloc[0] == "79000000" and frame["buyer_country"].iloc[0] == "NOR"


def test_ted_api_without_notices_list_is_one_line(routes, server, tmp_path):
    routes["/v3/notices/search"] = lambda h, b: (200, {}, b'{"results": []}')
    with pytest.raises(UserError, match="no 'notices' list"):
        ted_api.refresh_ted_api([2024], tmp_path, server, fast_client())


# ---------------------------------------------------------------- Upphandlingsmyndigheten


def test_uhm_exports_as_the_2021_mirror_was_made(routes, server, raw_dir, tmp_path):
    raw = tmp_path / "raw"
    (raw / uhm.PARAMETERS_SOURCE).mkdir(parents=True)
    params_path = raw_dir / uhm.PARAMETERS_SOURCE / uhm.PARAMETERS_FILE
    (raw / uhm.PARAMETERS_SOURCE / uhm.PARAMETERS_FILE).write_bytes(params_path.read_bytes())
    files = {unit: (raw_dir / "uhm-procurement-2021" / name).read_bytes() for name, unit in uhm.TABLES.items()}

    def export(handler, body):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
        return 200, {}, files[q["unit"][0]]

    routes["/" + uhm.EXPORT_PATH] = export
    routes["/" + uhm.AWARDS_PATH] = static("\ufeffUpphandlings-ID;Organisationsnummer för leverantör\nSYNTHETIC;5560000000\n".encode())
    summary = uhm.refresh_uhm([2022], raw, server, fast_client())
    assert "5 file(s)" in summary
    exports = [urllib.parse.parse_qs(q) for m, p, q, b, h in Routes.log if p.endswith("export/excel")]
    assert len(exports) == 4
    procurements = next(q for q in exports if q["unit"] == ["Antal upphandlingar"])
    assert procurements["year"] == ["2022"] and procurements["measurement"] == ["SUM"]
    assert procurements["orderBy"] == [procurements["param"][0]] == ["Köpare.Namn för köpare"]
    # one param per column of the mirrored table (minus År and the measure column)
    mirrored = pd.read_excel(raw_dir / "uhm-procurement-2021" / "number_of_procurements.xlsx", engine="calamine", nrows=1)
    assert len(procurements["param"]) == len(mirrored.columns) - 2
    for name in uhm.TABLES:
        assert (raw / "uhm-procurement-2022" / name).exists()
    manifest = yaml.safe_load((raw / "refreshed_sources.yml").read_text())
    assert {s["id"] for s in manifest["sources"]} == {"uhm-procurement-2022", uhm.AWARDS_ID}


def test_uhm_html_instead_of_xlsx_is_refused(routes, server, raw_dir, tmp_path):
    raw = tmp_path / "raw"
    (raw / uhm.PARAMETERS_SOURCE).mkdir(parents=True)
    (raw / uhm.PARAMETERS_SOURCE / uhm.PARAMETERS_FILE).write_bytes(
        (raw_dir / uhm.PARAMETERS_SOURCE / uhm.PARAMETERS_FILE).read_bytes()
    )
    routes["/" + uhm.EXPORT_PATH] = static(b"<html>error</html>")
    with pytest.raises(UserError, match="not an xlsx workbook"):
        uhm.refresh_uhm([2022], raw, server, fast_client(), awards=False)


# ---------------------------------------------------------------- the command line


def run_cli(args, env):
    return subprocess.run([sys.executable, "-m", "analysis.cli", *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_refresh_ted_against_local_server(routes, server, ted_zip, cli_env):
    routes["/m/ted-contract-award-notices-2019.zip"] = static(ted_zip.read_bytes())
    res = run_cli(["refresh", "procurement", "--source", "ted", "--years", "2019", "--base-url", f"{server}/m"], cli_env)
    assert res.returncode == 0, res.stderr
    assert (Path(cli_env["KOMMUN_IT_HOME"]) / "data" / "raw" / ted.SOURCE_ID / ted.se_name(2019)).exists()


def test_cli_offline_says_so_in_one_line_exit_2(cli_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = run_cli(["refresh", "procurement", "--source", "ted", "--years", "2019", "--base-url", f"http://127.0.0.1:{port}"], cli_env)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "cannot reach" in res.stderr and "Traceback" not in res.stderr


def test_cli_unknown_source_exit_2(cli_env):
    res = run_cli(["refresh", "procurement", "--source", "tedd", "--years", "2019"], cli_env)
    assert res.returncode == 2 and "--source 'tedd'" in res.stderr


def test_refresh_then_build_gives_a_multi_year_lens(routes, server, ted_zip, raw_dir, processed_dir, tmp_path):
    """refresh (SYNTHETIC TED 2019 from the loopback server) → build panel: TED years join BDF and 2021."""
    import shutil

    from analysis import config, build

    raw = tmp_path / "raw"
    raw.mkdir()
    for sid in ("uhm-procurement-2021", "bdf-procurement-panel-2009-2015"):
        (raw / sid).symlink_to(raw_dir / sid)
    routes["/store/ted-contract-award-notices-2019.zip"] = static(ted_zip.read_bytes())
    ted.refresh_ted([2019], raw, f"{server}/store", fast_client())
    out = tmp_path / "processed"
    out.mkdir()
    for table in ("municipalities", "population"):
        shutil.copy(processed_dir / f"{table}.parquet", out / f"{table}.parquet")
    build.build(["panel"], raw_dir=raw, out_dir=out)
    p = pd.read_parquet(out / "procurement_panel.parquet")
    years = p.groupby("measure")["year"].agg(lambda s: sorted(set(s)))
    assert years["tenders_all"] == list(range(2009, 2016)) and years["procurements_all"] == [2021]
    assert years["ted_it_procurements"] == [2019]
    awards = pd.read_parquet(out / "ted_awards_se.parquet")
    assert set(awards.loc[awards["kommunkod"].notna(), "kommunkod"]) == {"1480", "0360"}  # Göteborg, Tierp
    assert awards["buyer_name"].eq("SYNTHETIC AB").any() and awards.loc[awards["buyer_name"] == "SYNTHETIC AB", "kommunkod"].isna().all()
    goteborg = p[(p["measure"] == "ted_it_procurements") & (p["kommunkod"] == "1480")]["value"].item()
    it_rows = awards[(awards["kommunkod"] == "1480") & awards["category"].notna() & ~awards["is_cancelled"]]
    assert goteborg == it_rows["notice_id"].nunique() > 0
    summary = pd.read_parquet(out / "before_after_summary.parquet").set_index("outcome")
    assert "ted_it_procurements" in summary.index and summary.loc["ted_it_procurements", "too_few"]  # one TED year
