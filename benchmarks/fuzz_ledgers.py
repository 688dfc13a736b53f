"""Fuzz the ledger ingest with seeded, generated ledger files, each checked against its own ground truth.

Every file is synthetic: a random shape (CSV in four encodings and four delimiters with or without
quoting, xlsx with several sheets, rowstore JSON), amount conventions, line endings, personnummer planted
in any text column and written in any form, and injected faults (empty, ragged and unparsable rows,
amounts in the other decimal convention, unclosed quotes, duplicate columns, a second encoding,
truncation). The generator knows what each file holds, so the check is exact: either a one-line
UserError where the file is structurally unusable, or a reconciliation whose rows and öre equal the
ground truth, with no personnummer in any text output and never another exception.

Usage: python benchmarks/fuzz_ledgers.py [files=10000] [seed=20261201] [workers=2]
(`make fuzz`; the test suite runs a seeded 300-file slice through `run`).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
import traceback
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

KOMMUNER = frozenset({"0180", "1480", "1880", "2480"})
FUZZ_KEY = "c0a1e2b3d4f5061728394a5b6c7d8e9f00112233445566778899aabbccddeeff"  # synthetic 32-byte key
# Synthetic personal numbers (valid Luhn, possible dates; the last two are samordningsnummer).
PERSONNUMMER = ["8112289874", "9003154565", "6207043339", "8112889871", "0101617771"]
NAMES = ["ATEA SVERIGE AB", "Tieto Sverige AB", "Konsult & Co HB", "Åkes Data", "Öresunds IT", "Firma Ärlig",
         "Bästa \"IT\" AB", "Nät; Tele", "Kom, Bygg AB", "=HYPERLINK(\"x\")", "$5 Cash AB", "Tab\tFirma"]
ORGNR = ["556391-3358", "5563913358", "212000-1967", "", "NULL"]
HEADERS = ["leverantor", "leverantor_id", "konto_nr", "konto_text", "forvaltning", "fakturanummer", "belopp", "datum",
           "kommun_id"]


@dataclass
class Case:
    """One generated file and what ingesting it must give."""

    name: str
    data: bytes
    expect_error: bool = False  # structurally unusable: a one-line UserError is required
    may_error: bool = False  # truncated: a one-line UserError or an exact reconciliation
    rows: int = 0
    clean_rows: int = 0
    clean_ore: int = 0
    planted: list[str] = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)


def pnr_form(rng: random.Random, digits: str) -> str:
    d, s = digits[:6], digits[6:]
    century = "20" if digits.startswith("01") else "19"
    return rng.choice([f"{d}-{s}", f"{d}{s}", f"{d} - {s}", f"{d[:2]} {d[2:4]} {d[4:]}-{s}", f"{d}\u2013{s}",
                       f"{century}{d}-{s}", f"{century}{d}{s}", f"{d} {s}"])


def amount_text(rng: random.Random, ore: int, style: str) -> str:
    sign = "-" if ore < 0 else ""
    kr, rest = divmod(abs(ore), 100)
    if style == "sv":
        sep = rng.choice([" ", "\u00a0", ""])
        return f"{sign}{kr:,}".replace(",", sep) + f",{rest:02d}"
    if style == "sv-dot-thousands":
        return f"{sign}{kr:,}".replace(",", ".") + f",{rest:02d}"
    if style == "dot":
        return f"{sign}{kr}.{rest:02d}"
    if style == "dot-comma-thousands":
        return f"{sign}{kr:,}.{rest:02d}"
    if style == "trailing-minus":
        return f"{kr},{rest:02d}{'-' if ore < 0 else ''}"
    raise ValueError(style)


OTHER_CONVENTION = {"sv": "dot", "sv-dot-thousands": "dot-comma-thousands", "dot": "sv",
                    "dot-comma-thousands": "sv-dot-thousands", "trailing-minus": "dot"}


def random_ore(rng: random.Random) -> int:
    scale = rng.choice([100, 10_000, 1_000_000, 100_000_000, 10_000_000_000])
    value = rng.randint(1, scale)
    return -value if rng.random() < 0.1 else value


def base_rows(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        rows.append({
            "leverantor": rng.choice(NAMES), "leverantor_id": rng.choice(ORGNR),
            "konto_nr": rng.choice(["74311", "65400", "46362"]), "konto_text": rng.choice(["IT-tjänster", "Licenser", ""]),
            "forvaltning": rng.choice(["KS", "Nämnd för IT", "Skola"]), "fakturanummer": f"F{rng.randint(1, 10**8)}",
            "ore": random_ore(rng), "datum": f"2022-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        })
    return rows


def plant(rng: random.Random, rows: list[dict], case: Case) -> None:
    for _ in range(rng.randint(0, 3)):
        digits = rng.choice(PERSONNUMMER)
        column = rng.choice(["leverantor", "leverantor_id", "konto_text", "forvaltning", "fakturanummer"])
        row = rng.choice(rows)
        text = pnr_form(rng, digits)
        row[column] = text if column == "leverantor_id" or rng.random() < 0.5 else f"{row[column]} {text}".strip()
        case.planted.append(digits)


def _csv_field(value: str, delim: str, quote_all: bool) -> str:
    if quote_all or delim in value or '"' in value or "\n" in value or value.startswith(" "):
        return '"' + value.replace('"', '""') + '"'
    return value


def make_csv(rng: random.Random, name: str) -> Case:
    case = Case(name + ".csv", b"")
    n = rng.choice([1, 3, 20, 150, 400])
    rows = base_rows(rng, n)
    plant(rng, rows, case)
    delim = rng.choice([";", ",", "\t", "|"])
    quote_all = rng.random() < 0.3
    quoting = quote_all or delim == "," or rng.random() < 0.7  # amounts like "1 302,50" need quotes in a ,-file
    style = rng.choice(["sv", "sv-dot-thousands", "dot", "dot-comma-thousands", "trailing-minus"])
    encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "cp1252", "utf-16"])
    newline = rng.choice(["\n", "\r\n"])
    if not quoting:
        for r in rows:  # unquoted files cannot hold the delimiter or quotes in a field
            for k in ("leverantor", "leverantor_id", "konto_text", "forvaltning", "fakturanummer"):
                r[k] = r[k].replace(delim, " ").replace('"', "'")
    lines, rejected, bad_amounts, ragged, other = [], 0, 0, 0, []
    for r in rows:
        amount = amount_text(rng, r["ore"], style)
        fault = rng.random()
        if fault < 0.004:
            amount, bad_amounts = "n/a", bad_amounts + 1
        elif fault < 0.008:  # the other decimal convention: ambiguous beside the file's, so rejected
            amount, bad_amounts = amount_text(rng, r["ore"], OTHER_CONVENTION[style]), bad_amounts + 1
            other.append(r["ore"])
        elif fault < 0.012:
            lines.append("")
            rejected += 1
            continue
        elif fault < 0.015:
            lines.append(delim.join(["x"] * 3))
            ragged += 1
            rejected += 1
            continue
        else:
            case.clean_rows += 1
            case.clean_ore += r["ore"]
        values = [r["leverantor"], r["leverantor_id"], r["konto_nr"], r["konto_text"], r["forvaltning"],
                  r["fakturanummer"], amount, r["datum"], "1880"]
        lines.append(delim.join(_csv_field(v, delim, quote_all) if quoting else v for v in values))
    if other and not case.clean_rows:  # nothing in the file's own convention: no mix, so nothing ambiguous
        case.clean_rows, case.clean_ore, bad_amounts = len(other), sum(other), bad_amounts - len(other)
    rejected += bad_amounts
    case.rows = len(lines)
    header = list(HEADERS)
    structural = rng.random()
    if structural < 0.03:
        header[2] = "belopp"  # two amount columns
        case.expect_error = True
    elif structural < 0.06 and not quote_all and n > 2:
        i = rng.randrange(len(lines))
        lines[i] = '"' + lines[i]  # a quote opened at the start of a row and never closed
        case.expect_error = True
    empty_lines = sum(1 for x in lines if x == "")
    if bad_amounts > 0.01 * (case.rows - empty_lines - ragged) or ragged > 0.01 * case.rows:
        case.expect_error = True
    text = newline.join([delim.join(header)] + lines) + newline
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
        encoding = "utf-8"
    if rng.random() < 0.02 and encoding == "utf-8" and any(c in text for c in "åäöÅÄÖ"):
        data += "Åkes;X;1;T;K;F;1,00;2022-01-01;1880\n".encode("cp1252")  # a second encoding at the end
        case.expect_error = True
    if rng.random() < 0.05 and len(data) > 200:
        data = data[: rng.randrange(len(data) // 2, len(data))]  # truncated download: rows unknown, so
        case.may_error, case.expect_error = True, False  # only the invariants (balance, privacy) are checked
    case.data = data
    return case


def _xlsx(sheets: dict[str, list[list]]) -> bytes:
    def cell(ref: str, v) -> str:
        if v is None or v == "":
            return ""
        if isinstance(v, (int, float)):
            return f'<c r="{ref}"><v>{v!r}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(v))}</t></is></c>'

    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    names = list(sheets)
    path = tempfile.mktemp(suffix=".xlsx")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                   + "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                             for i in range(len(names))) + "</Types>")
        z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} xmlns:r="{rel}"><sheets>'
                   + "".join(f'<sheet name="{escape(n)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(names))
                   + "</sheets></workbook>")
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   + "".join(f'<Relationship Id="rId{i + 1}" Type="{rel}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                             for i in range(len(names))) + "</Relationships>")
        for i, n in enumerate(names):
            body = "".join(f'<row r="{r + 1}">' + "".join(cell(f"{chr(65 + c)}{r + 1}", v) for c, v in enumerate(row)) + "</row>"
                           for r, row in enumerate(sheets[n]))
            z.writestr(f"xl/worksheets/sheet{i + 1}.xml", f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}><sheetData>{body}</sheetData></worksheet>')
    data = Path(path).read_bytes()
    os.unlink(path)
    return data


def make_xlsx(rng: random.Random, name: str) -> Case:
    case = Case(name + ".xlsx", b"")
    sheets: dict[str, list[list]] = {}
    text_amounts = rng.random() < 0.3
    for k in range(rng.choice([1, 1, 2, 3])):
        rows = base_rows(rng, rng.choice([1, 10, 60]))
        plant(rng, rows, case)
        body = []
        for r in rows:
            ore = r["ore"] if abs(r["ore"]) < 10**12 else r["ore"] // 1000
            amount = amount_text(rng, ore, "sv") if text_amounts else ore / 100
            if rng.random() < 0.02 and r is not rows[-1]:  # an empty row inside the sheet (trailing ones are no rows)
                body.append([None] * len(HEADERS))
                case.rows += 1
                continue
            body.append([r["leverantor"], r["leverantor_id"], r["konto_nr"], r["konto_text"], r["forvaltning"],
                         r["fakturanummer"], amount, r["datum"], "1880"])
            case.rows += 1
            case.clean_rows += 1
            case.clean_ore += ore
        sheets[f"Blad{k + 1}"] = [list(HEADERS)] + body
    if rng.random() < 0.3:
        sheets["Info"] = [["Publicerad av kommunen"], ["Kontakt 811228-9874"]]
    case.data = _xlsx(sheets)
    return case


def make_json(rng: random.Random, name: str) -> Case:
    case = Case(name + ".json", b"")
    rows = base_rows(rng, rng.choice([1, 5, 80]))
    plant(rng, rows, case)
    numbers = rng.random() < 0.5
    records = []
    for r in rows:
        rec = {h: r[h] for h in HEADERS if h not in ("belopp", "kommun_id")}
        rec["belopp"] = "@@%d@@" % r["ore"] if numbers else amount_text(rng, r["ore"], "sv")
        rec["kommun_id"] = "1880"
        records.append(rec)
        case.clean_ore += r["ore"]
    case.rows = case.clean_rows = len(rows)
    doc = {"resultCount": len(records), "results": records} if rng.random() < 0.5 else records
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    if numbers:  # exact decimal numbers in the JSON text, never via float
        import re

        def number(m) -> str:
            ore = int(m[1])
            return f"{'-' if ore < 0 else ''}{abs(ore) // 100}.{abs(ore) % 100:02d}"

        text = re.sub(r'"@@(-?\d+)@@"', number, text)
    if rng.random() < 0.02:
        text = "[" * 5000 + text + "]" * 5000
        case.expect_error = True
    case.data = text.encode("utf-8")
    return case


def generate(seed: int, index: int) -> Case:
    rng = random.Random(seed * 1_000_003 + index)
    kind = rng.choices(["csv", "xlsx", "json"], weights=[7, 2, 1])[0]
    name = f"synthetic_fuzz_{index:05d}"
    return {"csv": make_csv, "xlsx": make_xlsx, "json": make_json}[kind](rng, name)


def _text_dump(result) -> str:
    import pandas as pd

    parts = []
    for df in (result.ledger, result.rejects, result.reconciliation):
        text_cols = [c for c in df.columns if pd.api.types.is_string_dtype(df[c]) or df[c].dtype == object]
        parts.append(df[text_cols].astype(str).to_csv(index=False))
    return "\n".join(parts)


def check(case: Case, folder: Path) -> str | None:
    """None when ingesting the case meets its ground truth, else a one-line description of the failure."""
    from analysis.errors import UserError
    from analysis.ledgers import ingest_file
    from analysis.ledgers.parse import find_personnummer

    path = folder / case.name
    path.write_bytes(case.data)
    try:
        try:
            result = ingest_file(path, municipalities=KOMMUNER, **case.kwargs)
        except UserError as exc:
            msg = str(exc)
            if "\n" in msg or len(msg) > 2000:
                return f"{case.name}: error message is not one line: {msg[:200]!r}"
            if any(p in msg.replace("-", "").replace(" ", "") for p in case.planted):
                return f"{case.name}: personnummer in the error message"
            if case.expect_error or case.may_error:
                return None
            return f"{case.name}: unexpected UserError: {msg[:300]}"
        except Exception:  # noqa: BLE001 - the harness reports any other exception as a failure
            return f"{case.name}: {traceback.format_exc().strip().splitlines()[-1][:300]}"
        if case.expect_error:
            return f"{case.name}: expected a structural error, got a result"
        rec = result.reconciliation.iloc[0]
        if not rec["balanced"] or rec["rows_in"] != rec["rows_clean"] + rec["rows_rejected"]:
            return f"{case.name}: does not balance"
        if int(result.ledger["amount_ore"].sum()) != rec["ore_clean"]:
            return f"{case.name}: ledger öre differ from the reconciliation"
        if not case.may_error:
            got = (int(rec["rows_in"]), int(rec["rows_clean"]), int(rec["ore_clean"]))
            want = (case.rows, case.clean_rows, case.clean_ore)
            if got != want:
                return f"{case.name}: rows/clean rows/clean öre {got} != ground truth {want}"
        dump = _text_dump(result)
        if find_personnummer(dump):
            return f"{case.name}: personnummer in the outputs"
        return None
    finally:
        path.unlink(missing_ok=True)


def _run_slice(args: tuple[int, int, int]) -> list[str]:
    seed, start, stop = args
    before = os.environ.get("KOMMUN_IT_PSEUDONYM_KEY")
    os.environ["KOMMUN_IT_PSEUDONYM_KEY"] = FUZZ_KEY
    failures = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(start, stop):
                failure = check(generate(seed, i), Path(tmp))
                if failure:
                    failures.append(failure)
    finally:
        if before is None:
            os.environ.pop("KOMMUN_IT_PSEUDONYM_KEY", None)
        else:
            os.environ["KOMMUN_IT_PSEUDONYM_KEY"] = before
    return failures


def run(files: int, seed: int = 20261201, workers: int = 1) -> list[str]:
    """Generate and check `files` cases; returns the failures (empty when all meet their ground truth)."""
    if workers <= 1:
        return _run_slice((seed, 0, files))
    step = max(1, files // (workers * 8))
    chunks = [(seed, s, min(s + step, files)) for s in range(0, files, step)]
    with ProcessPoolExecutor(workers) as pool:
        return [f for part in pool.map(_run_slice, chunks) for f in part]


def main() -> int:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20261201
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    t0 = time.perf_counter()
    failures = run(files, seed, workers)
    seconds = time.perf_counter() - t0
    print(f"fuzz: {files:,} generated ledger files (seed {seed}, {workers} workers) in {seconds:.0f} s"
          f" ({files / seconds:.0f} files/s): {len(failures)} failures")
    for f in failures[:20]:
        print("  " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
