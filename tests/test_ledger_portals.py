"""`refresh ledgers` / `refresh publishers` against a loopback server playing the portals: never the internet.

The server plays an EntryScape portal (the real recorded store-search answer, re-hosted, paged with
limit/offset; file bytes at /store/{ctx}/resource/{id}; a rowstore dataset paged in the recorded
Västerås page shape, `next` absent on the last page), an Opendatasoft export, a CKAN package, a plain
page with links, and dataportal.se's dataset search. Every ledger row it serves is SYNTHETIC (invented
suppliers and orgnr), in the real publishers' shapes (national spec v1.1 ';' CSV with kommun_id, Umeå's
yearly CSV, rowstore JSON).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import yaml

from analysis.errors import UserError
from analysis.ledgers import ingest_file
from analysis.sources import http as shttp
from analysis.sources import ledger_entryscape, ledger_portals, publisher_search, publishers
from analysis.sources.ledger_page import ledger_links
from loopback import Handler, closed_port, serve

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
SEARCH = json.loads((RECORDED / "entryscape_store_search_vgr_trimmed.RECONSTRUCTED.json").read_text(encoding="utf-8"))
ROWSTORE_PAGE = json.loads((RECORDED / "entryscape_rowstore_vasteras_2rows.RECONSTRUCTED.json").read_text(encoding="utf-8"))
VGR_HOST = "https://vgregion.entryscape.net"
UUID = "79389e88-55fc-4982-8ab1-80773860d081"
SPEC_HEADER = ("kopare_id;kopare;verifikationsnummer;leverantor;leverantor_id;konto_nr;konto_text;bokforingsdatum;"
               "forvaltning;fakturanummer;belopp;kommun_id")
CODES = frozenset({"1440", "1980", "2480", "1383", "1280"})


# ---------------------------------------------------------------- SYNTHETIC ledger files


def spec_csv(kommunkod: str, tag: str, year: int = 2024, scale: int = 1) -> bytes:
    """A SYNTHETIC national-spec v1.1 ';' CSV: three postings (one a credit note), made-up suppliers."""
    rows = [
        ("556000-0001", "SYNTETISK IT AB", "7432", "IT-tjänster", f"{12 * scale} 500,50"),
        ("556000-0002", "SYNTETISK BYGG AB", "7010", "Entreprenad", f"{3 * scale} 250,00"),
        ("556000-0003", "SYNTETISK KONTOR AB", "6540", "IT-förbrukningsmaterial", f"-{scale}00,25"),
    ]
    lines = [SPEC_HEADER]
    for i, (orgnr, name, account, text, amount) in enumerate(rows, start=1):
        lines.append(f"212000-0000;Synthetic kommun {kommunkod};{tag}-{i};{name};{orgnr};{account};{text};"
                     f"{year}-03-{i:02d};Synthetic förvaltning;F-{tag}-{i};{amount};{kommunkod}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def umea_csv(year: int, scale: int = 1) -> bytes:
    """A SYNTHETIC ledger in Umeå's yearly shape (';', datum YYYYMM, Swedish letters in the header)."""
    lines = ["datum;förvaltning;leverantör;leverantör_id;konto_nr;konto_text;belopp;faktura_nr"]
    for i in range(1, 4):
        lines.append(f"{year}0{i};Synthetic nämnd;SYNTETISK LEVERANTÖR {i} AB;556000-000{i};7432;IT-tjänster;"
                     f"{i * scale} 234,5{i};{year}{i:04d}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def rowstore_rows(n: int) -> list[dict]:
    """SYNTHETIC rows with the keys (and key order, BOM included) of the recorded Västerås page."""
    keys = list(ROWSTORE_PAGE["results"][0])
    rows = []
    for i in range(1, n + 1):
        values = {
            "datum": f"2025-01-{i:02d}", "konto_nr": "7432", "\ufeffkopare_id": "2120000000", "kommun_id": "1980",
            "leverantor_id": f"9000{i:04d}", "belopp": f"-{i}302,03" if i == 2 else f"{i}302,03",
            "konto_text": "IT-tjänster", "leverantor": f"SYNTETISK LEVERANTÖR {i} AB",
            "verifikationsnummer": f"S{i:06d}", "kopare": "SYNTHETIC KÖPARE",
        }
        rows.append({k: values[k] for k in keys})
    return rows


def resource_ids() -> list[str]:
    ids = []
    for child in SEARCH["resource"]["children"]:
        for node in child["metadata"].values():
            ids += [v["value"].rsplit("/", 1)[1] for v in node.get("http://www.w3.org/ns/dcat#downloadURL", [])]
    return ids


# ---------------------------------------------------------------- the portal server


class Portal(Handler):
    """Serves `files` (path -> bytes or callable(query) -> (status, bytes)) and the paged APIs; logs requests."""

    files: dict = {}
    log: list = []
    rows: list = []
    datasets: list = []

    def do_GET(self):  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        url = url._replace(path=urllib.parse.unquote(url.path))
        Portal.log.append((url.path, query))
        me = f"http://127.0.0.1:{self.server.server_address[1]}"
        status, out = 404, b"not found"
        if url.path.endswith("/store/search"):
            children = Portal.datasets if "rdfType" in query.get("query", [""])[0] else SEARCH["resource"]["children"]
            off, limit = int(query["offset"][0]), int(query["limit"][0])
            doc = {"results": len(children), "offset": off, "resource": {"children": children[off:off + limit]}}
            status, out = 200, json.dumps(doc).replace(VGR_HOST, me).encode()
        elif url.path == f"/rowstore/dataset/{UUID}/json":
            off, limit = int(query["_offset"][0]), int(query["_limit"][0])
            doc = dict(ROWSTORE_PAGE, resultCount=len(Portal.rows), offset=off, limit=limit,
                       results=Portal.rows[off:off + limit])
            doc.pop("next")
            if off + limit < len(Portal.rows):
                doc["next"] = f"https://opendata.vasteras.se{url.path}?_offset={off + limit}&_limit={limit}"
            status, out = 200, json.dumps(doc, ensure_ascii=False).replace("https://opendata.vasteras.se", me).encode()
        headers = {}
        if url.path in Portal.files:
            got = Portal.files[url.path]
            status, out, *extra = got(query, self.headers) if callable(got) else (200, got)
            headers = extra[0] if extra else {}
        if isinstance(out, str):
            out = out.replace("{HOST}", me).encode()
        self.reply(status, out, headers)


@pytest.fixture(scope="module")
def server():
    with serve(Portal) as url:
        yield url


PAGE_HTML = """<html><body><h1>Leverantörsreskontra</h1><ul>
<li><a href="/files/Leverant%C3%B6rsreskontra2020.csv">Leverantörsreskontra 2020</a></li>
<li><a href="files/Leverantörsreskontra2021.csv">Leverantörsreskontra 2021 (CSV)</a></li>
<li><a href="/kontakt">Kontakta oss</a></li>
<li><a href="/files/budget2021.csv">Budget 2021</a></li>
</ul></body></html>"""


@pytest.fixture
def portal(server, monkeypatch):
    """A fresh portal: every file of the test catalogue, SYNTHETIC content; small pages to exercise paging."""
    monkeypatch.setattr(ledger_entryscape, "PAGE", 2)
    monkeypatch.setattr(ledger_entryscape, "ROWSTORE_LIMIT", 2)
    Portal.log = []
    Portal.rows = rowstore_rows(5)
    Portal.datasets = []
    files = {f"/store/7/resource/{rid}": spec_csv("1440", f"R{rid}", 2025) for rid in resource_ids()}
    ods = "/api/explore/v2.1/catalog/datasets/leverantorsfakturor-{}/exports/csv"
    files.update({ods.format(y): umea_csv(y) for y in (2019, 2020)})
    files["/varberg/leverantorsreskontra"] = PAGE_HTML.encode()
    files["/files/Leverantörsreskontra2020.csv"] = spec_csv("1383", "V20", 2020)
    files["/varberg/files/Leverantörsreskontra2021.csv"] = spec_csv("1383", "V21", 2021)
    files["/api/3/action/package_show"] = lambda q, h: (200, json.dumps({"success": True, "result": {"resources": [
        {"id": "r1", "name": "Leverantörsreskontra 2022", "format": "CSV", "url": "{HOST}/ckan/dl/lev2022.csv"}]}}))
    files["/ckan/dl/lev2022.csv"] = spec_csv("1280", "M22", 2022)
    Portal.files = files
    return server


def catalogue(tmp_path: Path, server: str, **changes) -> Path:
    """A test catalogue in the project's format whose hosts are the loopback server."""
    entries = [
        {"kommunkod": "1440", "name": "Ale", "portal": "entryscape_store", "base_url": server, "context": "7",
         "search": "title:Leverant*", "vat_basis": "unknown", "status": "known", "format": "csv"},
        {"kommunkod": "1980", "name": "Västerås", "portal": "entryscape_rowstore", "base_url": server,
         "datasets": [UUID], "years": "2025", "format": "json", "status": "known"},
        {"kommunkod": "2480", "name": "Umeå", "portal": "opendatasoft", "base_url": server,
         "datasets": ["leverantorsfakturor-2019", "leverantorsfakturor-2020"], "years": "2017-2020", "status": "known"},
        {"kommunkod": "1383", "name": "Varberg", "portal": "page", "page_url": f"{server}/varberg/leverantorsreskontra",
         "years": "2020-2024", "vat_basis": "excl_vat", "status": "known"},
        {"kommunkod": "1280", "name": "Malmö", "portal": "ckan", "base_url": server,
         "datasets": ["synthetic-leverantorsreskontra"], "status": "candidate"},
        {"kommunkod": "0186", "name": "Lidingö", "portal": "unknown", "status": "known"},
    ]
    for code, fields in changes.items():
        next(e for e in entries if e["kommunkod"] == code).update(fields)
    path = tmp_path / "catalogue.yml"
    path.write_text(yaml.safe_dump({"publishers": entries}, allow_unicode=True), encoding="utf-8")
    return path


def fast_client() -> shttp.Client:
    return shttp.Client(what="refresh ledgers", backoff=0.0, sleep=lambda s: None)


def run(tmp_path, cat, **kw) -> str:
    return ledger_portals.refresh_ledgers(catalogue=cat, client=fast_client(), raw_dir=tmp_path / "raw", **kw)


N_FILES = len(resource_ids()) + 1 + 2 + 2 + 1  # store files, rowstore, Opendatasoft, page links, CKAN


# ---------------------------------------------------------------- refresh ledgers


def test_first_run_fetches_every_file_and_records_sha256(portal, tmp_path):
    cat = catalogue(tmp_path, portal)
    assert ledger_portals.current_files(tmp_path / "raw") == []
    summary = run(tmp_path, cat)
    assert f"{N_FILES} new, 0 new version(s), 0 unchanged" in summary and "Lidingö 0186 (portal not known)" in summary
    rows = ledger_portals.read_manifest(tmp_path / "raw")
    assert len(rows) == N_FILES == 24
    text = ledger_portals.manifest_path(tmp_path / "raw").read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(ledger_portals.MANIFEST_COLUMNS)
    assert [(r["kommunkod"], r["dataset_id"]) for r in rows] == sorted((r["kommunkod"], r["dataset_id"]) for r in rows)
    for r in rows:
        path = tmp_path / "raw" / r["path"]
        assert path.parent == tmp_path / "raw" / "ledgers" / r["kommunkod"]
        assert r["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and int(r["size"]) == path.stat().st_size
        assert r["version"] == 1 and r["current"] == "true" and r["fetched_at"]
    served = {p: b for p, b in Portal.files.items() if isinstance(b, bytes) and not p.startswith("/varberg/leverantors")}
    assert {hashlib.sha256(b).hexdigest() for b in served.values()} <= {r["sha256"] for r in rows}
    by_id = {r["dataset_id"]: r for r in rows}
    assert by_id["leverantorsfakturor-2019"]["years"] == "2019" and by_id["7/resource/240"]["years"] == "2024"
    assert by_id["7/resource/271"]["years"] == ""  # "innevarande år": no year named
    assert by_id["/varberg/files/Leverantörsreskontra2021.csv"]["path"] == "ledgers/1383/leverantorsreskontra2021.csv"
    assert by_id["/varberg/files/Leverantörsreskontra2021.csv"]["vat_basis"] == "excl_vat"
    assert not list((tmp_path / "raw" / "ledgers").rglob("*.part")) and not list((tmp_path / "raw").rglob(".incoming"))


def test_second_run_fetches_nothing_new(portal, tmp_path):
    cat = catalogue(tmp_path, portal)
    run(tmp_path, cat)
    manifest = ledger_portals.manifest_path(tmp_path / "raw")
    before = manifest.read_bytes()
    files_before = {p: p.stat().st_mtime_ns for p in (tmp_path / "raw" / "ledgers").rglob("*") if p.is_file() and p != manifest}
    summary = run(tmp_path, cat)
    assert f"0 new, 0 new version(s), {N_FILES} unchanged" in summary
    assert manifest.read_bytes() == before
    assert {p: p.stat().st_mtime_ns for p in files_before} == files_before


def test_changed_upstream_file_becomes_a_second_version_both_kept(portal, tmp_path):
    cat = catalogue(tmp_path, portal)
    run(tmp_path, cat)
    path = "/api/explore/v2.1/catalog/datasets/leverantorsfakturor-2019/exports/csv"
    Portal.files[path] = umea_csv(2019, scale=7)
    summary = run(tmp_path, cat)
    assert "0 new, 1 new version(s)" in summary and f"{N_FILES - 1} unchanged" in summary
    folder = tmp_path / "raw" / "ledgers" / "2480"
    assert (folder / "leverantorsfakturor-2019.csv").read_bytes() == umea_csv(2019)
    assert (folder / "leverantorsfakturor-2019.v2.csv").read_bytes() == umea_csv(2019, scale=7)
    mine = [r for r in ledger_portals.read_manifest(tmp_path / "raw") if r["dataset_id"] == "leverantorsfakturor-2019"]
    assert [(r["version"], r["current"]) for r in mine] == [(1, "false"), (2, "true")]
    current = [f for f in ledger_portals.current_files(tmp_path / "raw") if f["dataset_id"] == "leverantorsfakturor-2019"]
    assert [f["path"].name for f in current] == ["leverantorsfakturor-2019.v2.csv"] and current[0]["version"] == 2
    assert "0 new, 0 new version(s)" in run(tmp_path, cat)


def test_conditional_request_304_downloads_nothing_and_a_new_etag_gives_a_version(portal, tmp_path):
    path = "/files/Leverantörsreskontra2020.csv"
    state = {"etag": '"v1"', "body": spec_csv("1383", "V20", 2020)}
    statuses = []

    def answer(query, headers):
        if headers.get("If-None-Match") == state["etag"]:
            statuses.append(304)
            return 304, b"", {"ETag": state["etag"]}
        statuses.append(200)
        return 200, state["body"], {"ETag": state["etag"], "Last-Modified": "Tue, 01 Dec 2026 10:00:00 GMT"}

    Portal.files[path] = answer
    cat = catalogue(tmp_path, portal, **{"1383": {"years": "2020"}})
    run(tmp_path, cat, kommun=["1383"], years="2020")
    row = ledger_portals.read_manifest(tmp_path / "raw")[0]
    assert row["etag"] == '"v1"' and row["last_modified"] == "Tue, 01 Dec 2026 10:00:00 GMT"
    assert "0 new, 0 new version(s), 1 unchanged" in run(tmp_path, cat, kommun=["1383"], years="2020")
    assert statuses == [200, 304]
    state.update(etag='"v2"', body=spec_csv("1383", "V20", 2020, scale=3))
    assert "1 new version(s)" in run(tmp_path, cat, kommun=["1383"], years="2020")
    assert statuses == [200, 304, 200]
    rows = ledger_portals.read_manifest(tmp_path / "raw")
    assert [(r["version"], r["current"], r["etag"]) for r in rows] == [(1, "false", '"v1"'), (2, "true", '"v2"')]
    assert (tmp_path / "raw" / rows[1]["path"]).read_bytes() == state["body"]


def test_rowstore_paging_follows_next_and_writes_the_reader_shape(portal, tmp_path):
    run(tmp_path, catalogue(tmp_path, portal), kommun=["1980"])
    pages = [q for p, q in Portal.log if p.startswith("/rowstore/")]
    assert [(q["_offset"][0], q["_limit"][0]) for q in pages] == [("0", "2"), ("2", "2"), ("4", "2")]
    doc = json.loads((tmp_path / "raw" / "ledgers" / "1980" / f"rowstore-{UUID}.json").read_text(encoding="utf-8"))
    assert doc["results"] == Portal.rows and doc["resultCount"] == 5


def test_rowstore_short_of_result_count_is_one_line(portal, tmp_path):
    original = Portal.rows

    class Lying(list):
        def __len__(self):
            return len(original) + 1

    Portal.rows = Lying(original)
    with pytest.raises(UserError, match=r"got 5 rows but the rowstore says resultCount 6"):
        run(tmp_path, catalogue(tmp_path, portal), kommun=["1980"])
    assert not [p for p in (tmp_path / "raw").rglob("*") if p.is_file()]  # no half file, no manifest row


def test_store_search_pages_with_limit_and_offset(portal, tmp_path):
    run(tmp_path, catalogue(tmp_path, portal), kommun=["1440"])
    searches = [q for p, q in Portal.log if p == "/store/search"]
    assert [(q["offset"][0], q["limit"][0]) for q in searches] == [("0", "2"), ("2", "2")]
    assert all(q["type"] == ["solr"] and q["query"] == ["title:Leverant*"] for q in searches)


def test_503_then_200_is_retried(portal, tmp_path):
    path = "/api/explore/v2.1/catalog/datasets/leverantorsfakturor-2020/exports/csv"
    answers = iter([(503, b"busy"), (200, umea_csv(2020))])
    Portal.files[path] = lambda q, h: next(answers)
    assert "2 new" in run(tmp_path, catalogue(tmp_path, portal), kommun=["2480"])
    assert [p for p, q in Portal.log].count(path) == 2
    assert (tmp_path / "raw" / "ledgers" / "2480" / "leverantorsfakturor-2020.csv").read_bytes() == umea_csv(2020)


def test_years_and_kommun_select_files(portal, tmp_path):
    summary = run(tmp_path, catalogue(tmp_path, portal), kommun=["2480", "1383"], years="2020")
    assert "2 new" in summary
    assert sorted(r["dataset_id"] for r in ledger_portals.read_manifest(tmp_path / "raw")) == [
        "/files/Leverantörsreskontra2020.csv", "leverantorsfakturor-2020"]


def test_base_url_replaces_every_host(portal, tmp_path):
    cat = catalogue(tmp_path, portal, **{"2480": {"base_url": "https://opendata.umea.se"}})
    summary = ledger_portals.refresh_ledgers(["2480"], None, cat, portal, client=fast_client(), raw_dir=tmp_path / "raw")
    assert "2 new" in summary
    assert {r["url"] for r in ledger_portals.read_manifest(tmp_path / "raw")} == {
        f"{portal}/api/explore/v2.1/catalog/datasets/leverantorsfakturor-{y}/exports/csv" for y in (2019, 2020)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"years": "2020-2018"}, r"--years '2020-2018': 2018 is before 2020"),
        ({"kommun": ["9999"]}, r"--kommun 9999: not in the catalogue"),
        ({"kommun": ["148"]}, r"--kommun '148': expected a four-digit kommunkod"),
    ],
)
def test_bad_arguments_are_one_line(portal, tmp_path, args, message):
    with pytest.raises(UserError, match=message) as exc:
        run(tmp_path, catalogue(tmp_path, portal), **args)
    assert "\n" not in str(exc.value) and not Portal.log


def test_downloaded_files_ingest_and_reconcile(portal, tmp_path):
    run(tmp_path, catalogue(tmp_path, portal))
    current = ledger_portals.current_files(tmp_path / "raw")
    assert len(current) == N_FILES and {f["kommunkod"] for f in current} == CODES
    assert {"path", "kommunkod", "source_id", "publisher", "year", "vat_basis"} <= set(current[0])
    for f in current:
        result = ingest_file(f["path"], municipalities=CODES, kommun=f["kommunkod"], source_id=f["source_id"])
        recon = result.reconciliation.iloc[0]
        assert bool(recon["balanced"]) and recon["rows_in"] == recon["rows_clean"] > 0, f["path"]
        assert set(result.ledger["kommunkod"]) == {f["kommunkod"]}
    rowstore = next(f for f in current if f["portal"] == "entryscape_rowstore")
    ledger = ingest_file(rowstore["path"], municipalities=CODES).ledger
    assert len(ledger) == 5 and ledger["amount_ore"].sum() == sum(
        int(r["belopp"].replace(",", "")) for r in Portal.rows)


def test_same_bytes_under_two_ids_are_marked_duplicate(portal, tmp_path):
    Portal.files["/files/Leverantörsreskontra2020.csv"] = Portal.files["/varberg/files/Leverantörsreskontra2021.csv"]
    run(tmp_path, catalogue(tmp_path, portal), kommun=["1383"])
    rows = ledger_portals.read_manifest(tmp_path / "raw")
    assert sorted(r["duplicate_of"] for r in rows) == ["", "/files/Leverantörsreskontra2020.csv"]
    assert [f["dataset_id"] for f in ledger_portals.current_files(tmp_path / "raw")] == ["/files/Leverantörsreskontra2020.csv"]
    Portal.files["/files/Leverantörsreskontra2020.csv"] = spec_csv("1383", "V20", 2020)  # corrected upstream
    run(tmp_path, catalogue(tmp_path, portal), kommun=["1383"])
    assert len(ledger_portals.current_files(tmp_path / "raw")) == 2


def test_page_links_are_those_that_name_the_ledger():
    links = ledger_links(PAGE_HTML, "https://www.varberg.se/sv/leverantorsreskontra")
    assert links == [
        ("https://www.varberg.se/files/Leverant%C3%B6rsreskontra2020.csv", "Leverantörsreskontra 2020"),
        ("https://www.varberg.se/sv/files/Leverantörsreskontra2021.csv", "Leverantörsreskontra 2021 (CSV)"),
    ]


# ---------------------------------------------------------------- the catalogue


def test_the_committed_catalogue_is_valid_and_names_the_known_publishers():
    entries = publishers.load()
    codes = {p.kommunkod: p for p in entries}
    assert {"1480", "2480", "1880", "1383", "1980", "0181", "1440", "0186", "0126", "1490"} <= set(codes)
    assert codes["2480"].datasets == tuple(f"leverantorsfakturor-{y}" for y in range(2017, 2021))
    assert codes["1980"].datasets == (UUID,) and codes["1383"].vat_basis == "excl_vat"
    assert all(p.fetchable() for p in entries if p.portal == "unknown")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"portal": "ftp"}, r"entry 3 \(kommunkod 2480\): field 'portal': 'ftp' is not one of"),
        ({"kommunkod": 2480}, r"entry 3 \(kommunkod 2480\): field 'kommunkod': 2480 is not a quoted"),
        ({"years": "2020-2017"}, r"entry 3 \(kommunkod 2480\): field 'years'"),
        ({"datasets": "leverantorsfakturor-2019"}, r"entry 3 \(kommunkod 2480\): field 'datasets'"),
        ({"colour": "red"}, r"entry 3 \(kommunkod 2480\): field 'colour': unknown field"),
        ({"base_url": "opendata.umea.se"}, r"field 'base_url': 'opendata.umea.se' is not an http\(s\) URL"),
    ],
)
def test_bad_catalogue_is_one_line_naming_file_entry_and_field(tmp_path, change, message):
    cat = catalogue(tmp_path, "http://127.0.0.1:9", **{"2480": change})
    with pytest.raises(UserError, match=message) as exc:
        publishers.load(cat)
    assert str(cat) in str(exc.value) and "\n" not in str(exc.value)


# ---------------------------------------------------------------- the command line


def cli(args, env):
    return subprocess.run([sys.executable, "-m", "analysis.cli", *args], capture_output=True, text=True, env=env, timeout=60)


def test_cli_refresh_ledgers_against_local_server(portal, tmp_path, cli_env):
    cat = catalogue(tmp_path, portal)
    res = cli(["refresh", "ledgers", "--catalogue", str(cat), "--kommun", "2480"], cli_env)
    assert res.returncode == 0, res.stderr
    assert "2 new" in res.stdout
    assert (tmp_path / "data" / "raw" / "ledgers" / "2480" / "leverantorsfakturor-2019.csv").read_bytes() == umea_csv(2019)
    res = cli(["sources"], cli_env)
    line = next(x for x in res.stdout.splitlines() if x.startswith("online"))
    assert "ledger-online-2480" in line and "verified" in line and "1 online" in res.stdout


def test_cli_offline_is_one_line_exit_2(tmp_path, cli_env):
    cat = catalogue(tmp_path, f"http://127.0.0.1:{closed_port()}")
    res = cli(["refresh", "ledgers", "--catalogue", str(cat), "--kommun", "2480"], cli_env)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "cannot reach" in res.stderr and "offline" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "data" / "raw" / "ledgers" / "manifest.csv").exists()


def test_cli_bad_catalogue_and_bad_years_are_one_line_exit_2(tmp_path, cli_env):
    cat = catalogue(tmp_path, "http://127.0.0.1:9", **{"1383": {"portal": "gopher"}})
    res = cli(["refresh", "ledgers", "--catalogue", str(cat)], cli_env)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "entry 4 (kommunkod 1383): field 'portal': 'gopher'" in res.stderr
    res = cli(["refresh", "ledgers", "--years", "2020-2018"], cli_env)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "2018 is before 2020" in res.stderr


# ---------------------------------------------------------------- refresh publishers


def dataportal_dataset(uri: str, title: str, orgnr: str, publisher_name: str | None = None) -> dict:
    """A SYNTHETIC dataportal.se dataset entry in the recorded EntryScape metadata shape."""
    node = copy.deepcopy(next(iter(SEARCH["resource"]["children"][1]["metadata"].values())))
    for key in ("http://www.w3.org/ns/dcat#downloadURL", "http://www.w3.org/ns/dcat#accessURL"):
        node.pop(key)
    node["http://purl.org/dc/terms/title"] = [{"type": "literal", "lang": "sv", "value": title}]
    node["http://www.w3.org/1999/02/22-rdf-syntax-ns#type"] = [{"type": "uri", "value": "http://www.w3.org/ns/dcat#Dataset"}]
    publisher = f"http://dataportal.se/organisation/SE{orgnr}"
    node["http://purl.org/dc/terms/publisher"] = [{"type": "uri", "value": publisher}]
    graph = {uri: node}
    if publisher_name:
        graph[publisher] = {"http://xmlns.com/foaf/0.1/name": [{"type": "literal", "lang": "sv", "value": publisher_name}]}
    return {"entryId": uri.rsplit("/", 1)[1], "contextId": "99", "metadata": graph}


@pytest.fixture
def reference_home(raw_dir, tmp_path, monkeypatch):
    """A scratch home that has only the raw SCB list of municipalities (for name matching)."""
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "raw" / "kommuner-lan").symlink_to(raw_dir / "kommuner-lan")
    monkeypatch.setenv("KOMMUN_IT_HOME", str(tmp_path))
    return tmp_path


def test_refresh_publishers_lists_municipalities_not_in_the_catalogue(portal, reference_home, tmp_path):
    Portal.datasets = [
        dataportal_dataset("https://x/store/99/resource/1", "Leverantörsfakturor 2020 (synthetic)", "2120000001",
                           "Tierps kommun"),
        dataportal_dataset("https://x/store/99/resource/2", "Leverantörsreskontra Ale kommun (synthetic)", "2120000002"),
        dataportal_dataset("https://x/store/99/resource/3", "Leverantörsfakturor Västra Götalandsregionen", "2321000131"),
        dataportal_dataset("https://x/store/99/resource/4", "Leverantörsfakturor (synthetic, no name)", "2120000004"),
        dataportal_dataset("https://x/store/99/resource/5", "Leverantörsreskontra Borås Stad (synthetic)", "2120000005"),
    ]
    cat = catalogue(tmp_path, portal)
    before = cat.read_bytes()
    summary = publisher_search.refresh_publishers(portal, cat, client=fast_client(), raw_dir=tmp_path / "raw")
    assert "5 ledger dataset(s)" in summary and "3 municipality(ies)" in summary and "2 not in the catalogue" in summary
    searches = [q for p, q in Portal.log if p == "/store/search"]
    assert [q["offset"][0] for q in searches] == ["0", "2", "4"]
    assert searches[0]["query"] == [r"title.sv:leverant* AND rdfType:http\://www.w3.org/ns/dcat#Dataset AND public:true"]
    with publisher_search.candidates_path(tmp_path / "raw").open(encoding="utf-8") as f:
        import csv

        rows = list(csv.DictReader(f))
    assert [(r["kommunkod"], r["name"], r["matched_by"]) for r in rows] == [
        ("0360", "Tierp", "name"), ("1490", "Borås", "name"), ("", "", "unmatched")]
    assert rows[2]["orgnr"] == "2120000004"
    assert cat.read_bytes() == before


def test_refresh_publishers_maps_orgnr_through_the_procurement_table(portal, reference_home, tmp_path):
    import pandas as pd

    processed = reference_home / "data" / "processed"
    processed.mkdir(parents=True)
    pd.DataFrame({  # SYNTHETIC buyer rows: orgnr 2120000004 bought as Stockholm (0180)
        "buyer_orgnr": ["2120000004", "2120000004", "212000-0004"],
        "kommunkod": ["0180", "0180", "0180"],
        "buyer_kind": ["municipality", "municipality", "municipality"],
    }).to_parquet(processed / "procurement_it.parquet")
    Portal.datasets = [dataportal_dataset("https://x/store/99/resource/4", "Leverantörsfakturor (synthetic)", "2120000004")]
    summary = publisher_search.refresh_publishers(portal, catalogue(tmp_path, portal), client=fast_client(),
                                                  raw_dir=tmp_path / "raw")
    assert "1 not in the catalogue" in summary and "0180" in summary
    text = publisher_search.candidates_path(tmp_path / "raw").read_text(encoding="utf-8").splitlines()
    assert text[1].startswith("0180,Stockholm,2120000004,orgnr (procurement table),")


# ---------------------------------------------------------------- end to end: portal → store → lens → report


def test_fetched_ledgers_reach_the_store_the_lens_and_the_profile(portal, tmp_path, cli_env, processed_dir):
    """Issue 13's done-when: the portals are fetched once (a second run fetches nothing), every file is
    streamed into the partitioned store and reconciles to the öre, and the ledger lens and a municipality's
    report include them."""
    import pandas as pd

    cat = catalogue(tmp_path, portal)
    for args in (["fetch"], ["refresh", "ledgers", "--catalogue", str(cat)]):
        res = cli(args, cli_env)
        assert res.returncode == 0, res.stderr
    assert f"{N_FILES} new" in res.stdout
    again = cli(["refresh", "ledgers", "--catalogue", str(cat)], cli_env)
    assert again.returncode == 0 and "0 new, 0 new version(s)" in again.stdout
    processed = tmp_path / "data" / "processed"
    shutil.copytree(processed_dir, processed)  # the session's build; the ledger stages run again here
    res = subprocess.run([sys.executable, "-m", "analysis.cli", "build", "ledgers", "it_spend"], capture_output=True,
                         text=True, env=cli_env, timeout=300)
    assert res.returncode == 0, res.stderr
    recon = pd.read_parquet(processed / "ledger_reconciliation.parquet")
    online = recon[recon["source_id"].str.startswith("ledger-online-")]
    current = ledger_portals.current_files(tmp_path / "data" / "raw")
    assert len(online) == len(current) == N_FILES
    assert online["balanced"].all() and (online["rows_in"] == online["rows_clean"] + online["rows_rejected"]).all()
    assert (online["ore_in"] == online["ore_clean"] + online["ore_rejected"]).all() and online["rows_clean"].gt(0).all()
    for code, year in (("2480", 2019), ("1383", 2021), ("1980", 2025), ("1440", 2025), ("1280", 2022)):
        assert list((processed / "ledger" / f"kommunkod={code}" / f"year={year}").glob("*.parquet")), (code, year)
    spend = pd.read_parquet(processed / "it_spend.parquet")
    ledger_lens = spend[spend["lens"] == "ledger"]
    assert set(CODES) <= set(ledger_lens["kommunkod"])
    umea = ledger_lens[ledger_lens["kommunkod"] == "2480"]
    assert umea["coverage_note"].str.contains("Umeå supplier ledger fetched from Opendatasoft").all()
    res = subprocess.run([sys.executable, "-m", "analysis.cli", "render", "--municipality", "2480", "--lang", "sv",
                          "--jobs", "2"],
                         capture_output=True, text=True, env=cli_env, timeout=300)
    assert res.returncode == 0, res.stderr
    page = next((tmp_path / "reports" / "sv").rglob("2480-*.html")).read_text(encoding="utf-8")
    assert "Leverantörsreskontra från Umeå, hämtad från Opendatasoft" in page
    assert "Källa: Umeå, leverantörsreskontra (127.0.0.1:" in page
    deep_dives = sorted((tmp_path / "reports" / "sv").rglob("2480-*-20??-??.html"))
    assert len(deep_dives) == 6 and all("Umeå" in p.read_text(encoding="utf-8") for p in deep_dives)
