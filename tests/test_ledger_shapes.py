"""Every ledger shape without a real file in the mirror, as synthetic fixtures generated here, plus
malformed inputs (bad encoding, ragged rows, text in amounts): all rows accounted for, or one clear error."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import pytest

from analysis.errors import UserError
from analysis.ledgers import ingest_file, ingest_files, privacy

KOMMUNER = frozenset({"0180", "1480", "1880", "1980", "2480", "1440"})
SOLE_TRADER = "811228-9874"  # a valid personnummer (synthetic)
ORGNR = "556391-3358"
SYNTHETIC_KEY = "220e1cd2adcf9188b61fa7affbce8480120fd4a97222091ca6110d55a3e7d7c9"  # a 32-byte test key


def synthetic_xlsx(path: Path, rows: list[list], sheet: str = "Blad1") -> Path:
    """A minimal .xlsx (inline strings, numbers) written with the standard library only."""
    return synthetic_xlsx_sheets(path, {sheet: rows})


def synthetic_xlsx_sheets(path: Path, sheets: dict[str, list[list]]) -> Path:
    """A minimal .xlsx with one worksheet per item of `sheets` (name -> rows), standard library only."""

    def cell(ref: str, v) -> str:
        if v is None or v == "":
            return ""
        if isinstance(v, (int, float)):
            return f'<c r="{ref}"><v>{v!r}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(v))}</t></is></c>'

    def col(i: int) -> str:
        return chr(ord("A") + i)

    def sheet_xml(rows: list[list]) -> str:
        body = "".join(
            f'<row r="{r + 1}">' + "".join(cell(f"{col(i)}{r + 1}", v) for i, v in enumerate(row)) + "</row>"
            for r, row in enumerate(rows)
        )
        return f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}><sheetData>{body}</sheetData></worksheet>'

    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    names = list(sheets)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            + "".join(
                f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                for i in range(len(names))
            )
            + "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} xmlns:r="{rel}"><sheets>'
            + "".join(f'<sheet name="{escape(n)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(names))
            + "</sheets></workbook>",
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(
                f'<Relationship Id="rId{i + 1}" Type="{rel}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                for i in range(len(names))
            )
            + "</Relationships>",
        )
        for i, n in enumerate(names):
            z.writestr(f"xl/worksheets/sheet{i + 1}.xml", sheet_xml(sheets[n]))
    return path


def synthetic_rows(n: int, seed: int = 7) -> pd.DataFrame:
    """n synthetic postings: öre amounts (some negative), suppliers incl. a sole trader, 5-digit accounts."""
    rng = np.random.default_rng(seed)
    suppliers = [("ATEA SVERIGE AB", ORGNR), ("Anna Andersson Konsult", SOLE_TRADER), ("UTLÄNDSK LEVERANTÖR GMBH", "")]
    pick = rng.integers(0, len(suppliers), n)
    ore = rng.integers(-50_000, 5_000_000, n)
    return pd.DataFrame(
        {
            "supplier": [suppliers[i][0] for i in pick],
            "orgnr": [suppliers[i][1] for i in pick],
            "ore": ore,
            "account": rng.choice(["74311", "65400", "46362"], n),
            "day": rng.integers(1, 29, n),
        }
    )


def sv_amount(ore: int, thousands: str = " ") -> str:
    sign = "-" if ore < 0 else ""
    kr, rest = divmod(abs(int(ore)), 100)
    return f"{sign}{kr:,}".replace(",", thousands) + f",{rest:02d}"


def assert_balanced(result, rows: pd.DataFrame) -> None:
    rec = result.reconciliation.iloc[0]
    assert rec["balanced"] and rec["rows_in"] == len(rows)
    assert rec["ore_in"] == int(rows["ore"].sum())
    assert result.ledger["amount_ore"].sum() + result.rejects["amount_ore"].fillna(0).sum() == rows["ore"].sum()


def assert_private(result) -> None:
    pnr_rows = result.ledger[result.ledger["supplier_key"].str.startswith("pn:")]
    assert len(pnr_rows) > 0
    assert (pnr_rows["supplier_name"] == privacy.SOLE_TRADER_NAME).all()
    assert pnr_rows["supplier_orgnr"].isna().all()
    text = result.ledger.astype(str).to_csv() + result.rejects.astype(str).to_csv()
    assert SOLE_TRADER not in text and SOLE_TRADER.replace("-", "") not in text
    assert "Anna Andersson" not in text


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(privacy.KEY_ENV, SYNTHETIC_KEY)


def test_synthetic_spec_v11_csv(tmp_path):
    rows = synthetic_rows(300)
    header = "kopare_id;kopare;verifikationsnummer;leverantor;leverantor_id;konto_nr;konto_text;datum;forvaltning;fakturanummer;belopp;avtal;grund;kommun_id;s_kod_nr"
    lines = [header] + [
        f"2120001967;Kommunen;{1000 + i};{r.supplier};{r.orgnr};{r.account};Text;2023-05-{r.day:02d};Nämnd;F{i};{sv_amount(r.ore, chr(160))};;;1880;"
        for i, r in enumerate(rows.itertuples())
    ]
    path = tmp_path / "synthetic_spec_v11.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest_file(path, municipalities=KOMMUNER)
    assert result.shapes[path.name] == "spec-v1.1"
    assert_balanced(result, rows)
    assert_private(result)
    led = result.ledger
    assert (led["period"] == "2023-05").all() and led["date"].notna().all()
    assert set(led.loc[led["supplier_name"] == "ATEA SVERIGE AB", "supplier_key"]) == {ORGNR}
    assert led.loc[led["supplier_name"] == "UTLÄNDSK LEVERANTÖR GMBH", "supplier_key"].iloc[0] == "name:UTLÄNDSK LEVERANTÖR GMBH"
    assert led["source_row"].tolist() == list(range(2, 302))


def test_synthetic_spec_v10_csv_with_bom_and_dot_decimals(tmp_path):
    rows = synthetic_rows(50)
    lines = ["kopare,faktura_nr,leverantor,leverantor_id,forvaltning,konto_nr,konto_text,belopp,valuta,datum,kommun_id"] + [
        f"Kommunen,{i},\"{r.supplier}\",{r.orgnr},Nämnd,{r.account},Text,{r.ore / 100:.2f},SEK,2019{3:02d}{r.day:02d},0180"
        for i, r in enumerate(rows.itertuples())
    ]
    path = tmp_path / "synthetic_spec_v10.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8"))
    result = ingest_file(path, municipalities=KOMMUNER)
    assert result.shapes[path.name] == "spec-v1.0"
    assert_balanced(result, rows)
    assert (result.ledger["kommunkod"] == "0180").all()


def test_synthetic_rowstore_json_with_bom_inside_first_key(tmp_path):
    rows = synthetic_rows(20)
    records = [
        {"\ufeffdatum": f"2025-01-{r.day:02d}", "konto_nr": r.account, "kommun_id": "1980", "leverantor_id": "10004007",
         "belopp": sv_amount(r.ore, ""), "konto_text": "T", "leverantor": r.supplier, "verifikationsnummer": str(i)}
        for i, r in enumerate(rows.itertuples())
    ]
    path = tmp_path / "synthetic_rowstore.json"
    path.write_text(json.dumps({"resultCount": 20, "results": records}, ensure_ascii=False), encoding="utf-8")
    result = ingest_file(path, municipalities=KOMMUNER)
    assert result.shapes[path.name] == "spec-json"
    assert_balanced(result, rows)
    assert result.ledger["date"].notna().all()
    assert result.ledger["supplier_orgnr"].isna().all()  # an internal id is never an orgnr


def test_synthetic_orebro_dated_xlsx_with_empty_trailing_column(tmp_path):
    rows = synthetic_rows(40)
    sheet = [["RN1/FÖRVALTNING", "LEVERANTÖR", "ORGANISATIO", "FAKT NR", "KONTO", "BOKF DATUM", "UTFALL", ""]] + [
        ["KSN Kommunstyrelsen", r.supplier + " ", r.orgnr or "NULL", 16541005.0 + i, f"{r.account} Konto text  ",
         f"2019-04-{r.day:02d}", r.ore / 100, ""]
        for i, r in enumerate(rows.itertuples())
    ]
    path = synthetic_xlsx(tmp_path / "synthetic_Leverantörsfakturor 2019.xlsx", sheet)
    result = ingest_file(path, municipalities=KOMMUNER, kommun="1880")
    assert result.shapes[path.name] == "orebro-dated"
    assert_balanced(result, rows)
    assert_private(result)
    led = result.ledger
    assert set(led["account"]) <= {"74311", "65400", "46362"} and (led["account_text"] == "Konto text").all()
    assert led["invoice_id"].iloc[0] == "16541005" and not led["supplier_name"].str.endswith(" ").any()
    assert (led["period"] == "2019-04").all()


def test_synthetic_goteborg_xlsx_period_from_file_name(tmp_path):
    rows = synthetic_rows(30)
    sheet = [["Förvaltning", "Leverantör", "Organisationsnummer", "Verifikationsnummer", "Konto", "Kontotext", "Belopp"]] + [
        ["400 - Stadsmiljönämnden", r.supplier, r.orgnr.replace("-", ""), 9000 + i, r.account, "Text", r.ore / 100]
        for i, r in enumerate(rows.itertuples())
    ]
    path = synthetic_xlsx(tmp_path / "synthetic_leverantorsfakturor-201611.xlsx", sheet)
    result = ingest_file(path, municipalities=KOMMUNER, kommun="1480")
    assert result.shapes[path.name] == "goteborg-xlsx"
    assert_balanced(result, rows)
    assert (result.ledger["period"] == "2016-11").all()
    assert result.ledger["buyer_unit"].iloc[0] == "400 - Stadsmiljönämnden"


def goteborg_csv_text(rows: pd.DataFrame) -> str:
    lines = ["Förvaltning;Leverantör;Organisationsnummer;Verifikationsnummer;Konto;Kontotext;Belopp"] + [
        f"400 - Stadsmiljönämnden;{r.supplier};{r.orgnr};{i};{r.account};Köp av tjänst;{sv_amount(r.ore)}"
        for i, r in enumerate(rows.itertuples())
    ]
    return "\n".join(lines) + "\n"


def test_synthetic_goteborg_csv_utf8_and_cp1252_published_twice_is_deduplicated(tmp_path):
    rows = synthetic_rows(120)
    first = tmp_path / "synthetic_leverantorsfakturor-202005.csv"
    second = tmp_path / "synthetic_leverantorsfakturor-202005-v2.csv"
    other = tmp_path / "synthetic_leverantorsfakturor-202006.csv"
    first.write_text(goteborg_csv_text(rows), encoding="utf-8")
    second.write_text(goteborg_csv_text(rows), encoding="cp1252")
    other.write_text(goteborg_csv_text(synthetic_rows(10, seed=3)), encoding="utf-8")
    result = ingest_files([first, second, other], municipalities=KOMMUNER, kommun="1480")
    rec = result.reconciliation.set_index("source_file")
    assert rec["balanced"].all() and (rec["shape"] == "goteborg-csv").all()
    assert rec.loc[second.name, "rows_rejected"] == 120 and rec.loc[second.name, "rows_clean"] == 0
    assert "Windows-1252" in rec.loc[second.name, "note"] or "cp1252" in rec.loc[second.name, "note"]
    assert "duplicate" in rec.loc[second.name, "note"]
    assert (result.rejects["reason"] == f"duplicate publication of {first.name}").sum() == 120
    assert rec.loc[first.name, "ore_clean"] == rows["ore"].sum()
    assert set(result.ledger["period"]) == {"2020-05", "2020-06"}


def test_synthetic_goteborg_utf16_comma_csv(tmp_path):
    rows = synthetic_rows(60)
    lines = ["kopare,leverantor,leverantor_id,konto_nr,konto_text,bokforingsdatum,forvaltning,fakturanummer,belopp,kommun_id"] + [
        f'Göteborgs Stad,{r.supplier},{r.orgnr},{r.account},Text,2021-02-{r.day:02d},Nämnd,{i},"{sv_amount(r.ore, "")}",1480'
        for i, r in enumerate(rows.itertuples())
    ]
    path = tmp_path / "synthetic_goteborg_utf16.csv"
    path.write_bytes("\n".join(lines).encode("utf-16"))  # BOM + little endian on this platform
    result = ingest_file(path, municipalities=KOMMUNER)
    assert result.shapes[path.name].startswith("spec")
    assert_balanced(result, rows)
    assert (result.ledger["period"] == "2021-02").all()


def test_synthetic_umea_yearly_csv_with_anonymised_sole_traders(tmp_path):
    rows = synthetic_rows(80)
    lines = ["datum;förvaltning;leverantör;leverantör_id;konto_nr;konto_text;belopp;faktura_nr"] + [
        f"2018{(i % 12) + 1:02d};Nämnd;{'*' if r.orgnr == SOLE_TRADER else r.supplier};"
        f"{'*' if r.orgnr == SOLE_TRADER else r.orgnr};{r.account};Text;{sv_amount(r.ore)};{i}"
        for i, r in enumerate(rows.itertuples())
    ]
    path = tmp_path / "synthetic_leverantorsfakturor-2018.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest_file(path, municipalities=KOMMUNER, kommun="2480")
    assert result.shapes[path.name] == "umea"
    assert_balanced(result, rows)
    led = result.ledger
    assert set(led["period"]) == {f"2018-{m:02d}" for m in range(1, 13)} and led["date"].isna().all()
    anon = led[led["supplier_name"] == privacy.SOLE_TRADER_NAME]
    assert len(anon) == (rows["orgnr"] == SOLE_TRADER).sum() and anon["supplier_orgnr"].isna().all()


# ---- malformed inputs --------------------------------------------------------------------------


def spec_lines(rows: pd.DataFrame) -> list[str]:
    return ["leverantor;leverantor_id;konto_nr;datum;belopp;kommun_id"] + [
        f"{r.supplier};{r.orgnr};{r.account};2022-01-{r.day:02d};{sv_amount(r.ore)};1880" for r in rows.itertuples()
    ]


def test_ragged_and_empty_rows_are_rejected_with_their_row_numbers(tmp_path):
    rows = synthetic_rows(200)
    lines = spec_lines(rows)
    lines[10] = lines[10] + ";extra"
    lines[20] = "only;three;fields"
    lines[30] = ""
    path = tmp_path / "synthetic_ragged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest_file(path, municipalities=KOMMUNER)
    rej = result.rejects.set_index("source_row")
    assert rej.loc[11, "reason"] == "ragged row: 7 fields, expected 6"
    assert rej.loc[21, "reason"] == "ragged row: 3 fields, expected 6"
    assert rej.loc[31, "reason"] == "empty row"
    rec = result.reconciliation.iloc[0]
    assert rec["balanced"] and rec["rows_in"] == 200 and rec["rows_rejected"] == 3
    assert sorted(result.ledger["source_row"].tolist() + rej.index.tolist()) == list(range(2, 202))
    kept = rows.drop(index=[9, 19, 29])
    assert result.ledger["amount_ore"].sum() == kept["ore"].sum()
    assert SOLE_TRADER not in result.rejects.astype(str).to_csv()


def test_text_in_a_few_amounts_goes_to_rejects(tmp_path):
    rows = synthetic_rows(300)
    lines = spec_lines(rows)
    lines[5] = lines[5].rsplit(";", 2)[0] + ";tolv kronor;1880"
    path = tmp_path / "synthetic_text_amount.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest_file(path, municipalities=KOMMUNER)
    bad = result.rejects.iloc[0]
    assert bad["source_row"] == 6 and bad["reason"] == "unparsable amount" and bad["raw_amount"] == "tolv kronor"
    assert pd.isna(bad["amount_ore"])
    assert result.reconciliation.iloc[0]["ore_in"] == rows["ore"].drop(index=4).sum()


def test_too_many_unparsable_amounts_is_one_error_naming_file_row_and_value(tmp_path):
    rows = synthetic_rows(50)
    lines = spec_lines(rows)
    for i in (3, 7, 9):
        lines[i] = lines[i].rsplit(";", 2)[0] + ";n/a;1880"
    path = tmp_path / "synthetic_bad_amounts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"synthetic_bad_amounts.csv: 3 of 50 amounts unparsable.*row 4: 'n/a'"):
        ingest_file(path, municipalities=KOMMUNER)


def test_undecodable_bytes_name_the_row(tmp_path):
    path = tmp_path / "synthetic_bad_encoding.csv"
    lines = spec_lines(synthetic_rows(5))
    data = "\n".join(lines).encode("utf-8") + b"\nFirma \x81\x8d AB;;74311;2022-01-02;1,00;1880\n"
    path.write_bytes(data)
    with pytest.raises(UserError, match=r"synthetic_bad_encoding.csv: row 7: bytes .* do not decode"):
        ingest_file(path, municipalities=KOMMUNER)
    with pytest.raises(UserError, match=r"row 7: bytes"):
        ingest_file(path, municipalities=KOMMUNER, encoding="utf-8")


def test_unknown_shape_and_unknown_kommunkod(tmp_path):
    path = tmp_path / "synthetic_not_a_ledger.csv"
    path.write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    with pytest.raises(UserError, match="unknown ledger shape"):
        ingest_file(path, municipalities=KOMMUNER)
    ok = tmp_path / "synthetic_unknown_kommun.csv"
    ok.write_text("\n".join(spec_lines(synthetic_rows(3))).replace(";1880", ";9999") + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"row 2: unknown kommunkod '9999'"):
        ingest_file(ok, municipalities=KOMMUNER)
    with pytest.raises(UserError, match="--kommun '180'"):
        ingest_file(ok, municipalities=KOMMUNER, kommun="180")
    with pytest.raises(UserError, match="--period"):
        ingest_file(ok, municipalities=KOMMUNER, period="2016-3")
